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
classes a changed metaclass made.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["INSTANCE_HOOKS", "implicit_callers", "member_changed", "resolve"]

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
    and the classes made by a metaclass that changed."""
    classes = [(k, v) for k, v in list(ns.items()) if isinstance(v, type)]
    if not classes:
        return set()
    out: set[str] = set()
    for name in names:
        if name.startswith("."):
            continue
        head, _, hook = name.rpartition(".")
        if head and hook in _CLASS_STATEMENT_HOOKS:
            cls = resolve(ns, head)
            if isinstance(cls, type):
                out.update(f"{k}.{hook}" for k, v in classes if v is not cls and _sub(v, cls))
            continue
        if head and hook == "__call__":
            meta = resolve(ns, head)
            if _is_metaclass(meta):
                out.update(k for k, v in classes if isinstance(v, meta))
            continue
        cls = resolve(ns, name)
        if not isinstance(cls, type):
            continue
        out.update(k for k, v in classes if v is not cls and _sub(v, cls))
        if _is_metaclass(cls):
            out.update(f"{k}.__class__" for k, v in classes if isinstance(v, cls))
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
