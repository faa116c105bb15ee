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
3. walks the new statements in source order and runs the new or changed ones, and the
   unchanged ones that read at import time a name rebound so far, or call a function whose
   code changed (directly or through module-level functions reading such names). After
   each statement, a new function or class that stands for an old one is merged into it
   (:class:`~.patching.Patcher`) so the name keeps its object; a name whose object changed
   is "rebound" and may make later statements, and dependents, run.

Every change goes through the plan's :class:`~.patching.Journal` (the namespace included),
so a statement that raises leaves the module exactly as it was.

Past 400 lines on purpose: patching a function in place needs to find it (behind
decorators), compile its new ``def`` as its class would, and shift what moved; running a
statement needs the triggers and the merge. Both are one module update, on one journal.
"""

from __future__ import annotations

import ast
import copy
import os
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from types import CodeType, FunctionType, ModuleType
from typing import Any

from ipython_hotreload.core.apply.patching import Journal, Patcher
from ipython_hotreload.core.results import Mode
from ipython_hotreload.core.source.statements import (
    ModuleIndex,
    Pair,
    Statement,
    bound_names,
    diff_statements,
    function_texts,
)

__all__ = ["ModuleUpdate", "Outcome", "changes_between"]

_KEEP = "__hotreload_keep__"
_SCOPE = "__hotreload_scope{}__"
_MAX_DEPTH = 5


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
    ) -> None:
        self.journal = journal
        self.module = module
        self.ns = module.__dict__
        self.filename = filename
        self.old = old
        self.new = new
        self.outcome = Outcome("unchanged", rebound=set(rebound), code_changed=set(code_changed))
        self._external = bool(self.outcome.rebound or self.outcome.code_changed)
        self.old_ns = dict(self.ns)
        self.ran_nodes: list[ast.stmt] = []  # the statements run so far (a failed one too)
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
        for pair in pairs:
            self._patch_pair(pair, ())
        self._remove(pairs)
        for pair in pairs:
            if pair.new is None:
                continue
            if pair.status == "run" or self._triggered(pair.new):
                self._execute(pair.new)
        o = self.outcome
        # A function whose code reads what changed computes something else now: for the
        # dependents, calling it is calling changed code (SPEC 1.5 rules 3 and 5).
        tainted = self._taint() - o.rebound
        if o.rebound or o.code_changed:
            o.code_changed |= tainted
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
        elif pair.status == "patch":
            if not self._patch_function(pair.old, pair.new, path):
                pair.status = "run"  # nothing found to patch: run the def itself
                return False
        elif pair.status == "class":
            assert pair.new.name is not None
            inner = (*path, pair.new.name)
            if not all([self._patch_pair(sub, inner) for sub in pair.body]):
                pair.status = "run"
                return False
        return True

    def _method_statement(self, pair: Pair, path: tuple[str, ...]) -> bool:
        """A method added, removed or re-decorated (``statements._lone_method``): its class
        takes or loses that one attribute, and the rest of its body does not run again."""
        classes = self._classes(path)
        stmt = pair.new or pair.old
        if not classes or stmt is None or stmt.name is None:
            return False
        cls, name = classes[-1], stmt.name
        if pair.new is None:
            if name in cls.__dict__:
                self.journal.delattr(cls, name)
        else:
            obj = self._fresh_function(pair.new, path, decorated=True)
            if obj is _GONE:
                return False
            self.journal.setattr(cls, name, obj)
            set_name = getattr(type(obj), "__set_name__", None)
            if set_name is not None:  # as class creation would (not undone by a rollback)
                set_name(obj, cls, name)
        self.outcome.patched += 1
        self.outcome.rebound.add(".".join((*path, name)))
        self.outcome.code_changed.add(path[0])
        return True

    def _patch_function(self, old: Statement, new: Statement, path: tuple[str, ...]) -> bool:
        assert old.name is not None
        found = self._locate(old, path)
        if found is None:
            return False
        target, caches = found[0], found[1]
        old_doc = target.__doc__
        fresh = self._fresh_function(new, path)
        if fresh is None or not self._adopt(target, fresh):
            return False
        for cache in caches:
            cache.cache_clear()
            self.journal.on_undo(cache.cache_clear)  # results of the new code must go too
        for wrapper in found[2]:
            # functools.wraps copied the docstring onto the wrapper: it follows the new one
            if getattr(wrapper, "__doc__", None) == old_doc and wrapper is not target:
                try:
                    self.journal.setattr(wrapper, "__doc__", fresh.__doc__)
                except (AttributeError, TypeError):
                    pass
        self.outcome.patched += 1
        self.outcome.code_changed.add(path[0] if path else old.name)
        return True

    def _adopt(self, old: FunctionType, fresh: FunctionType) -> bool:
        """``old`` takes ``fresh``'s code, defaults, annotations and docstring; its own
        attributes (what its decorators put on it) stay."""
        if old.__code__.co_freevars != fresh.__code__.co_freevars:
            return False  # a closure of another shape: the def must run instead
        for old_cell, new_cell in zip(old.__closure__ or (), fresh.__closure__ or (), strict=True):
            try:
                value = new_cell.cell_contents
            except ValueError:
                continue
            if _cell_value(old_cell) is not value:
                self.journal.set_cell(old_cell, value)
        for attr in _FUNC_ATTRS:
            value = getattr(fresh, attr)
            if getattr(old, attr) is not value:
                self.journal.setattr(old, attr, value)
        return True

    def _fresh_function(
        self, stmt: Statement, path: tuple[str, ...], *, decorated: bool = False
    ) -> Any:
        """The new ``def`` compiled as its module would, minus its decorators (None if it
        is not a function then); with ``decorated``, what the whole statement binds
        (``_GONE`` if nothing)."""
        node = copy.copy(stmt.located())
        assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        if not decorated:
            node.decorator_list = [
                ast.copy_location(ast.Name(_KEEP, ast.Load()), d) for d in node.decorator_list
            ]
        scratch: dict[str, Any] = {_KEEP: _identity}
        wrapped: ast.stmt = node
        classes = self._classes(path)
        if classes is None:
            return None
        for depth in range(len(path) - 1, -1, -1):
            keyword = ast.keyword("metaclass", ast.Name(_SCOPE.format(depth), ast.Load()))
            wrapped = ast.ClassDef(path[depth], [], [keyword], [wrapped], [])
            ast.copy_location(wrapped, node)
            ast.fix_missing_locations(wrapped)
        scopes = [_ClassScope(cls) for cls in classes]
        for depth, scope in enumerate(scopes):
            # Each stand-in is named where its class statement runs: the outer body.
            outer = scopes[depth - 1].extra if depth else scratch
            outer[_SCOPE.format(depth)] = scope
            scope.extra[_KEEP] = _identity
        code = compile(
            ast.Module([wrapped], []),
            self.filename,
            "exec",
            flags=self.new.future_flags,
            dont_inherit=True,
        )
        exec(code, self.ns, scratch)
        holder: Any = scratch
        for name in path:
            holder = holder[name]
        fn = holder.get(stmt.name, _GONE)
        if decorated:
            return fn
        return fn if isinstance(fn, FunctionType) else None

    def _classes(self, path: tuple[str, ...]) -> list[type] | None:
        out: list[type] = []
        holder: Any = self.ns
        for name in path:
            cls = holder.get(name) if isinstance(holder, dict) else holder.__dict__.get(name)
            if not isinstance(cls, type):
                return None
            out.append(cls)
            holder = cls
        return out

    def _locate(
        self, old: Statement, path: tuple[str, ...]
    ) -> tuple[FunctionType, list[Any], list[Any]] | None:
        """The function object made from ``old``'s ``def``, found behind decorators, and the
        caches wrapping it on the way."""
        classes = self._classes(path)
        if classes is None:
            return None
        space: Any = classes[-1].__dict__ if classes else self.ns
        roots = [space.get(old.name)]
        node = old.node
        for d in getattr(node, "decorator_list", []):
            root = d.func if isinstance(d, ast.Call) else d
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name):
                roots.append(space.get(root.id, self.ns.get(root.id)))
        assert old.name is not None
        want = (old.name, old.start, os.path.basename(self.filename))
        for root in roots:
            hit = _search(root, want, [], set(), 0)
            if hit is not None:
                return hit
        return None

    def _shift(self, old: Statement, delta: int, path: tuple[str, ...]) -> None:
        """An unchanged definition whose lines moved: its code's line numbers follow."""
        if old.is_def:
            found = self._locate(old, path)
            if found is not None:
                fn = found[0]
                self.journal.setattr(fn, "__code__", _shifted(fn.__code__, delta))
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

    def _execute(self, stmt: Statement) -> None:
        ns = self.ns
        before = dict(ns)
        code = stmt.compiled(self.filename, self.new.future_flags)
        self.ran_nodes.append(stmt.located())
        exec(code, ns)
        self.outcome.rerun.append((stmt.start, stmt.end))
        bound = [
            k for k in ns.keys() | before.keys() if ns.get(k, _GONE) is not before.get(k, _GONE)
        ]
        attrs = {k: dict(vars(v)) for k in bound if isinstance(v := before.get(k), type)}
        # New functions and classes that stand for old ones are merged into them, and the
        # copies the statement left in containers, defaults and closures point back.
        self.outcome.replaced += Patcher(self.journal, self.module, before).merge_names(bound)
        for key in bound:
            new, old = ns.get(key, _GONE), before.get(key, _GONE)
            if new is _GONE or new is not old:
                self.outcome.rebound.add(key)
                continue
            self.outcome.code_changed.add(key)
            if key in attrs:  # the kept class's attributes whose objects changed
                now = vars(old)
                self.outcome.rebound.update(
                    f"{key}.{a}"
                    for a in attrs[key].keys() | now.keys()
                    if attrs[key].get(a, _GONE) is not now.get(a, _GONE)
                )


_GONE: Any = object()
_FUNC_ATTRS = ("__code__", "__defaults__", "__kwdefaults__", "__annotations__", "__doc__")
if sys.version_info >= (3, 12):
    _FUNC_ATTRS = (*_FUNC_ATTRS, "__type_params__")


def _cell_value(cell: Any) -> Any:
    try:
        return cell.cell_contents
    except ValueError:
        return _GONE


def _identity(obj: Any) -> Any:
    return obj


class _ClassScope:
    """Stands in for a class's metaclass while one of its methods is compiled anew: the body
    runs in a copy of the real class's namespace, and the ``__class__`` cell (``super()``)
    is the real class."""

    def __init__(self, cls: type) -> None:
        self.cls = cls
        self.extra: dict[str, Any] = {}

    def __prepare__(self, name: str, bases: tuple[type, ...], **kw: Any) -> dict[str, Any]:
        ns = {k: v for k, v in self.cls.__dict__.items() if k not in ("__dict__", "__weakref__")}
        ns.update(self.extra)
        return ns

    def __call__(self, name: str, bases: tuple[type, ...], ns: dict[str, Any], **kw: Any) -> Any:
        cell = ns.pop("__classcell__", None)
        if cell is not None:
            cell.cell_contents = self.cls
        return ns


def _search(
    obj: Any, want: tuple[str, int, str], path: list[Any], seen: set[int], depth: int
) -> tuple[FunctionType, list[Any], list[Any]] | None:
    if obj is None or id(obj) in seen or depth > _MAX_DEPTH:
        return None
    seen.add(id(obj))
    if isinstance(obj, FunctionType):
        code = obj.__code__
        if (
            code.co_name == want[0]
            and code.co_firstlineno == want[1]
            and os.path.basename(code.co_filename) == want[2]
        ):
            caches = [w for w in path if callable(getattr(w, "cache_clear", None))]
            wrappers = [w for w in path if getattr(w, "__wrapped__", None) is not None]
            return obj, caches, wrappers
    here = [*path, obj]
    for child in _children(obj):
        hit = _search(child, want, here, seen, depth + 1)
        if hit is not None:
            return hit
    return None


def _children(obj: Any) -> list[Any]:
    """What may hold the function a decorator wrapped."""
    if isinstance(obj, (str, bytes, int, float, bool, ModuleType, type)):
        return []
    out: list[Any] = []
    for attr in ("__wrapped__", "__func__", "fget", "fset", "fdel", "func", "wrapped"):
        try:
            value = getattr(obj, attr, None)
        except Exception:  # noqa: BLE001 - a descriptor's own getattr may raise anything
            continue
        if value is not None:
            out.append(value)
    if isinstance(obj, FunctionType):
        for cell in obj.__closure__ or ():
            try:
                out.append(cell.cell_contents)
            except ValueError:
                pass
        registry = obj.__dict__.get("registry")
        if registry is not None:
            out.extend(_mapping_values(registry))
        return out
    if isinstance(obj, dict):
        return [*out, *list(obj.values())[:64]]
    if isinstance(obj, (list, tuple)):
        return [*out, *list(obj)[:64]]
    d = getattr(obj, "__dict__", None)
    if isinstance(d, dict):
        out.extend(
            v
            for v in list(d.values())[:64]
            if callable(v) or isinstance(v, (dict, list, tuple)) or hasattr(v, "__dict__")
        )
    return out


def _mapping_values(mapping: Any) -> list[Any]:
    try:
        return list(mapping.values())
    except Exception:  # noqa: BLE001 - a foreign mapping may raise anything
        return []


def _shifted(code: CodeType, delta: int) -> CodeType:
    consts = tuple(_shifted(c, delta) if isinstance(c, CodeType) else c for c in code.co_consts)
    return code.replace(co_firstlineno=code.co_firstlineno + delta, co_consts=consts)
