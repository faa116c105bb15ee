"""Reload plans: which loaded modules must follow a change, and in what order (SPEC §3).

A plan walks a reverse index (who imports a module with a compile or an export edge), kept
beside the graph's per-file edges: an edit that changes one file's records re-indexes that
file alone, so a plan costs in proportion to the modules it reaches, not to the project.
The same edit is planned again and again on the same edges, so the last plan for the same
changed modules is kept while what it read of the loaded modules and their import order is
as it was.
"""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from ipython_hotreload.core.graph.edges import Edge, Step
from ipython_hotreload.core.graph.ordering import dependency_order

__all__ = ["Planner", "ReverseIndex"]

#: ``bound_names(importer, target)``: ``[(name, alias)]`` of ``from target import name``.
BoundNames = Callable[[str, str], list[tuple[str, str]]]


class ReverseIndex:
    """Target module -> the modules importing it by a compile (an export) edge."""

    def __init__(self) -> None:
        self.compile_in: dict[str, set[str]] = {}
        self.export_in: dict[str, set[str]] = {}
        self.edges_of: dict[str, list[Edge]] = {}  # the edges each module put here

    def clear(self) -> None:
        """Forget every module."""
        self.compile_in, self.export_in, self.edges_of = {}, {}, {}

    def add(self, module: str, edges: list[Edge]) -> None:
        """Index ``module``'s compile and export edges (runtime edges force nothing)."""
        kept = [e for e in edges if e.label != "runtime"]
        if kept:
            self.edges_of[module] = kept
            for e in kept:
                importers = self.compile_in if e.label == "compile" else self.export_in
                importers.setdefault(e.to, set()).add(module)

    def drop(self, module: str) -> None:
        """Forget ``module``'s edges (its records changed)."""
        for e in self.edges_of.pop(module, ()):
            importers = self.compile_in if e.label == "compile" else self.export_in
            importers[e.to].discard(module)


@dataclass
class _Walk:
    """One plan being made: who runs after whom, what it read of the index."""

    loaded: Collection[str]
    after: dict[str, str | None]  # module -> the module it follows (None: changed)
    depends: dict[str, list[str]] = field(default_factory=dict)
    passed_on: dict[str, list[str]] = field(default_factory=dict)  # exporter -> importers
    read: set[str] = field(default_factory=set)
    followed: set[str] = field(default_factory=set)  # exporters already followed


class Planner:
    """Plans over a :class:`ReverseIndex`; ``bound_names`` reads an importer's records."""

    def __init__(self, index: ReverseIndex, bound_names: BoundNames) -> None:
        self._index = index
        self._bound_names = bound_names
        # changed modules -> (what the plan read of `loaded` and the import order, its steps)
        self._plans: dict[tuple[str, ...], tuple[list[tuple[str, bool, int | None]], list[Step]]]
        self._plans = {}

    def forget_plans(self) -> None:
        """The edges changed: no kept plan stands."""
        self._plans.clear()

    def plan(
        self, changed: Sequence[str], loaded: Collection[str], import_order: Mapping[str, int]
    ) -> list[Step]:
        """The modules to process after ``changed`` change, restricted to ``loaded`` (the
        changed ones always included), in the order to process them: the changed modules
        and every loaded module reaching them through compile edges (re-executed), each
        after the modules of the plan it depends on (a cycle in import order), and after
        each re-executed module, the loaded modules with an export edge onto it (one step
        each: rebind the names taken from it). What takes one of those names from such a
        module follows it: a compile importer runs (after the re-executed module), an export
        importer rebinds (right after it), transitively."""
        changed = list(dict.fromkeys(changed))
        if not changed:
            return []
        kept = self._plans.get(tuple(changed))
        if kept is not None and all(
            (m in loaded) == there and import_order.get(m) == at for m, there, at in kept[0]
        ):
            return list(kept[1])
        # `after` holds the changed modules from the start, so a module outside it that is
        # loaded is live; sorting the importers keeps the plan independent of set order.
        walk = _Walk(loaded, dict.fromkeys(changed))
        self._reach(changed, walk)
        steps = self._steps(changed, walk, import_order)
        walk.read |= set(walk.after)
        if len(self._plans) > 256:
            self._plans.clear()
        self._plans[tuple(changed)] = (
            [(m, m in loaded, import_order.get(m)) for m in sorted(walk.read)],
            list(steps),
        )
        return steps

    def _reach(self, changed: list[str], walk: _Walk) -> None:
        """Every loaded module that must follow ``changed``, breadth first."""
        compile_in = self._index.compile_in
        queue = deque(changed)
        while queue:
            mod = queue.popleft()
            walk.read.update(compile_in.get(mod, ()))
            for importer in sorted(compile_in.get(mod, ())):
                if importer not in walk.after and importer in walk.loaded:
                    walk.after[importer] = mod
                    queue.append(importer)
            # A module with an export edge onto one that runs only rebinds the names it
            # took; the modules taking one of those names from it must follow it as they
            # would the module itself: run (a compile edge) or rebind in turn.
            for x in self._exporters(mod, walk):
                if x not in walk.followed:
                    walk.followed.add(x)
                    queue += self._follow_exporter(x, mod, walk)

    def _steps(
        self, changed: list[str], walk: _Walk, import_order: Mapping[str, int]
    ) -> list[Step]:
        """The reached modules in dependency order, each followed by its export steps."""
        edges_of = self._index.edges_of
        for m in walk.after:
            walk.depends[m] = [e.to for e in edges_of.get(m, ())] + walk.depends.get(m, [])
        exporters_of = {m: self._exporters(m, walk) for m in walk.after}
        # Every module, changed ones included, runs after what it depends on: a saved module
        # that imports a module changed on disk must see that module's new objects.
        order = dependency_order(list(walk.after), walk.depends, import_order)
        steps: list[Step] = []

        def exports(target: str, exporters: list[str]) -> None:
            # One export step per (importer, target): the importer rebinds the names it
            # took from that target, right after the target ran (or rebound them).
            for importer in sorted(exporters, key=lambda m: (import_order.get(m, sys.maxsize), m)):
                steps.append(Step(importer, target, "export"))
                exports(importer, walk.passed_on.pop(importer, []))

        for mod in order:
            steps.append(Step(mod, walk.after[mod], None if mod in changed else "compile"))
            exports(mod, exporters_of[mod])
        return steps

    def _exporters(self, target: str, walk: _Walk) -> list[str]:
        """The loaded modules outside the plan with an export edge onto ``target``."""
        found = self._index.export_in.get(target, ())
        walk.read.update(found)
        return sorted(x for x in found if x not in walk.after and x in walk.loaded)

    def _follow_exporter(self, x: str, target: str, walk: _Walk) -> list[str]:
        """``x`` rebinds the names it took from ``target``: the loaded modules taking one of
        those names from ``x`` (or ``x`` itself, as a module) follow it, transitively.
        Returns the modules that now run (through a compile edge)."""
        index = self._index
        added: list[str] = []
        work = [(x, target)]
        seen = {x}
        while work:
            exporter, source = work.pop()
            forwarded = {alias for _, alias in self._bound_names(exporter, source)}
            for importer in sorted(index.compile_in.get(exporter, ())):
                walk.read.add(importer)
                if importer in walk.after or importer not in walk.loaded:
                    continue
                if self._takes(importer, exporter, forwarded):
                    walk.after[importer] = exporter
                    walk.depends.setdefault(importer, []).append(target)  # what runs first
                    added.append(importer)
            for importer in sorted(index.export_in.get(exporter, ())):
                walk.read.add(importer)
                if importer in walk.after or importer in seen or importer not in walk.loaded:
                    continue
                if self._takes(importer, exporter, forwarded):
                    seen.add(importer)
                    walk.passed_on.setdefault(exporter, []).append(importer)
                    work.append((importer, exporter))
        return added

    def _takes(self, importer: str, exporter: str, names: set[str]) -> bool:
        """Does ``importer`` take one of ``names`` from ``exporter`` (or the module itself:
        ``import exporter``, a star import)?"""
        taken = self._bound_names(importer, exporter)
        return not taken or any(name in names for name, _ in taken)
