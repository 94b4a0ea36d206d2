"""Response validation and correction: ``parse_json``, ``repair_json`` and the ``@validated`` decorator
that re-asks the model with feedback. The core parses, repairs and checks JSON Schemas; this module
runs the user's function, delegates pydantic models to pydantic, logs and re-asks."""

from __future__ import annotations

import copy
import functools
import inspect
import json
import logging
from typing import Any, Callable, Dict, List, Literal, Mapping, NamedTuple, Optional, Tuple, Union

from ._ferrule import JsonValidatorCore, Repair, SchemaSnapshot, validation_stats
from ._ferrule import repair_json as _repair_json
from ._ferrule import span as _span
from ._log import warn
from .errors import ConfigError, ValidationError
from .tracing import _span_var

__all__ = ["JsonSchema", "Repair", "RepairMode", "Repaired", "parse_json", "repair_json", "validated", "validation_stats"]

_log = logging.getLogger("ferrule")

RepairMode = Literal["safe", "lenient"]


DEFAULT_MAX_INPUT_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_DEPTH = 128
# The metric label (`ferrule_validations_total{name=...}`) of `parse_json`; `@validated` functions
# count under their qualified name.
PARSE_JSON_NAME = "parse_json"
_MAX_REASK = 20
# Validators compiled for `parse_json(schema=...)`, keyed by the schema's identity; bounded.
_CACHE_SIZE = 256


class Repaired(NamedTuple):
    """Strict JSON text and every repair made to get it (``omitted_repairs`` beyond the first 1000)."""

    text: str
    repairs: List[Repair]
    omitted_repairs: int = 0


class JsonSchema:
    """A JSON Schema (draft 2020-12 unless ``$schema`` says otherwise), checked once when made.

    Pass it as ``schema=`` to reuse one compiled schema without ferrule comparing a dict each call."""

    __slots__ = ("schema", "text")

    def __init__(self, schema: Union[Mapping[str, Any], str]) -> None:
        if isinstance(schema, str):
            self.text = schema
            self.schema = json.loads(schema)
        elif isinstance(schema, Mapping):
            self.schema = dict(schema)
            try:
                self.text = json.dumps(self.schema)
            except (TypeError, ValueError) as e:
                raise ConfigError(f"JsonSchema: schema is not JSON-serialisable ({e})") from e
        else:
            raise TypeError(f"JsonSchema: schema={schema!r} is not allowed; allowed: a dict or JSON text")
        JsonValidatorCore(self.text)  # a bad schema fails here, naming what is wrong

    def __repr__(self) -> str:
        return f"JsonSchema({self.text[:80]})"


def _is_pydantic_model(schema: object) -> bool:
    if not isinstance(schema, type):
        return False
    try:
        from pydantic import BaseModel
    except ImportError:  # pragma: no cover - pydantic is optional
        return False
    return issubclass(schema, BaseModel)


def _log_repairs(repairs: List[Repair], raw: str) -> None:
    where = ", ".join(f"{r.kind} at {r.line}:{r.column}" for r in repairs[:20]) + (" ..." if len(repairs) > 20 else "")
    warn("validate.repaired", f"repaired model output: {where}",
         repairs=",".join(r.kind for r in repairs), raw_length=len(raw))


def _log_refused(e: ValidationError) -> None:
    warn("validate.invalid", f"refused model output ({e.kind}): {e.args[0] if e.args else ''}",
         kind=e.kind, errors=len(e.errors))


def _pointer(loc: Tuple[Any, ...]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in loc)


Validate = Callable[[str], Any]


def _core(
    schema_text: Optional[str], repair: bool, mode: str, max_input_bytes: int, max_depth: int, name: str, log: bool = False
) -> JsonValidatorCore:
    return JsonValidatorCore(
        schema_text,
        repair=repair,
        repair_mode=mode,
        max_input_bytes=max_input_bytes,
        max_depth=max_depth,
        name=name,
        on_repaired=_log_repairs if log else None,
        on_refused=_log_refused if log else None,
    )


class _Compiled(NamedTuple):
    run: Validate
    core: JsonValidatorCore  # counts outcomes decided in the host (re-asks) under the same name


def _core_validator(schema_text: Optional[str], repair: bool, mode: str, max_input_bytes: int, max_depth: int, name: str) -> _Compiled:
    # The core validates, builds the value and calls back to log repairs and refusals: no Python
    # frame of ferrule's between the caller and the core on the steady path.
    core = _core(schema_text, repair, mode, max_input_bytes, max_depth, name, log=True)
    return _Compiled(core.validate, core)


def _pydantic_validator(model: Any, repair: bool, mode: str, max_input_bytes: int, max_depth: int, name: str) -> _Compiled:
    """pydantic parses and validates valid output itself (nothing is faster at building its models);
    ferrule steps in only when it fails: to repair, or to report every error the ferrule way."""
    from pydantic import ValidationError as PydanticError

    validate_json = model.model_validate_json
    quarter = max_input_bytes // 4
    # pydantic decides; the core repairs and counts the outcome under `name`.
    core = _core(None, repair, mode, max_input_bytes, max_depth, name)
    record = core.record
    record_valid = core.record_valid

    def schema_error(e: Any, raw: str, repairs: List[Repair]) -> ValidationError:
        errors = [{"path": _pointer(tuple(err["loc"])), "message": err["msg"]} for err in e.errors(include_url=False)]
        first = errors[0] if errors else {"path": "", "message": str(e)}
        json_invalid = any(err["type"] == "json_invalid" for err in e.errors(include_url=False))
        what = "is not valid JSON" if json_invalid else f"does not match {model.__name__}"
        return ValidationError(
            f"output {what}: {len(errors)} violation(s); first at '{first['path']}': {first['message']}",
            errors,
            repairs,
            raw,
            "parse" if json_invalid else "schema",
        )

    def refused(err: ValidationError) -> ValidationError:
        record("invalid")
        _log_refused(err)
        return err

    def run(text: str) -> Any:
        # Bounded work before pydantic sees it: chars <= bytes, so only long texts need encoding.
        if len(text) > quarter:
            size = len(text.encode("utf-8", "surrogatepass"))
            if size > max_input_bytes:
                msg = f"input is {size} bytes; the limit is max_input_bytes={max_input_bytes}"
                raise refused(ValidationError(f"output refused: {msg}", [{"path": "", "message": msg}], [], text, "limit"))
        try:
            value = validate_json(text)
        except PydanticError as e:
            if not repair or not any(err["type"] == "json_invalid" for err in e.errors(include_url=False)):
                raise refused(schema_error(e, text, [])) from e
            try:
                fixed, repairs, _ = _repair_json(text, mode=mode, max_input_bytes=max_input_bytes, max_depth=max_depth)
            except ValidationError as pe:
                raise refused(pe) from e
            try:
                value = validate_json(fixed)
            except PydanticError as e2:
                raise refused(schema_error(e2, text, repairs)) from e2
            record("repaired", [r.kind for r in repairs])
            _log_repairs(repairs, text)
            return value
        record_valid()
        return value

    return _Compiled(run, core)


def _compile(
    schema: Any, repair: bool, mode: str, max_input_bytes: int, max_depth: int, name: str = PARSE_JSON_NAME
) -> _Compiled:
    if not isinstance(mode, str):
        raise ConfigError.wrong_type(name, "repair_mode", mode, "one of 'safe', 'lenient'")
    if schema is None:
        return _core_validator(None, repair, mode, max_input_bytes, max_depth, name)
    if isinstance(schema, JsonSchema):
        return _core_validator(schema.text, repair, mode, max_input_bytes, max_depth, name)
    if isinstance(schema, Mapping):
        return _core_validator(JsonSchema(schema).text, repair, mode, max_input_bytes, max_depth, name)
    if _is_pydantic_model(schema):
        return _pydantic_validator(schema, repair, mode, max_input_bytes, max_depth, name)
    raise TypeError(
        f"schema={schema!r} is not allowed; allowed: None, a JSON Schema dict, ferrule.JsonSchema, or a pydantic BaseModel class"
    )


class _Entry(NamedTuple):
    schema: Any  # held, so its id (the cache key) is not reused while the entry lives
    # None when identity is enough (a JsonSchema, a pydantic model, None); for a dict, a native
    # snapshot of every object in it, compared slot by slot by identity (no value compares).
    fresh: Optional[Callable[[Any], bool]]
    run: Validate


_cache: Dict[Tuple[int, bool, int, int, str], _Entry] = {}
_cache_evictions = 0


def _freshness(schema: Any) -> Optional[Callable[[Any], bool]]:
    if isinstance(schema, dict):
        return SchemaSnapshot(schema).matches
    if isinstance(schema, Mapping):
        # A Mapping that is not a dict cannot be walked natively: compared by value, as compiled.
        kept = copy.deepcopy(dict(schema))
        return lambda s: bool(s == kept)
    return None


def _validator_for(schema: Any, repair: bool, max_input_bytes: int, max_depth: int, mode: str) -> Validate:
    global _cache_evictions
    key = (id(schema), repair, max_input_bytes, max_depth, mode)
    entry = _cache.get(key)
    if entry is not None and (entry.fresh is None or entry.fresh(schema)):
        return entry.run
    # Snapshot before compiling: a change made while compiling makes the snapshot stale, never the
    # compiled validator.
    fresh = _freshness(schema)
    run = _compile(schema, repair, mode, max_input_bytes, max_depth).run
    if len(_cache) >= _CACHE_SIZE and key not in _cache:
        # Oldest first (dicts keep insertion order); counted, and visible in the log at debug level
        # only: recompiling a schema is a cost, not a failure.
        _cache.pop(next(iter(_cache)))
        _cache_evictions += 1
        _log.debug("parse_json schema cache full (%d); evicted the oldest", _CACHE_SIZE)
    _cache[key] = _Entry(schema, fresh, run)
    return run


def _as_text(text: Union[str, bytes, bytearray]) -> str:
    if isinstance(text, str):
        return text
    if isinstance(text, (bytes, bytearray)):
        return bytes(text).decode("utf-8", "replace")
    raise TypeError(f"expected model output as str or bytes; got {type(text).__name__}")


def parse_json(
    text: Union[str, bytes],
    schema: Any = None,
    repair: bool = True,
    *,
    max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    repair_mode: RepairMode = "safe",
) -> Any:
    """Parses model output as JSON: strictly first, then (``repair=True``) repaired, reporting each
    repair at warning on logger ``ferrule``. ``schema`` is a JSON Schema dict, a ``JsonSchema``, or
    a pydantic model class (the result is then a model instance). ``repair_mode`` is ``"safe"`` (the
    default: refuses a text with two readings) or ``"lenient"`` (guesses there as json_repair and
    jsonrepair do, reporting each guess); see ``repair_json``. Raises ``ValidationError``."""
    entry = _cache.get((id(schema), repair, max_input_bytes, max_depth, repair_mode))
    if entry is not None and ((fresh := entry.fresh) is None or fresh(schema)):
        run = entry.run
    else:
        run = _validator_for(schema, repair, max_input_bytes, max_depth, repair_mode)
    if type(text) is not str:
        text = _as_text(text)
    if _span_var.get() is None:
        return run(text)
    return _in_span(run, text, "parse_json")


def _in_span(run: Callable[[str], Any], text: str, name: str) -> Any:
    """Inside a traced call, a validation is a child span (``validate {name}``, role
    ``validation``); a refusal ends it with ``error.type`` ``ValidationError``. Outside one, no
    span: the check above costs one context-variable read."""
    with _span(f"validate {name}", role="validation", attributes={"ferrule.validation.name": name}):
        return run(text)



def repair_json(
    text: Union[str, bytes],
    *,
    mode: RepairMode = "safe",
    max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Repaired:
    """Repairs model output into strict JSON text without parsing it into objects. Valid JSON comes
    back unchanged with no repairs. ``mode="safe"`` (the default) never returns a value whose meaning
    differs from the text's: where two readings are plausible it raises ``ValidationError``.
    ``mode="lenient"`` guesses there as json_repair and jsonrepair do, reporting each guess as a
    repair of its own kind (``unquoted_value``, ``missing_value``, ...). See docs/repair.md."""
    if not isinstance(mode, str):
        raise TypeError(f"repair_json: mode={mode!r} is not allowed; allowed: 'safe' or 'lenient'")
    fixed, repairs, omitted = _repair_json(_as_text(text), mode=mode, max_input_bytes=max_input_bytes, max_depth=max_depth)
    return Repaired(fixed, repairs, omitted)


def _model_text(out: Any) -> str:
    """The text of what the decorated function returned: a str, or an OpenAI SDK result."""
    if type(out) is str:
        return out
    if isinstance(out, (str, bytes, bytearray)):
        return _as_text(out)
    choices = getattr(out, "choices", None)
    if choices:
        content = choices[0].message.content
        return content if content is not None else ""
    output_text = getattr(out, "output_text", None)
    if isinstance(output_text, str):
        return output_text
    raise TypeError(
        f"validated: the function returned {type(out).__name__}; expected model text (str), "
        "an OpenAI ChatCompletion or a Responses result"
    )


def feedback_for(error: ValidationError, max_raw_chars: int = 2000) -> str:
    """What the model is told on a re-ask: every violation, and its previous answer."""
    lines = [f"Your previous answer could not be used: {error.args[0] if error.args else error.kind}."]
    lines.append("Fix every problem below and answer again with only the JSON value, without prose or code fences.")
    for err in error.errors:
        lines.append(f"- at {err['path'] or '(the whole document)'}: {err['message']}")
    if error.raw is not None:
        raw = error.raw if len(error.raw) <= max_raw_chars else error.raw[:max_raw_chars] + " [...]"
        lines.append("Your previous answer was:")
        lines.append(raw)
    return "\n".join(lines)


def _accepts_feedback(fn: Callable[..., Any]) -> bool:
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):  # builtins without a signature: assume it does
        return True
    return any(
        p.kind is p.VAR_KEYWORD or (p.name == "feedback" and p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD))
        for p in params
    )


def validated(
    schema: Any = None,
    *,
    repair: bool = True,
    reask: int = 0,
    max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    repair_mode: RepairMode = "safe",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorates a function (``def`` or ``async def``) that returns model output, so it returns the
    validated value instead. On a refusal it calls the function again up to ``reask`` times with
    ``feedback=`` describing every violation; after the last, the ``ValidationError`` is raised.
    ``repair_mode`` is ``"safe"`` (the default) or ``"lenient"``, as for ``parse_json``."""
    if isinstance(reask, bool) or not isinstance(reask, int) or not 0 <= reask <= _MAX_REASK:
        raise ConfigError.out_of_range("validated", "reask", reask, f"an integer in [0, {_MAX_REASK}]")
    # A bad schema or mode fails here, before decorating.
    _compile(schema, repair, repair_mode, max_input_bytes, max_depth)

    # The decorated function returns the validated value (or an awaitable of it), not the model's
    # text, so its return type is honestly `Any`, not the wrapped function's.
    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        if reask and not _accepts_feedback(fn):
            raise TypeError(
                f"validated: {getattr(fn, '__qualname__', fn)!r} takes no 'feedback' keyword argument, "
                f"which re-asks (reask={reask}) pass to it"
            )
        name = getattr(fn, "__qualname__", repr(fn))
        run, core = _compile(schema, repair, repair_mode, max_input_bytes, max_depth, name)

        def on_refusal(e: ValidationError, attempt: int) -> str:
            core.record("reasked")
            warn("validate.reask", f"re-asking {name} ({attempt + 1} of {reask}) after {len(e.errors)} error(s)",
                 function=name, attempt=attempt + 1)
            return feedback_for(e)

        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                out = await fn(*args, **kwargs)
                attempt = 0
                while True:
                    try:
                        text = _model_text(out)
                        return run(text) if _span_var.get() is None else _in_span(run, text, name)
                    except ValidationError as e:
                        if attempt >= reask:
                            raise
                        kwargs["feedback"] = on_refusal(e, attempt)
                        attempt += 1
                    out = await fn(*args, **kwargs)

            return async_wrapper

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            out = fn(*args, **kwargs)
            attempt = 0
            while True:
                try:
                    text = _model_text(out)
                    return run(text) if _span_var.get() is None else _in_span(run, text, name)
                except ValidationError as e:
                    if attempt >= reask:
                        raise
                    kwargs["feedback"] = on_refusal(e, attempt)
                    attempt += 1
                out = fn(*args, **kwargs)

        return wrapper

    return decorate
