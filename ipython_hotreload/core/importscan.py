"""Import scanning: one parsed module -> the imports it makes and whether it uses them at
import time; and how strongly those imports tie it to the project's other modules.

The scan is a targeted walk, not a full one: everything that runs while the module is being
imported (module-level statements and the blocks under them, class bodies, decorators,
default values, base classes, evaluated annotations) is walked for the names it reads, but
function bodies are skipped, since what they use is only reached at call time. Imports inside
function bodies still matter (they are runtime edges), so a cheap text search finds the
lines that look like import statements and only functions whose line range holds such a
line are walked, and then only statement by statement.

The records are independent of the rest of the project, so they can be cached per file.
What they mean does depend on it (``from a import b`` imports module ``a.b`` only when there
is one): :func:`strengths` and :func:`bound_names` read records against the set of project
modules.
"""

from __future__ import annotations

import ast
import sys
from bisect import bisect_left
from collections.abc import Callable, Container
from typing import Any, NamedTuple

__all__ = [
    "CLASS_SCOPE",
    "FROM",
    "FUNCTION_SCOPE",
    "IMPORT",
    "MODULE_SCOPE",
    "STAR",
    "ImportRecord",
    "absolute_base",
    "bound_names",
    "project_module",
    "scan_source",
    "scan_tree",
    "strengths",
]

# What kind of statement a record comes from.
IMPORT = 0  # import a.b.c [as x]
FROM = 1  # from a import b [as x]
STAR = 2  # from a import *

# Where the import statement runs.
MODULE_SCOPE = 0  # at import time, binding a module global
CLASS_SCOPE = 1  # at import time, binding a class attribute
FUNCTION_SCOPE = 2  # only when a function is called


class ImportRecord(NamedTuple):
    """One imported name: ``from <level dots><module> import <name> as <bound>`` or
    ``import <module> as <bound>`` (then ``name`` is empty)."""

    kind: int
    level: int
    module: str
    name: str
    bound: str
    scope: int
    used: bool  # the bound name is read by code that runs at import time


# Module-level aliases: one global lookup instead of two in the hot loops.
_AST, _Name, _Constant, _Lambda, _Load = ast.AST, ast.Name, ast.Constant, ast.Lambda, ast.Load
_FunctionDef, _AsyncFunctionDef, _Expr = ast.FunctionDef, ast.AsyncFunctionDef, ast.Expr
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def _child_fields(t: type) -> tuple[str, ...]:
    fields = _CHILD_FIELDS.get(t)
    if fields is None:
        fields = tuple(f for f in getattr(t, "_fields", ()) if f != "ctx")
        _CHILD_FIELDS[t] = fields
    return fields


def _read_names(node: ast.AST | None, out: set[str]) -> None:
    """Add to ``out`` every name read by the expression (or simple statement) ``node``, except
    inside lambda bodies, which run later."""
    t = type(node)
    if t is _Name:  # the common case (decorators, defaults, annotations): no stack
        if type(node.ctx) is _Load:  # type: ignore[union-attr]
            out.add(node.id)  # type: ignore[union-attr]
        return
    if node is None or t is _Constant:
        return
    stack: list[ast.AST] = [node]
    pop, push, extend = stack.pop, stack.append, stack.extend
    while stack:
        n = pop()
        t = type(n)
        if t is _Name:
            if type(n.ctx) is _Load:  # type: ignore[attr-defined]
                out.add(n.id)  # type: ignore[attr-defined]
        elif t is _Constant:
            continue
        elif t is _Lambda:
            args: ast.arguments = n.args  # type: ignore[attr-defined]
            extend(args.defaults)
            extend(d for d in args.kw_defaults if d is not None)
        else:
            for field in _CHILD_FIELDS.get(t) or _child_fields(t):
                value = getattr(n, field, None)
                if isinstance(value, _AST):
                    push(value)
                elif value and isinstance(value, list):
                    extend(v for v in value if isinstance(v, _AST))


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


def _import_lines(source: bytes) -> list[int] | None:
    """Line numbers (1-based, sorted) of the lines where the word ``import`` is followed by
    what an import statement puts after it (a space, a tab, ``(`` or ``\\``), except after
    ``>>> `` (doctest examples). None when lines cannot be counted by ``\\n`` (old Mac line
    ends). Prose that still matches only costs a statement-level walk of one function."""
    if b"\r" in source and source.count(b"\r") != source.count(b"\r\n"):
        return None
    lines: list[int] = []
    find, count = source.find, source.count
    line, counted = 1, 0
    i = find(b"import")
    while i >= 0:
        if _looks_like_import(source, i):
            line += count(b"\n", counted, i)
            counted = i
            if not lines or lines[-1] != line:
                lines.append(line)
        i = find(b"import", i + 6)
    return lines


def _last_import_line(source: bytes) -> int:
    """The line of the last match of :func:`_import_lines` (0: none; ``sys.maxsize`` when
    lines cannot be counted): functions that start after it hold no import, which in most
    modules (imports at the top) settles every function without listing the lines."""
    if b"\r" in source and source.count(b"\r") != source.count(b"\r\n"):
        return sys.maxsize
    i = source.rfind(b"import")
    while i >= 0 and not _looks_like_import(source, i):
        i = source.rfind(b"import", 0, i)
    return source.count(b"\n", 0, i) + 1 if i >= 0 else 0


def _looks_like_import(source: bytes, i: int) -> bool:
    return source[i + 6 : i + 7] in _AFTER_IMPORT and source[i - 4 : i] != b">>> "


_AFTER_IMPORT = (b" ", b"\t", b"(", b"\\")


class _Scanner:
    def __init__(self, source: bytes | None) -> None:
        self.records: list[tuple[int, int, str, str, str, int]] = []
        self.reads: set[str] = set()
        # False from `from __future__ import annotations` on (it comes before any code).
        self.evaluate_annotations = True
        self.source = source
        # Functions starting after this line hold no import. With no text, every one may.
        self.last_hit = sys.maxsize
        if source is not None:
            self.last_hit = _last_import_line(source) if b"import" in source else 0
        # Lines that may hold an import, listed when first needed; None: every line may.
        self._hits: list[int] | None = None
        self._listed = False

    def hits(self) -> list[int] | None:
        if not self._listed:
            self._listed = True
            self._hits = None if self.source is None else _import_lines(self.source)
        return self._hits

    # -- import-time code --------------------------------------------------------------
    def body(self, stmts: list[ast.stmt], scope: int) -> None:
        handlers, reads = _HANDLERS, self.reads
        for s in stmts:
            t = type(s)
            if t is _FunctionDef or t is _AsyncFunctionDef:
                # Most functions have nothing evaluated at import time and start after the
                # last line that looks like an import: settle those without a call.
                if (
                    s.decorator_list  # type: ignore[attr-defined]
                    or s.args.defaults  # type: ignore[attr-defined]
                    or s.args.kw_defaults  # type: ignore[attr-defined]
                    or self.evaluate_annotations
                    or s.lineno <= self.last_hit
                ):
                    self.function(s, scope)  # type: ignore[arg-type]
            elif t is _Expr:
                if type(s.value) is not _Constant:  # type: ignore[attr-defined]
                    _read_names(s.value, reads)  # type: ignore[attr-defined]
            else:
                handler = handlers.get(t)
                if handler is None:
                    _read_names(s, reads)
                else:
                    handler(self, s, scope)

    def assign(self, s: ast.Assign, scope: int) -> None:
        reads = self.reads
        for target in s.targets:
            if type(target) is not _Name:  # `a.b = ...` and `a[i] = ...` read `a`
                _read_names(target, reads)
        _read_names(s.value, reads)

    def aug_assign(self, s: ast.AugAssign, scope: int) -> None:
        target = s.target  # `x += 1` reads `x` first
        if type(target) is _Name:
            self.reads.add(target.id)
        else:
            _read_names(target, self.reads)
        _read_names(s.value, self.reads)

    def ann_assign(self, s: ast.AnnAssign, scope: int) -> None:
        _read_names(s.target, self.reads)
        _read_names(s.value, self.reads)
        if self.evaluate_annotations:
            _read_names(s.annotation, self.reads)

    def klass(self, s: ast.ClassDef, scope: int) -> None:
        reads = self.reads
        for e in s.decorator_list:
            _read_names(e, reads)
        for e in s.bases:
            _read_names(e, reads)
        for k in s.keywords:
            _read_names(k.value, reads)
        self.body(s.body, CLASS_SCOPE)

    def if_(self, s: ast.If, scope: int) -> None:
        if _is_type_checking(s.test):
            self.body(s.orelse, scope)  # the body never runs: its imports make no edge
        else:
            _read_names(s.test, self.reads)
            self.body(s.body, scope)
            self.body(s.orelse, scope)

    def try_(self, s: ast.Try | ast.TryStar, scope: int) -> None:
        self.body(s.body, scope)
        for h in s.handlers:
            _read_names(h.type, self.reads)
            self.body(h.body, scope)
        self.body(s.orelse, scope)
        self.body(s.finalbody, scope)

    def with_(self, s: ast.With | ast.AsyncWith, scope: int) -> None:
        for item in s.items:
            _read_names(item.context_expr, self.reads)
            _read_names(item.optional_vars, self.reads)
        self.body(s.body, scope)

    def loop(self, s: ast.For | ast.AsyncFor | ast.While, scope: int) -> None:
        if isinstance(s, ast.While):
            _read_names(s.test, self.reads)
        else:
            _read_names(s.target, self.reads)
            _read_names(s.iter, self.reads)
        self.body(s.body, scope)
        self.body(s.orelse, scope)

    def match(self, s: ast.Match, scope: int) -> None:
        _read_names(s.subject, self.reads)
        for case in s.cases:
            _read_names(case.pattern, self.reads)
            _read_names(case.guard, self.reads)
            self.body(case.body, scope)

    def nothing(self, s: ast.stmt, scope: int) -> None:
        """``pass``, ``global``...: nothing to read."""

    def function(
        self, fn: ast.FunctionDef | ast.AsyncFunctionDef, scope: int = MODULE_SCOPE
    ) -> None:
        reads = self.reads
        if fn.decorator_list:
            for d in fn.decorator_list:
                _read_names(d, reads)
        a = fn.args
        if a.defaults:
            for d in a.defaults:
                _read_names(d, reads)
        if a.kw_defaults:
            for kd in a.kw_defaults:
                _read_names(kd, reads)
        if self.evaluate_annotations:
            for args in (a.posonlyargs, a.args, a.kwonlyargs):
                for arg in args:
                    _read_names(arg.annotation, reads)
            if a.vararg is not None:
                _read_names(a.vararg.annotation, reads)
            if a.kwarg is not None:
                _read_names(a.kwarg.annotation, reads)
            _read_names(fn.returns, reads)
        if fn.lineno > self.last_hit:
            return  # no line at or after this function looks like an import
        hits = self.hits()
        if hits is None:
            self.call_time_imports(fn.body)
        elif hits:
            i = bisect_left(hits, fn.lineno)
            end = fn.end_lineno if fn.end_lineno is not None else fn.lineno
            if i < len(hits) and hits[i] <= end:
                self.call_time_imports(fn.body)

    def imports(self, s: ast.stmt, scope: int) -> None:
        add = self.records.append
        if isinstance(s, ast.Import):
            for a in s.names:
                add((IMPORT, 0, a.name, "", a.asname or a.name.partition(".")[0], scope))
            return
        assert isinstance(s, ast.ImportFrom)
        module = s.module or ""
        if module == "__future__" and not s.level:
            # Future imports come first: every annotation after this one is a string.
            if any(a.name == "annotations" for a in s.names):
                self.evaluate_annotations = False
            return
        for a in s.names:
            if a.name == "*":
                add((STAR, s.level, module, "*", "*", scope))
            else:
                add((FROM, s.level, module, a.name, a.asname or a.name, scope))

    # -- call-time code: only imports matter -------------------------------------------
    def call_time_imports(self, stmts: list[ast.stmt]) -> None:
        stack = [stmts]
        while stack:
            for s in stack.pop():
                if isinstance(s, ast.Import | ast.ImportFrom):
                    self.imports(s, FUNCTION_SCOPE)
                elif isinstance(s, ast.If) and _is_type_checking(s.test):
                    stack.append(s.orelse)
                else:
                    for field in ("body", "orelse", "finalbody"):
                        sub = getattr(s, field, None)
                        if isinstance(sub, list) and sub and isinstance(sub[0], ast.stmt):
                            stack.append(sub)
                    for h in getattr(s, "handlers", ()):
                        stack.append(h.body)
                    for c in getattr(s, "cases", ()):
                        stack.append(c.body)


_Handler = Callable[[_Scanner, Any, int], None]
_HANDLERS: dict[type, _Handler] = {
    ast.Import: _Scanner.imports,
    ast.ImportFrom: _Scanner.imports,
    ast.FunctionDef: _Scanner.function,
    ast.AsyncFunctionDef: _Scanner.function,
    ast.ClassDef: _Scanner.klass,
    ast.Assign: _Scanner.assign,
    ast.AnnAssign: _Scanner.ann_assign,
    ast.AugAssign: _Scanner.aug_assign,
    ast.If: _Scanner.if_,
    ast.Try: _Scanner.try_,
    ast.TryStar: _Scanner.try_,
    ast.With: _Scanner.with_,
    ast.AsyncWith: _Scanner.with_,
    ast.For: _Scanner.loop,
    ast.AsyncFor: _Scanner.loop,
    ast.While: _Scanner.loop,
    ast.Match: _Scanner.match,
    ast.Pass: _Scanner.nothing,
    ast.Global: _Scanner.nothing,
    ast.Nonlocal: _Scanner.nothing,
}


def scan_tree(tree: ast.Module, source: bytes | str | None) -> list[ImportRecord]:
    """The import records of a parsed module. ``source`` is its text, used to find the
    imports inside function bodies without walking every function (None: walk them all)."""
    data = source.encode("utf-8", "surrogatepass") if isinstance(source, str) else source
    scanner = _Scanner(data)
    scanner.body(tree.body, MODULE_SCOPE)
    reads = scanner.reads
    new = tuple.__new__  # ImportRecord(...) goes through a Python-level __new__
    return [
        new(ImportRecord, (*r, r[5] != FUNCTION_SCOPE and r[4] in reads)) for r in scanner.records
    ]


def absolute_base(record: ImportRecord, module: str, is_package: bool) -> str | None:
    """The absolute module a record imports from (``import x`` -> ``x``; ``from ..a import b``
    in ``p.q.m`` -> ``p.a``), or None when a relative import climbs above the top package."""
    if not record.level:
        return record.module
    parts = module.split(".")
    drop = record.level - 1 if is_package else record.level
    if drop >= len(parts):
        return None
    base = parts[: len(parts) - drop]
    if record.module:
        base.append(record.module)
    return ".".join(base)


def project_module(name: str, modules: Container[str]) -> str | None:
    """The most specific of ``modules`` that ``name`` or one of its parents names."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def strengths(
    records: list[ImportRecord], module: str, is_package: bool, modules: Container[str]
) -> dict[str, int]:
    """What ``module`` imports among ``modules`` (the project), each with the strength of
    its strongest import (section 3 of the spec): 2 compile (a name used at import time, a
    star import), 1 export (a name taken but used later), 0 runtime (a module object used
    later, or any import inside a function)."""
    best: dict[str, int] = {}
    for r in records:
        base = absolute_base(r, module, is_package)
        if base is None:
            continue
        if r.kind == FROM and f"{base}.{r.name}" in modules:
            target: str | None = f"{base}.{r.name}"  # a module object: survives a reload
            rank = 2 if r.used else 0
        else:
            target = project_module(base, modules)
            if r.kind == STAR:
                rank = 2
            elif r.kind == FROM:
                rank = 2 if r.used or r.scope == CLASS_SCOPE else 1
            else:
                rank = 2 if r.used else 0
        if r.scope == FUNCTION_SCOPE:
            rank = 0
        if target is not None and target != module and best.get(target, -1) < rank:
            best[target] = rank
    return best


def bound_names(
    records: list[ImportRecord],
    module: str,
    is_package: bool,
    target: str,
    modules: Container[str],
) -> list[tuple[str, str]]:
    """``[(name, alias)]`` for each ``from target import name as alias`` that ``module`` runs
    at import time at module level, where ``target.name`` is not one of ``modules``."""
    out: list[tuple[str, str]] = []
    for r in records:
        if r.kind != FROM or r.scope != MODULE_SCOPE:
            continue
        base = absolute_base(r, module, is_package)
        if base is None or f"{base}.{r.name}" in modules:
            continue
        if project_module(base, modules) == target and (r.name, r.bound) not in out:
            out.append((r.name, r.bound))
    return out


def scan_source(source: bytes | str, module: str, is_package: bool) -> list[ImportRecord]:
    """Parse ``source`` (of module ``module``) and return its import records with relative
    imports made absolute (level 0). Raises ``SyntaxError`` when it does not parse."""
    tree = ast.parse(source)
    out: list[ImportRecord] = []
    for r in scan_tree(tree, source):
        base = absolute_base(r, module, is_package)
        if base is not None:
            out.append(r._replace(level=0, module=base))
    return out
