"""What a module's source is made of, statement by statement (SPEC §1.5).

:class:`ModuleIndex` reads one source text once: its top-level statements (and, inside each
class statement, its body, recursively), the exact text of each (decorators included), the
names each binds, and what each reads *at import time* (:mod:`.reads`). Module-level
functions keep the global names their bodies read, for the transitive rule ("editing
``def load()`` re-runs ``DATA = load()``"). What changed between two indexes is
:mod:`.diff`'s part.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import CodeType

from ipython_hotreload.core.source.reads import (
    ANNOTATIONS_FLAG,
    CALLBACKS,
    BodyReads,
    absolute_module,
    body_reads,
    bound_names,
    future_flags,
    import_time_reads,
    unsafe_reason,
    wholes,
)

__all__ = [
    "ModuleIndex",
    "Readings",
    "Statement",
    "callback_holders",
    "factories",
    "function_texts",
    "import_marker",
]

_ReadsKey = tuple[str, bool, int]  # a statement's text, lazy annotations, its column
# What a dependent keeps of each top-level statement: its loads, its calls, and (when it
# calls something) the names it binds.
StatementReads = tuple[frozenset[str], frozenset[str], frozenset[str]]
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass
class Statement:
    """One statement of a module or class body."""

    node: ast.stmt
    text: str  # exact source, decorators included
    header: str  # a def's or class's decorator lines (and a class's own line); else ""
    start: int  # first line (the first decorator's line)
    end: int
    name: str | None  # the name a def or class binds
    loads: frozenset[str]  # names (and dotted attribute chains) read at import time
    calls: frozenset[str]  # those of them called at import time (decorators included)
    body: list[Statement] | None = None  # a class statement's body
    shift: int = 0  # lines the text moved since ``node`` was parsed (a spliced index)
    # (file name, future flags, code) of the statement compiled alone, once it ran
    code: tuple[str, int, CodeType] | None = field(default=None, repr=False, compare=False)
    # ``node`` holds nodes of several parses (a class whose members were spliced): the
    # statement is parsed again from its text when it must compile
    reparse: bool = False
    _unsafe: str | bool | None = field(default=False, repr=False, compare=False)

    @property
    def is_def(self) -> bool:
        return isinstance(self.node, _DEFS)

    @property
    def is_class(self) -> bool:
        return isinstance(self.node, ast.ClassDef)

    @property
    def unsafe(self) -> str | None:
        """Why running this statement alone could not vouch for the result (SPEC 1.5
        rule 6), or None; read once per statement (its node does not change)."""
        if self._unsafe is False:
            self._unsafe = unsafe_reason(self.node)
        return self._unsafe  # type: ignore[return-value]

    def located(self) -> ast.stmt:
        """The node with the statement's line numbers as they are now (what compiles)."""
        if self.reparse:  # a top-level statement: its text parses on its own
            tree = ast.parse("\n" * (self.start - 1) + self.text)
            self.node, self.shift, self.reparse = tree.body[0], 0, False
        elif self.shift:
            node = copy.deepcopy(self.node)
            ast.increment_lineno(node, self.shift)
            self.node, self.shift = node, 0
        return self.node

    def compiled(self, filename: str, flags: int) -> CodeType:
        """The statement compiled alone, as a module (kept: a dependent's statement that
        reads a constant runs on every edit of that constant)."""
        kept = self.code
        if kept is not None and kept[0] == filename and kept[1] == flags:
            return kept[2]
        code: CodeType = compile(
            ast.Module([self.located()], []), filename, "exec", flags=flags, dont_inherit=True
        )
        self.code = (filename, flags, code)
        return code

    def moved(self, delta: int) -> Statement:
        """The same statement, ``delta`` lines further down."""
        if not delta:
            return self
        body = None if self.body is None else [b.moved(delta) for b in self.body]
        return replace(
            self,
            start=self.start + delta,
            end=self.end + delta,
            shift=self.shift + delta,
            body=body,
            code=None,
        )


class ModuleIndex:
    """One source text of a module, read statement by statement."""

    def __init__(
        self,
        text: str,
        tree: ast.Module,
        package: str | None,
        previous: ModuleIndex | None = None,
        *,
        kept: Mapping[int, tuple[Statement, int]] | None = None,
        lines: list[str] | None = None,
    ) -> None:
        """``previous``: an index of an earlier text of the module, whose readings of
        statements with the same text are reused; ``kept``: ``id(node)`` of nodes of
        ``tree.body`` taken from ``previous`` -> (their statement there, lines they moved):
        they are not read again (see :mod:`.splice`); ``lines``: the text's, if split."""
        self.text = text
        self.tree = tree
        self.package = package
        self._lines = lines if lines is not None else text.splitlines(keepends=True)
        self.future_flags = future_flags(tree)
        lazy = bool(self.future_flags & ANNOTATIONS_FLAG)
        # What a statement reads depends on its text alone, and an edit leaves most of them
        # as they were: the previous index of the module lends its readings.
        self._known_reads: dict[_ReadsKey, tuple[frozenset[str], frozenset[str]]] = {}
        known_bodies: dict[str, BodyReads] = {}
        if previous is not None and previous.future_flags == self.future_flags:
            if not kept:  # (a splice reads only the statements it parsed: new texts)
                self._known_reads = previous._readings()
            known_bodies = {
                s.text: BodyReads(
                    previous.function_reads[s.name],
                    previous.function_later.get(s.name, frozenset()),
                )
                for s in previous.statements
                if s.is_def and s.name in previous.function_reads
            }
        kept = kept or {}
        self.statements: list[Statement] = []
        for node in tree.body:
            reused = kept.get(id(node))
            if reused is not None:
                self.statements.append(reused[0].moved(reused[1]))
            else:
                self.statements.append(self._statement(node, lazy))
        #: module-level function name -> global names (and dotted chains) its body reads
        self.function_reads: dict[str, frozenset[str]] = {}
        #: module-level function name -> the ``".m"`` markers of the callbacks it returns
        #: (only the functions that return some)
        self.function_later: dict[str, frozenset[str]] = {}
        self._read_bodies(known_bodies)
        self._known_reads = {}  # lent for the build only
        #: local dotted prefix -> the absolute module name it stands for
        self.module_aliases: dict[str, str] = {}
        #: (absolute module, name, local alias) of every top-level ``from m import name``
        self.from_imports: list[tuple[str, str, str]] = []
        self.star_imports: set[str] = set()
        for node in tree.body:
            self._imports(node)

    def _read_bodies(self, known: dict[str, BodyReads]) -> None:
        for stmt in self.statements:
            if isinstance(stmt.node, _DEFS) and stmt.name is not None:
                reads = known.get(stmt.text)
                if reads is None:
                    reads = body_reads(stmt.node)
                self.function_reads[stmt.name] = reads.now
                if reads.later:
                    self.function_later[stmt.name] = reads.later

    def with_members(
        self, old: Statement, node: ast.ClassDef, kept: Mapping[int, Statement]
    ) -> Statement:
        """``old``, a top-level class of an earlier text, with the body ``node`` holds now:
        the members in ``kept`` (by ``id`` of their node, already moved) as they were, the
        others read from this text."""
        lazy = bool(self.future_flags & ANNOTATIONS_FLAG)
        body = [kept.get(id(n)) or self._statement(n, lazy) for n in node.body]
        end = body[-1].end  # a class ends where its last member does
        loads, calls = import_time_reads(node, lazy)
        return replace(
            old,
            node=node,
            text="".join(self._lines[old.start - 1 : end]),
            end=end,
            loads=loads,
            calls=calls,
            body=body,
            shift=0,
            code=None,
            reparse=True,
            _unsafe=False,
        )

    @property
    def lines(self) -> list[str]:
        """The text's lines, line ends kept."""
        return self._lines

    def _readings(self) -> dict[_ReadsKey, tuple[frozenset[str], frozenset[str]]]:
        """Every statement's import-time reads (class bodies too), by its text."""
        lazy = bool(self.future_flags & ANNOTATIONS_FLAG)
        out: dict[_ReadsKey, tuple[frozenset[str], frozenset[str]]] = {}
        stack = list(self.statements)
        while stack:
            s = stack.pop()
            out[(s.text, lazy, s.node.col_offset)] = (s.loads, s.calls)
            if s.body:
                stack.extend(s.body)
        return out

    def reads_any(self, rebound: set[str], changed: set[str]) -> bool:
        """Does any top-level statement read one of ``rebound``, or call one of ``changed``
        (directly or through a module-level function whose code reads either) at import
        time? If not, a change of those names runs nothing here."""
        held = self.callback_holders(rebound | changed)
        pairs = [(s.loads, s.calls) for s in self.statements]
        return _reads_any(pairs, self.function_reads, held, rebound, changed)

    def callback_holders(self, hot: set[str]) -> set[str]:
        """The names top-level statements bound by calling a factory whose callbacks call
        changed code (:func:`callback_holders`)."""
        made = factories(self.function_reads, self.function_later, hot)
        out: set[str] = set()
        for s in self.statements if made else ():
            if s.calls & made:
                out |= bound_names(s.node)
        return out

    def _records(self) -> list[StatementReads]:
        return [
            (s.loads, s.calls, frozenset(bound_names(s.node)) if s.calls else frozenset())
            for s in self.statements
        ]

    def readings(self) -> Readings:
        """What a dependent needs to know of this text to tell whether a change elsewhere
        runs any of it, without the syntax tree."""
        return Readings(
            self._records(),
            self.function_reads,
            self.function_later,
            self.module_aliases,
            self.from_imports,
            self.star_imports,
        )

    def _statement(self, node: ast.stmt, lazy_annotations: bool) -> Statement:
        start = _first_line(node)
        end = node.end_lineno or node.lineno
        text = "".join(self._lines[start - 1 : end])
        header = ""
        body: list[Statement] | None = None
        name: str | None = None
        if isinstance(node, (*_DEFS, ast.ClassDef)):
            name = node.name
            first_body = _first_line(node.body[0]) if node.body else end + 1
            header = "".join(self._lines[start - 1 : node.lineno - 1])
            if isinstance(node, ast.ClassDef):
                header = "".join(self._lines[start - 1 : max(node.lineno, first_body - 1)])
                body = [self._statement(s, lazy_annotations) for s in node.body]
        cached = self._known_reads.get((text, lazy_annotations, node.col_offset))
        if cached is None:
            cached = import_time_reads(node, lazy_annotations)
        loads, calls = cached
        if isinstance(node, ast.ImportFrom):
            base = absolute_module(node.module, node.level, self.package)
            if base is not None:
                loads = loads | {import_marker(base)}
        return Statement(node, text, header, start, end, name, loads, calls, body)

    def _imports(self, node: ast.stmt | ast.ExceptHandler) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.module_aliases[alias.asname] = alias.name
                else:
                    parts = alias.name.split(".")
                    for i in range(1, len(parts) + 1):
                        self.module_aliases[".".join(parts[:i])] = ".".join(parts[:i])
        elif isinstance(node, ast.ImportFrom):
            base = absolute_module(node.module, node.level, self.package)
            if base is None:
                return
            for alias in node.names:
                if alias.name == "*":
                    self.star_imports.add(base)
                else:
                    self.from_imports.append((base, alias.name, alias.asname or alias.name))
        elif isinstance(node, ast.If | ast.Try | ast.ExceptHandler):
            # (an ImportError fallback's import is one of the module's imports too)
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt | ast.ExceptHandler):
                    self._imports(child)


class Readings:
    """A module text's import-time reads and imports, without its syntax tree (kept for
    each dependent, which mostly never runs a statement: a tree costs ten times as much)."""

    __slots__ = (
        "from_imports",
        "function_later",
        "function_reads",
        "module_aliases",
        "star_imports",
        "statements",
    )

    def __init__(
        self,
        statements: list[StatementReads],
        function_reads: dict[str, frozenset[str]],
        function_later: dict[str, frozenset[str]],
        module_aliases: dict[str, str],
        from_imports: list[tuple[str, str, str]],
        star_imports: set[str],
    ) -> None:
        self.statements = statements  # (loads, calls, binds) of each top-level statement
        self.function_reads = function_reads
        self.function_later = function_later
        self.module_aliases = module_aliases
        self.from_imports = from_imports
        self.star_imports = star_imports

    def reads_any(self, rebound: set[str], changed: set[str]) -> bool:
        """As :meth:`ModuleIndex.reads_any`."""
        hot = rebound | changed
        held = callback_holders(self.statements, self.function_reads, self.function_later, hot)
        return _reads_any(self.statements, self.function_reads, held, rebound, changed)


def _reads_any(
    statements: Sequence[tuple[frozenset[str], ...]],
    function_reads: dict[str, frozenset[str]],
    held: set[str],
    rebound: set[str],
    changed: set[str],
) -> bool:
    """Does a statement (its loads and calls first) read or call what changed: directly,
    through a module-level function (transitively), or through a name ``held`` by a
    statement that called a factory whose callbacks changed (:func:`callback_holders`)?"""
    hot = rebound | changed
    rebound = wholes(rebound)
    tainted = set(held)
    grew = True
    while grew:
        grew = False
        for name, reads in function_reads.items():
            if name not in tainted and reads & (hot | tainted):
                tainted.add(name)
                grew = True
    calls = changed | tainted
    return any(s[0] & rebound or s[1] & calls for s in statements)


def factories(
    function_reads: dict[str, frozenset[str]],
    function_later: dict[str, frozenset[str]],
    hot: set[str],
) -> set[str]:
    """The names whose call returns callbacks that call changed code (``hot``): a factory
    of another module named so (``"timed.()"``, :data:`~.reads.CALLBACKS`), a module-level
    function whose returned callbacks call a changed method, and one that calls either
    (it may return what it got)."""
    found = {n[: -len(CALLBACKS)] for n in hot if n.endswith(CALLBACKS)}
    found |= {name for name, later in function_later.items() if later & hot}
    grew = bool(found)
    while grew:
        grew = False
        for name, reads in function_reads.items():
            if name not in found and reads & found:
                found.add(name)
                grew = True
    return found


def callback_holders(
    statements: list[StatementReads],
    function_reads: dict[str, frozenset[str]],
    function_later: dict[str, frozenset[str]],
    hot: set[str],
) -> set[str]:
    """The names bound by top-level statements that call a factory whose callbacks call
    changed code (:func:`factories`): ``@timed def load`` binds ``load`` to such a callback,
    so a statement calling ``load()`` at import time runs changed code, while the statement
    that made it needs not run again (its callback looks the method up when called)."""
    made = factories(function_reads, function_later, hot)
    if not made:
        return set()
    out: set[str] = set()
    for _, calls, binds in statements:
        if calls & made:
            out |= binds
    return out


def import_marker(module: str) -> str:
    """The pseudo-name a ``from module import ...`` statement reads: rebinding it makes that
    statement run again (a name it imports is gone, or a star import must be refreshed)."""
    return f"<import {module}>"


def function_texts(statements: Sequence[Statement], prefix: str = "") -> dict[str, str]:
    """The source text of every function of the payload's ``functions`` (top-level ones and
    methods of classes at any depth) by qualname; the defs sharing a qualname (a property's
    getter and setter) joined."""
    out: dict[str, str] = {}
    for s in statements:
        if s.name is None:
            continue
        qualname = prefix + s.name
        if s.is_def:
            out[qualname] = out.get(qualname, "") + s.text
        elif s.body is not None:
            out.update(function_texts(s.body, qualname + "."))
    return out


def _first_line(node: ast.stmt) -> int:
    """A statement's first line: its first decorator's, when it has any."""
    decorators: list[ast.expr] = getattr(node, "decorator_list", None) or []
    return min([d.lineno for d in decorators] + [node.lineno])
