"""What a definition run again registered takes the place of what it registered before.

A class or decorated ``def`` statement that runs again registers again: a decorator adds a
route (Flask's url map, FastAPI's ``router.routes``), a base's ``__init_subclass__`` or a
metaclass files the new class in a registry. :class:`Registrations` looks at the containers
reachable from the statement's *roots* (the module's names, and what the statement calls:
a decorator's object and module, a base class and its module) before the statement runs,
reads each again after it, and settles each list and dict that changed:

* an entry that is a new object standing for a kept one (the patcher's ``new -> old`` map)
  becomes the kept one, and is dropped if the kept one is already there;
* a new entry in a list that is, or equals (``==``), an entry that was there before takes
  that entry's place (one route, never two);
* a new entry paired with nothing is reported: it may now be registered twice (a number or
  a string is never paired: a log of names grows as it would, and is reported only where
  an equal one was there already).

The walk goes through plain containers and plain objects' ``__dict__``, :data:`DEPTH` deep
and :data:`BUDGET` visits at most, never into functions, classes or modules below the roots.

An object the patcher keeps in place may be a registry of its own, whose entries were made
at run time as much as by the module's text. A kept ``functools.singledispatch`` function
keeps its registry dict (:func:`merge_dispatch`) and a kept ABC its virtual subclasses
(:func:`merge_abc`): what was registered stays, and what the new text registers is added,
keyed by the kept classes. The patcher merges them once every class of the module is
matched.
"""

from __future__ import annotations

import abc
import collections
import functools
import logging
import sys
from collections.abc import Callable, Iterable
from types import (
    BuiltinFunctionType,
    FunctionType,
    GetSetDescriptorType,
    MemberDescriptorType,
    MethodDescriptorType,
    MethodType,
    ModuleType,
    WrapperDescriptorType,
)
from typing import Any

from ipython_hotreload.core.apply.implicit import resolve
from ipython_hotreload.core.apply.journal import MISSING, Journal, cell_value

__all__ = [
    "BUDGET",
    "DEPTH",
    "Registrations",
    "is_dispatcher",
    "merge_abc",
    "merge_dispatch",
    "roots_of",
]

log = logging.getLogger(__name__)

#: How deep below a root the walk goes (a Flask url map's rules sit about ten levels down).
DEPTH = 12
#: Visits of one walk at most.
BUDGET = 50_000
#: Lists and dicts longer than this are data, not registries.
LARGE = 10_000

_LISTS = (list,)
_DICTS = (dict, collections.OrderedDict, collections.defaultdict)
_ATOMS = (str, bytes, int, float, complex, bool, type(None), range)
_DEFINITIONS = (FunctionType, BuiltinFunctionType, MethodType, ModuleType, type)
# What a built-in type's own attributes are: they hold no registry.
_SLOTS = (MethodDescriptorType, WrapperDescriptorType, GetSetDescriptorType, MemberDescriptorType)
# A module's names the import system set, which no decorator registers into (its
# `__builtins__` would take the walk through every built-in).
_IMPORT_SYSTEM = frozenset(("__builtins__", "__spec__", "__loader__"))
# The exact types of both, which a walk passes over without a step.
_SKIP = frozenset((*_ATOMS, *_DEFINITIONS, *_SLOTS))

# A container seen by a walk: its path from a root (for messages), and what it held.
_Seen = tuple[Any, Any, Any]
# Every functools.singledispatch function runs this one code object.
_DISPATCH_CODE = getattr(functools.singledispatch(lambda x: x), "__code__")


def roots_of(ns: dict[str, Any], names: Iterable[str]) -> list[tuple[str, Any]]:
    """The objects a statement that reads ``names`` (dotted) may register into: each
    object read (a bound method's instance), the namespace of the module a function, a
    method or a class read comes from, and the module's own names."""
    roots: list[tuple[str, Any]] = [(ns.get("__name__", "the module"), _Namespace(ns))]
    seen = {id(ns)}
    for name in sorted(names):
        if name.startswith(".") or "__" in name:
            continue
        value = resolve(ns, name)
        if value is None or isinstance(value, _ATOMS):
            continue
        owner = getattr(value, "__self__", None) if isinstance(value, MethodType) else None
        if owner is not None and id(owner) not in seen:
            seen.add(id(owner))
            roots.append((name.rpartition(".")[0] or name, owner))
        # A class statement calls hooks its bases and metaclass inherit: where each of
        # those classes is defined may hold the registry.
        related: list[type] = []
        if isinstance(value, type):
            meta: type = type(value)
            related = [*value.__mro__[:-1], *meta.__mro__[:-2]]
        for obj in [value, *related]:
            module = _module_of(obj)
            if module is not None and id(module.__dict__) not in seen:
                seen.add(id(module.__dict__))
                roots.append((module.__name__, _Namespace(module.__dict__)))
        for cls in related:  # their attributes (a registry kept on the class)
            if id(cls) not in seen and getattr(cls, "__module__", None) != "builtins":
                seen.add(id(cls))
                roots.append((cls.__qualname__, cls))
        if isinstance(value, _DEFINITIONS) or id(value) in seen:
            continue
        seen.add(id(value))
        roots.append((name, value))
    return roots


class _Namespace:
    """A module's namespace as a root: its values are walked, the dict itself is no
    registry (the statement binds its own names there)."""

    def __init__(self, ns: dict[str, Any]) -> None:
        self.ns = ns


class Registrations:
    """The containers reachable from ``roots`` before a statement runs again."""

    def __init__(self, roots: list[tuple[str, Any]]) -> None:
        self.roots = roots
        self.before: dict[int, _Seen] = _walk(roots)

    def settle(self, journal: Journal, kept: Callable[[Any], Any]) -> list[str]:
        """After the statement ran: each new entry takes the place of the one it stands for
        (through ``journal``); returns what was added and paired with nothing."""
        # Only a container there before holds a registration made again: each is read again.
        unpaired: list[str] = []
        for container, where, before in self.before.values():
            if isinstance(container, list):
                if list(map(id, container)) != before:
                    unpaired += _settle_list(journal, container, before, kept, _path(where))
            elif dict(zip(container, map(id, container.values()), strict=True)) != before:
                unpaired += _settle_dict(journal, container, before, kept, _path(where))
        return unpaired


def _settle_list(
    journal: Journal, items: list[Any], before: list[int], kept: Callable[[Any], Any], where: str
) -> list[str]:
    # An entry is new when its object is there more times than before (a decorator that
    # appends the very function object it was given again adds a second slot).
    room = collections.Counter(before)
    new_slots: list[int] = []
    for i, x in enumerate(items):
        if room[id(x)] > 0:
            room[id(x)] -= 1
        else:
            new_slots.append(i)
    old_slots = [i for i in range(len(items)) if i not in set(new_slots)]
    result: list[Any] = list(items)
    drop: set[int] = set()
    taken: set[int] = set()
    unpaired: list[str] = []
    for i in new_slots:
        item = items[i]
        if isinstance(item, _ATOMS):
            # A number or a string stands for no registration of its own (a log of names
            # grows as it would): reported only when an equal one was there already.
            if any(_equal_atom(items[j], item) for j in old_slots):
                unpaired.append(f"{item!r} added again to {where}")
            continue
        original = kept(item)
        if original is not item:
            if any(items[j] is original for j in old_slots):
                drop.add(i)  # the kept object is registered already
            else:
                result[i] = original
            continue
        match = next(
            (j for j in old_slots if j not in taken and _same_registration(items[j], item)), None
        )
        if match is None:
            unpaired.append(f"a {type(item).__name__} added to {where}")
            continue
        taken.add(match)
        result[match] = item  # the new registration, in the place of the old one
        drop.add(i)
    settled = [x for i, x in enumerate(result) if i not in drop]
    if len(settled) != len(items) or any(a is not b for a, b in zip(settled, items, strict=False)):
        journal.refill(items, settled)
    return unpaired


def _settle_dict(
    journal: Journal,
    mapping: dict[Any, Any],
    before: dict[Any, int],
    kept: Callable[[Any], Any],
    where: str,
) -> list[str]:
    old_values = {v for k, v in before.items() if k in mapping}
    unpaired: list[str] = []
    for key, value in list(mapping.items()):
        if before.get(key) == id(value):
            continue
        original = kept(value)
        if original is not value:
            journal.setitem(mapping, key, original)
        if key not in before and id(original) in old_values:
            unpaired.append(f"{where}[{key!r}] (also under another key)")
    return unpaired


def _equal_atom(old: Any, new: Any) -> bool:
    return type(old) is type(new) and bool(old == new)


def _same_registration(old: Any, new: Any) -> bool:
    """Does ``new`` stand for the same registration as ``old``: the same object added again,
    an equal one of the same type (a route for the same path, endpoint and methods), or one
    of the same type holding the very same function under the same attribute (a CLI's
    command record whose callback is the kept function the decorator was handed again)?"""
    if old is new:
        return True
    kind = type(new)
    if type(old) is not kind or isinstance(new, _ATOMS):
        return False
    if _holds_the_same_function(old, new):
        return True
    equals: Any = kind.__eq__
    if equals is object.__eq__:
        return False
    try:
        return bool(old == new)
    except Exception:  # noqa: BLE001 - a foreign __eq__ may raise anything: not the same
        return False


def _holds_the_same_function(old: Any, new: Any) -> bool:
    old_dict, new_dict = _instance_dict(old), _instance_dict(new)
    if not old_dict or not new_dict:
        return False
    return any(
        isinstance(value, FunctionType) and old_dict.get(name) is value
        for name, value in new_dict.items()
    )


def _walk(roots: list[tuple[str, Any]]) -> dict[int, _Seen]:
    """Every list and dict reachable from ``roots``: id -> (it, its path, what it holds: the
    ids of a list's items, a dict's keys with the ids of their values). A path is kept as
    (the parent's path, a step) and spelt only for a message: most are never read."""
    seen: dict[int, _Seen] = {}
    visited: set[int] = set()
    budget = BUDGET
    skip = _SKIP
    stack = _starts(roots)
    while stack and budget > 0:
        obj, where, depth = stack.pop()
        kind = type(obj)
        if (
            kind in skip
            or issubclass(kind, _ATOMS)
            or issubclass(kind, _DEFINITIONS)
            or id(obj) in visited
        ):
            continue
        visited.add(id(obj))
        budget -= 1
        if depth > DEPTH:
            continue
        depth += 1
        # Children that are plain atoms or definitions are never pushed (the walk would
        # pass over them): a registry's strings and functions cost no step each.
        if kind in _LISTS:
            if len(obj) <= LARGE:
                seen[id(obj)] = (obj, where, list(map(id, obj)))
                stack.extend(
                    (x, (where, i), depth) for i, x in enumerate(obj) if type(x) not in skip
                )
        elif kind in _DICTS:
            if len(obj) <= LARGE:
                seen[id(obj)] = (obj, where, dict(zip(obj, map(id, obj.values()), strict=True)))
                stack.extend(
                    (v, (where, _Key(k)), depth) for k, v in obj.items() if type(v) not in skip
                )
        elif kind in (tuple, set, frozenset):
            if len(obj) <= LARGE:
                stack.extend((x, where, depth) for x in obj if type(x) not in skip)
        else:
            attrs = _instance_dict(obj)
            if attrs is not None and len(attrs) <= LARGE:
                stack.extend(
                    (v, (where, "." + k), depth)
                    for k, v in list(attrs.items())
                    if type(v) not in skip
                )
    return seen


def _starts(roots: list[tuple[str, Any]]) -> list[tuple[Any, Any, int]]:
    """Where a walk starts: each root, or a namespace's and a class's values."""
    stack: list[tuple[Any, Any, int]] = []
    for label, root in roots:
        if isinstance(root, _Namespace):
            stack.extend(
                (v, (label, "." + k), 1)
                for k, v in list(root.ns.items())
                if k not in _IMPORT_SYSTEM and type(v) not in _SKIP
            )
        elif isinstance(root, type):
            stack.extend((v, (label, "." + k), 1) for k, v in list(vars(root).items()))
        else:
            stack.append((root, label, 0))
    return stack


class _Key:
    """A dict key as a step of a path (spelt ``[key]``)."""

    __slots__ = ("key",)

    def __init__(self, key: Any) -> None:
        self.key = key


def _path(where: Any) -> str:
    """A path kept as nested (parent, step) pairs, spelt."""
    steps: list[str] = []
    while isinstance(where, tuple):
        where, step = where
        if isinstance(step, _Key):
            try:
                steps.append(f"[{step.key!r}]")
            except Exception:  # noqa: BLE001 - a foreign __repr__: the path says less
                steps.append("[...]")
        elif isinstance(step, int):
            steps.append(f"[{step}]")
        else:
            steps.append(step)
    return str(where) + "".join(reversed(steps))


def _instance_dict(obj: Any) -> dict[str, Any] | None:
    try:
        d = object.__getattribute__(obj, "__dict__")
    except (AttributeError, TypeError):
        return None
    return d if type(d) is dict else None


def _module_of(value: Any) -> ModuleType | None:
    if isinstance(value, MethodType):
        value = value.__func__
    if isinstance(value, FunctionType):
        name = value.__globals__.get("__name__")
    elif isinstance(value, type):
        name = value.__dict__.get("__module__")
    else:
        return None
    module = sys.modules.get(name) if isinstance(name, str) else None
    return module if isinstance(module, ModuleType) else None


# -- registries kept in place --------------------------------------------------------------


def is_dispatcher(fn: FunctionType) -> bool:
    """Is ``fn`` a ``functools.singledispatch`` function?"""
    return fn.__code__ is _DISPATCH_CODE


def merge_dispatch(
    journal: Journal,
    old: FunctionType,
    new: FunctionType,
    original: Callable[[Any], Any],
    patch: Callable[[Any, Any], bool],
) -> None:
    """The kept dispatcher ``old`` takes what ``new`` registers, keyed by the kept classes
    (``original``: the object kept in a new one's place); an implementation that stands
    for the one registered before (the same qualified name) is patched into it (``patch``).
    What was registered at run time stays."""
    registry = _dispatch_registry(old)
    if registry is None:  # not the stdlib's layout: fall back to taking the new one
        log.debug("hotreload: %s: cannot read its dispatch registry", old.__qualname__)
        return
    before = dict(registry)

    def undo() -> None:
        registry.clear()
        registry.update(before)
        old._clear_cache()  # type: ignore[attr-defined]

    journal.on_undo(undo)
    for cls, impl in list(new.registry.items()):  # type: ignore[attr-defined]
        key = original(cls)  # a class of this module, kept in place
        current = registry.get(key, MISSING)
        if current is impl:
            continue
        if (
            isinstance(current, FunctionType)
            and isinstance(impl, FunctionType)
            and current.__qualname__ == impl.__qualname__
            and patch(current, impl)
        ):
            continue
        registry[key] = original(impl)
    old._clear_cache()  # type: ignore[attr-defined]
    for attr in ("__doc__", "__annotations__"):
        value = getattr(new, attr, None)
        if getattr(old, attr, None) is not value:
            journal.setattr(old, attr, value)


def merge_abc(
    journal: Journal, old: abc.ABCMeta, new: type, original: Callable[[Any], Any]
) -> None:
    """The kept ABC ``old`` takes the virtual subclasses ``new`` registers (each kept one
    by ``original``); those registered at run time stay."""
    # The old ABC keeps its own registry (`_abc_impl` is never copied): virtual
    # subclasses registered at run time stay; the ones the module registers are added.
    registered, _, _, _ = abc._get_dump(new)  # type: ignore[attr-defined]
    for ref in registered:
        sub = ref()
        if sub is not None:
            old.register(original(sub))
    old._abc_caches_clear()  # type: ignore[attr-defined]
    journal.on_undo(old._abc_caches_clear)  # type: ignore[attr-defined]


def _dispatch_registry(fn: FunctionType) -> dict[Any, Any] | None:
    """The dict behind a singledispatch function's read-only ``registry``."""
    register = getattr(fn, "register", None)
    code = getattr(register, "__code__", None)
    if code is None or "registry" not in code.co_freevars:
        return None
    cell = register.__closure__[code.co_freevars.index("registry")]  # type: ignore[union-attr]
    value = cell_value(cell)
    return value if type(value) is dict else None
