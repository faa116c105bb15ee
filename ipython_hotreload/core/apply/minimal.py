"""Update one module in place, running only what changed (SPEC §1.5).

Design. :class:`ModuleUpdate` takes the index of the source a module runs and of its new
source (the same one for a dependent whose file did not change), plus the names a changed
import made "rebound" or "code-changed" in it, and:

1. patches the function objects of every ``def`` whose decorator lines did not change but
   whose text did, without running the ``def``: the old object, found behind decorators,
   takes the new code, defaults, annotations and docstring; unchanged functions whose lines
   moved get their line numbers shifted (:mod:`.defpatch`). A decorated ``def`` whose
   signature changed runs in step 3 instead, its decorators handed the function object
   they were given before;
2. deletes the names bound only by removed statements;
3. walks the new statements in source order and runs the new or changed ones, the
   unchanged ones that read at import time a name rebound so far, or call a function whose
   code changed (directly or through module-level functions reading such names), and the
   unchanged ones that bind a name a statement that ran bound to another object (the later
   binding wins, as on import: ``parse_int = Number`` below an edited ``def parse_int``).
   After each statement, a new function or class that stands for an old one is merged into
   it (:class:`~.patching.Patcher`) so the name keeps its object; a name whose object
   changed is "rebound" and may make later statements, and dependents, run.

Patching a ``def``'s function in place is :mod:`.defpatch`'s part (finding it behind its
decorators and compiling its new ``def`` as its class would, :mod:`.functions`'). Every
change goes through the plan's :class:`~.journal.Journal` (the namespace included), so a
statement that raises leaves the module exactly as it was.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import FunctionType, ModuleType
from typing import Any

from ipython_hotreload.core.apply.defpatch import DefPatcher
from ipython_hotreload.core.apply.implicit import implicit_callers
from ipython_hotreload.core.apply.journal import Journal
from ipython_hotreload.core.apply.patching import Patcher
from ipython_hotreload.core.apply.registrations import Registrations, roots_of
from ipython_hotreload.core.results import Mode
from ipython_hotreload.core.source.diff import Pair, diff_statements, redecorates
from ipython_hotreload.core.source.reads import CALLBACKS, bound_names, wholes
from ipython_hotreload.core.source.statements import (
    ModuleIndex,
    Statement,
    factories,
    function_texts,
)

__all__ = ["ModuleUpdate", "Outcome", "changes_between"]


@dataclass
class Outcome:
    """What updating one module did."""

    mode: Mode
    rerun: list[tuple[int, int]] = field(default_factory=list)
    full_reason: str | None = None
    rebound: set[str] = field(default_factory=set)  # names whose object changed or went
    code_changed: set[str] = field(default_factory=set)  # names whose object took new code
    patched: int = 0  # functions patched in place
    replaced: list[str] = field(default_factory=list)  # names whose old object was dropped
    warnings: list[str] = field(default_factory=list)  # what may now be registered twice

    _heads: tuple[tuple[int, int], frozenset[str]] | None = field(
        default=None, repr=False, compare=False
    )

    @property
    def touched(self) -> bool:
        """Did anything change in the module (so it counts as re-executed)?"""
        return bool(self.rerun or self.patched or self.rebound or self.code_changed)

    def heads(self) -> frozenset[str]:
        """The first part of every name that changed (``P`` of ``P.run``): an import of any
        other name of the module brings nothing that changed."""
        key = (len(self.rebound), len(self.code_changed))
        if self._heads is None or self._heads[0] != key:
            names = (*self.rebound, *self.code_changed)
            self._heads = (key, frozenset(n.partition(".")[0] for n in names))
        return self._heads[1]


def changes_between(old: ModuleIndex | None, new: ModuleIndex) -> dict[str, list[str]]:
    """The payload's ``changes``: qualnames of functions added, changed, removed."""
    after = function_texts(new.statements)
    before = function_texts(old.statements) if old is not None else {}
    return {
        "added": [q for q in after if q not in before],
        "changed": [q for q in after if q in before and before[q] != after[q]],
        "removed": [q for q in before if q not in after],
    }


class ModuleUpdate:
    """One module's statement-level update, through a journal."""

    def __init__(
        self,
        journal: Journal,
        module: ModuleType,
        filename: str,
        old: ModuleIndex,
        new: ModuleIndex,
        *,
        rebound: Iterable[str] = (),
        code_changed: Iterable[str] = (),
        neighbours: Callable[[], Sequence[ModuleType]] = tuple,
        before_statement: Callable[[str, str], None] | None = None,
    ) -> None:
        """``neighbours``: the project modules this one imports (see
        :class:`~.patching.Patcher`), asked for once a statement runs."""
        self.journal = journal
        self.module = module
        self.neighbours = neighbours
        self._neighbours: Sequence[ModuleType] | None = None
        self.ns = module.__dict__
        self.filename = filename
        self.old = old
        self.new = new
        self.outcome = Outcome("unchanged", rebound=set(rebound), code_changed=set(code_changed))
        self._external = bool(self.outcome.rebound or self.outcome.code_changed)
        self.old_ns = dict(self.ns)
        self.ran_nodes: list[ast.stmt] = []  # the statements run so far (a failed one too)
        # Told (module, which statement) before each statement runs; it may raise to stop
        # the update (a reload held back while a cell runs, SPEC 2.5).
        self._before_statement = before_statement
        self._defs = DefPatcher(journal, self.ns, filename, new.future_flags)
        self._tainted: set[str] = set()
        self._taint_key = (-1, -1)
        self._wholes_of: tuple[int, set[str]] = (-1, set())

    def run(self) -> Outcome:
        """Apply the update; raises (after nothing is undone: the caller rolls the journal
        back) if a statement raises."""
        ns, before = self.ns, self.old_ns

        def restore() -> None:
            ns.clear()
            ns.update(before)

        self.journal.on_undo(restore)
        if self.old is self.new:  # a dependent: the text it runs, against itself
            pairs = [Pair("same", st, st) for st in self.new.statements]
        else:
            pairs = diff_statements(self.old.statements, self.new.statements)
        runs, keep = self._patch_defs(pairs)
        # Calls Python makes implicitly: subclasses of a class whose __init__ changed, the
        # classes of a changed metaclass (here, or in a dependent, what its imports bound).
        self.outcome.code_changed |= implicit_callers(self.ns, self.outcome.code_changed)
        self._remove(pairs)
        moved: set[str] = set()  # the names the statements that ran bound to other objects
        for pair, run in zip(pairs, runs, strict=True):
            stmt = pair.new
            if stmt is None:
                continue
            # A later statement that binds a name one that ran bound to another object runs
            # too: its binding wins, as on import (`def parse_int` edited, `parse_int =
            # Number` below it). A name that still holds its object needs nothing.
            if run or self._triggered(stmt) or (moved and moved & bound_names(stmt.node)):
                moved |= self._execute(stmt, keep.get(id(stmt)))
        o = self.outcome
        # A function whose code reads what changed computes something else now: for the
        # dependents, calling it is calling changed code (SPEC 1.5 rules 3 and 5).
        tainted = self._taint() - o.rebound
        if o.rebound or o.code_changed:
            o.code_changed |= tainted
            # A factory of this module whose callbacks call changed code: for dependents,
            # what a call of it bound is changed code (SPEC 1.5 rule 1).
            hot = o.rebound | o.code_changed
            made = factories(self.new.function_reads, self.new.function_later, hot)
            o.code_changed |= {name + CALLBACKS for name in made & self.new.function_reads.keys()}
        # A name that ends on the object it held before lost nothing, whatever a statement
        # that ran in between bound to it (an overload stub, before the implementation).
        old_ns = self.old_ns
        o.replaced = [q for q in o.replaced if q not in old_ns or self.ns.get(q) is not old_ns[q]]
        if o.rerun:
            o.mode = "partial"
        elif o.patched or any(p.status != "same" for p in pairs):
            o.mode = "patched"
        return o

    def _patch_defs(self, pairs: list[Pair]) -> tuple[list[bool], dict[int, Any]]:
        """Patch in place what ``pairs`` changed in the module's defs (:mod:`.defpatch`).
        Returns, for each pair, whether its statement must run; and, by the id of its new
        statement, the function each decorated ``def`` run again hands its decorators."""
        defs = self._defs
        # A decorated def whose signature changed runs again, its decorators given the very
        # function object they were given before (the new code patched into it).
        keep = {
            id(p.new): defs.kept_function(p.old)
            for p in pairs
            if p.status == "run" and p.old and p.new and redecorates(p.old, p.new)
        }
        if self._before_statement is not None:
            # Beside a running cell, every function to patch is compiled before any takes
            # its new code: a new def whose defaults or annotations raise then fails the
            # update before the cell's thread could call a patch that is rolled back.
            defs.compile_ahead(pairs)
        # A def or class whose change cannot be patched in place runs as a statement.
        runs = [p.status == "run" or not defs.patch(p) for p in pairs]
        o = self.outcome
        o.patched += defs.patched
        o.rebound |= defs.rebound
        o.code_changed |= defs.code_changed
        o.warnings += defs.warnings
        o.replaced += defs.replaced
        return runs, keep

    # -- statements ------------------------------------------------------------------------

    def _remove(self, pairs: list[Pair]) -> None:
        if not any(p.status == "removed" for p in pairs):
            return
        kept: set[str] = set()
        for p in pairs:
            if p.new is not None:
                kept |= bound_names(p.new.node)
        for p in pairs:
            if p.status == "removed" and p.old is not None:
                for name in bound_names(p.old.node) - kept:
                    if name in self.ns:
                        del self.ns[name]
                        self.outcome.rebound.add(name)

    def _triggered(self, stmt: Statement) -> bool:
        o = self.outcome
        if stmt.loads & o.rebound or stmt.loads & self._wholes():
            return True
        if not stmt.calls:
            return False
        return bool(stmt.calls & o.code_changed) or bool(stmt.calls & self._taint())

    def _wholes(self) -> set[str]:
        """The rebound names, and each class or module a rebound attribute belongs to, as
        handed whole (``vars(C)`` reads a rebound ``C.x``)."""
        rebound = self.outcome.rebound
        if len(rebound) != self._wholes_of[0]:
            self._wholes_of = (len(rebound), wholes(rebound))
        return self._wholes_of[1]

    def _taint(self) -> set[str]:
        """Module-level functions whose code reads (transitively) what changed."""
        o = self.outcome
        key = (len(o.rebound), len(o.code_changed))
        if key == self._taint_key:
            return self._tainted
        hot = o.rebound | o.code_changed
        # What a statement bound by calling a factory whose callbacks changed: calling it
        # runs changed code (``@timed def load``, then ``CONFIG = load()``).
        tainted = self.new.callback_holders(hot)
        grew = True
        while grew:
            grew = False
            for name, reads in self.new.function_reads.items():
                if name not in tainted and reads & (hot | tainted):
                    tainted.add(name)
                    grew = True
        self._tainted, self._taint_key = tainted, key
        return tainted

    def _execute(self, stmt: Statement, keep: FunctionType | None = None) -> set[str]:
        """Run one statement; returns the names it bound to another object (a function or
        class merged into the one it stands for counts as the same). ``keep``: the function
        a decorated ``def`` made before, which its decorators get again, with the new code
        (so what they registered is the same object, and a framework that refuses a second
        function for a name does not)."""
        if self._before_statement is not None:
            self._before_statement(self.module.__name__, _which(stmt, self.module.__name__))
        ns = self.ns
        before = dict(ns)
        code = self._defs.redecorated(stmt) if keep is not None else None
        if code is None:
            code = stmt.compiled(self.filename, self.new.future_flags)
            keep = None
        self.ran_nodes.append(stmt.located())
        # A definition that runs again registers again (its decorators, its bases'
        # __init_subclass__): what it registers must take the place of what it did before.
        again = (stmt.is_def or stmt.is_class) and stmt.name in ns
        registrations = Registrations(roots_of(ns, stmt.loads | stmt.calls)) if again else None
        with self._defs.keeping(keep):
            exec(code, ns)
        self.outcome.rerun.append((stmt.start, stmt.end))
        if keep is not None and stmt.name is not None:
            self.outcome.code_changed.add(stmt.name)  # the same object, new code
        return self._merge_bound(stmt, before, registrations)

    def _merge_bound(
        self, stmt: Statement, before: dict[str, Any], registrations: Registrations | None
    ) -> set[str]:
        """After ``stmt`` ran over the namespace ``before``: what it bound is merged into the
        objects it stands for (:class:`~.patching.Patcher`), and what it registered again
        takes the place of what it registered before; returns the names now bound to another
        object (rebound), while a name that kept its object took new code (code-changed)."""
        ns = self.ns
        bound = [
            k for k in ns.keys() | before.keys() if ns.get(k, _GONE) is not before.get(k, _GONE)
        ]
        attrs = {k: dict(vars(v)) for k in bound if isinstance(v := before.get(k), type)}
        # New functions and classes that stand for old ones are merged into them, and the
        # copies the statement left in containers, defaults and closures point back.
        if self._neighbours is None:
            self._neighbours = self.neighbours()
        patcher = Patcher(
            self.journal, self.module, before, earlier=self.old_ns, neighbours=self._neighbours
        )
        self.outcome.replaced += patcher.merge_names(bound)
        moved: set[str] = set()
        if registrations is not None:
            unpaired = registrations.settle(self.journal, patcher.refs.original)
            if not stmt.is_def:
                unpaired = []  # a class statement that ran again registers again (rule 2)
            self.outcome.warnings += [
                f"{stmt.name} (line {stmt.start}) ran again and may now be registered twice: {u}"
                for u in unpaired
            ]
        for key in bound:
            new, old = ns.get(key, _GONE), before.get(key, _GONE)
            if new is _GONE or new is not old:
                moved.add(key)
                continue
            self.outcome.code_changed.add(key)
            if key in attrs:  # the kept class's attributes whose objects changed
                now = vars(old)
                self.outcome.rebound.update(
                    f"{key}.{a}"
                    for a in attrs[key].keys() | now.keys()
                    if attrs[key].get(a, _GONE) is not now.get(a, _GONE)
                )
        self.outcome.rebound |= moved
        return moved


def _which(stmt: Statement, mod: str) -> str:
    """``line 3 of pkg.mod (RATE = 2)``: a statement, for a message."""
    lines = f"line {stmt.start}" if stmt.end == stmt.start else f"lines {stmt.start}-{stmt.end}"
    first = stmt.text.strip().splitlines()[0] if stmt.text.strip() else ""
    if len(first) > 40:
        first = first[:37] + "..."
    return f"{lines} of {mod} ({first})" if first else f"{lines} of {mod}"


_GONE: Any = object()
