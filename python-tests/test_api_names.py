"""The same concept has the same name in Python and Node.

Every public Python name (``ferrule.__all__``), written in camelCase, must be a runtime export of the
Node package (as declared in ``bindings-node/index.d.ts``, which ``node-tests/types.test.js`` checks
against the runtime) or a type there, and every Node runtime export must exist in Python. The names
that differ on purpose are listed below with the reason, so a new name added to one side only fails
here until it is added to the other or explained.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import ferrule

INDEX_D_TS = Path(__file__).resolve().parents[1] / "bindings-node" / "index.d.ts"

# Python name -> the Node equivalent (a runtime export, a type, or how a Node user does the same).
PYTHON_ONLY = {
    # Host idioms: Python decorators and contextvars vs Node's options objects and callbacks.
    "retry": "new Policy({ retry })",
    "timeout": "new Policy({ timeoutMs })",
    "fallback": "new Policy({ fallback })",
    "Retry": "RetryOptions, an options object",
    "Backoff": "BackoffOptions, an options object",
    "context": "runInContext(ids, fn): AsyncLocalStorage has no `with` block",
    "prompt": "runInPrompt(name, fn): AsyncLocalStorage has no `with` block",
    "span": "withSpan(name, fn): no `with` block in JS",
    "current_span": "the span is the callback argument of withSpan",
    "remaining": "AbortSignal deadlines: Node passes `signal` to the attempt",
    "CallContext": "ContextIds, a plain object",
    "Endpoint": "RouterEndpoint, a plain object",
    "LogFile": "configure({ logSink: { file, maxBytes, backups } })",
    "JsonSchema": "Node caches the compiled schema per schema object",
    "Repaired": "RepairedJson, a plain object",
    "AlertSubscription": "onAlert(cb) returns the unsubscribe function itself",
    "metrics": "the Counter / Gauge / Histogram classes are top-level exports",
    "apartial_values": "partialValues: Node's one version is already an async generator",
    "astream_validated": "streamValidated: Node's one version is already an async generator",
    # Python-specific integrations and error classes.
    "register_prometheus_collector": "prometheus_client is a Python library",
    "ConfigError": "RangeError / TypeError with code FERRULE_INVALID_CONFIG (FerruleConfigError)",
    "InternalError": "Error with code FERRULE_INTERNAL",
}

# Node runtime exports with no Python name of the same spelling.
NODE_ONLY = {
    "ManualClock": "ferrule.testing.ManualClock",
    "MockLLMServer": "ferrule.testing.MockLLMServer",
    "runInContext": "ferrule.context(...)",
    "runInPrompt": "ferrule.prompt(...)",
    "withSpan": "ferrule.span(...)",
    "version": "ferrule.__version__",
}

# Spellings the mechanical snake_case -> camelCase rule gets wrong.
CAMEL = {"wrap_openai": "wrapOpenAI", "use_opentelemetry": "useOpenTelemetry"}


def camel(name: str) -> str:
    return CAMEL.get(name) or re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)


def node_names() -> tuple[set[str], set[str]]:
    text = INDEX_D_TS.read_text()
    runtime = set(
        re.findall(r"^export (?:declare )?(?:abstract )?(?:class|function|const) (\w+)", text, re.M)
    )
    types = set(re.findall(r"^export (?:declare )?(?:interface|type) (\w+)", text, re.M))
    return runtime, types


def public_python() -> list[str]:
    return [n for n in ferrule.__all__ if not n.startswith("_")]


def test_python_all_has_no_duplicates() -> None:
    dups = [n for n, c in Counter(ferrule.__all__).items() if c > 1]
    assert dups == []


def test_every_python_name_exists_in_node() -> None:
    runtime, types = node_names()
    missing = [
        n for n in public_python() if camel(n) not in runtime | types and n not in PYTHON_ONLY
    ]
    assert missing == [], f"add them to Node (or explain them in PYTHON_ONLY): {missing}"


def test_every_node_export_exists_in_python() -> None:
    runtime, _ = node_names()
    python = {camel(n) for n in public_python()}
    missing = sorted(runtime - python - set(NODE_ONLY))
    assert missing == [], f"add them to Python (or explain them in NODE_ONLY): {missing}"


def test_the_exception_lists_hold_no_stale_entries() -> None:
    runtime, types = node_names()
    python = set(public_python())
    for name in PYTHON_ONLY:
        assert name in python, f"{name} is no longer public in Python"
        assert camel(name) not in runtime, f"{name} now exists in Node; drop it from PYTHON_ONLY"
    for name in NODE_ONLY:
        assert name in runtime, f"{name} is no longer exported by Node"


def test_node_only_equivalents_exist_in_python() -> None:
    import ferrule.testing as testing

    assert callable(testing.ManualClock) and callable(testing.MockLLMServer)
    assert callable(ferrule.context) and callable(ferrule.span)
