"""Update live objects in place, and undo it all if the reload fails.

Design. A module is re-executed into its own (cleared) ``__dict__`` (or, with minimal
re-execution, some of its statements run in it), so every new function shares the module's
globals. Then :class:`Patcher` walks the names that were bound and, for each function or
class *defined by this module*, looks up the old object of the same ``__qualname__`` (not
the same attribute name: ``f = foo`` turning into ``f = bar`` must never pour ``bar``'s code
into ``foo``) and moves the new behaviour into the old object, so every reference held
anywhere (notebook variables, callbacks, ``from x import f`` in other modules, instances of
a class) sees the new code. What cannot be patched (a closure of another shape, a changed
enum, a function that became a class, ``__slots__`` that changed) is replaced and reported.

What survives, beyond the names themselves:

* the new code put its new objects elsewhere too (defaults, class attributes, registries,
  closures): :class:`~.references.References` points those places at the kept originals;
* objects of other libraries that hold this module's functions (a CLI command's callback, a
  group's commands) have the held functions paired and patched (``pair_holders``);
* a ``functools.singledispatch`` function keeps its registry (what was registered at run
  time stays; what the module registers is merged in), an ABC keeps its registered virtual
  subclasses (both merged by :mod:`.registrations`), a metaclass defined in the module is
  patched with its classes, an ``Enum`` whose values are ``object()`` sentinels counts as
  unchanged.

Every mutation of a pre-existing object goes through :class:`~.journal.Journal`, so a reload
that fails part-way leaves every module and object exactly as it was. The cost is
proportional to what the module's names hold, never to the size of the heap: no
``gc.get_referrers`` walk.

Past 400 lines on purpose: functions, classes, enums, descriptors and wrapper objects are
patched by one recursive :meth:`Patcher.patch`, whose cases call each other.
"""

from __future__ import annotations

import abc
import enum
import logging
from collections.abc import Iterable, Mapping, Sequence
from types import FunctionType, ModuleType
from typing import Any

from ipython_hotreload.core.apply.functions import LRU_WRAPPER, adopt, defined_in
from ipython_hotreload.core.apply.journal import MISSING as _MISSING
from ipython_hotreload.core.apply.journal import Journal
from ipython_hotreload.core.apply.references import References
from ipython_hotreload.core.apply.registrations import is_dispatcher, merge_abc, merge_dispatch

__all__ = ["MODULE_KEEP", "Journal", "Patcher"]

log = logging.getLogger(__name__)

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
_CLASS_OWN = frozenset({"__dict__", "__weakref__", "__qualname__", "__module__", "_abc_impl"})


_ATOMS = frozenset({int, float, complex, str, bytes, bool, type(None)})


class Patcher:
    """Merges one re-executed module's new objects into its old ones, through a journal.

    ``old_ns`` is what the namespace held before the code ran (for a whole module, all of
    it; for statements, at least the names they bind); ``earlier``, for a statement, what
    it held before the update began: its functions and classes stand for new ones of the
    same qualified name too (a name that a statement of the update rebound meanwhile, an
    overload stub say). ``neighbours``: the project modules the module imports, where what
    its code registered must point at the kept objects too. :meth:`merge` takes the whole
    namespace, :meth:`merge_names` only the names a statement bound."""

    def __init__(
        self,
        journal: Journal,
        module: ModuleType,
        old_ns: dict[str, Any],
        *,
        earlier: Mapping[str, Any] | None = None,
        neighbours: Sequence[ModuleType] = (),
    ) -> None:
        self.journal = journal
        self.module = module
        self.modname = module.__name__
        self.old_ns = old_ns
        self.earlier = earlier or {}
        self.neighbours = neighbours
        self.replaced: list[str] = []
        self.refs = References(journal, self.modname, [m.__name__ for m in neighbours])
        self._visiting: set[int] = set()
        self._dispatchers: list[tuple[FunctionType, FunctionType]] = []
        self._abcs: list[tuple[abc.ABCMeta, type]] = []

    def merge(self) -> list[str]:
        """Patch old objects with the new ones; put the old objects back in the namespace.
        Returns the qualified names that had to be replaced."""
        ns = self.module.__dict__
        # Submodules of a package are attributes the import system set; keep them.
        prefix = self.modname + "."
        for key, value in self.old_ns.items():
            if key not in ns and isinstance(value, ModuleType) and value.__name__ == prefix + key:
                ns[key] = value
        return self.merge_names(list(ns))

    def merge_names(self, names: Iterable[str]) -> list[str]:
        """Merge only what ``names`` are bound to now (the names a statement just bound):
        patch the old objects, then point everything those names hold at the kept
        originals. Returns the qualified names that had to be replaced."""
        ns = self.module.__dict__
        keys = [k for k in names if k in ns]
        if all(type(ns[k]) in _ATOMS for k in keys):
            # Numbers and strings hold no function or class to point back: only the names
            # that held one of this module's functions or classes are news.
            self._report_orphans(ns, keys)
            return self.replaced
        self._keep_old_objects(ns, keys)
        # Registrations are merged once every class is matched: a dispatcher (or an ABC)
        # defined before the classes it dispatches on (or registers) must key its registry
        # by the kept classes.
        for old_fn, new_fn in self._dispatchers:
            merge_dispatch(self.journal, old_fn, new_fn, self.refs.original, self.patch)
        self._dispatchers.clear()
        for old_abc, new_abc in self._abcs:
            merge_abc(self.journal, old_abc, new_abc, self.refs.original)
        self._abcs.clear()
        self.refs.pair_holders(self.old_ns, ns, keys, self.patch)
        self.refs.remap_namespace(ns, keys)
        for module in self.neighbours:
            self.refs.remap_module(module)
        self._report_orphans(ns, keys)
        return self.replaced

    def _keep_old_objects(self, ns: dict[str, Any], keys: list[str]) -> None:
        """Each of ``keys`` bound to a new function or class of this module that stands for
        an old one takes the old object back, patched with the new behaviour; what cannot
        be patched stays new and is named in :attr:`replaced`."""
        old_by_qualname, ambiguous = self._old_by_qualname()
        kept: dict[int, Any] = {}  # id(new object) -> the old object that stays in its place
        for key in keys:
            new = ns[key]
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
                self.journal.setitem(ns, key, old)
            else:
                self.replaced.append(qualname)

    def _old_by_qualname(self) -> tuple[dict[str, Any], set[str]]:
        """This module's old functions and classes by qualified name (those of the namespace
        before the code ran first, then those of before the update), and the qualified
        names that more than one old object of the namespace had."""
        old_by_qualname: dict[str, Any] = {}
        ambiguous: set[str] = set()
        for value in self.old_ns.values():
            if defined_in(value, self.modname) and _regular(value):
                q = value.__qualname__
                if old_by_qualname.setdefault(q, value) is not value:
                    ambiguous.add(q)
        for value in self.earlier.values():
            if defined_in(value, self.modname) and _regular(value):
                old_by_qualname.setdefault(value.__qualname__, value)
        return old_by_qualname, ambiguous

    def _report_orphans(self, ns: dict[str, Any], keys: list[str]) -> None:
        """A name still bound, whose old function or class was not carried over (a decorator
        removed, a wrapper became a plain function): references held to the old object keep
        the old code, so the user must hear of it."""
        still_there = {id(v) for v in ns.values()}
        for key in keys:
            old = self.old_ns.get(key, _MISSING)
            if (
                old is not _MISSING
                and defined_in(old, self.modname)
                and id(old) not in still_there
                and key not in self.replaced
                and getattr(ns[key], "__qualname__", key) not in self.replaced
            ):
                self.replaced.append(key)

    # -- objects ---------------------------------------------------------------------------

    def patch(self, old: Any, new: Any) -> bool:
        """Make ``old`` behave as ``new``; False if it cannot be done in place."""
        if old is new:
            return True
        kept = self.refs.kept(new)
        if kept is not _MISSING:
            return kept is old
        if isinstance(old, FunctionType) and isinstance(new, FunctionType):
            ok = self.patch_function(old, new)
        elif isinstance(old, type) and isinstance(new, type):
            ok = self.patch_class(old, new)
        elif isinstance(old, LRU_WRAPPER) and isinstance(new, LRU_WRAPPER):
            ok = self.patch(old.__wrapped__, new.__wrapped__)
            if ok:
                old.cache_clear()
                self.journal.on_undo(old.cache_clear)  # results of the new code must go too
        else:
            ok = False
        if ok:
            self.refs.keep(new, old)
        return ok

    def patch_function(self, old: FunctionType, new: FunctionType) -> bool:
        """Give ``old`` the code, defaults, closure values and attributes of ``new``."""
        if is_dispatcher(old) and is_dispatcher(new):
            # A singledispatch function: the old one, with its registry, stays as it is
            # (what was registered at run time must survive); the new registrations are
            # merged into it once every class of the module is matched.
            self._dispatchers.append((old, new))
            return True
        key = id(old)
        if key in self._visiting:
            return True
        self._visiting.add(key)
        try:
            if not adopt(self.journal, old, new, self._same_definition):
                return False  # a closure of another shape
            self._patch_func_dict(old, new)
        finally:
            self._visiting.discard(key)
        return True

    def _same_definition(self, old: Any, new: Any) -> bool:
        """Do two values a closure cell held before and after stand for one definition
        (kept in place by the patch, so the old cell keeps its value)?"""
        return (
            isinstance(old, FunctionType | type)
            and type(old) is type(new)
            and getattr(old, "__qualname__", None) == getattr(new, "__qualname__", None)
            and self.patch(old, new)
        )

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
        """Give ``old`` the bases, methods and attributes of ``new``."""
        if type(old) is not type(new) and not self._patch_metaclass(type(old), type(new)):
            return False
        if issubclass(old, enum.Enum):
            return self._patch_enum(old, new)
        if old.__dict__.get("__slots__", ()) != new.__dict__.get("__slots__", ()):
            return False
        self.refs.keep(new, old)
        bases = self._kept_bases(old, new)
        if bases != old.__bases__:
            try:
                self.journal.setattr(old, "__bases__", bases)
            except TypeError:
                self.refs.forget(new)
                return False
        for name, nv in new.__dict__.items():
            if name in _CLASS_OWN or _is_slot(nv):
                continue
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
        if isinstance(old, abc.ABCMeta):
            self._abcs.append((old, new))  # merged once every class is matched
        return True

    def _kept_bases(self, old: type, new: type) -> tuple[type, ...]:
        """The bases ``old`` takes: each new base of this module that stands for one of the
        old bases (same qualified name) is merged into it first, whatever order the names
        come in (a base reached through a class attribute before its own name), so a kept
        class never ends up with a freshly built base under it."""
        old_bases = {
            (b.__module__, b.__qualname__): b for b in old.__bases__ if defined_in(b, self.modname)
        }
        bases = []
        for base in new.__bases__:
            kept = self.refs.kept(base)
            if kept is _MISSING and defined_in(base, self.modname):
                match = old_bases.get((base.__module__, base.__qualname__))
                if match is not None and self.patch(match, base):
                    kept = match
            bases.append(base if kept is _MISSING else kept)
        return tuple(bases)

    def _patch_metaclass(self, old_meta: type, new_meta: type) -> bool:
        """A metaclass defined in this module is patched like any class, and then the
        classes made by it count as of the same kind."""
        return (
            defined_in(new_meta, self.modname)
            and old_meta.__qualname__ == new_meta.__qualname__
            and self.patch(old_meta, new_meta)
        )

    def _patch_enum(self, old: type, new: type) -> bool:
        members_old = list(old.__members__.items())  # type: ignore[attr-defined]
        members_new = list(new.__members__.items())  # type: ignore[attr-defined]
        if [n for n, _ in members_old] != [n for n, _ in members_new] or not all(
            _same_value(o.value, n.value)
            for (_, o), (_, n) in zip(members_old, members_new, strict=True)
        ):
            return False
        self.refs.keep(new, old)
        for (_, o), (_, n) in zip(members_old, members_new, strict=True):
            # A kept enum keeps its member objects (`x is Color.RED`), and a sentinel value
            # (`MISSING = object()`) the object it had: the new ones map back to them.
            self.refs.keep(n, o)
            if n.value is not o.value and not isinstance(n.value, _IMMUTABLE):
                self.refs.keep(n.value, o.value)
        for name, nv in new.__dict__.items():
            ov = old.__dict__.get(name, _MISSING)
            if isinstance(nv, FunctionType) and (ov is _MISSING or not self._patch_member(ov, nv)):
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
        if isinstance(ov, FunctionType | type | LRU_WRAPPER):
            if type(ov) is not type(nv) and not (isinstance(ov, type) and isinstance(nv, type)):
                return False
            if isinstance(ov, FunctionType) and ov.__code__.co_filename != nv.__code__.co_filename:  # type: ignore[union-attr]
                return False  # generated code (dataclass __init__, ...): take the new one
            return self.patch(ov, nv)
        return False

    def _kept_member(self, nv: Any) -> Any:
        if isinstance(nv, classmethod | staticmethod):
            func = self.refs.kept(nv.__func__, None)
            return type(nv)(func) if func is not None else nv
        return self.refs.original(nv)


# Values whose equality is their identity for enum purposes never need mapping back.
_IMMUTABLE = (str, bytes, int, float, complex, bool, tuple, frozenset, type(None))


def _same_value(old: Any, new: Any) -> bool:
    """Did an enum member's value stay the same? Equal values did; so did two objects of
    one type that compares by identity (``object()`` sentinels), made by the same line."""
    if old is new:
        return True
    kind = type(old)
    if kind is type(new) and getattr(kind, "__eq__", None) is getattr(object, "__eq__"):
        return True
    try:
        return bool(old == new)
    except Exception:  # a value whose __eq__ raises is simply not equal
        log.debug("hotreload: comparing enum values raised", exc_info=True)
        return False


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
