"""Update live objects in place, and undo it all if the reload fails.

Design. A module is re-executed into its own (cleared) ``__dict__``, so every new function
shares the module's globals. Then :class:`Patcher` walks the new namespace and, for each
function or class *defined by this module*, looks up the old object of the same
``__qualname__`` (not the same attribute name: ``f = foo`` turning into ``f = bar`` must never
pour ``bar``'s code into ``foo``) and moves the new behaviour into the old object, so every
reference held anywhere (notebook variables, callbacks, ``from x import f`` in other modules,
instances of a class) sees the new code. What cannot be patched (a closure of another shape,
a changed enum, a function that became a class, a different metaclass or ``__slots__``) is
replaced and reported.

Every mutation of a pre-existing object goes through :class:`Journal`, which records how to
undo it; :meth:`Journal.rollback` replays the undo log backwards, so a reload that fails
part-way leaves every module and object exactly as it was. The cost is proportional to what
the module defines, never to the size of the heap: no ``gc.get_referrers`` walk.
"""

from __future__ import annotations

import enum
import functools
import logging
import sys
from collections.abc import Callable
from types import CellType, FunctionType, ModuleType
from typing import Any

__all__ = ["MODULE_KEEP", "Journal", "Patcher"]

log = logging.getLogger(__name__)

_MISSING: Any = object()

#: Attributes a re-executed module keeps from the import system.
MODULE_KEEP = (
    "__name__",
    "__file__",
    "__cached__",
    "__loader__",
    "__package__",
    "__path__",
    "__spec__",
    "__builtins__",
)

# Attributes of a class that belong to that class object itself and must never move to another.
_CLASS_OWN = frozenset({"__dict__", "__weakref__", "__qualname__", "__module__"})
_FUNC_ATTRS = ("__code__", "__defaults__", "__kwdefaults__", "__annotations__", "__doc__")
if sys.version_info >= (3, 12):
    _FUNC_ATTRS = (*_FUNC_ATTRS, "__type_params__")
_LRU_WRAPPER = type(functools.lru_cache(maxsize=None)(lambda: None))


class Journal:
    """An undo log of mutations to live objects.

    Each method records how to undo a change *before* making it, so an interrupt that lands
    between the two still leaves a log that restores everything.
    """

    def __init__(self) -> None:
        self._undo: list[Callable[[], None]] = []

    def __len__(self) -> int:
        return len(self._undo)

    def setattr(self, obj: Any, name: str, value: Any) -> None:
        old = (
            obj.__dict__.get(name, _MISSING)
            if isinstance(obj, type)
            else getattr(obj, name, _MISSING)
        )
        if old is _MISSING:
            self._undo.append(lambda: _quiet_delattr(obj, name))
        else:
            self._undo.append(lambda: setattr(obj, name, old))
        setattr(obj, name, value)

    def delattr(self, obj: Any, name: str) -> None:
        old = obj.__dict__[name] if isinstance(obj, type) else getattr(obj, name)
        self._undo.append(lambda: setattr(obj, name, old))
        delattr(obj, name)

    def set_cell(self, cell: CellType, value: Any) -> None:
        old = _cell_value(cell)
        if old is _MISSING:
            self._undo.append(lambda: _empty_cell(cell))
        else:
            self._undo.append(lambda: setattr(cell, "cell_contents", old))
        if value is _MISSING:
            del cell.cell_contents
        else:
            cell.cell_contents = value

    def setitem(self, mapping: dict[str, Any], key: str, value: Any) -> None:
        old = mapping.get(key, _MISSING)
        if old is _MISSING:
            self._undo.append(lambda: mapping.pop(key, None))
        else:
            self._undo.append(lambda: mapping.__setitem__(key, old))
        mapping[key] = value

    def replace_namespace(self, ns: dict[str, Any], keep: dict[str, Any]) -> dict[str, Any]:
        """Empty ``ns`` down to ``keep``; return (and remember) what it held before."""
        before = dict(ns)

        def undo() -> None:
            ns.clear()
            ns.update(before)

        self._undo.append(undo)
        ns.clear()
        ns.update(keep)
        return before

    def on_undo(self, fn: Callable[[], None]) -> None:
        self._undo.append(fn)

    def rollback(self) -> None:
        """Undo everything, newest first. Never raises: a failing step, or a second
        Ctrl-C, is logged and the remaining steps still run."""
        while self._undo:
            step = self._undo.pop()
            try:
                step()
            except BaseException:
                log.exception("hotreload: an undo step failed during rollback")


def _quiet_delattr(obj: Any, name: str) -> None:
    try:
        delattr(obj, name)
    except AttributeError:
        pass


def _empty_cell(cell: CellType) -> None:
    try:
        del cell.cell_contents
    except ValueError:
        pass


def _cell_value(cell: CellType) -> Any:
    try:
        return cell.cell_contents
    except ValueError:
        return _MISSING


def defined_in(obj: Any, modname: str) -> bool:
    """Is ``obj`` a function or class that module ``modname`` defines (or a wrapper of one)?"""
    if isinstance(obj, FunctionType | type | _LRU_WRAPPER):
        return getattr(obj, "__module__", None) == modname and isinstance(
            getattr(obj, "__qualname__", None), str
        )
    return False


class Patcher:
    """Merges one re-executed module's new objects into its old ones, through a journal."""

    def __init__(self, journal: Journal, module: ModuleType, old_ns: dict[str, Any]) -> None:
        self.journal = journal
        self.module = module
        self.modname = module.__name__
        self.old_ns = old_ns
        self.replaced: list[str] = []
        self._new_to_old: dict[int, Any] = {}  # id(new object) -> old object kept in its place
        self._visiting: set[int] = set()

    def merge(self) -> list[str]:
        """Patch old objects with the new ones; put the old objects back in the namespace."""
        ns = self.module.__dict__
        old_by_qualname: dict[str, Any] = {}
        ambiguous: set[str] = set()
        for value in self.old_ns.values():
            if defined_in(value, self.modname) and _regular(value):
                q = value.__qualname__
                if old_by_qualname.setdefault(q, value) is not value:
                    ambiguous.add(q)
        # Submodules of a package are attributes the import system set; keep them.
        prefix = self.modname + "."
        for key, value in self.old_ns.items():
            if key not in ns and isinstance(value, ModuleType) and value.__name__ == prefix + key:
                ns[key] = value
        kept: dict[int, Any] = {}  # id(new object) -> the old object that stays in its place
        for key, new in list(ns.items()):
            if not defined_in(new, self.modname):
                continue
            if id(new) in kept:
                ns[key] = kept[id(new)]
                continue
            qualname = new.__qualname__
            if _regular(new) and qualname not in ambiguous:
                # Matched by its own qualified name, never by the attribute pointing at it:
                # `f = foo` turning into `f = bar` must not pour bar's code into foo.
                old = old_by_qualname.get(qualname, _MISSING)
            else:
                # Lambdas, wrappers made by a decorator without functools.wraps, functions
                # built from another's code: their qualname is shared, only the name they
                # are bound to identifies them.
                old = self.old_ns.get(key, _MISSING)
                if getattr(old, "__qualname__", None) != qualname:
                    old = _MISSING
                qualname = key
            if old is _MISSING or old is new or any(v is old for v in kept.values()):
                continue
            if self.patch(old, new):
                kept[id(new)] = old
                ns[key] = old
            else:
                self.replaced.append(qualname)
        self._report_orphans(ns, kept)
        self._rehome_instances(ns)
        return self.replaced

    def _report_orphans(self, ns: dict[str, Any], kept: dict[int, Any]) -> None:
        """A name still bound, whose old function or class was not carried over (a decorator
        removed, a wrapper became a plain function): references held to the old object keep
        the old code, so the user must hear of it."""
        still_there = {id(v) for v in ns.values()}
        for key, old in self.old_ns.items():
            if (
                key in ns
                and defined_in(old, self.modname)
                and id(old) not in still_there
                and key not in self.replaced
                and getattr(ns[key], "__qualname__", key) not in self.replaced
            ):
                self.replaced.append(key)

    def _rehome_instances(self, ns: dict[str, Any]) -> None:
        # Module-level instances made while executing belong to the new class object; point
        # them at the old (patched) class so isinstance() agrees with the module's names.
        for key, value in list(ns.items()):
            cls = type(value)
            old = self._new_to_old.get(id(cls))
            if old is None or old is cls:
                continue
            if isinstance(value, enum.Enum):
                # A kept enum keeps its member objects: `x is Color.RED` must hold.
                ns[key] = old.__members__[value.name]
                continue
            try:
                object.__setattr__(value, "__class__", old)  # past a frozen __setattr__
            except (TypeError, AttributeError):
                log.debug("hotreload: cannot rehome %r to the patched class", value)

    # -- objects ---------------------------------------------------------------------------

    def patch(self, old: Any, new: Any) -> bool:
        """Make ``old`` behave as ``new``; False if it cannot be done in place."""
        if old is new:
            return True
        if id(new) in self._new_to_old:
            return self._new_to_old[id(new)] is old
        if isinstance(old, FunctionType) and isinstance(new, FunctionType):
            ok = self.patch_function(old, new)
        elif isinstance(old, type) and isinstance(new, type):
            ok = self.patch_class(old, new)
        elif isinstance(old, _LRU_WRAPPER) and isinstance(new, _LRU_WRAPPER):
            ok = self.patch(old.__wrapped__, new.__wrapped__)
            if ok:
                old.cache_clear()
                self.journal.on_undo(old.cache_clear)  # results of the new code must go too
        else:
            ok = False
        if ok:
            self._new_to_old[id(new)] = old
        return ok

    def patch_function(self, old: FunctionType, new: FunctionType) -> bool:
        # Closures are positional: the code may change the names of its free variables as
        # long as their number stays (the cells are refilled below); not their number.
        if len(old.__code__.co_freevars) != len(new.__code__.co_freevars):
            return False
        key = id(old)
        if key in self._visiting:
            return True
        self._visiting.add(key)
        try:
            for old_cell, new_cell in zip(
                old.__closure__ or (), new.__closure__ or (), strict=True
            ):
                ov, nv = _cell_value(old_cell), _cell_value(new_cell)
                if ov is nv:
                    continue
                if (
                    isinstance(ov, FunctionType | type)
                    and type(ov) is type(nv)
                    and getattr(ov, "__qualname__", None) == getattr(nv, "__qualname__", None)
                    and self.patch(ov, nv)
                ):
                    continue
                self.journal.set_cell(old_cell, nv)
            for attr in _FUNC_ATTRS:
                value = getattr(new, attr)
                if getattr(old, attr) is not value:
                    self.journal.setattr(old, attr, value)
            self._patch_func_dict(old, new)
        finally:
            self._visiting.discard(key)
        return True

    def _patch_func_dict(self, old: FunctionType, new: FunctionType) -> None:
        for name, nv in new.__dict__.items():
            ov = old.__dict__.get(name, _MISSING)
            if ov is nv:
                continue
            if name == "__wrapped__" and ov is not _MISSING and self.patch(ov, nv):
                continue
            self.journal.setattr(old, name, nv)
        for name in [n for n in old.__dict__ if n not in new.__dict__]:
            self.journal.delattr(old, name)

    def patch_class(self, old: type, new: type) -> bool:
        if type(old) is not type(new):
            return False
        if issubclass(old, enum.Enum):
            return self._patch_enum(old, new)
        if old.__dict__.get("__slots__", ()) != new.__dict__.get("__slots__", ()):
            return False
        self._new_to_old[id(new)] = old
        bases = tuple(self._new_to_old.get(id(b), b) for b in new.__bases__)
        if bases != old.__bases__:
            try:
                self.journal.setattr(old, "__bases__", bases)
            except TypeError:
                del self._new_to_old[id(new)]
                return False
        for name, nv in new.__dict__.items():
            if name in _CLASS_OWN or _is_slot(nv):
                continue
            self._point_cells_at(nv, new, old)
            ov = old.__dict__.get(name, _MISSING)
            if ov is nv:
                continue
            if ov is not _MISSING and self._patch_member(ov, nv):
                continue
            if ov is not _MISSING and _user_code(ov):
                self.replaced.append(f"{old.__qualname__}.{name}")
            # An alias in the class body (`also = method`) must point at the kept object.
            self.journal.setattr(old, name, self._kept_member(nv))
        for name in [n for n in old.__dict__ if n not in new.__dict__]:
            if name in _CLASS_OWN or _is_slot(old.__dict__[name]):
                continue
            self.journal.delattr(old, name)
        return True

    def _patch_enum(self, old: type, new: type) -> bool:
        members_old = [(m.name, m.value) for m in old.__members__.values()]  # type: ignore[attr-defined]
        members_new = [(m.name, m.value) for m in new.__members__.values()]  # type: ignore[attr-defined]
        if members_old != members_new:
            return False
        self._new_to_old[id(new)] = old
        for name, nv in new.__dict__.items():
            ov = old.__dict__.get(name, _MISSING)
            if isinstance(nv, FunctionType):
                self._point_cells_at(nv, new, old)
                if ov is _MISSING or not self._patch_member(ov, nv):
                    self.journal.setattr(old, name, nv)
        return True

    def _patch_member(self, ov: Any, nv: Any) -> bool:
        if isinstance(ov, classmethod | staticmethod) and type(ov) is type(nv):
            return self.patch(ov.__func__, nv.__func__)
        if isinstance(ov, property) and isinstance(nv, property):
            parts = [(ov.fget, nv.fget), (ov.fset, nv.fset), (ov.fdel, nv.fdel)]
            if any((o is None) != (n is None) for o, n in parts):
                return False
            return all(o is None or self.patch(o, n) for o, n in parts)
        if isinstance(ov, FunctionType | type | _LRU_WRAPPER):
            if type(ov) is not type(nv):
                return False
            if isinstance(ov, FunctionType) and ov.__code__.co_filename != nv.__code__.co_filename:  # type: ignore[union-attr]
                return False  # generated code (dataclass __init__, ...): take the new one
            return self.patch(ov, nv)
        return False

    def _kept_member(self, nv: Any) -> Any:
        if isinstance(nv, classmethod | staticmethod):
            func = self._new_to_old.get(id(nv.__func__))
            return type(nv)(func) if func is not None else nv
        return self._new_to_old.get(id(nv), nv)

    def _point_cells_at(self, obj: Any, new_cls: type, old_cls: type) -> None:
        """Methods of the new class that close over it (``super()``'s ``__class__`` cell, the
        ``cls`` of a dataclass's generated methods) must see the old class object instead."""
        for fn in _functions_of(obj):
            for cell in fn.__closure__ or ():
                if _cell_value(cell) is new_cls:
                    cell.cell_contents = old_cls


def _regular(obj: Any) -> bool:
    """Does ``obj``'s qualified name identify it: a plain dotted path ending in its name?"""
    qualname: str = obj.__qualname__
    return "<" not in qualname and qualname.rpartition(".")[2] == getattr(obj, "__name__", None)


def _user_code(member: Any) -> bool:
    """Is this class member something the user wrote (not generated, like a dataclass's
    ``__init__``), whose replacement leaves held references on old code?"""
    if isinstance(member, classmethod | staticmethod):
        member = member.__func__
    if isinstance(member, property):
        member = member.fget
    if isinstance(member, FunctionType):
        return not member.__code__.co_filename.startswith("<")
    return isinstance(member, type)


def _is_slot(value: Any) -> bool:
    return type(value).__name__ in ("member_descriptor", "getset_descriptor")


def _functions_of(obj: Any) -> list[FunctionType]:
    out: list[FunctionType] = []
    seen: set[int] = set()
    stack = [obj]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, classmethod | staticmethod):
            stack.append(item.__func__)
        elif isinstance(item, property):
            stack.extend([item.fget, item.fset, item.fdel])
        elif isinstance(item, FunctionType):
            out.append(item)
            wrapped = item.__dict__.get("__wrapped__")
            if wrapped is not None:
                stack.append(wrapped)
            for cell in item.__closure__ or ():
                value = _cell_value(cell)
                if isinstance(value, FunctionType):
                    stack.append(value)
    return out
