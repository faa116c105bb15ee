"""Executing a reload plan: update modules in place, patch, rebind, or undo it all.

:class:`PlanRun` walks the steps the graph planned. By default (``reexecute="minimal"``) a
changed module is updated statement by statement (:mod:`.minimal`): only what changed runs,
and a ``"compile"`` dependent runs only its statements that read, at import time, what
changed in the modules it imports (under its own names: :mod:`.imported`); where the
comparison cannot vouch (the source a module runs is not known exactly, a ``from __future__``
change, ...) the module is re-executed whole, and its payload says why. With
``reexecute="module"`` a changed module or ``"compile"`` dependent is re-executed into its
own cleared namespace and its old objects are patched in place (:mod:`.patching`). An
``"export"`` step only points the importer's ``from x import name`` bindings at the new
objects, or re-executes the importer when a name it imports is gone (its import then
fails, as it would in a fresh interpreter).

Every change goes through one :class:`~.journal.Journal`; if any step raises (a
``KeyboardInterrupt`` included) the journal is rolled back, modules imported meanwhile are
dropped from ``sys.modules``, and :class:`~ipython_hotreload.errors.ModuleFailed` names the
module that failed, so the process is exactly as before. ``__main__`` and modules whose code
is on the call stack are never re-executed. A plan that runs to the end returns one
:class:`ModuleReport` per step (:class:`Applied`), which is all the commit and the payloads
read.

While a cell runs on another thread (SPEC §2.5) a plan may be run holding its statements
back: right before the first statement would run (a changed or triggered one, a whole
re-execution, a first import) it raises :class:`~..cells.MustWait`, after the same
rollback as a failure, so a reload that only patches functions is applied at once and any
other waits for the cell.
"""

from __future__ import annotations

import ast
import enum
import functools
import importlib
import sys
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, FunctionType, ModuleType
from typing import Any

from ipython_hotreload.core.apply.functions import defined_in
from ipython_hotreload.core.apply.implicit import (
    Codes,
    changed_names,
    codes_before,
    implicit_callers,
    reading_functions,
)
from ipython_hotreload.core.apply.imported import (
    SoFar,
    changed_by_imports,
    rebind_exports,
)
from ipython_hotreload.core.apply.journal import Journal
from ipython_hotreload.core.apply.minimal import ModuleUpdate, Outcome, changes_between
from ipython_hotreload.core.apply.patching import MODULE_KEEP, Patcher
from ipython_hotreload.core.cells import MustWait
from ipython_hotreload.core.graph.modulegraph import ModuleGraph, Step
from ipython_hotreload.core.source.compiler import Compiler
from ipython_hotreload.core.source.diff import full_reason
from ipython_hotreload.core.source.effects import (
    describe_outside_calls,
    imported_names,
    outside_calls,
)
from ipython_hotreload.core.source.statements import ModuleIndex, Readings
from ipython_hotreload.core.source.texts import Source
from ipython_hotreload.errors import ModuleFailed

__all__ = ["Applied", "ModuleReport", "PlanRun"]


@dataclass
class ModuleReport:
    """What the plan did to one module it reached, for the commit and the payloads."""

    step: Step
    source: Source | None  # its new text: saved, changed on disk, or read to run it again
    outcome: Outcome | None  # what ran (None: nothing did)
    executed: bool  # it counts as updated (it gets a payload when it was not saved)
    changes: dict[str, list[str]] | None = None  # a changed module's functions
    replaced: list[str] = field(default_factory=list)
    ms: float | None = None  # its own share of the reload
    path: str | None = None  # its file


@dataclass
class Applied:
    """A plan that ran to the end: one report per step (in plan order), the modules updated
    (in the order they ran, each once) with the sources they now run, the modules left
    alone because their code is running, and ``(function, the code it had)`` for each
    function patched (whose old code a thread may still run: :mod:`..report.oldcode`)."""

    reports: list[ModuleReport]
    executed: list[str]
    sources: dict[str, Source]
    skipped: list[str]
    code_swaps: list[tuple[FunctionType, CodeType]] = field(default_factory=list)


class PlanRun:
    """One plan's execution; on failure, :meth:`execute` leaves nothing changed."""

    def __init__(
        self,
        graph: ModuleGraph,
        loaded: dict[str, ModuleType],
        sources: dict[str, Source],
        compiler: Compiler,
        path_of: Callable[[str], Path | None],
        *,
        minimal: bool = True,
        pending: Collection[str] = (),
        hold_statements: bool = False,
    ) -> None:
        self.graph = graph
        self.loaded = loaded
        self.sources = dict(sources)  # by module; dependents read from disk are added
        self.compiler = compiler
        self.path_of = path_of  # a loaded project module's file
        self.minimal = minimal  # False: whole modules are re-executed (reexecute="module")
        self.pending = pending  # modules whose file holds a failed edit: run what they run
        self.hold_statements = hold_statements  # True: MustWait before any statement runs
        self.journal = Journal()
        self.old_namespaces: dict[str, dict[str, Any]] = {}
        self.executed: list[str] = []
        self.replaced: dict[str, list[str]] = {}
        self.skipped: list[str] = []
        self.outcomes: dict[str, Outcome] = {}
        self.changes: dict[str, dict[str, list[str]]] = {}  # changed module -> its changes
        self.module_ms: dict[str, float] = {}
        # module -> (its tree, the statements that ran in it): what a rollback cannot undo
        self.ran: dict[str, tuple[ast.Module, list[ast.stmt]]] = {}
        self.not_restored: list[str] = []  # after a rollback: the undo steps that failed
        self.so_far = SoFar(self.outcomes)  # what changed so far, as dependents ask it

    def execute(self, plan: Sequence[Step]) -> Applied:
        """Run every step; on any exception roll back and raise :class:`ModuleFailed` for
        the module that failed (the exception is its ``__cause__``)."""
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
                except (ModuleFailed, MustWait):
                    raise
                except BaseException as exc:
                    path = self.path_of(step.mod)
                    raise ModuleFailed(step.mod, str(path) if path else None) from exc
        except BaseException:
            self.not_restored = self.journal.rollback() or []
            for name in sys.modules.keys() - set(modules_before):
                sys.modules.pop(name, None)
            raise
        return self._applied(plan)

    def not_undone(self) -> str:
        """After a rollback: the calls into other modules' objects among the statements
        that ran, whose effects the journal could not undo ("" if none)."""
        calls = []
        for tree, nodes in self.ran.values():
            calls += outside_calls(nodes, imported_names(tree))
        return describe_outside_calls(calls)

    def _applied(self, plan: Sequence[Step]) -> Applied:
        # A report for each module that ran or whose text was read: the others (most
        # dependents of a hub) did nothing to report.
        ran = set(self.executed)
        reports = [
            ModuleReport(
                step=step,
                source=self.sources.get(step.mod),
                outcome=self.outcomes.get(step.mod),
                executed=step.mod in self.executed,
                changes=self.changes.get(step.mod),
                replaced=self.replaced.get(step.mod, []),
                ms=self.module_ms.get(step.mod),
                path=str(path) if (path := self.path_of(step.mod)) else None,
            )
            for step in plan
            if step.mod in ran or step.mod in self.sources
        ]
        executed = list(dict.fromkeys(self.executed))
        swaps = list(self.journal.code_swaps)
        return Applied(reports, executed, self.sources, list(self.skipped), swaps)

    def _before_statements(self, mod: str, what: str) -> None:
        """Statements of ``mod`` are about to run (``what``: which): hold them back if asked."""
        if self.hold_statements:
            raise MustWait(f"{what} must run")

    def _step(self, step: Step) -> None:
        name = step.mod
        if step.label == "export":
            self._rebind(step)
            return
        started = time.perf_counter()
        module = self.loaded.get(name) or sys.modules.get(name)
        if module is None:  # saved but never imported: import it now
            self._before_statements(name, f"{name} (imported for the first time)")
            importlib.import_module(name)
            self.executed.append(name)
            self.outcomes[name] = Outcome("full", full_reason="first import")
        elif not self.minimal:
            self._reexecute(module, self._source(name, module), "reexecute='module'")
        elif name in self.sources:
            self._update_changed(module, self.sources[name])
        else:
            self._update_dependent(module)
        self.module_ms[name] = round((time.perf_counter() - started) * 1000, 3)

    def _path(self, name: str, module: ModuleType) -> Path:
        return self.path_of(name) or Path(str(module.__file__))

    def _source(self, name: str, module: ModuleType) -> Source:
        src = self.sources.get(name)
        if src is None:
            path = self._path(name, module)
            if name in self.pending:
                src = self.compiler.running_text(name, path)
            else:
                src = self.compiler.dependent(name, path)
            self.sources[name] = src
        return src

    def _update_changed(self, module: ModuleType, src: Source) -> None:
        """A module whose text changed: statement by statement where the comparison can
        vouch for the result, else whole."""
        running = self.compiler.running.running(src.mod, module, src.path)
        new = self.compiler.running.index(src)
        old = running.index
        why = running.why if old is None else full_reason(old, new)
        self.changes[src.mod] = changes_between(old, new) if old is not None else _no_changes()
        if why is None:
            rebound, changed = self._external(module, new)
            why = self._minimal(module, old, new, src.filename, rebound, changed, always=True)
        if why is not None:
            self._reexecute(module, src, why)

    def _update_dependent(self, module: ModuleType) -> None:
        """A compile dependent whose file did not change: its statements that read what
        changed run, or nothing does. One whose text does not even mention what changed is
        left alone before its text is parsed (:mod:`..source.mentions`)."""
        name = module.__name__
        path = self._path(name, module)
        if not self.compiler.running.mentions(name, path).may_read_any(self.so_far.probe()):
            return
        running = self.compiler.running
        readings = running.readings(name, module, path)
        if readings is None:  # the text it runs is not known: running() says why
            why = running.running(name, module, path).why
            self._reexecute(module, self._source(name, module), why)
            return
        if self.compiler.unmoved(name, readings, self.so_far.state):
            return  # the same text, the same changes: it ran nothing last time
        rebound, changed = self._external(module, readings)
        if not (rebound or changed) or not readings.reads_any(rebound, changed):
            if not rebound:  # (a rebound name may have rebound its `from m import`)
                self.compiler.note_unmoved(name, readings, self.so_far.state())
            return
        ran = running.running(name, module, path)
        idx = ran.index
        assert idx is not None
        why = self._minimal(module, idx, idx, ran.filename, rebound, changed)
        if why is not None:
            self._reexecute(module, self._source(name, module), why)

    def _minimal(
        self,
        module: ModuleType,
        old: ModuleIndex | None,
        new: ModuleIndex,
        filename: str,
        rebound: set[str],
        changed: set[str],
        *,
        always: bool = False,
    ) -> str | None:
        """Run a statement-level update; returns a reason to re-execute whole instead."""
        assert old is not None
        enum_why = _changed_enum(module, old, new)
        if enum_why:
            return enum_why
        update = ModuleUpdate(
            self.journal,
            module,
            filename or str(module.__file__),
            old,
            new,
            rebound=rebound,
            code_changed=changed,
            neighbours=functools.partial(self._neighbours, module),
            before_statement=self._before_statements if self.hold_statements else None,
        )
        self.ran[module.__name__] = (new.tree, update.ran_nodes)
        outcome = update.run()
        self.old_namespaces[module.__name__] = update.old_ns
        replaced = outcome.replaced
        if replaced:
            self.replaced[module.__name__] = list(dict.fromkeys(replaced))
        if always or outcome.rerun:
            self.outcomes[module.__name__] = outcome
            self.executed.append(module.__name__)
        elif outcome.rebound or outcome.code_changed:
            # Nothing ran, but what it refreshed (its `from m import` bindings) and what it
            # stands for reach its own dependents.
            self.outcomes[module.__name__] = outcome
        return None

    def _external(
        self, module: ModuleType, index: ModuleIndex | Readings
    ) -> tuple[set[str], set[str]]:
        """What changed so far in the plan, as names of ``module`` (:mod:`.imported`)."""
        return changed_by_imports(module, index, self.outcomes, self.old_namespaces, self.journal)

    def _reexecute(self, module: ModuleType, src: Source, why: str | None = None) -> None:
        self._before_statements(src.mod, f"{src.mod} (re-executed whole: {why or 'asked'})")
        ns = module.__dict__
        keep = {k: ns[k] for k in MODULE_KEEP if k in ns}
        old_ns = self.journal.replace_namespace(ns, keep)
        self.old_namespaces[src.mod] = old_ns
        code = src.compiled()
        if src.index is not None:  # a spliced parse: its moved nodes take their lines
            self.ran[src.mod] = (src.index.tree, [st.located() for st in src.index.statements])
        elif src.tree is not None:
            self.ran[src.mod] = (src.tree, list(src.tree.body))
        codes = codes_before(module.__name__, old_ns)  # before the patcher gives them new code
        exec(code, ns)
        neighbours = self._neighbours(module)
        self.replaced[src.mod] = Patcher(
            self.journal, module, old_ns, neighbours=neighbours
        ).merge()
        self.executed.append(src.mod)
        self.outcomes[src.mod] = _full_outcome(module, old_ns, why or "re-executed whole", codes)

    def _neighbours(self, module: ModuleType) -> list[ModuleType]:
        """The loaded project modules ``module`` imports: what its code registers in them
        (``__init_subclass__`` filling its base's registry) must hold the kept objects."""
        name = module.__name__
        return [
            self.loaded[n] for n in self.graph.imports_of(name) if n in self.loaded and n != name
        ]

    def _rebind(self, step: Step) -> None:
        """An export edge: rebind ``from target import name`` to the target's new object, or
        re-execute the importer when a name it imports is gone (its import then fails)."""
        importer = self.loaded.get(step.mod)
        target = sys.modules.get(step.after) if step.after else None
        old_target_ns = self.old_namespaces.get(step.after or "")
        if importer is None or target is None or old_target_ns is None:
            return
        before = dict(importer.__dict__)
        bound = self.graph.bound_names(step.mod, target.__name__)
        rebound = rebind_exports(importer, target, bound, old_target_ns, self.journal)
        if rebound is None:
            src = self._source(step.mod, importer)
            self._reexecute(importer, src, f"a name it imports from {target.__name__} is gone")
        elif rebound:
            # It passes the new objects on: what takes them from it follows (the plan has
            # those modules after this step, SPEC 3).
            self.old_namespaces.setdefault(step.mod, before)
            self.outcomes.setdefault(step.mod, Outcome("patched")).rebound |= rebound


def _modules_on_stack() -> set[str]:
    names: set[str] = set()
    frame = sys._getframe(1)
    while frame is not None:
        name = frame.f_globals.get("__name__")
        if isinstance(name, str):
            names.add(name)
        frame = frame.f_back  # type: ignore[assignment]
    return names


def _no_changes() -> dict[str, list[str]]:
    return {"added": [], "changed": [], "removed": []}


def _full_outcome(
    module: ModuleType, old_ns: dict[str, Any], why: str, codes: dict[str, Codes]
) -> Outcome:
    """A module re-executed whole: every name whose object changed is rebound; a function
    kept in place whose code changed is code-changed, and so is a kept class by what calls
    its changed members (:func:`.implicit.member_changed`: ``P()`` for ``P.__init__``, never
    for ``P.run``); any other change of a class counts as its whole."""
    ns = module.__dict__
    outcome = Outcome("full", full_reason=why)
    for key in ns.keys() | old_ns.keys():
        new, old = ns.get(key, _GONE), old_ns.get(key, _GONE)
        if new is not old:
            outcome.rebound.add(key)
        elif defined_in(new, module.__name__):
            outcome.code_changed |= changed_names(key, new, codes.get(key))
    outcome.code_changed |= implicit_callers(ns, outcome.code_changed)
    # Its functions kept with their code that read what changed compute something else.
    hot = outcome.rebound | outcome.code_changed
    outcome.code_changed |= reading_functions(ns, module.__name__, hot) - outcome.rebound
    return outcome


def _changed_enum(module: ModuleType, old: ModuleIndex, new: ModuleIndex) -> str | None:
    """An Enum class statement whose body changed beyond method bodies: its members may
    have changed, which only a whole re-execution (and a replaced class) can express."""
    if old is new:
        return None  # a dependent: its text is the one it runs
    old_by_name = {s.name: s for s in old.statements if s.is_class}
    for s in new.statements:
        if not s.is_class or s.name is None:
            continue
        before = old_by_name.get(s.name)
        if before is None or before.text == s.text:
            continue
        cls = module.__dict__.get(s.name)
        if isinstance(cls, type) and issubclass(cls, enum.Enum):
            body_old = [b.text for b in before.body or () if not b.is_def]
            body_new = [b.text for b in s.body or () if not b.is_def]
            if body_old != body_new or before.header != s.header:
                return f"the members of Enum {s.name} may have changed"
    return None


_GONE: Any = object()
