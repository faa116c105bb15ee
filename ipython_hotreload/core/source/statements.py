"""What a module's source is made of, statement by statement, and what changed between two
versions of it (SPEC §1.5).

:class:`ModuleIndex` reads one source text once: its top-level statements (and, inside each
class statement, its body, recursively), the exact text of each (decorators included), the
names each binds, and what each reads *at import time* (decorators, defaults, annotations,
class bodies, comprehensions; never a function's body). Reads are kept as dotted strings
("b", "b.SCALE") so a dependent's ``b.SCALE`` can be matched against a change of ``SCALE`` in
module ``b``. Module-level functions keep the global names their bodies read, for the
transitive rule ("editing ``def load()`` re-runs ``DATA = load()``").

:func:`diff_statements` pairs the statements of two indexes: unchanged (same text),
``patch`` (a ``def`` whose decorator lines are the same but whose text is not: only its
function object is updated), ``class`` (a class whose header is the same and whose body
changed only in method bodies: recursed into), ``run`` (new or changed: it runs) and
``removed``. :func:`full_reason` says when a statement-level update cannot vouch for the
result.

Past 400 lines on purpose: the index (what each statement binds and reads at import time)
and the diff that pairs two indexes share the one reading of statements they are built on.
"""

from __future__ import annotations

import ast
import copy
import difflib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import CodeType
from typing import Literal

__all__ = [
    "ModuleIndex",
    "Pair",
    "Statement",
    "bound_names",
    "diff_statements",
    "full_reason",
    "function_texts",
    "import_marker",
]

Status = Literal["same", "patch", "class", "run", "removed"]

_ReadsKey = tuple[str, bool, int]  # a statement's text, lazy annotations, its column
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
            self._unsafe = _unsafe_statement(self.node)
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


@dataclass
class Pair:
    """An old statement and the new one it became (either may be missing)."""

    status: Status
    old: Statement | None
    new: Statement | None
    body: list[Pair] = field(default_factory=list)  # for "class": the body's pairs


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
    ) -> None:
        """``previous``: an index of an earlier text of the module, whose readings of
        statements with the same text are reused; ``kept``: ``id(node)`` of nodes of
        ``tree.body`` taken from ``previous`` -> (their statement there, lines they moved):
        they are not read again (see :mod:`.splice`)."""
        self.text = text
        self.tree = tree
        self.package = package
        self._lines = text.splitlines(keepends=True)
        self.future_flags = _future_flags(tree)
        lazy = bool(self.future_flags & _ANNOTATIONS_FLAG)
        # What a statement reads depends on its text alone, and an edit leaves most of them
        # as they were: the previous index of the module lends its readings.
        self._known_reads: dict[_ReadsKey, tuple[frozenset[str], frozenset[str]]] = {}
        known_bodies: dict[str, frozenset[str]] = {}
        if previous is not None and previous.future_flags == self.future_flags:
            if not kept:  # (a splice reads only the statements it parsed: new texts)
                self._known_reads = previous._readings()
            known_bodies = {
                s.text: previous.function_reads[s.name]
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
        for stmt in self.statements:
            if isinstance(stmt.node, _DEFS) and stmt.name is not None:
                reads = known_bodies.get(stmt.text)
                if reads is None:
                    reads = frozenset(_body_reads(stmt.node))
                self.function_reads[stmt.name] = reads
        self._known_reads = {}  # lent for the build only
        #: local dotted prefix -> the absolute module name it stands for
        self.module_aliases: dict[str, str] = {}
        #: (absolute module, name, local alias) of every top-level ``from m import name``
        self.from_imports: list[tuple[str, str, str]] = []
        self.star_imports: set[str] = set()
        for node in tree.body:
            self._imports(node)

    def with_members(
        self, old: Statement, node: ast.ClassDef, kept: Mapping[int, Statement]
    ) -> Statement:
        """``old``, a top-level class of an earlier text, with the body ``node`` holds now:
        the members in ``kept`` (by ``id`` of their node, already moved) as they were, the
        others read from this text."""
        lazy = bool(self.future_flags & _ANNOTATIONS_FLAG)
        body = [kept.get(id(n)) or self._statement(n, lazy) for n in node.body]
        end = body[-1].end  # a class ends where its last member does
        loads, calls = _import_time_reads(node, lazy)
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
        lazy = bool(self.future_flags & _ANNOTATIONS_FLAG)
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
        hot = rebound | changed
        tainted: set[str] = set()
        grew = True
        while grew:
            grew = False
            for name, reads in self.function_reads.items():
                if name not in tainted and reads & (hot | tainted):
                    tainted.add(name)
                    grew = True
        calls = changed | tainted
        return any(s.loads & rebound or s.calls & calls for s in self.statements)

    def _statement(self, node: ast.stmt, lazy_annotations: bool) -> Statement:
        decorators = getattr(node, "decorator_list", None) or []
        start = min([d.lineno for d in decorators] + [node.lineno])
        end = node.end_lineno or node.lineno
        text = "".join(self._lines[start - 1 : end])
        header = ""
        body: list[Statement] | None = None
        name: str | None = None
        if isinstance(node, (*_DEFS, ast.ClassDef)):
            name = node.name
            first_body = node.body[0].lineno if node.body else end + 1
            header = "".join(self._lines[start - 1 : node.lineno - 1])
            if isinstance(node, ast.ClassDef):
                header = "".join(self._lines[start - 1 : max(node.lineno, first_body - 1)])
                body = [self._statement(s, lazy_annotations) for s in node.body]
        cached = self._known_reads.get((text, lazy_annotations, node.col_offset))
        if cached is None:
            cached = _import_time_reads(node, lazy_annotations)
        loads, calls = cached
        if isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, self.package)
            if base is not None:
                loads = loads | {import_marker(base)}
        return Statement(node, text, header, start, end, name, loads, calls, body)

    def _imports(self, node: ast.stmt) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    self.module_aliases[alias.asname] = alias.name
                else:
                    parts = alias.name.split(".")
                    for i in range(1, len(parts) + 1):
                        self.module_aliases[".".join(parts[:i])] = ".".join(parts[:i])
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module, node.level, self.package)
            if base is None:
                return
            for alias in node.names:
                if alias.name == "*":
                    self.star_imports.add(base)
                else:
                    self.from_imports.append((base, alias.name, alias.asname or alias.name))
        elif isinstance(node, ast.If | ast.Try):
            for child in ast.iter_child_nodes(node):
                if isinstance(child, ast.stmt):
                    self._imports(child)


def import_marker(module: str) -> str:
    """The pseudo-name a ``from module import ...`` statement reads: rebinding it makes that
    statement run again (a name it imports is gone, or a star import must be refreshed)."""
    return f"<import {module}>"


# -- the diff ------------------------------------------------------------------------------


def diff_statements(old: Sequence[Statement], new: Sequence[Statement]) -> list[Pair]:
    """Pair two statement lists: the new ones in source order (each with its old
    counterpart, if any), then the removed old ones."""
    # The same texts at both ends pair as they are (an edit is mostly one statement); the
    # sequence matcher pairs what lies between.
    limit = min(len(old), len(new))
    head = 0
    while head < limit and old[head].text == new[head].text:
        head += 1
    tail = 0
    while tail < limit - head and old[-1 - tail].text == new[-1 - tail].text:
        tail += 1
    partner: dict[int, int] = {k: k for k in range(head)}  # new index -> old index
    partner.update({len(new) - 1 - k: len(old) - 1 - k for k in range(tail)})
    middle_old, middle_new = old[head : len(old) - tail], new[head : len(new) - tail]
    if middle_old and middle_new:
        matcher = difflib.SequenceMatcher(
            None, [s.text for s in middle_old], [s.text for s in middle_new], autojunk=False
        )
        for tag, i1, i2, j1, _j2 in matcher.get_opcodes():
            if tag == "equal":
                for k in range(i2 - i1):
                    partner[head + j1 + k] = head + i1 + k
    taken = set(partner.values())
    # Definitions that changed pair by (kind, name), in order of appearance.
    free_old: dict[tuple[str, str], list[int]] = {}
    for i, s in enumerate(old):
        if i not in taken and s.name is not None:
            free_old.setdefault((_kind(s), s.name), []).append(i)
    pairs: list[Pair] = []
    for j, s in enumerate(new):
        if j in partner:
            pairs.append(Pair("same", old[partner[j]], s))
            continue
        if s.name is not None and free_old.get((_kind(s), s.name)):
            i = free_old[(_kind(s), s.name)].pop(0)
            taken.add(i)
            pairs.append(_changed_definition(old[i], s))
            continue
        pairs.append(Pair("run", None, s))
    pairs += [Pair("removed", s, None) for i, s in enumerate(old) if i not in taken]
    return pairs


def _changed_definition(old: Statement, new: Statement) -> Pair:
    if old.header != new.header:
        return Pair("run", old, new)
    if new.is_def:
        return Pair("patch", old, new)
    assert old.body is not None and new.body is not None
    body = diff_statements(old.body, new.body)
    if all(
        p.status in ("same", "patch", "class") or _lone_method(p, old.body, new.body) for p in body
    ):
        return Pair("class", old, new, body)
    return Pair("run", old, new)  # a class rebuilt from its new body


def _lone_method(pair: Pair, old_body: Sequence[Statement], new_body: Sequence[Statement]) -> bool:
    """Is ``pair`` a method added, removed, or whose decorators changed, that the class can
    take or lose as one attribute? Not when another statement of the body binds its name
    (a property's setter) or reads it (``alias = method``), nor for a ``__dunder__`` or
    private name (class creation treats those specially, or mangles them)."""
    stmt = pair.new or pair.old
    if pair.status not in ("run", "removed") or stmt is None or not stmt.is_def:
        return False
    if (pair.new is not None and not pair.new.is_def) or stmt.name is None:
        return False
    name = stmt.name
    if name.startswith("__"):
        return False
    for other in (*old_body, *new_body):
        if other is pair.old or other is pair.new:
            continue
        if other.name == name or name in other.loads:
            return False
    return True


def _kind(s: Statement) -> str:
    return "class" if s.is_class else "def"


def full_reason(old: ModuleIndex, new: ModuleIndex) -> str | None:
    """Why a statement-level update cannot vouch for the result, or None (never for the
    very same text: nothing changed, so nothing needs to run)."""
    if old.text == new.text:
        return None
    if old.future_flags != new.future_flags:
        return "a `from __future__` import changed"
    for index in (old, new):
        for s in index.statements:
            why = s.unsafe
            if why:
                return why
    return None


def _unsafe_statement(node: ast.stmt) -> str | None:
    if isinstance(node, ast.Global):
        return "a top-level `global` statement"
    if isinstance(node, ast.Delete):
        return "a top-level `del` statement"
    if isinstance(node, (*_DEFS, ast.ClassDef)):
        return None  # their bodies do not run at import time (a class body's calls do)
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Call)
            and isinstance(sub.func, ast.Name)
            and sub.func.id in ("exec", "eval")
        ):
            return f"top-level code calls `{sub.func.id}`"
    return None


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


# -- import-time reads ---------------------------------------------------------------------


_ANNOTATIONS_FLAG = getattr(__import__("__future__"), "annotations").compiler_flag


def _future_flags(tree: ast.Module) -> int:
    import __future__

    flags = 0
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            for alias in node.names:
                feature = getattr(__future__, alias.name, None)
                if feature is not None:
                    flags |= feature.compiler_flag
    return flags


def _import_time_reads(node: ast.stmt, lazy: bool) -> tuple[frozenset[str], frozenset[str]]:
    loads: set[str] = set()
    calls: set[str] = set()
    for expr in _import_time_exprs(node, lazy):
        _collect(expr, loads, calls)
    for d in _decorators(node):  # a decorator is called
        chain = _chain(d.func if isinstance(d, ast.Call) else d)
        if chain:
            calls.update(_prefixes(chain))
    return frozenset(loads), frozenset(calls)


def _decorators(node: ast.stmt) -> Iterator[ast.expr]:
    """The decorators a statement applies when it runs: its own, and those of the
    definitions in a class body (at any depth)."""
    if isinstance(node, (*_DEFS, ast.ClassDef)):
        yield from node.decorator_list
    if isinstance(node, ast.ClassDef):
        for child in node.body:
            yield from _decorators(child)


def _import_time_exprs(node: ast.AST, lazy: bool) -> Iterator[ast.AST]:
    """The parts of a statement that are evaluated when it runs."""
    if isinstance(node, _DEFS):
        yield from node.decorator_list
        args = node.args
        yield from args.defaults
        yield from (d for d in args.kw_defaults if d is not None)
        if not lazy:
            every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
            every += [a for a in (args.vararg, args.kwarg) if a is not None]
            yield from (a.annotation for a in every if a.annotation is not None)
            if node.returns is not None:
                yield node.returns
        return
    if isinstance(node, ast.ClassDef):
        yield from node.decorator_list
        yield from node.bases
        yield from (k.value for k in node.keywords)
        for stmt in node.body:
            yield from _import_time_exprs(stmt, lazy)
        return
    if isinstance(node, ast.AnnAssign) and lazy:
        yield node.target
        if node.value is not None:
            yield node.value
        return
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.stmt):
            yield from _import_time_exprs(child, lazy)
        else:
            yield child


def _collect(expr: ast.AST, loads: set[str], calls: set[str]) -> None:
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Lambda):
            stack.extend(node.args.defaults)
            stack.extend(d for d in node.args.kw_defaults if d is not None)
            continue  # its body runs when called
        if isinstance(node, ast.Call):
            chain = _chain(node.func)
            if chain:
                calls.update(_prefixes(chain))
        if isinstance(node, ast.Attribute | ast.Name):
            chain = _chain(node)
            if chain and isinstance(getattr(node, "ctx", None), ast.Load):
                loads.update(_prefixes(chain))
                continue  # a dotted name holds nothing else to read
        stack.extend(ast.iter_child_nodes(node))


def _chain(node: ast.AST) -> list[str] | None:
    """``a.b.c`` -> ["a", "b", "c"]; None when the expression is not a dotted name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return parts[::-1]
    return None


def _prefixes(chain: list[str]) -> list[str]:
    return [".".join(chain[: i + 1]) for i in range(len(chain))]


def _body_reads(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """The global names (and dotted chains on them) a function's body reads, at any depth
    (nested functions included: they read the same globals when called)."""
    local: set[str] = {a.arg for a in ast.walk(fn.args) if isinstance(a, ast.arg)}
    declared: set[str] = set()  # `global` names: never local
    chains: list[list[str]] = []
    stack: list[ast.AST] = list(fn.body)
    while stack:  # one walk: a name is local wherever in the body it is bound
        node = stack.pop()
        cls = type(node)
        if cls is ast.Name:
            if type(node.ctx) is ast.Load:  # type: ignore[attr-defined]
                chains.append([node.id])  # type: ignore[attr-defined]
            else:
                local.add(node.id)  # type: ignore[attr-defined]
            continue
        if cls is ast.Attribute and type(node.ctx) is ast.Load:  # type: ignore[attr-defined]
            chain = _chain(node)
            if chain:
                chains.append(chain)
                continue
        elif cls is ast.Global:
            declared.update(node.names)  # type: ignore[attr-defined]
        stack.extend(ast.iter_child_nodes(node))
    local -= declared
    out: set[str] = set()
    for chain in chains:
        if chain[0] not in local:
            out.update(_prefixes(chain))
    return out


def _absolute(module: str | None, level: int, package: str | None) -> str | None:
    if level == 0:
        return module
    if not package:
        return None
    parts = package.split(".")
    if level - 1 >= len(parts):
        return None
    base = ".".join(parts[: len(parts) - (level - 1)])
    return f"{base}.{module}" if module else base


def bound_names(node: ast.stmt) -> set[str]:
    """The names a top-level statement binds in its namespace (not inside nested scopes)."""
    out: set[str] = set()
    if isinstance(node, (*_DEFS, ast.ClassDef)):
        return {node.name}
    if isinstance(node, ast.Import | ast.ImportFrom):
        for alias in node.names:
            if alias.name != "*":
                out.add(alias.asname or alias.name.split(".")[0])
        return out
    stack: list[ast.AST] = [node]
    while stack:
        sub = stack.pop()
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store | ast.Del):
            out.add(sub.id)
        elif isinstance(sub, (*_DEFS, ast.ClassDef)):
            out.add(sub.name)
            continue
        elif isinstance(sub, ast.Import | ast.ImportFrom):
            out |= bound_names(sub)
            continue
        elif isinstance(
            sub, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp
        ):
            continue
        elif (isinstance(sub, ast.ExceptHandler) and sub.name) or (
            isinstance(sub, ast.MatchAs | ast.MatchStar) and sub.name
        ):
            out.add(sub.name)
        stack.extend(ast.iter_child_nodes(sub))
    return out
