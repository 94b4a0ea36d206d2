"""Wrong-type arguments to ferrule's public constructors and functions, refused with a
``ConfigError`` (``kind == "type"``) that names the parameter, the type given and what is allowed.

Without this, a float where an integer belongs surfaces from deep inside as ``'float' object cannot
be interpreted as an integer``, naming nothing. The rules come from each callable's own annotations
(one source: the signature users read), checked before the body runs:

- ``int`` refuses ``float`` and ``bool``; ``float`` takes ``int`` but not ``bool``; ``bool`` takes only
  ``True`` / ``False``; ``str`` only strings.
- ``Optional[X]`` / ``X | None`` takes ``None``, as does a parameter whose default is ``None``; a ``Union`` takes any member; ``Literal[...]`` any value of its values' types (the callee checks the value).
- ``Callable``, ``Sequence``, ``Mapping``, ``Iterable`` and classes are checked by ``isinstance``;
  the element types of containers are left to the callee (checking them would copy iterators).
- Anything else (``Any``, ``object``, type variables, protocols) accepts everything.

Constructors and set-up functions are checked before they run. Per-request functions (``span``,
``context``, ...) are checked only once they have failed, so a correct call pays nothing but the
wrapper. Native classes and functions exported as they are (``Backoff``, ``emit``, ``redact``,
``flush``) are not wrapped: their arguments refuse a wrong type natively with the same
``ConfigError`` (``bindings-python/src/arg.rs`` and ``ConfigError.add_note``).
"""

from __future__ import annotations

import collections.abc
import functools
import inspect
import sys
import types
import typing
from typing import Any, Callable, Dict, List, Optional, Tuple

from .errors import ConfigError

_NONE = type(None)


def _article(word: str) -> str:
    return ("an " if word[:1] in "aeiou" else "a ") + word


def describe(hint: Any) -> Optional[str]:
    """What ``hint`` allows, in words (``"an integer"``, ``"None or a number"``); ``None`` when it
    allows anything."""
    if hint is Any or hint is object or isinstance(hint, typing.TypeVar):
        return None
    if hint is _NONE or hint is None:
        return "None"
    if hint is bool:
        return "true or false (a bool)"
    if hint is int:
        return "an integer"
    if hint is float:
        return "a number (int or float)"
    if hint is str:
        return "a string"
    if hint is bytes:
        return "bytes"
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or (sys.version_info >= (3, 10) and origin is types.UnionType):
        parts = [describe(a) for a in args]
        if any(p is None for p in parts):
            return None
        # None first, then the rest, as a reader expects: "None or an integer".
        parts.sort(key=lambda p: p != "None")
        return " or ".join(dict.fromkeys(p for p in parts if p))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin is not None:
        hint = origin
    if hint in (collections.abc.Callable,):
        return "a callable"
    if hint in (list, collections.abc.Sequence, collections.abc.MutableSequence):
        return "a list"
    if hint in (tuple,):
        return "a tuple"
    if hint in (dict, collections.abc.Mapping, collections.abc.MutableMapping):
        return "a dict"
    if hint in (set, frozenset, collections.abc.Set):
        return "a set"
    if hint in (collections.abc.Iterable, collections.abc.Collection):
        return "an iterable"
    if isinstance(hint, type):
        if getattr(hint, "_is_protocol", False):
            return None
        return _article(hint.__name__)
    return None


def accepts(hint: Any, value: Any) -> bool:
    """Whether ``value`` fits ``hint`` by the rules in this module's docstring."""
    if hint is Any or hint is object or isinstance(hint, typing.TypeVar):
        return True
    if hint is _NONE or hint is None:
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or (sys.version_info >= (3, 10) and origin is types.UnionType):
        return any(accepts(a, value) for a in args)
    if origin is typing.Literal:
        # Only the type is checked here: a string that is not one of the listed strings is a range
        # problem, which the callee reports with the values it accepts.
        return any(type(value) is type(a) for a in args)
    if origin is not None:
        hint = origin
    if hint is collections.abc.Callable:
        return callable(value)
    if hint in (list, collections.abc.Sequence, collections.abc.MutableSequence):
        # A string is a sequence too, but never what a list parameter means.
        return isinstance(value, (list, tuple, collections.abc.Sequence)) and not isinstance(value, (str, bytes))
    if hint in (collections.abc.Iterable, collections.abc.Collection):
        return isinstance(value, collections.abc.Iterable) and not isinstance(value, (str, bytes))
    if isinstance(hint, type):
        if getattr(hint, "_is_protocol", False) and not getattr(hint, "_is_runtime_protocol", False):
            return True
        try:
            return isinstance(value, hint)
        except TypeError:
            return True
    return True


def _hints(fn: Callable[..., Any]) -> Dict[str, Any]:
    """Resolved annotations of ``fn``; one that cannot be resolved (a name imported only for type
    checking) is left out, so it accepts anything rather than failing at import."""
    raw = getattr(fn, "__annotations__", {}) or {}
    module = sys.modules.get(getattr(fn, "__module__", ""), None)
    ns = {k: getattr(typing, k) for k in typing.__all__}
    ns.update(vars(module) if module else {})
    ns.setdefault("typing", typing)
    out: Dict[str, Any] = {}
    for name, ann in raw.items():
        if name == "return":
            continue
        if isinstance(ann, str):
            try:
                ann = eval(ann, ns)  # noqa: S307 - the module's own annotation text
            except Exception:
                continue
        out[name] = ann
    return out


class _Plan:
    """For one callable: which positions and keywords to check, and against what."""

    __slots__ = ("component", "positional", "keyword")

    def __init__(self, component: str, fn: Callable[..., Any], skip_first: bool) -> None:
        self.component = component
        hints = _hints(fn)
        params = list(inspect.signature(fn).parameters.values())
        if skip_first and params:
            params = params[1:]
        self.positional: List[Tuple[str, Any, str]] = []
        self.keyword: Dict[str, Tuple[Any, str]] = {}
        for p in params:
            hint = hints.get(p.name)
            if hint is not None and p.default is None and not accepts(hint, None):
                # A `None` default means None is accepted, whatever the annotation forgot.
                hint = Optional[hint]
            allowed = describe(hint) if hint is not None else None
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                break_positional = p.kind == p.VAR_POSITIONAL
                if break_positional:
                    # Positions after *args are keyword-only; stop the positional list here.
                    self.positional.append(("", None, ""))
                continue
            entry = (hint, allowed) if allowed is not None else None
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
                self.positional.append((p.name, hint, allowed or ""))
            if p.kind != p.POSITIONAL_ONLY and entry is not None:
                self.keyword[p.name] = entry

    def check(self, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
        for (name, hint, allowed), value in zip(self.positional, args):
            if not name:
                break
            if allowed and not accepts(hint, value):
                raise ConfigError.wrong_type(self.component, name, value, allowed)
        for name, value in kwargs.items():
            entry = self.keyword.get(name)
            if entry is not None and not accepts(entry[0], value):
                raise ConfigError.wrong_type(self.component, name, value, entry[1])


class _LazyPlan:
    """A `_Plan` built at the first call, so wrapping every public callable costs nothing at import."""

    __slots__ = ("args", "plan")

    def __init__(self, component: str, fn: Callable[..., Any], skip_first: bool) -> None:
        self.args = (component, fn, skip_first)
        self.plan: Optional[_Plan] = None

    def check(self, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> None:
        plan = self.plan
        if plan is None:
            plan = self.plan = _Plan(*self.args)
        plan.check(args, kwargs)


def checked_function(fn: Callable[..., Any], component: Optional[str] = None) -> Callable[..., Any]:
    """``fn`` with its arguments checked against its annotations first."""
    if getattr(fn, "__ferrule_checked__", False):
        return fn
    plan = _LazyPlan(component or fn.__name__, fn, skip_first=False)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        plan.check(args, kwargs)
        return fn(*args, **kwargs)

    wrapper.__ferrule_checked__ = True  # type: ignore[attr-defined]
    return wrapper


def checked_on_failure(fn: Callable[..., Any], component: Optional[str] = None) -> Callable[..., Any]:
    """``fn`` unchanged on success; when it raises a builtin ``TypeError`` / ``ValueError`` /
    ``OverflowError``, its arguments are checked against its annotations and a wrong type is
    reported as a ``ConfigError`` instead (chained to the original). For per-request paths, where
    checking every call up front would cost time on every call."""
    if getattr(fn, "__ferrule_checked__", False):
        return fn
    plan = _LazyPlan(component or fn.__name__, fn, skip_first=False)

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (TypeError, ValueError, OverflowError) as e:
            if isinstance(e, ConfigError):
                raise
            try:
                plan.check(args, kwargs)
            except ConfigError as named:
                raise named from e
            raise

    wrapper.__ferrule_checked__ = True  # type: ignore[attr-defined]
    return wrapper


def checked_class(cls: type) -> type:
    """``cls`` with its constructor's arguments (``__init__``, or ``__new__`` where the class builds
    itself there) and its public class-method constructors checked against their annotations."""
    init = cls.__dict__.get("__init__")
    if inspect.isfunction(init) and not getattr(init, "__ferrule_checked__", False):
        plan = _LazyPlan(cls.__name__, init, skip_first=True)
        original_init = init

        @functools.wraps(init)
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
            if type(self) is cls:
                plan.check(args, kwargs)
            original_init(self, *args, **kwargs)

        __init__.__ferrule_checked__ = True  # type: ignore[attr-defined]
        cls.__init__ = __init__  # type: ignore[misc]
    new = cls.__dict__.get("__new__")
    new_fn = new.__func__ if isinstance(new, staticmethod) else new
    if inspect.isfunction(new_fn) and not getattr(new_fn, "__ferrule_checked__", False):
        new_plan = _LazyPlan(cls.__name__, new_fn, skip_first=True)
        original_new = new_fn

        @functools.wraps(new_fn)
        def __new__(klass: Any, *args: Any, **kwargs: Any) -> Any:
            if klass is cls:
                new_plan.check(args, kwargs)
            return original_new(klass, *args, **kwargs)

        __new__.__ferrule_checked__ = True  # type: ignore[attr-defined]
        cls.__new__ = staticmethod(__new__)  # type: ignore[assignment]
    for attr, raw in list(vars(cls).items()):
        if attr.startswith("_") or not isinstance(raw, classmethod):
            continue
        fn = raw.__func__
        if getattr(fn, "__ferrule_checked__", False):
            continue
        cm_plan = _LazyPlan(f"{cls.__name__}.{attr}", fn, skip_first=True)

        def make(fn: Callable[..., Any], cm_plan: _LazyPlan) -> Callable[..., Any]:
            @functools.wraps(fn)
            def constructor(klass: Any, *args: Any, **kwargs: Any) -> Any:
                cm_plan.check(args, kwargs)
                return fn(klass, *args, **kwargs)

            constructor.__ferrule_checked__ = True  # type: ignore[attr-defined]
            return constructor

        setattr(cls, attr, classmethod(make(fn, cm_plan)))
    return cls


@functools.lru_cache(maxsize=1)
def _stub() -> Dict[str, str]:
    """``def`` lines of the native module's stub (``_ferrule.pyi``), by function name; read only
    when a native call has failed."""
    import ast
    import pathlib

    tree = ast.parse(pathlib.Path(__file__).with_name("_ferrule.pyi").read_text())
    return {n.name: ast.unparse(n.args) for n in tree.body if isinstance(n, ast.FunctionDef)}


def _stub_function(name: str) -> Optional[Callable[..., Any]]:
    """A Python function with the stub's signature and annotations for native function ``name``."""
    args = _stub().get(name)
    if args is None:
        return None
    ns: Dict[str, Any] = {}
    code = compile(f"def {name}({args}): pass", "_ferrule.pyi", "exec", flags=annotations.compiler_flag,
                   dont_inherit=True)
    exec(code, {"__name__": __name__}, ns)  # noqa: S102 - our own stub's signature
    fn: Callable[..., Any] = ns[name]
    return fn


def checked_native(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A native function, checked against its stub's annotations once it has failed."""
    name = fn.__name__
    plans: List[_Plan] = []

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (TypeError, ValueError, OverflowError) as e:
            if isinstance(e, ConfigError):
                raise
            if not plans:
                shaped = _stub_function(name)
                if shaped is None:
                    raise
                plans.append(_Plan(name, shaped, skip_first=False))
            try:
                plans[0].check(args, kwargs)
            except ConfigError as named:
                raise named from e
            raise

    wrapper.__ferrule_checked__ = True  # type: ignore[attr-defined]
    return wrapper


def install(namespace: Dict[str, Any], names: List[str], per_call: "frozenset[str]" = frozenset()) -> None:
    """Wraps every public class and function listed in ``names``. Python functions in ``per_call``
    run on every request and, like native functions, are checked only once they have failed;
    native functions in ``per_call`` and native classes (immutable types) are left as they are."""
    for name in names:
        obj = namespace.get(name)
        if obj is None or name.startswith("_"):
            continue
        if isinstance(obj, type):
            if issubclass(obj, BaseException) or obj.__module__.startswith("ferrule._ferrule"):
                continue
            checked_class(obj)
        elif inspect.isbuiltin(obj) and getattr(obj, "__module__", "") == "ferrule._ferrule":
            # A per-request native (`emit`, `redact`) is a raw fastcall function: a Python wrapper
            # would build a keyword dict on every call, so it is left as it is.
            if name not in per_call:
                namespace[name] = checked_native(obj)
        elif inspect.isfunction(obj):
            wrapped = checked_on_failure(obj) if name in per_call else checked_function(obj)
            namespace[name] = wrapped
            module = sys.modules.get(getattr(obj, "__module__", ""))
            fname = getattr(obj, "__name__", name)
            # The defining module's own name too, so `ferrule.policy.retry` is the same function.
            if module is not None and getattr(module, fname, None) is obj:
                setattr(module, fname, wrapped)
