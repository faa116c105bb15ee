"""The import scan of one file, in the standard library's C parts alone: read it, parse it,
and walk what runs at import time for the imports it makes and the names it reads.

The walk is targeted, not full: everything that runs while the module is being imported
(module-level statements and the blocks under them, class bodies, decorators, default values,
base classes, evaluated annotations) is walked for the names it reads, but function bodies are
skipped, since what they use is only reached at call time. Imports inside function bodies
still matter (they are runtime edges), so a cheap text search finds the lines that look like
import statements and only functions whose line range holds such a line are walked, and then
only statement by statement.

This module imports nothing but ``_ast``, ``bisect``, ``os`` and ``sys``, so that it also
runs as a script: the worker process of a parallel cold build
(:mod:`ipython_hotreload.core.graph.scanpool`) starts it with ``python -I -S -B treescan.py`` and
feeds it files through its pipes, where importing the package (or ``ast.py`` and ``typing``)
would cost more than the files it scans. :mod:`ipython_hotreload.core.graph.importscan` gives the
records their names and their meaning.

Past 400 lines on purpose: as the worker script it runs alone, outside the package, so it
can import no sibling module; the scanner, the file reading and the pipe protocol of the
worker have to be in this one file.
"""

from __future__ import annotations

import _ast as ast  # the classes of `ast`, without importing ast.py (a worker's start-up)
import os
import sys
from bisect import bisect_left

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import IO, Any

    _Handler = Callable[["_Scanner", Any, int], None]

__all__ = [
    "ASK_AGAIN",
    "CLASS_SCOPE",
    "FROM",
    "FUNCTION_SCOPE",
    "IMPORT",
    "MODULE_SCOPE",
    "PROTOCOL",
    "SCAN_ERRORS",
    "STAR",
    "RawRecord",
    "Result",
    "error_text",
    "frame",
    "on_disk_as_loaded",
    "read_bytes",
    "read_message",
    "scan_chunk",
    "scan_file",
    "scan_records",
]

# What kind of statement a record comes from, and where it runs: bare ints, since this
# module runs without ``enum`` in the scan worker; importscan names them (ImportKind, Scope).
IMPORT = 0  # import a.b.c [as x]
FROM = 1  # from a import b [as x]
STAR = 2  # from a import *

MODULE_SCOPE = 0  # at import time, binding a module global
CLASS_SCOPE = 1  # at import time, binding a class attribute
FUNCTION_SCOPE = 2  # only when a function is called

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


#: An import record as plain data: (kind, level, module, name, bound, scope, used), the
#: fields of :class:`~ipython_hotreload.core.graph.importscan.ImportRecord`.
RawRecord = tuple[int, int, str, str, str, int, bool]


def scan_records(tree: ast.Module, source: bytes | None) -> list[RawRecord]:
    """The import records of a parsed module. ``source`` is its text (UTF-8), used to find
    the imports inside function bodies without walking every function (None: walk them all)."""
    scanner = _Scanner(source)
    scanner.body(tree.body, MODULE_SCOPE)
    reads = scanner.reads
    return [(*r, r[5] != FUNCTION_SCOPE and r[4] in reads) for r in scanner.records]


def import_time_reads(
    stmts: list[ast.stmt], *, class_body: bool = False, evaluate_annotations: bool = True
) -> set[str]:
    """The names the import-time code of some statements (of a module, or of a class body)
    reads, as a scan of their module counts them for the ``used`` flags of its records."""
    scanner = _Scanner(b"")  # no text holds an import: function bodies are not walked
    scanner.evaluate_annotations = evaluate_annotations
    scanner.body(stmts, CLASS_SCOPE if class_body else MODULE_SCOPE)
    return scanner.reads


def error_text(exc: BaseException) -> str:
    """How a file that could not be read or parsed is reported."""
    if isinstance(exc, SyntaxError):
        return f"{type(exc).__name__}: {exc.msg} (line {exc.lineno})"
    return f"{type(exc).__name__}: {exc}"


#: The errors that make a file unscannable (anything else is a bug and propagates).
SCAN_ERRORS = (SyntaxError, OSError, ValueError, RecursionError, MemoryError)


#: (records, None) for a file that was scanned, (None, why) for one that could not be.
Result = tuple[list[RawRecord] | None, str | None]


def scan_file(path: str | bytes, source: bytes | str | None, size_hint: int = -1) -> Result:
    """Parse and scan one file: ``source`` (its bytes, or text), else its bytes on disk."""
    try:
        if source is None:
            source = read_bytes(path, size_hint)
        tree = compile(source, path, "exec", ast.PyCF_ONLY_AST)  # what ast.parse does
        if isinstance(source, str):
            source = source.encode("utf-8", "surrogatepass")
        return scan_records(tree, source), None  # type: ignore[arg-type]  # "exec": a Module
    except SCAN_ERRORS as exc:
        return None, error_text(exc)


def scan_chunk(files: Sequence[tuple[str, int]]) -> list[Result]:
    """:func:`scan_file` of each ``(path, size)``, all of them read first."""
    return [scan_file(p, d, size) for (p, size), d in zip(files, read_all(files), strict=True)]


def read_all(files: Sequence[tuple[str | bytes, int]]) -> list[bytes | None]:
    """The bytes of each ``(path, size)`` (None: unreadable), read before any is parsed: a
    system call between two parses costs the next one its warm caches (benchmarks/RESULTS.md,
    "Figures behind the code")."""
    data: list[bytes | None] = []
    for path, size in files:
        try:
            data.append(read_bytes(path, size))
        except OSError:
            data.append(None)
    return data


def read_bytes(path: str | bytes, size_hint: int) -> bytes:
    """The bytes of a file, read with ``os.read`` sized by the last stat (cheaper than
    ``open().read()``, which matters over thousands of small files)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))  # no newline translation
    try:
        want = (size_hint if size_hint >= 0 else os.fstat(fd).st_size) + 1
        data = os.read(fd, want)
        if len(data) < want:  # a short read of a regular file is its end
            return data
        chunks = [data]  # it grew since the stat
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


# -- the worker process ------------------------------------------------------------------------
# Messages on both pipes are a 4-byte little-endian length and that many bytes of `marshal`.
# The worker says hello, (interpreter version, PROTOCOL); it is sent the files of the build
# once, [(path as bytes, size)]; then each request, a (start, end) range of them, gets a list
# of results in the same order. Requests stay a few bytes, so neither side can block writing
# while the other does. None (or the end of its input) stops it.

#: Bump when the messages or the records change shape.
PROTOCOL = 1

#: A worker's answer for a file it leaves to the process that asked: one it could not read
#: (the error names the path, which is that process's to word) or whose parse warned (whether
#: a warning is an error is for that process's warnings filters to say).
ASK_AGAIN: Result = (None, None)


def _stamp() -> tuple[int, int] | None:
    try:
        st = os.stat(__file__)
    except OSError:
        return None
    return st.st_mtime_ns, st.st_size


_LOADED_FROM = _stamp()


def on_disk_as_loaded() -> bool:
    """Whether this file on disk is still the one this process imported: a worker runs the
    file, which must be the code this process runs (an upgrade or an edit since is not)."""
    return _LOADED_FROM is not None and _stamp() == _LOADED_FROM


def read_message(stream: IO[bytes]) -> bytes | None:
    """One framed message from a binary stream (None at its end)."""
    head = stream.read(4)
    if len(head) < 4:
        return None
    size = int.from_bytes(head, "little")
    body = stream.read(size)
    return body if len(body) == size else None


def frame(data: bytes) -> bytes:
    """``data`` as a framed message."""
    return len(data).to_bytes(4, "little") + data


def _worker() -> None:
    import gc
    import marshal
    import warnings

    gc.disable()  # syntax trees hold no cycles; reference counting frees them
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    stdout.write(frame(marshal.dumps((sys.hexversion, PROTOCOL))))
    stdout.flush()
    files = marshal.loads(read_message(stdin) or marshal.dumps([]))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        while (message := read_message(stdin)) is not None:
            request = marshal.loads(message)
            if request is None:
                break
            chunk = files[request[0] : request[1]]
            answer: list[Result] = []
            for (path, size), data in zip(chunk, read_all(chunk), strict=True):
                caught.clear()
                result = ASK_AGAIN if data is None else scan_file(path, data, size)
                answer.append(ASK_AGAIN if caught else result)
            stdout.write(frame(marshal.dumps(answer)))
            stdout.flush()


if __name__ == "__main__":
    _worker()
