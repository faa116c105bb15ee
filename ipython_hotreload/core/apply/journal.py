"""The undo log of a reload: every mutation of a live object, recorded before it is made.

:meth:`Journal.rollback` replays the log backwards, so a reload that fails part-way (an
exception, a ``KeyboardInterrupt``) leaves every module and object exactly as it was.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, MutableMapping
from types import CellType, CodeType, FunctionType, ModuleType
from typing import Any

__all__ = ["MISSING", "Journal", "cell_value"]

log = logging.getLogger(__name__)

#: Marks an attribute, key or cell that held nothing.
MISSING: Any = object()


class Journal:
    """An undo log of mutations to live objects.

    Each method records how to undo a change *before* making it, so an interrupt that lands
    between the two still leaves a log that restores everything.
    """

    def __init__(self) -> None:
        # (how to undo a change, what it restores: for the error when it fails; described
        # lazily, only for a step that fails)
        self._undo: list[tuple[Callable[[], None], _What]] = []
        #: Every function that took other code, with the code it had (SPEC 2.5's
        #: ``running_old`` looks for that code among the frames running).
        self.code_swaps: list[tuple[FunctionType, CodeType]] = []

    def __len__(self) -> int:
        return len(self._undo)

    def setattr(self, obj: Any, name: str, value: Any) -> None:
        """Set ``obj.name`` (a class's own attribute, not an inherited one, for a class;
        or one its metaclass defines, such as ``__bases__``)."""
        if isinstance(obj, type):
            old = obj.__dict__.get(name, MISSING)
            if old is MISSING and _type_slot(type(obj), name):
                old = getattr(obj, name)  # `__bases__`, `__name__`: set back, never deleted
        else:
            old = getattr(obj, name, MISSING)
        what = ("attr", obj, name)
        if old is MISSING:
            self._undo.append((lambda: _quiet_delattr(obj, name), what))
        else:
            self._undo.append((lambda: setattr(obj, name, old), what))
        setattr(obj, name, value)
        if name == "__code__" and isinstance(obj, FunctionType) and isinstance(old, CodeType):
            self.code_swaps.append((obj, old))

    def delattr(self, obj: Any, name: str) -> None:
        """Delete ``obj.name``."""
        old = obj.__dict__[name] if isinstance(obj, type) else getattr(obj, name)
        self._undo.append((lambda: setattr(obj, name, old), ("attr", obj, name)))
        delattr(obj, name)

    def set_cell(self, cell: CellType, value: Any) -> None:
        """Fill a closure cell (``MISSING`` empties it)."""
        old = cell_value(cell)
        if old is MISSING:
            self._undo.append((lambda: _empty_cell(cell), "a closure cell"))
        else:
            self._undo.append((lambda: setattr(cell, "cell_contents", old), "a closure cell"))
        if value is MISSING:
            del cell.cell_contents
        else:
            cell.cell_contents = value

    def setitem(self, mapping: MutableMapping[Any, Any], key: Any, value: Any) -> None:
        """Set ``mapping[key]``."""
        old = mapping.get(key, MISSING)
        what = ("item", mapping, key)
        if old is MISSING:
            self._undo.append((lambda: _quiet_pop(mapping, key), what))
        else:
            self._undo.append((lambda: mapping.__setitem__(key, old), what))
        mapping[key] = value

    def refill(self, container: Any, items: Any) -> None:
        """Empty a dict, list or set and fill it with ``items``, keeping its identity (a
        key of a dict replaced keeps its place: the dict is refilled in order)."""
        if isinstance(container, dict):
            before_dict = dict(container)

            def undo_dict() -> None:
                container.clear()
                container.update(before_dict)

            self._undo.append((undo_dict, "the items of a dict"))
            container.clear()
            container.update(items)
        elif isinstance(container, list):
            before_list = list(container)
            self._undo.append(
                (lambda: container.__setitem__(slice(None), before_list), "the items of a list")
            )
            container[:] = items
        else:
            before_set = set(container)

            def undo_set() -> None:
                container.clear()
                container.update(before_set)

            self._undo.append((undo_set, "the items of a set"))
            container.clear()
            container.update(items)

    def replace_namespace(self, ns: dict[str, Any], keep: dict[str, Any]) -> dict[str, Any]:
        """Empty ``ns`` down to ``keep`` and, for a package, its loaded submodules (see
        :func:`submodules_bound_in`); return (and remember) what it held before."""
        before = dict(ns)

        def undo() -> None:
            ns.clear()
            ns.update(before)

        self._undo.append((undo, ("namespace", ns, None)))
        ns.clear()
        ns.update(keep)
        ns.update(submodules_bound_in(before))
        return before

    def on_undo(self, fn: Callable[[], None], what: str | None = None) -> None:
        """Run ``fn`` on rollback (at its place in the log); ``what`` it restores names it
        if it fails."""
        if what is None:
            name = getattr(fn, "__qualname__", None)
            what = name if isinstance(name, str) else repr(fn)
        self._undo.append((fn, what))

    def rollback(self) -> list[str]:
        """Undo everything, newest first. Never raises: a failing step, or a second
        Ctrl-C, is logged and the remaining steps still run. Returns what could not be
        restored (empty when everything was)."""
        failed: list[str] = []
        while self._undo:
            step, what = self._undo.pop()
            try:
                step()
            except BaseException as exc:  # every other step must still run
                log.exception("hotreload: an undo step failed during rollback")
                failed.append(f"{_described(what)} ({type(exc).__name__}: {exc})")
        return failed


def submodules_bound_in(ns: dict[str, Any]) -> dict[str, ModuleType]:
    """A package's loaded submodules under the names the import system binds them to in the
    package (``a`` for ``pkg.a``), as a fresh import of its ``__init__`` would find them.

    On a fresh import, ``from .a import x`` loads ``pkg.a`` and binds ``a`` in the package as
    a side effect; run again, it finds ``pkg.a`` loaded and binds nothing, so code that reads
    ``a`` (or ``del a``) afterwards needs them bound beforehand. Only packages pay for this
    (one pass over the names of ``sys.modules``)."""
    name = ns.get("__name__")
    if not isinstance(name, str) or "__path__" not in ns:
        return {}
    prefix = name + "."
    found: dict[str, ModuleType] = {}
    for key in [k for k in sys.modules if k.startswith(prefix)]:
        child = key[len(prefix) :]
        module = sys.modules.get(key)
        if "." not in child and isinstance(module, ModuleType):
            found[child] = module
    return found


def cell_value(cell: CellType) -> Any:
    """What a closure cell holds, or ``MISSING`` for an empty one."""
    try:
        return cell.cell_contents
    except ValueError:
        return MISSING


def _type_slot(meta: type, name: str) -> bool:
    """Is ``name`` an attribute a class takes from its metaclass's C slots (``__bases__``),
    which can be set but never deleted?"""
    for klass in meta.__mro__:
        attr = klass.__dict__.get(name)
        if attr is not None:
            return type(attr).__name__ == "getset_descriptor"
    return False


# What an undo step restores: a name, or ("attr", obj, name), ("item", mapping, key),
# ("namespace", ns, None), put into words only when the step fails.
_What = str | tuple[str, Any, Any]


def _described(what: _What) -> str:
    if isinstance(what, str):
        return what
    kind, obj, name = what
    if kind == "attr":
        return f"{_describe(obj)}.{name}"
    if kind == "item":
        return f"[{name!r}] of a {type(obj).__name__}"
    return f"the namespace of {obj.get('__name__')}"


def _describe(obj: Any) -> str:
    name = getattr(obj, "__qualname__", None) if isinstance(obj, type) else None
    if not isinstance(name, str):
        name = getattr(getattr(obj, "__code__", None), "co_qualname", None)
    return name if isinstance(name, str) else f"a {type(obj).__name__}"


def _quiet_delattr(obj: Any, name: str) -> None:
    """Take away an attribute the object did not have before; one already gone is fine, one
    that stays (the object refuses) is a failed step."""
    try:
        delattr(obj, name)
    except AttributeError:
        still = name in obj.__dict__ if isinstance(obj, type) else hasattr(obj, name)
        if still:
            raise


def _quiet_pop(mapping: MutableMapping[Any, Any], key: Any) -> None:
    mapping.pop(key, None)


def _empty_cell(cell: CellType) -> None:
    try:
        del cell.cell_contents
    except ValueError:
        pass
