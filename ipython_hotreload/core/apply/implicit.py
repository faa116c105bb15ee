"""The calls Python makes implicitly, as names a changed member makes "code-changed" (SPEC
§1.5 rule 3).

A statement runs again when it calls changed code; the names it calls are read from its text
(:mod:`..source.reads`). A method's change is named ``"C.m"`` (``C.m(...)`` calls it) and
``".m"`` (a method called on something computed, ``C().m()``); and, only for the methods
Python calls on its own, by what calls them:

* calling a class calls its metaclass's ``__call__``, its ``__new__``, ``__init__`` (and a
  dataclass's ``__post_init__``): a change of those makes ``"C"`` code-changed, and every
  subclass of ``C`` in the namespace too (their instances run it through ``super()``), never
  a change of another method: editing ``P.run`` does not create ``P()`` again;
* a class statement calls its bases' ``__init_subclass__`` and metaclass and its attributes'
  ``__set_name__``: those are named ``"B.__init_subclass__"``, ``"B.__class__"`` and
  ``"F.__set_name__"``, which the class statements that subclass ``B`` or make an ``F`` call.

:func:`member_changed` names one member's change; :func:`implicit_callers` adds what the
namespace of a module (the one changed, or a dependent) makes of them: its subclasses and the
classes a changed metaclass made. A module re-executed whole is read the same way: the code
of its kept definitions is noted before (:func:`codes_before`) and compared after
(:func:`changed_names`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import CodeType, FunctionType
from typing import Any

from ipython_hotreload.core.apply.functions import defined_in, nested_changes
from ipython_hotreload.core.source.reads import CALLBACKS

__all__ = [
    "INSTANCE_HOOKS",
    "Codes",
    "changed_names",
    "codes_before",
    "implicit_callers",
    "member_changed",
    "reading_functions",
    "resolve",
]

#: Methods that calling a class runs.
INSTANCE_HOOKS = frozenset({"__new__", "__init__", "__post_init__"})
#: Methods of a metaclass that a class statement runs (calling the metaclass).
_METACLASS_HOOKS = frozenset({"__new__", "__init__", "__prepare__"})
#: Hooks a class statement calls on what it reads, inherited by subclasses.
_CLASS_STATEMENT_HOOKS = frozenset({"__init_subclass__", "__set_name__", "__class__"})


def member_changed(path: tuple[str, ...], name: str, cls: Any) -> set[str]:
    """The names under which the change of method ``name`` of class ``cls`` (at dotted
    ``path`` in its module) is called."""
    owner = ".".join(path)
    out = {f"{owner}.{name}", "." + name}
    if name in INSTANCE_HOOKS:
        out.add(owner)
    if isinstance(cls, type) and issubclass(cls, type) and name in _METACLASS_HOOKS:
        out.add(owner)  # making a class with it: `class A(metaclass=M)` calls M
    return out


def implicit_callers(ns: Mapping[str, Any], names: Iterable[str]) -> set[str]:
    """What else calls the changed code that ``names`` name, among the classes bound in
    ``ns``: the subclasses of a class whose instantiation or class-statement hooks changed,
    and the classes made by a metaclass that changed. (Nothing is scanned unless one of
    ``names`` stands for a class here.)"""
    # (what to add for each class of ns: "sub" of cls, "made" by metaclass cls; suffix)
    wanted: list[tuple[str, type, str]] = []
    for name in names:
        if name.startswith(".") or name.endswith(CALLBACKS):
            continue
        head, _, hook = name.rpartition(".")
        if head and hook in _CLASS_STATEMENT_HOOKS:
            cls = resolve(ns, head)
            if isinstance(cls, type):
                wanted.append(("sub", cls, "." + hook))
        elif head and hook == "__call__":
            meta = resolve(ns, head)
            if _is_metaclass(meta):
                wanted.append(("made", meta, ""))
        else:
            cls = resolve(ns, name)
            if isinstance(cls, type):
                wanted.append(("sub", cls, ""))
                if _is_metaclass(cls):
                    wanted.append(("made", cls, ".__class__"))
    if not wanted:
        return set()
    out: set[str] = set()
    for key, value in list(ns.items()):
        if not isinstance(value, type):
            continue
        for how, cls, suffix in wanted:
            if value is cls:
                continue
            if (how == "sub" and _sub(value, cls)) or (how == "made" and isinstance(value, cls)):
                out.add(key + suffix)
    return out


def resolve(ns: Mapping[str, Any], dotted: str) -> Any:
    """The object a dotted name stands for in ``ns`` (attributes read), or None."""
    first, *rest = dotted.split(".")
    value = ns.get(first)
    for part in rest:
        if value is None:
            return None
        try:
            value = getattr(value, part, None)
        except Exception:  # noqa: BLE001 - a lazy attribute may raise anything: not a class
            return None
    return value


def _is_metaclass(obj: Any) -> bool:
    return isinstance(obj, type) and issubclass(obj, type)


def _sub(cls: type, base: type) -> bool:
    try:
        return issubclass(cls, base)
    except TypeError:  # an ABC's subclass hook may refuse odd classes
        return False


# A kept definition before the re-execution: a function's code, or a class's bases and
# members (each member's code, or the member itself).
Codes = tuple[Any, ...] | CodeType


def codes_before(modname: str, ns: dict[str, Any]) -> dict[str, Codes]:
    """What the functions and classes ``ns`` holds of module ``modname`` run, before a
    whole re-execution gives the kept ones new code (for :func:`changed_names`)."""
    out: dict[str, Codes] = {}
    for key, value in ns.items():
        if isinstance(value, FunctionType) and defined_in(value, modname):
            out[key] = value.__code__
        elif isinstance(value, type) and defined_in(value, modname):
            members = {k: _member_code(v) for k, v in vars(value).items()}
            out[key] = (value.__bases__, members)
    return out


def _member_code(member: Any) -> Any:
    fn = member.__func__ if isinstance(member, classmethod | staticmethod) else member
    return fn.__code__ if isinstance(fn, FunctionType) else member


def changed_names(key: str, obj: Any, before: Codes | None) -> set[str]:
    """The names under which what changed in definition ``key`` (kept in place by a whole
    re-execution) is called: a function by its name, a class by its changed members
    (:func:`member_changed`), or as a whole when anything else of it changed."""
    if before is None:
        return {key}
    if isinstance(obj, FunctionType):
        return set() if _same_code(before, obj.__code__) else {key}
    if not isinstance(obj, type) or not isinstance(before, tuple):
        return {key}
    bases, members = before
    if bases != obj.__bases__:
        return {key}
    now = {k: _member_code(v) for k, v in vars(obj).items()}
    out: set[str] = set()
    for name in now.keys() | members.keys():
        if name in ("__dict__", "__weakref__", "__module__", "__qualname__", "__doc__"):
            continue
        a, b = members.get(name, _GONE), now.get(name, _GONE)
        if isinstance(a, CodeType) and isinstance(b, CodeType):
            if not _same_code(a, b):
                out |= member_changed((key,), name, obj)
        elif a is not b and not (_is_data(a) and _is_data(b) and _equal(a, b)):
            return {key}  # another attribute changed: calling it may read it
    return out


def _same_code(a: Any, b: CodeType) -> bool:
    return isinstance(a, CodeType) and nested_changes(a, b) == []


def _is_data(value: Any) -> bool:
    kinds = (str, bytes, int, float, complex, bool, tuple, type(None), dict, list, set, frozenset)
    return isinstance(value, kinds)


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(type(a) is type(b) and a == b)
    except Exception:  # noqa: BLE001 - a foreign __eq__ may raise anything: not equal
        return False


_GONE: Any = object()


def reading_functions(ns: Mapping[str, Any], modname: str, hot: set[str]) -> set[str]:
    """The module-level functions of ``modname`` in ``ns`` whose code reads one of ``hot``,
    or calls such a function (by the names their code objects use, nested ones included:
    an attribute of the same name counts too). A module re-executed whole keeps them in
    place with their code; what they compute changed all the same (``scale`` reading a
    rebound ``BASE``), so a dependent's ``SCALED = scale(3)`` must run again."""
    # A name as a code object spells it: ``P`` of ``P.run``, ``run`` of a ``.run`` marker.
    wanted = {n[1:].partition(".")[0] if n.startswith(".") else n.partition(".")[0] for n in hot}
    names: dict[str, set[str]] = {}
    for key, value in ns.items():
        if type(value) is FunctionType and value.__module__ == modname:
            names[key] = _code_names(value.__code__)
    found: set[str] = set()
    grew = bool(wanted)
    while grew:
        grew = False
        for key, used in names.items():
            if key not in found and (used & wanted or used & found):
                found.add(key)
                grew = True
    return found


def _code_names(code: CodeType) -> set[str]:
    out = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, CodeType):
            out |= _code_names(const)
    return out
