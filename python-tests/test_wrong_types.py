"""Every public constructor and function refuses an argument of the wrong type with an error that
names the parameter, the type it was given and what is allowed.

The cases are generated, not listed: every name in ``ferrule.__all__`` that is a class (its
constructor and its public class-method constructors) or a function, every parameter of it that has
an annotation, and for each a value its annotation refuses. Annotations come from the Python layer's
signatures, and for native callables from ``_ferrule.pyi``, the stub users' type checkers read.
"""

from __future__ import annotations

import ast
import collections.abc
import inspect
import pathlib
import typing
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import pytest

import ferrule
import ferrule._ferrule as native
from ferrule import _argcheck
from ferrule.errors import ConfigError

STUB = pathlib.Path(native.__file__).with_name("_ferrule.pyi")

# Candidate wrong values, tried in order; the first one a parameter's annotation refuses is used.
CANDIDATES: List[Any] = [2.5, "x", 7, [1], {"k": 1}, b"x", object()]

def _stub_hints() -> Dict[str, Dict[str, Any]]:
    """Annotations of the stub's top-level functions and class ``__init__`` / ``__new__``, resolved
    against ``typing``; keyed by function or class name."""
    tree = ast.parse(STUB.read_text())
    ns: Dict[str, Any] = {k: getattr(typing, k) for k in dir(typing) if not k.startswith("_")}
    ns.update({"collections": collections})
    out: Dict[str, Dict[str, Any]] = {}

    def hints_of(fn: ast.FunctionDef) -> Dict[str, Any]:
        h: Dict[str, Any] = {}
        args = fn.args.posonlyargs + fn.args.args + fn.args.kwonlyargs
        for a in args:
            if a.annotation is None or a.arg in ("self", "cls"):
                continue
            try:
                h[a.arg] = eval(ast.unparse(a.annotation), ns)  # noqa: S307 - our own stub
            except Exception:
                continue
        return h

    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            out[node.name] = hints_of(node)
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name in ("__init__", "__new__"):
                    out[node.name] = hints_of(item)
                elif (isinstance(item, ast.FunctionDef) and not item.name.startswith("_")
                      and any(isinstance(d, ast.Name) and d.id in ("staticmethod", "classmethod")
                              for d in item.decorator_list)):
                    # A named constructor (`Backoff.exponential`).
                    out[f"{node.name}.{item.name}"] = hints_of(item)
    return out


STUB_HINTS = _stub_hints()


def _is_native(obj: Any) -> bool:
    return getattr(obj, "__module__", "") == "ferrule._ferrule" or inspect.isbuiltin(obj)


def _callables() -> Iterator[Tuple[str, Callable[..., Any], Dict[str, Any]]]:
    """(label, callable, {param: annotation}) for every public constructor and function."""
    for name in sorted(ferrule.__all__):
        obj = getattr(ferrule, name)
        if inspect.ismodule(obj) or name.startswith("_"):
            continue
        if isinstance(obj, type):
            if issubclass(obj, BaseException):
                continue
            if _is_native(obj):
                if name in STUB_HINTS:
                    yield name, obj, STUB_HINTS[name]
                for key, hints in STUB_HINTS.items():
                    if key.startswith(name + "."):
                        yield key, getattr(obj, key.split(".", 1)[1]), hints
                continue
            if inspect.isfunction(obj.__dict__.get("__init__")):
                yield name, obj, _argcheck._hints(obj.__dict__["__init__"])
            for attr, raw in vars(obj).items():
                if attr.startswith("_") or not isinstance(raw, classmethod):
                    continue
                fn = raw.__func__
                yield f"{name}.{attr}", getattr(obj, attr), _argcheck._hints(fn)
        elif callable(obj):
            if _is_native(obj):
                yield name, obj, STUB_HINTS.get(name, {})
            else:
                yield name, obj, _argcheck._hints(inspect.unwrap(obj))


def _wrong_value(hint: Any) -> Optional[Any]:
    if _argcheck.describe(hint) is None:
        return None  # the annotation allows anything
    for v in CANDIDATES:
        if not _argcheck.accepts(hint, v):
            return v
    return None


def _variadic(fn: Callable[..., Any]) -> set:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return set()
    return {p.name for p in params if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def _cases() -> List[Any]:
    cases = []
    for label, fn, hints in _callables():
        skip = _variadic(fn) | {"self", "cls"}
        for param, hint in hints.items():
            if param in skip:
                continue
            wrong = _wrong_value(hint)
            if wrong is None:
                continue
            cases.append(pytest.param(label, fn, param, hint, wrong, id=f"{label}-{param}"))
    return cases


CASES = _cases()


_SAMPLES: Dict[Any, Any] = {str: "wrong_types_sample", int: 1, float: 1.0, bool: True}


def _required(label: str, fn: Callable[..., Any], but: str) -> Dict[str, Any]:
    """For a native callable, valid values for its required parameters other than `but`, so only
    `but` can be refused: PyO3 reports a missing argument before a wrong one. (The Python layer
    checks the types it is given first.)"""
    if label not in STUB_HINTS or not (_is_native(fn) or _is_native(getattr(fn, "__self__", None))):
        return {}
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return {}
    hints = STUB_HINTS[label]
    return {
        p.name: _SAMPLES.get(hints.get(p.name), "wrong_types_sample")
        for p in params
        if p.name not in (but, "self", "cls") and p.default is p.empty
        and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


def test_the_sweep_covers_the_public_api() -> None:
    # A generator that found nothing would make every other test here vacuous.
    labels = {c.values[0] for c in CASES}
    assert len(CASES) >= 200, len(CASES)
    for must in ("CircuitBreaker", "Retry", "RateLimiter.token_bucket", "Router", "DeadLetterQueue", "Backoff.exponential",
                 "AnomalyDetector", "parse_json", "configure"):
        assert must in labels, f"{must} not swept; swept: {sorted(labels)}"


@pytest.mark.parametrize("label,fn,param,hint,wrong", CASES)
def test_a_wrong_type_names_parameter_type_and_allowed(
    label: str, fn: Callable[..., Any], param: str, hint: Any, wrong: Any
) -> None:
    with pytest.raises((TypeError, ValueError)) as e:
        fn(**{**_required(label, fn, param), param: wrong})
    msg = str(e.value)
    tname = type(wrong).__name__
    assert param in msg, f"{label}({param}={wrong!r}) -> {type(e.value).__name__}: {msg}"
    assert tname in msg, f"{label}({param}={wrong!r}) -> {msg}"
    assert isinstance(e.value, ConfigError), f"{label}({param}={wrong!r}) -> {type(e.value).__name__}: {msg}"
    assert e.value.param == param and e.value.kind == "type", (label, param, e.value.param, e.value.kind)
    assert e.value.value == tname
    assert e.value.allowed and e.value.allowed in msg, msg


def test_the_reported_case_reads_well() -> None:
    with pytest.raises(ConfigError) as e:
        ferrule.CircuitBreaker("x", window=5.0)  # type: ignore[arg-type]
    assert str(e.value) == "CircuitBreaker: window=5.0 must be None or an integer, not float"
    assert isinstance(e.value, TypeError) and isinstance(e.value, ValueError)
    assert (e.value.param, e.value.value, e.value.allowed, e.value.kind) == (
        "window", "float", "None or an integer", "type")


def test_a_range_error_carries_its_fields() -> None:
    with pytest.raises(ConfigError) as e:
        ferrule.CircuitBreaker("x", failure_rate=1.5)
    assert e.value.param == "failure_rate"
    assert e.value.value == 1.5
    assert e.value.allowed == "(0, 1]"
    assert e.value.kind == "range"
    assert e.value.component == "CircuitBreaker"
    assert str(e.value) == "CircuitBreaker: failure_rate=1.5 is out of range; allowed: (0, 1]"
    import pickle

    again = pickle.loads(pickle.dumps(e.value))
    assert (again.param, again.value, again.allowed, again.kind, str(again)) == (
        "failure_rate", 1.5, "(0, 1]", "range", str(e.value))


def test_valid_arguments_still_pass_the_check() -> None:
    # int for float, None for Optional, a subclass instance, a lambda for a Callable.
    ferrule.CircuitBreaker("ok", window=5, min_calls=5, open_seconds=3, failure_rate=1)
    ferrule.Retry(attempts=2, backoff=None)


def test_a_native_argument_of_the_wrong_type_reads_like_the_python_layer() -> None:
    # Native classes and functions refuse through PyO3's argument extraction, converted once
    # (`bindings-python/src/arg.rs` and `ConfigError.add_note`): the same fields, the same words.
    with pytest.raises(ConfigError) as e:
        ferrule.Counter("wrong_types_total", "h", max_series=2.5)  # type: ignore[arg-type]
    assert (e.value.param, e.value.value, e.value.allowed, e.value.kind) == ("max_series", "float", "None or an integer", "type")
    assert str(e.value) == "max_series=2.5 must be None or an integer, not float"
    assert isinstance(e.value.__cause__, TypeError)
    with pytest.raises(ConfigError) as e:
        ferrule.Backoff.exponential(initial="x")  # type: ignore[arg-type]
    assert str(e.value) == "initial='x' must be a number (int or float), not str"
    with pytest.raises(ConfigError) as e:
        ferrule.emit("wrong.types", attempt=1.5)  # type: ignore[arg-type]
    assert (e.value.param, e.value.value) == ("attempt", "float")
    # An int the native type cannot hold is a range problem, not a type, and says so.
    with pytest.raises(ConfigError) as e:
        ferrule.Counter("wrong_types_overflow_total", "h", max_series=2**70)
    assert (e.value.param, e.value.value, e.value.kind) == ("max_series", 2**70, "range")
    assert str(e.value) == (
        "max_series=1180591620717411303424 is out of range; allowed: None or an integer from "
        "-9223372036854775808 to 9223372036854775807")
    assert isinstance(e.value.__cause__, OverflowError)
    with pytest.raises(ConfigError) as e:
        ferrule.observe(max_series=-1)
    assert str(e.value) == "max_series=-1 is out of range; allowed: an integer from 0 to 4294967295"


def test_an_int_log_level_past_the_scale_clamps_to_its_end() -> None:
    # In a child process: the level is global, and the rest of the suite logs at its own.
    import subprocess
    import sys

    code = ("import ferrule\n"
            "ferrule.configure(log_level=2**70, log_sink='none')\n"
            "print(ferrule.emit('t.x', level='warning'), ferrule.emit('t.x', level='error'))\n"
            "ferrule.configure(log_level=-(2**70))\n"
            "print(ferrule.emit('t.x', level='debug'))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True", "True"]


def _simple_required(fn: Callable[..., Any], hints: Dict[str, Any], but: str) -> Optional[Dict[str, Any]]:
    """Valid values for the required parameters other than `but`, when each is a plain str, int,
    float or bool; None when one is not (the case is then left to the type sweep above)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    out: Dict[str, Any] = {}
    for p in params:
        if p.name in (but, "self", "cls") or p.default is not p.empty:
            continue
        if p.kind not in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            continue
        hint = hints.get(p.name)
        if hint not in _SAMPLES:
            return None
        out[p.name] = _SAMPLES[hint]
    return out


# Int parameters where any int is meaningful: a result record the library returns (its counts are
# Python ints), and a `logging` level number (one past either end of the scale is that end).
_ANY_INT = {("ReplayReport", p) for p in ("succeeded", "failed", "skipped", "busy")} | {("configure", "log_level")}


def _int_cases() -> List[Any]:
    cases = []
    for label, fn, hints in _callables():
        skip = _variadic(fn) | {"self", "cls"} | {p for (lb, p) in _ANY_INT if lb == label}
        for param, hint in hints.items():
            # Parameters that take an int and not a float: counts, sizes, seeds, ports.
            if param in skip or not _argcheck.accepts(hint, 7) or _argcheck.accepts(hint, 2.5):
                continue
            required = _simple_required(fn, hints, param)
            if required is None:
                continue
            for big in (2**70, -(2**70)):
                cases.append(pytest.param(label, fn, param, required, big, id=f"{label}-{param}-{'pos' if big > 0 else 'neg'}"))
    return cases


INT_CASES = _int_cases()


def test_the_overflow_sweep_covers_the_int_parameters() -> None:
    labels = {c.values[0] for c in INT_CASES}
    assert len(INT_CASES) >= 100, len(INT_CASES)
    for must in ("CircuitBreaker", "Retry", "observe", "AnomalyDetector", "PartialJson", "AlertRouter", "emit"):
        assert must in labels, f"{must} not swept; swept: {sorted(labels)}"


@pytest.mark.parametrize("label,fn,param,required,big", INT_CASES)
def test_an_int_too_large_for_its_parameter_is_a_range_error(
    label: str, fn: Callable[..., Any], param: str, required: Dict[str, Any], big: int
) -> None:
    # 2**70 fits no native integer; a parameter that accepted it would have lost it. It must be
    # refused naming the parameter and the allowed range, not with Python's bare OverflowError.
    with pytest.raises(ConfigError) as e:
        fn(**{**required, param: big})
    msg = str(e.value)
    assert e.value.param == param, f"{label}({param}={big}) -> param={e.value.param!r}: {msg}"
    assert e.value.kind in ("range", "conflict"), (label, param, e.value.kind, msg)
    assert param in msg and "out of range" in msg or e.value.kind == "conflict", msg
