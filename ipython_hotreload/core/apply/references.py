"""Point what a re-execution built back at the objects that were kept in its place.

When a module (or one statement) runs again, it builds new classes, functions and enum
members; the patcher keeps the old object for each one it can update in place and records
``new -> old``. But the new code also put the new objects elsewhere: a function's defaults
(``def f(x=Color.RED)``), a class attribute, a module-level registry (``REG = {"b": B}``,
``HANDLERS = [f]``, a dict keyed by a class), a closure. Left there, they are copies whose
``super()`` is broken and that ``is`` and ``isinstance`` tell apart from the real thing.

:class:`References` walks what the re-executed names hold, as deep as plain containers and
instances' ``__dict__`` go (``PAIR = Group([Square()])``: the nested square, an instance of
the new class, moves to the kept one), and replaces each new object by its kept original,
through the journal. The names of the project modules the module imports (its neighbours)
are walked too, with their classes' data attributes and their functions' closures (not their
methods: that code did not run): what its code registered there (``__init_subclass__``
filling a registry of the base's module or class) must hold the kept class. It also pairs
*holders*: an object of another library bound to the same name before and after (a CLI
``Command`` holding a callback, a group holding commands) has its held functions of this
module paired by position, so the old holder runs the new code.

The walk is bounded by what the module's and its neighbours' names hold (plain containers,
instances' attributes, their functions and classes, at most :data:`DEPTH` levels below a
name; a container longer than :data:`LARGE` is left alone, and the whole walk stops after
:data:`BUDGET` visits), never by the size of the heap: no ``gc.get_referrers``. So a
registry further away (in a module that only a neighbour imports) keeps the copy.
"""

from __future__ import annotations

import collections
import enum
import functools
import logging
from collections.abc import Callable, Iterable
from types import FunctionType, ModuleType
from typing import Any

from ipython_hotreload.core.apply.journal import MISSING, Journal, cell_value

__all__ = ["BUDGET", "LARGE", "References"]

log = logging.getLogger(__name__)

#: Containers longer than this are data, not registries: not walked.
LARGE = 10_000
#: Visits of one walk at most (a module holding a huge nest of data stops there).
BUDGET = 200_000
#: Nesting of plain containers and instances (and of holders' attributes) walked below a name.
DEPTH = 6

_DICTS = (dict, collections.OrderedDict, collections.defaultdict)
_SEQUENCES = (list, tuple)
_SETS = (set, frozenset)
# Attributes of a class that belong to that class object itself.
_CLASS_OWN = frozenset({"__dict__", "__weakref__", "__qualname__", "__module__", "_abc_impl"})
# What a class holds as behaviour, not data (skipped in a neighbour's classes).
_BEHAVIOUR = (FunctionType, classmethod, staticmethod, property)
# Kinds whose instances never hold anything to pair.
_ATOMS = (str, bytes, int, float, complex, bool, type(None), ModuleType)
# The same, exactly (no subclass): a container's items of these are passed over without a
# call each (a lexer table, a mapping of names, is mostly strings and numbers).
_PLAIN = frozenset(_ATOMS)


class References:
    """One module's ``new -> old`` map and the walks that apply it."""

    def __init__(self, journal: Journal, modname: str, neighbours: Iterable[str] = ()) -> None:
        """``neighbours``: the project modules ``modname`` imports, whose names are walked too
        (:meth:`remap_module`), and their classes' attributes and functions' closures (a
        registry kept on a base class, or by a decorator factory)."""
        self.journal = journal
        self.modname = modname
        self._owners = {modname, *neighbours}  # whose functions and classes are walked
        # id(new object) -> (new object, the old object kept in its place). The new object
        # is held, so its id cannot be reused by something built during the walk.
        self._map: dict[int, tuple[Any, Any]] = {}
        self._done: dict[int, Any] = {}  # id(value walked) -> what replaces it
        self._held: list[Any] = []  # values walked, kept alive for the same reason
        self._budget = BUDGET

    # -- the map ---------------------------------------------------------------------------

    def keep(self, new: Any, old: Any) -> None:
        """Record that ``old`` stays where the re-execution made ``new``."""
        self._map[id(new)] = (new, old)

    def forget(self, new: Any) -> None:
        """Undo :meth:`keep` (the patch that recorded it did not go through)."""
        self._map.pop(id(new), None)

    def kept(self, new: Any, default: Any = MISSING) -> Any:
        """The old object kept for ``new``, or ``default``."""
        entry = self._map.get(id(new))
        return default if entry is None else entry[1]

    def original(self, value: Any) -> Any:
        """``value``'s kept original, or ``value`` itself."""
        entry = self._map.get(id(value))
        return value if entry is None else entry[1]

    # -- remapping -------------------------------------------------------------------------

    def remap_namespace(self, ns: dict[str, Any], keys: Iterable[str]) -> None:
        """Replace the new objects that the values of ``keys`` hold by their originals."""
        for key in keys:
            if key not in ns or (key.startswith("__") and key.endswith("__")):
                continue
            value = ns[key]
            new = self.remap(value, 0)
            if new is not value:
                self.journal.setitem(ns, key, new)

    def remap_module(self, module: ModuleType) -> None:
        """Replace the new objects that the names of ``module`` (one of the neighbours) hold
        by their originals: what this module's code put there (``__init_subclass__`` or a
        decorator filling a registry of the module that defines it)."""
        if not self._map:
            return  # nothing was kept in place: nothing to point back at
        ns = module.__dict__
        self.remap_namespace(ns, list(ns))

    def remap(self, value: Any, depth: int) -> Any:
        """``value`` with every new object it holds replaced by its original (in place for a
        dict, list or set; a new tuple or frozenset when one of its items changed)."""
        entry = self._map.get(id(value))
        if entry is not None:
            return entry[1]
        kind = type(value)
        if issubclass(kind, _ATOMS):
            return value
        done = self._done.get(id(value), MISSING)
        if done is not MISSING:
            return done
        self._budget -= 1
        if self._budget < 0:
            return value
        self._done[id(value)] = value  # a cycle comes back to the value itself
        self._held.append(value)
        result = self._remap_one(value, depth)
        self._done[id(value)] = result
        return result

    def _remap_one(self, value: Any, depth: int) -> Any:
        # Only type() is asked about a value: isinstance() would read ``__class__``, which a
        # proxy (flask's ``request``) answers by raising outside its context.
        kind = type(value)
        if kind is FunctionType:
            if value.__module__ in self._owners:
                self._remap_function(value, whole=value.__module__ == self.modname)
            return value
        if issubclass(kind, type):
            if value.__dict__.get("__module__") in self._owners:
                self._remap_class(value)
            return value
        if kind in (classmethod, staticmethod):
            func = self.remap(value.__func__, depth)
            return value if func is value.__func__ else kind(func)
        if depth >= DEPTH:
            return value
        if kind in _DICTS:
            return self._remap_dict(value, depth + 1)
        if kind in _SEQUENCES:
            return self._remap_sequence(value, depth + 1)
        if kind in _SETS:
            return self._remap_set(value, depth + 1)
        self._rehome(value)
        self._remap_instance(value, depth + 1)
        return value

    def _remap_dict(self, value: dict[Any, Any], depth: int) -> dict[Any, Any]:
        if len(value) > LARGE:
            return value
        plain, remap = _PLAIN, self.remap
        items = [
            (
                k if type(k) in plain else remap(k, depth),
                v if type(v) in plain else remap(v, depth),
            )
            for k, v in list(value.items())
        ]
        if any(nk is not k for (nk, _), k in zip(items, value, strict=False)):
            self.journal.refill(value, items)  # a key changed: the same dict, in order
        else:
            for (key, new), old in zip(items, list(value.values()), strict=False):
                if new is not old:
                    self.journal.setitem(value, key, new)
        return value

    def _remap_sequence(self, value: Any, depth: int) -> Any:
        if len(value) > LARGE:
            return value
        plain, remap = _PLAIN, self.remap
        items = [x if type(x) in plain else remap(x, depth) for x in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        if isinstance(value, list):
            self.journal.refill(value, items)
            return value
        return tuple(items)

    def _remap_set(self, value: Any, depth: int) -> Any:
        if len(value) > LARGE:
            return value
        plain, remap = _PLAIN, self.remap
        items = [x if type(x) in plain else remap(x, depth) for x in value]
        if all(new is old for new, old in zip(items, value, strict=True)):
            return value
        if isinstance(value, set):
            self.journal.refill(value, items)
            return value
        return frozenset(items)

    def _remap_instance(self, value: Any, depth: int) -> None:
        """What an instance holds in its ``__dict__`` (a grammar element's sub-elements, a
        group's members): built by the same run, it may hold new objects too."""
        kind = type(value)
        if not kind.__dictoffset__ or issubclass(kind, enum.Enum):
            return  # no __dict__ (code, a compiled pattern); an enum member's is its class's
        attrs = _instance_dict(value)
        if not attrs or len(attrs) > LARGE:
            return
        for name, held in list(attrs.items()):
            new = self.remap(held, depth)
            if new is not held:
                self.journal.setitem(attrs, name, new)

    def _remap_function(self, fn: FunctionType, *, whole: bool) -> None:
        """``fn``'s closure cells and, if ``whole`` (a function of this module, which the
        run made), its defaults and ``__wrapped__``."""
        for cell in fn.__closure__ or ():
            held = cell_value(cell)
            if held is MISSING:
                continue
            new = self.remap(held, 1)
            if new is not held:
                self.journal.set_cell(cell, new)
        if not whole:
            return
        if fn.__defaults__:
            defaults = tuple(self.remap(d, 1) for d in fn.__defaults__)
            if any(n is not o for n, o in zip(defaults, fn.__defaults__, strict=True)):
                self.journal.setattr(fn, "__defaults__", defaults)
        if fn.__kwdefaults__:
            kw = {k: self.remap(v, 1) for k, v in fn.__kwdefaults__.items()}
            if any(kw[k] is not v for k, v in fn.__kwdefaults__.items()):
                self.journal.setattr(fn, "__kwdefaults__", kw)
        wrapped = fn.__dict__.get("__wrapped__")
        if wrapped is not None:
            new = self.remap(wrapped, 1)
            if new is not wrapped:
                self.journal.setattr(fn, "__wrapped__", new)

    def _remap_class(self, cls: type) -> None:
        # A neighbour's class did not run: only what it holds as data may have taken this
        # module's new objects (a registry kept on a base class).
        data_only = cls.__dict__.get("__module__") != self.modname
        for name, value in list(cls.__dict__.items()):
            if name in _CLASS_OWN or type(value).__name__ in (
                "member_descriptor",
                "getset_descriptor",
            ):
                continue
            if data_only and (type(value) in _BEHAVIOUR or name == "__annotations__"):
                continue
            if issubclass(cls, enum.Enum) and (
                issubclass(type(value), enum.Enum) or name.startswith("_")
            ):
                continue  # an enum's own members and bookkeeping are its business
            new = self.remap(value, 1)
            if new is not value:
                try:
                    self.journal.setattr(cls, name, new)
                except (AttributeError, TypeError) as exc:
                    log.debug(
                        "hotreload: %s.%s keeps a new object: %s", cls.__qualname__, name, exc
                    )

    def _rehome(self, value: Any) -> None:
        """An instance of a new class (made while the module ran) belongs to the kept class,
        so ``isinstance`` agrees with the module's names."""
        entry = self._map.get(id(type(value)))
        if entry is None or issubclass(type(value), enum.Enum):
            return
        old_cls = entry[1]
        try:
            object.__setattr__(value, "__class__", old_cls)  # past a frozen __setattr__
        except (TypeError, AttributeError):
            log.debug("hotreload: cannot rehome %r to the patched class", value)

    # -- holders ---------------------------------------------------------------------------

    def pair_holders(
        self,
        old_ns: dict[str, Any],
        ns: dict[str, Any],
        keys: Iterable[str],
        patch: Callable[[Any, Any], bool],
    ) -> None:
        """For each name bound before and after to an object that is neither a module nor a
        function or class (a holder: a CLI command, a group, a registry of a library), pair
        the functions of this module that the old and the new holder hold at the same place
        (attribute, key, index): the old one takes the new code (``patch``) and the new
        holder is pointed at the old one, so one function object runs, held by both."""
        for key in keys:
            old, new = old_ns.get(key, MISSING), ns.get(key, MISSING)
            if old is MISSING or new is MISSING or old is new:
                continue
            if _definition(old) or _definition(new):
                continue
            self._pair(old, new, 0, patch)

    def _pair(self, old: Any, new: Any, depth: int, patch: Callable[[Any, Any], bool]) -> None:
        if old is new or depth > DEPTH or issubclass(type(new), _ATOMS):
            return
        self._budget -= 1
        if self._budget < 0:
            return
        if issubclass(type(new), dict) and issubclass(type(old), dict):
            if max(len(old), len(new)) <= LARGE:
                for key, value in list(new.items()):
                    self._pair_slot(
                        old.get(self.original(key), MISSING),
                        value,
                        depth,
                        patch,
                        functools.partial(self.journal.setitem, new, key),
                    )
            return
        if type(new) in _SEQUENCES and type(old) is type(new):
            if len(old) == len(new) <= LARGE:
                for index, (o, n) in enumerate(zip(old, new, strict=True)):
                    setter = (
                        functools.partial(self._set_index, new, index)
                        if isinstance(new, list)
                        else None
                    )
                    self._pair_slot(o, n, depth, patch, setter)
            return
        if type(new) is not type(old) and self.original(type(new)) is not type(old):
            return
        old_dict, new_dict = _instance_dict(old), _instance_dict(new)
        if old_dict is None or new_dict is None or len(new_dict) > LARGE:
            return
        for name, value in list(new_dict.items()):
            self._pair_slot(
                old_dict.get(name, MISSING),
                value,
                depth,
                patch,
                functools.partial(self.journal.setitem, new_dict, name),
            )

    def _set_index(self, items: list[Any], index: int, value: Any) -> None:
        before = items[index]
        self.journal.on_undo(lambda: items.__setitem__(index, before))
        items[index] = value

    def _pair_slot(
        self,
        old: Any,
        new: Any,
        depth: int,
        patch: Callable[[Any, Any], bool],
        point: Callable[[Any], None] | None,
    ) -> None:
        if old is MISSING or old is new:
            return
        if type(old) is FunctionType and type(new) is FunctionType:
            if (
                new.__module__ == self.modname
                and old.__module__ == self.modname
                and old.__qualname__ == new.__qualname__
                and patch(old, new)
                and point is not None
            ):
                point(old)
            return
        if _definition(old) or _definition(new):
            return
        self._pair(old, new, depth + 1, patch)


def _definition(value: Any) -> bool:
    kind = type(value)
    return kind is FunctionType or issubclass(kind, type) or issubclass(kind, ModuleType)


def _instance_dict(obj: Any) -> dict[str, Any] | None:
    try:
        d = object.__getattribute__(obj, "__dict__")
    except (AttributeError, TypeError):
        return None
    return d if type(d) is dict else None
