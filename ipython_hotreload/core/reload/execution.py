"""Executing a reload plan: update modules in place, patch, rebind, or undo it all.

:class:`PlanRun` walks the steps the graph planned. With a :class:`SourceBook` (the default,
``reexecute="minimal"``) a changed module is updated statement by statement
(:mod:`.minimal`): only what changed runs, and a ``"compile"`` dependent runs only its
statements that read, at import time, what changed in the modules it imports; where the
comparison cannot vouch (the source a module runs is not known exactly, a ``from __future__``
change, ...) the module is re-executed whole, and its payload says why. Without one
(``reexecute="module"``) a changed module or ``"compile"`` dependent is re-executed into its
own cleared namespace and its old objects are patched in place (:mod:`.patching`); an
``"export"`` step only points the importer's ``from x import name``
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
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any, Protocol

from ipython_hotreload.core.graph.modulegraph import ModuleGraph, Step
from ipython_hotreload.core.paths import Stamp
from ipython_hotreload.core.reload.effects import (
    describe_outside_calls,
    imported_names,
    outside_calls,
)
from ipython_hotreload.core.reload.minimal import ModuleUpdate, Outcome, changes_between
from ipython_hotreload.core.reload.patching import MODULE_KEEP, Journal, Patcher, defined_in
from ipython_hotreload.core.reload.statements import ModuleIndex, full_reason, import_marker

__all__ = ["PlanRun", "Running", "Source", "SourceBook"]


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
    filename: str = ""  # the code's file name (the module's __file__ when it is this file)
    index: ModuleIndex | None = None  # its statement index, when made while compiling

    def compiled(self) -> CodeType:
        """The whole module's code: compiled from the text on first use when only the edited
        statements were (a spliced parse, :mod:`.splice`)."""
        if self.code is None:
            flags = self.index.future_flags if self.index is not None else 0
            self.code = compile(self.data, self.filename, "exec", flags=flags, dont_inherit=True)
        return self.code


@dataclass(frozen=True)
class Running:
    """The source a loaded module runs, read statement by statement, or why it is not
    known exactly."""

    index: ModuleIndex | None
    filename: str
    why: str | None = None


class SourceBook(Protocol):
    """What the plan needs to update modules statement by statement."""

    def running(self, name: str, module: ModuleType, path: Path | None = None) -> Running:
        """The source ``name`` runs now (``path``: the file reloaded for it, if any)."""
        ...

    def index(self, src: Source) -> ModuleIndex:
        """The statement index of a new source (parsed and compiled already)."""
        ...


class PlanRun:
    """One plan's execution; on failure, :meth:`execute` leaves nothing changed."""

    def __init__(
        self,
        graph: ModuleGraph,
        loaded: dict[str, ModuleType],
        sources: dict[str, Source],
        prepare: Callable[[str, ModuleType], Source],
        book: SourceBook | None = None,
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
        self.book = book  # None: whole modules are re-executed (reexecute="module")
        self.outcomes: dict[str, Outcome] = {}
        self.changes: dict[str, dict[str, list[str]]] = {}  # changed module -> its changes
        self.module_ms: dict[str, float] = {}
        # module -> (its tree, the statements that ran in it): what a rollback cannot undo
        self.ran: dict[str, tuple[ast.Module, list[ast.stmt]]] = {}
        self.plan: list[Step] = []  # the steps execute() was given

    def execute(self, plan: Sequence[Step]) -> None:
        """Run every step; on any exception roll back and re-raise it, with the failing
        module's name in ``exc._hotreload_mod``."""
        self.plan = list(plan)
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
        started = time.perf_counter()
        module = self.loaded.get(name) or sys.modules.get(name)
        if module is None:  # saved but never imported: import it now
            importlib.import_module(name)
            self.executed.append(name)
            self.outcomes[name] = Outcome("full", full_reason="first import")
        elif self.book is None:
            self._reexecute(module, self._source(name, module), "reexecute='module'")
        elif name in self.sources:
            self._update_changed(module, self.sources[name])
        else:
            self._update_dependent(module)
        self.module_ms[name] = round((time.perf_counter() - started) * 1000, 3)

    def not_undone(self) -> str:
        """After a rollback: the calls into other modules' objects among the statements
        that ran, whose effects the journal could not undo ("" if none)."""
        calls = []
        for tree, nodes in self.ran.values():
            calls += outside_calls(nodes, imported_names(tree))
        return describe_outside_calls(calls)

    def _source(self, name: str, module: ModuleType) -> Source:
        src = self.sources.get(name)
        if src is None:
            src = self.sources[name] = self.prepare(name, module)
        return src

    def _update_changed(self, module: ModuleType, src: Source) -> None:
        """A module whose text changed: statement by statement where the comparison can
        vouch for the result, else whole."""
        assert self.book is not None
        running = self.book.running(src.mod, module, src.path)
        new = self.book.index(src)
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
        changed run, or nothing does."""
        assert self.book is not None
        name = module.__name__
        running = self.book.running(name, module)
        if running.index is None:
            self._reexecute(module, self._source(name, module), running.why)
            return
        rebound, changed = self._external(module, running.index)
        if (rebound or changed) and running.index.reads_any(rebound, changed):
            idx = running.index
            why = self._minimal(module, idx, idx, running.filename, rebound, changed)
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

    def _external(self, module: ModuleType, index: ModuleIndex) -> tuple[set[str], set[str]]:
        """The names of ``module`` that stand for what changed in the modules it imports,
        rebound (any read at import time runs) or code-changed (calls run); its
        ``from m import name`` bindings of rebound names are refreshed on the way."""
        rebound: set[str] = set()
        changed: set[str] = set()
        if not self.outcomes:
            return rebound, changed
        ns = module.__dict__
        prefixes = dict(index.module_aliases)
        for base, name, alias in index.from_imports:
            sub = f"{base}.{name}"
            if sub in self.outcomes and isinstance(ns.get(alias), ModuleType):
                prefixes[alias] = sub
                continue
            outcome = self.outcomes.get(base)
            if outcome is None:
                continue
            target = sys.modules.get(base)
            if name in outcome.rebound:
                rebound.add(alias)
                if target is None or name not in target.__dict__:
                    rebound.add(import_marker(base))  # its import must fail, as fresh
                    continue
                old = self.old_namespaces.get(base, {}).get(name)
                new = target.__dict__[name]
                if alias in ns and ns[alias] is old and old is not new:
                    self.journal.setitem(ns, alias, new)
            elif name in outcome.code_changed:
                changed.add(alias)
        for prefix, target_name in prefixes.items():
            outcome = self.outcomes.get(target_name)
            if outcome is not None:
                rebound.update(f"{prefix}.{n}" for n in outcome.rebound)
                changed.update(f"{prefix}.{n}" for n in outcome.code_changed)
        for base in index.star_imports:
            outcome = self.outcomes.get(base)
            if outcome is not None:
                if outcome.rebound:
                    rebound.add(import_marker(base))
                rebound |= outcome.rebound
                changed |= outcome.code_changed
        return rebound, changed

    def _reexecute(self, module: ModuleType, src: Source, why: str | None = None) -> None:
        ns = module.__dict__
        keep = {k: ns[k] for k in MODULE_KEEP if k in ns}
        old_ns = self.journal.replace_namespace(ns, keep)
        self.old_namespaces[src.mod] = old_ns
        code = src.compiled()
        if src.index is not None:  # a spliced parse: its moved nodes take their lines
            self.ran[src.mod] = (src.index.tree, [st.located() for st in src.index.statements])
        elif src.tree is not None:
            self.ran[src.mod] = (src.tree, list(src.tree.body))
        exec(code, ns)
        self.replaced[src.mod] = Patcher(self.journal, module, old_ns).merge()
        self.executed.append(src.mod)
        self.outcomes[src.mod] = _full_outcome(module, old_ns, why or "re-executed whole")

    def _rebind(self, step: Step) -> None:
        """An export edge: rebind ``from target import name`` to the target's new object, or
        re-execute the importer when a name it imports is gone (its import then fails)."""
        importer = self.loaded.get(step.mod)
        target = sys.modules.get(step.after) if step.after else None
        old_target_ns = self.old_namespaces.get(step.after or "")
        if importer is None or target is None or old_target_ns is None:
            return
        ns = importer.__dict__
        before = dict(ns)
        rebound: set[str] = set()
        for name, alias in self.graph.bound_names(step.mod, target.__name__):
            if name not in target.__dict__:
                src = self.sources.get(step.mod)
                if src is None:
                    src = self.sources[step.mod] = self.prepare(step.mod, importer)
                self._reexecute(importer, src, f"a name it imports from {target.__name__} is gone")
                return
            new = target.__dict__[name]
            if alias in ns and ns[alias] is old_target_ns.get(name) and ns[alias] is not new:
                self.journal.setitem(ns, alias, new)
                rebound.add(alias)
        if rebound:
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


def _full_outcome(module: ModuleType, old_ns: dict[str, Any], why: str) -> Outcome:
    """A module re-executed whole: every name whose object changed is rebound, and every
    function or class kept in place may have new code."""
    ns = module.__dict__
    outcome = Outcome("full", full_reason=why)
    for key in ns.keys() | old_ns.keys():
        new, old = ns.get(key, _GONE), old_ns.get(key, _GONE)
        if new is not old:
            outcome.rebound.add(key)
        elif defined_in(new, module.__name__):
            outcome.code_changed.add(key)
    return outcome


def _changed_enum(module: ModuleType, old: ModuleIndex, new: ModuleIndex) -> str | None:
    """An Enum class statement whose body changed beyond method bodies: its members may
    have changed, which only a whole re-execution (and a replaced class) can express."""
    import enum

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
