"""Executing a reload plan: re-run modules in place, patch, rebind, or undo it all.

:class:`PlanRun` walks the steps the graph planned. A ``"compile"`` step (or a changed module)
is re-executed into its own cleared namespace and its old objects are patched in place
(:mod:`.patching`); an ``"export"`` step only points the importer's ``from x import name``
bindings at the new objects, or re-executes the importer when a name it imports is gone (its
import then fails, as it would in a fresh interpreter). Every change goes through one
:class:`~.patching.Journal`; if any step raises (a ``KeyboardInterrupt`` included) the journal
is rolled back and modules imported meanwhile are dropped from ``sys.modules``, so the
process is exactly as before. ``__main__`` and modules whose code is on the call stack are
never re-executed.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any

from ipython_hotreload.core.graph.modulegraph import ModuleGraph, Step
from ipython_hotreload.core.paths import Stamp
from ipython_hotreload.core.reload.patching import MODULE_KEEP, Journal, Patcher

__all__ = ["PlanRun", "Source"]


@dataclass
class Source:
    """One module's new source, parsed and compiled once."""

    mod: str
    path: Path
    data: bytes
    full: bool  # carries a full payload (a file the user saved) rather than a bare one
    stamp: Stamp | None = None  # (mtime_ns, size) of exactly these bytes
    tree: ast.Module | None = None
    code: CodeType | None = None
    text: str = ""
    reused: bool = False  # the code of an unchanged file, kept from its last execution


class PlanRun:
    """One plan's execution; on failure, :meth:`execute` leaves nothing changed."""

    def __init__(
        self,
        graph: ModuleGraph,
        loaded: dict[str, ModuleType],
        sources: dict[str, Source],
        prepare: Callable[[str, ModuleType], Source],
    ) -> None:
        self.graph = graph
        self.loaded = loaded
        self.sources = sources  # by module; modules read from disk on the way are added
        self.prepare = prepare  # read and compile a loaded module's file as it is on disk
        self.journal = Journal()
        self.old_namespaces: dict[str, dict[str, Any]] = {}
        self.executed: list[str] = []
        self.replaced: dict[str, list[str]] = {}
        self.skipped: list[str] = []  # planned, but running code (__main__, the call stack)

    def execute(self, plan: Sequence[Step]) -> None:
        """Run every step; on any exception roll back and re-raise it, with the failing
        module's name in ``exc._hotreload_mod``."""
        on_stack = _modules_on_stack()
        # The names only, as a tuple: cheaper than a set or a copy, and once a collection
        # has seen that it holds only strings, it is no longer tracked (no dict of modules
        # for every collection during the plan to walk).
        modules_before = tuple(sys.modules)
        try:
            for step in plan:
                if step.mod == "__main__" or step.mod in on_stack:
                    self.skipped.append(step.mod)
                    continue
                try:
                    self._step(step)
                except BaseException as exc:
                    if not hasattr(exc, "_hotreload_mod"):
                        try:
                            exc._hotreload_mod = step.mod  # type: ignore[attr-defined]
                        except AttributeError:
                            pass
                    raise
        except BaseException:
            self.journal.rollback()
            for name in sys.modules.keys() - set(modules_before):
                sys.modules.pop(name, None)
            raise

    def _step(self, step: Step) -> None:
        name = step.mod
        if step.label == "export":
            self._rebind(step)
            return
        src = self.sources.get(name)
        if src is None:
            src = self.sources[name] = self.prepare(name, self.loaded[name])
        module = self.loaded.get(name) or sys.modules.get(name)
        if module is None:  # saved but never imported: import it now
            importlib.import_module(name)
            self.executed.append(name)
            return
        self._reexecute(module, src)

    def _reexecute(self, module: ModuleType, src: Source) -> None:
        ns = module.__dict__
        keep = {k: ns[k] for k in MODULE_KEEP if k in ns}
        old_ns = self.journal.replace_namespace(ns, keep)
        self.old_namespaces[src.mod] = old_ns
        assert src.code is not None
        exec(src.code, ns)
        self.replaced[src.mod] = Patcher(self.journal, module, old_ns).merge()
        self.executed.append(src.mod)

    def _rebind(self, step: Step) -> None:
        """An export edge: rebind ``from target import name`` to the target's new object, or
        re-execute the importer when a name it imports is gone (its import then fails)."""
        importer = self.loaded.get(step.mod)
        target = sys.modules.get(step.after) if step.after else None
        old_target_ns = self.old_namespaces.get(step.after or "")
        if importer is None or target is None or old_target_ns is None:
            return
        ns = importer.__dict__
        for name, alias in self.graph.bound_names(step.mod, target.__name__):
            if name not in target.__dict__:
                src = self.sources.get(step.mod)
                if src is None:
                    src = self.sources[step.mod] = self.prepare(step.mod, importer)
                self._reexecute(importer, src)
                return
            new = target.__dict__[name]
            if alias in ns and ns[alias] is old_target_ns.get(name) and ns[alias] is not new:
                self.journal.setitem(ns, alias, new)


def _modules_on_stack() -> set[str]:
    names: set[str] = set()
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__")
        if isinstance(name, str):
            names.add(name)
        frame = frame.f_back  # type: ignore[assignment]
    return names
