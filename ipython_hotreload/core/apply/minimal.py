"""Update one module in place, running only what changed (SPEC §1.5).

Design. :class:`ModuleUpdate` takes the index of the source a module runs and of its new
source (the same one for a dependent whose file did not change), plus the names a changed
import made "rebound" or "code-changed" in it, and:

1. patches the function objects of every ``def`` whose decorator lines did not change but
   whose text did: a fresh function is compiled from the new ``def`` with its decorators
   swapped for an identity (at the same lines, so line numbers stay right) and, for a
   method, inside stand-ins of its classes that lend it the class's namespace (defaults
   that read class attributes), its name mangling and its ``__class__`` cell; the old
   object, found behind decorators (``__wrapped__``, closures, descriptors, registries,
   wrapper objects), takes its code, defaults, annotations and docstring; caches on the way
   are cleared. Unchanged functions whose lines moved get their line numbers shifted;
2. deletes the names bound only by removed statements;
3. walks the new statements in source order and runs the new or changed ones, the
   unchanged ones that read at import time a name rebound so far, or call a function whose
   code changed (directly or through module-level functions reading such names), and the
   unchanged ones that bind a name a statement that ran bound to another object (the later
   binding wins, as on import: ``parse_int = Number`` below an edited ``def parse_int``).
   After each statement, a new function or class that stands for an old one is merged into
   it (:class:`~.patching.Patcher`) so the name keeps its object; a name whose object
   changed is "rebound" and may make later statements, and dependents, run.

Finding a function behind its decorators and compiling its new ``def`` as its class would
is :mod:`.functions`' part. Every change goes through the plan's
:class:`~.journal.Journal` (the namespace included), so a statement that raises leaves the
module exactly as it was.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import CodeType, FunctionType, ModuleType
from typing import Any

from ipython_hotreload.core.apply.functions import (
    Site,
    adopt,
    inner_codes,
    nested_changes,
    patch_closures,
    shifted,
)
from ipython_hotreload.core.apply.implicit import implicit_callers, member_changed
from ipython_hotreload.core.apply.journal import MISSING, Journal
from ipython_hotreload.core.apply.patching import Patcher
from ipython_hotreload.core.apply.registrations import Registrations, roots_of
from ipython_hotreload.core.results import Mode
from ipython_hotreload.core.source.diff import Pair, diff_statements, redecorates
from ipython_hotreload.core.source.reads import bound_names
from ipython_hotreload.core.source.statements import ModuleIndex, Statement, function_texts

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

    @property
    def touched(self) -> bool:
        """Did anything change in the module (so it counts as re-executed)?"""
        return bool(self.rerun or self.patched or self.rebound or self.code_changed)


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
        self._fresh: dict[int, Any] = {}  # id(new def) -> its function, compiled ahead
        self._tainted: set[str] = set()
        self._taint_key = (-1, -1)

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
        # A decorated def whose signature changed runs again, its decorators given the very
        # function object they were given before (the new code patched into it).
        keep = {
            id(p.new): self._kept_function(p.old)
            for p in pairs
            if p.status == "run" and p.old and p.new and redecorates(p.old, p.new)
        }
        if self._before_statement is not None:
            # Beside a running cell, every function to patch is compiled before any takes
            # its new code: a new def whose defaults or annotations raise then fails the
            # update before the cell's thread could call a patch that is rolled back.
            self._compile_ahead(pairs, ())
        # A def or class whose change cannot be patched in place runs as a statement.
        runs = [p.status == "run" or not self._patch_pair(p, ()) for p in pairs]
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
        # A name that ends on the object it held before lost nothing, whatever a statement
        # that ran in between bound to it (an overload stub, before the implementation).
        old_ns = self.old_ns
        o.replaced = [q for q in o.replaced if q not in old_ns or self.ns.get(q) is not old_ns[q]]
        if o.rerun:
            o.mode = "partial"
        elif o.patched or any(p.status != "same" for p in pairs):
            o.mode = "patched"
        return o

    # -- functions patched in place --------------------------------------------------------

    def _patch_pair(self, pair: Pair, path: tuple[str, ...]) -> bool:
        """Patch what ``pair`` changed in place; False when that cannot be done (the
        statement then runs: for a method, its whole top-level class is rebuilt)."""
        if path and pair.status in ("run", "removed"):
            return self._method_statement(pair, path)
        if pair.old is None or pair.new is None:
            return True
        if pair.status == "same":
            if pair.old.start != pair.new.start:
                self._shift(pair.old, pair.new.start - pair.old.start, path)
            return True
        if pair.status == "patch":
            return self._patch_function(pair.old, pair.new, path)
        if pair.status == "class":
            assert pair.new.name is not None
            inner = (*path, pair.new.name)
            return all([self._patch_pair(sub, inner) for sub in pair.body])
        return True

    def _site(self, path: tuple[str, ...]) -> Site:
        return Site(self.ns, path, self.filename, self.new.future_flags)

    def _method_statement(self, pair: Pair, path: tuple[str, ...]) -> bool:
        """A method added, removed or re-decorated (:func:`~..source.diff.lone_method`): its class takes
        or loses that one attribute, and the rest of its body does not run again."""
        site = self._site(path)
        stmt = pair.new or pair.old
        if not site.classes or stmt is None or stmt.name is None:
            return False
        cls, name = site.classes[-1], stmt.name
        if pair.new is None:
            if name in cls.__dict__:
                self.journal.delattr(cls, name)
        else:
            node = pair.new.located()
            assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            obj = site.compile(node, decorated=True)
            if obj is MISSING:
                return False
            if name in cls.__dict__:  # what held the old object keeps it (and its wrapper)
                self.outcome.replaced.append(".".join((*path, name)))
            self.journal.setattr(cls, name, obj)
            set_name = getattr(type(obj), "__set_name__", None)
            if set_name is not None:  # as class creation would (not undone by a rollback)
                set_name(obj, cls, name)
        self.outcome.patched += 1
        self.outcome.rebound.add(".".join((*path, name)))
        self.outcome.code_changed |= member_changed(path, name, cls)
        return True

    def _patch_function(self, old: Statement, new: Statement, path: tuple[str, ...]) -> bool:
        """The function ``old``'s ``def`` made takes the code of ``new``'s (False: nothing
        was found to patch, or its closure changed shape: the ``def`` must run)."""
        assert old.name is not None
        site = self._site(path)
        found = site.find(old.name, old.node, old.start)
        if found is None:
            return False
        target: FunctionType = found[0]
        old_doc = target.__doc__
        node = new.located()
        assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        fresh = self._fresh.pop(id(new), None) or site.compile(node, decorated=False)
        if fresh is None:
            return False
        own_code_changed = not self._closures_follow(target, fresh)
        if not adopt(self.journal, target, fresh):
            return False
        for cache in found.caches:
            cache.cache_clear()
            self.journal.on_undo(cache.cache_clear)  # results of the new code must go too
        for wrapper in found.wrappers:
            # functools.wraps copied the docstring onto the wrapper: it follows the new one
            if getattr(wrapper, "__doc__", None) == old_doc and wrapper is not target:
                try:
                    self.journal.setattr(wrapper, "__doc__", fresh.__doc__)
                except (AttributeError, TypeError):
                    pass
        self.outcome.patched += 1
        if not own_code_changed:
            return True  # what calls it runs the same code (new closures get the new code)
        if path:  # a method: only what calls it (or calls it implicitly) calls changed code
            cls = site.classes[-1] if site.classes else None
            self.outcome.code_changed |= member_changed(path, old.name, cls)
        else:
            self.outcome.code_changed.add(old.name)
        return True

    def _closures_follow(self, target: FunctionType, fresh: FunctionType) -> bool:
        """An edit confined to functions nested in ``target`` (a factory's inner ``def``):
        every closure made from their old code takes the new code, keeping its cells, and
        True: ``target`` counts as patched, not changed. False when its own code changed, or
        when an inner function's free variables changed (its closures keep the old code,
        and the statements calling ``target`` run: a payload warning says so)."""
        nested = nested_changes(target.__code__, fresh.__code__)
        moved = [
            old.co_qualname
            for old, new in inner_codes(target.__code__, fresh.__code__)
            if old.co_freevars != new.co_freevars
        ]
        if moved:
            self.outcome.warnings.append(
                f"{', '.join(moved)}: its free variables changed, so the closures made "
                f"before keep their code; what calls {target.__qualname__} ran again"
            )
            return False
        if nested is None:
            return False
        for old, new in nested:
            patch_closures(self.journal, old, new)
        return True

    def _compile_ahead(self, pairs: list[Pair], path: tuple[str, ...]) -> None:
        """Compile the new function of every ``def`` to patch in ``pairs`` (and in the
        classes among them), for :meth:`_patch_function`."""
        for pair in pairs:
            new = pair.new
            if pair.old is None or new is None:
                continue
            if pair.status == "patch":
                node = new.located()
                assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
                self._fresh[id(new)] = self._site(path).compile(node, decorated=False)
            elif pair.status == "class" and new.name is not None:
                self._compile_ahead(pair.body, (*path, new.name))

    def _shift(self, old: Statement, delta: int, path: tuple[str, ...]) -> None:
        """An unchanged definition whose lines moved: its code's line numbers follow."""
        if old.is_def:
            assert old.name is not None
            found = self._site(path).find(old.name, old.node, old.start)
            if found is not None:
                fn = found.fn
                self.journal.setattr(fn, "__code__", shifted(fn.__code__, delta))
        elif old.body is not None and old.name is not None:
            for sub in old.body:
                if sub.name is not None:
                    self._shift(sub, delta, (*path, old.name))

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
        if stmt.loads & o.rebound:
            return True
        if not stmt.calls:
            return False
        return bool(stmt.calls & o.code_changed) or bool(stmt.calls & self._taint())

    def _taint(self) -> set[str]:
        """Module-level functions whose code reads (transitively) what changed."""
        o = self.outcome
        key = (len(o.rebound), len(o.code_changed))
        if key == self._taint_key:
            return self._tainted
        hot = o.rebound | o.code_changed
        tainted: set[str] = set()
        grew = True
        while grew:
            grew = False
            for name, reads in self.new.function_reads.items():
                if name not in tainted and reads & (hot | tainted):
                    tainted.add(name)
                    grew = True
        self._tainted, self._taint_key = tainted, key
        return tainted

    def _kept_function(self, old: Statement) -> FunctionType | None:
        """The function object ``old``'s decorated ``def`` made (behind its decorators)."""
        assert old.name is not None
        found = self._site(()).find(old.name, old.node, old.start)
        if found is None:
            return None
        fn: FunctionType = found[0]
        return fn

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
        code = self._keeping(stmt) if keep is not None else None
        if code is None:
            code = stmt.compiled(self.filename, self.new.future_flags)
            keep = None
        self.ran_nodes.append(stmt.located())
        # A definition that runs again registers again (its decorators, its bases'
        # __init_subclass__): what it registers must take the place of what it did before.
        again = (stmt.is_def or stmt.is_class) and stmt.name in ns
        registrations = Registrations(roots_of(ns, stmt.loads | stmt.calls)) if again else None
        if keep is not None:
            kept = keep

            def keeper(fresh: Any) -> Any:
                ok = isinstance(fresh, FunctionType) and adopt(self.journal, kept, fresh)
                return kept if ok else fresh

            ns[_KEEPER] = keeper
        try:
            exec(code, ns)
        finally:
            ns.pop(_KEEPER, None)
        self.outcome.rerun.append((stmt.start, stmt.end))
        if keep is not None and stmt.name is not None:
            self.outcome.code_changed.add(stmt.name)  # the same object, new code
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

    def _keeping(self, stmt: Statement) -> CodeType | None:
        """``stmt`` (a decorated def) compiled with one more decorator, innermost, that hands
        the decorators the kept function instead of the fresh one."""
        node = copy.copy(stmt.located())
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or not node.decorator_list:
            return None
        last = node.decorator_list[-1]
        keeper = ast.copy_location(ast.Name(_KEEPER, ast.Load()), last)
        node.decorator_list = [*node.decorator_list, keeper]
        module = ast.Module([node], [])
        flags = self.new.future_flags
        code: CodeType = compile(module, self.filename, "exec", flags=flags, dont_inherit=True)
        return code


def _which(stmt: Statement, mod: str) -> str:
    """``line 3 of pkg.mod (RATE = 2)``: a statement, for a message."""
    lines = f"line {stmt.start}" if stmt.end == stmt.start else f"lines {stmt.start}-{stmt.end}"
    first = stmt.text.strip().splitlines()[0] if stmt.text.strip() else ""
    if len(first) > 40:
        first = first[:37] + "..."
    return f"{lines} of {mod} ({first})" if first else f"{lines} of {mod}"


_GONE: Any = object()
_KEEPER = "__hotreload_kept_function__"
