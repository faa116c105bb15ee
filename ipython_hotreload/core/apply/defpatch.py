"""A changed module's defs, patched into their function objects without running (SPEC §1.5).

The first step of a statement-level update (:mod:`.minimal`). Of the pairs the diff made
(:func:`~..source.diff.diff_statements`), :meth:`DefPatcher.patch` takes each ``def`` whose
decorator lines did not change but whose text did: a fresh function is compiled from the new
``def`` with its decorators left out (at the same lines, so line numbers stay right) and, for
a method, as its class would compile it (:class:`~.functions.Site`); the old object, found
behind its decorators, takes its code, defaults, annotations and docstring
(:func:`~.functions.adopt`), and caches on the way are cleared. A method added, removed or
re-decorated is set on (or taken off) its class alone. An unchanged ``def`` whose lines moved
gets its code's line numbers shifted. What cannot be patched (a closure of another shape, a
method whose class is not found) is left for its statement to run.

A decorated ``def`` whose signature changed runs again instead, since decorators read
signatures when applied; its decorators are then handed the very function object they were
given before, with the new code adopted into it (:meth:`DefPatcher.redecorated`,
:meth:`DefPatcher.keeping`), so what they register is that same object and a framework that
refuses a second function for a name sees none.

Every change goes through the update's :class:`~.journal.Journal`; what the patches did
(functions patched, names rebound or code-changed, warnings) is counted for its outcome.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator
from contextlib import contextmanager
from types import CodeType, FunctionType
from typing import Any

from ipython_hotreload.core.apply.functions import (
    Site,
    adopt,
    inner_codes,
    nested_changes,
    patch_closures,
    shifted,
)
from ipython_hotreload.core.apply.implicit import member_changed
from ipython_hotreload.core.apply.journal import MISSING, Journal
from ipython_hotreload.core.source.diff import Pair
from ipython_hotreload.core.source.statements import Statement

__all__ = ["DefPatcher"]

#: The name the keeper of a re-decorated ``def`` is bound to while its statement runs.
_KEEPER = "__hotreload_kept_function__"


class DefPatcher:
    """The defs of one module's update (its namespace ``ns``, its new text's ``filename``
    and ``from __future__`` ``flags``), patched through ``journal``. What the patches did
    is counted here for the update's outcome: :attr:`patched`, :attr:`rebound`,
    :attr:`code_changed`, :attr:`warnings`, :attr:`replaced`."""

    def __init__(self, journal: Journal, ns: dict[str, Any], filename: str, flags: int) -> None:
        self.journal = journal
        self.ns = ns
        self.filename = filename
        self.flags = flags
        self.patched = 0  # functions patched in place
        self.rebound: set[str] = set()  # names whose object changed (a method set or taken off)
        self.code_changed: set[str] = set()  # names whose object took new code
        self.warnings: list[str] = []  # closures made before that keep their old code
        self.replaced: list[str] = []  # methods set anew: what held the old one keeps it
        self._fresh: dict[int, Any] = {}  # id(new def) -> its function, compiled ahead

    def patch(self, pair: Pair, path: tuple[str, ...] = ()) -> bool:
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
            return all([self.patch(sub, inner) for sub in pair.body])
        return True

    def _site(self, path: tuple[str, ...]) -> Site:
        return Site(self.ns, path, self.filename, self.flags)

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
                self.replaced.append(".".join((*path, name)))
            self.journal.setattr(cls, name, obj)
            set_name = getattr(type(obj), "__set_name__", None)
            if set_name is not None:  # as class creation would (not undone by a rollback)
                set_name(obj, cls, name)
        self.patched += 1
        self.rebound.add(".".join((*path, name)))
        self.code_changed |= member_changed(path, name, cls)
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
        self.patched += 1
        if not own_code_changed:
            return True  # what calls it runs the same code (new closures get the new code)
        if path:  # a method: only what calls it (or calls it implicitly) calls changed code
            cls = site.classes[-1] if site.classes else None
            self.code_changed |= member_changed(path, old.name, cls)
        else:
            self.code_changed.add(old.name)
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
            self.warnings.append(
                f"{', '.join(moved)}: its free variables changed, so the closures made "
                f"before keep their code; what calls {target.__qualname__} ran again"
            )
            return False
        if nested is None:
            return False
        for old, new in nested:
            patch_closures(self.journal, old, new)
        return True

    def compile_ahead(self, pairs: list[Pair], path: tuple[str, ...] = ()) -> None:
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
                self.compile_ahead(pair.body, (*path, new.name))

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

    # -- a decorated def run again ---------------------------------------------------------

    def kept_function(self, old: Statement) -> FunctionType | None:
        """The function object ``old``'s decorated ``def`` made (behind its decorators)."""
        assert old.name is not None
        found = self._site(()).find(old.name, old.node, old.start)
        if found is None:
            return None
        fn: FunctionType = found[0]
        return fn

    def redecorated(self, stmt: Statement) -> CodeType | None:
        """``stmt`` (a decorated def) compiled with one more decorator, innermost, that hands
        the decorators the kept function instead of the fresh one."""
        node = copy.copy(stmt.located())
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) or not node.decorator_list:
            return None
        last = node.decorator_list[-1]
        keeper = ast.copy_location(ast.Name(_KEEPER, ast.Load()), last)
        node.decorator_list = [*node.decorator_list, keeper]
        module = ast.Module([node], [])
        flags = self.flags
        code: CodeType = compile(module, self.filename, "exec", flags=flags, dont_inherit=True)
        return code

    @contextmanager
    def keeping(self, kept: FunctionType | None) -> Iterator[None]:
        """While a statement compiled by :meth:`redecorated` runs: its keeper is bound in the
        namespace, taking the fresh function the ``def`` made and handing the decorators
        ``kept`` instead, with the fresh code adopted (or the fresh one, if it cannot be)."""
        if kept is not None:
            held = kept

            def keeper(fresh: Any) -> Any:
                ok = isinstance(fresh, FunctionType) and adopt(self.journal, held, fresh)
                return held if ok else fresh

            self.ns[_KEEPER] = keeper
        try:
            yield
        finally:
            self.ns.pop(_KEEPER, None)
