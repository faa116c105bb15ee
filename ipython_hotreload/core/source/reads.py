"""What a statement reads and binds at import time, from its syntax tree alone.

*Import-time reads*: the names and dotted chains ("b", "b.SCALE") evaluated when a statement
runs (decorators, defaults, annotations unless postponed, bases, class bodies), never a
function's body; a module-level function's *body reads*: the globals its body reads
("editing ``def load()`` re-runs ``DATA = load()``"). Calls count the implicit ones and only
those (SPEC 1.5 rule 3): a class statement calls its bases' ``__init_subclass__`` and
metaclass (``"B.__init_subclass__"``, ``"B.__class__"``), a ``metaclass=M``, and the
``__set_name__`` of what its body makes. ``P().run()`` calls ``".run"``: any class's ``run``.
"""

from __future__ import annotations
import __future__

import ast
from collections.abc import Iterator
from typing import NamedTuple

__all__ = [
    "ANNOTATIONS_FLAG",
    "CALLBACKS",
    "WHOLE",
    "BodyReads",
    "absolute_module",
    "body_reads",
    "bound_names",
    "future_flags",
    "import_time_reads",
    "unsafe_reason",
    "wholes",
]

_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)

#: A name whose attributes are all read (``vars(C)``, ``C.__dict__``): a rebound ``C.x`` runs it.
WHOLE = ".*"
_LISTERS = frozenset(("vars", "dir", "getmembers"))  # (any other call is handed the object)

#: A factory among the names that changed (``"timed.()"``): its callbacks call changed code.
CALLBACKS = ".()"

#: The compiler flag of ``from __future__ import annotations``.
ANNOTATIONS_FLAG: int = __future__.annotations.compiler_flag


def future_flags(tree: ast.Module) -> int:
    """The compiler flags of a module's ``from __future__`` imports."""
    flags = 0
    for node in tree.body:
        if isinstance(node, ast.ImportFrom) and node.module == "__future__":
            for alias in node.names:
                feature = getattr(__future__, alias.name, None)
                if feature is not None:
                    flags |= feature.compiler_flag
    return flags


def import_time_reads(node: ast.stmt, lazy: bool) -> tuple[frozenset[str], frozenset[str]]:
    """What ``node`` reads when it runs (``lazy``: annotations are postponed), and which of
    those it calls."""
    loads: set[str] = set()
    calls: set[str] = set()
    if isinstance(node, ast.ClassDef):
        _class_reads(node, lazy, loads, calls)
    else:
        for expr in _import_time_exprs(node, lazy):
            _collect(expr, loads, calls)
    for d in _decorators(node):  # a decorator is called
        chain = _chain(d.func if isinstance(d, ast.Call) else d)
        if chain:
            calls.update(_prefixes(chain))
    return frozenset(loads), frozenset(calls)


def _class_reads(node: ast.ClassDef, lazy: bool, loads: set[str], calls: set[str]) -> None:
    """What a class statement reads, and calls: explicitly, and implicitly (its bases'
    ``__init_subclass__`` and metaclass, its ``metaclass=``, and the ``__set_name__`` of
    what its body's calls make), with the class statements nested in it, in one walk."""
    for expr in (*node.decorator_list, *node.bases, *(k.value for k in node.keywords)):
        _collect(expr, loads, calls)
    for base in node.bases:
        chain = _chain(base)
        if chain:
            name = ".".join(chain)
            calls.update((f"{name}.__init_subclass__", f"{name}.__class__"))
    for keyword in node.keywords:
        chain = _chain(keyword.value)
        if keyword.arg == "metaclass" and chain:
            calls.update(_prefixes(chain))
    for stmt in node.body:
        if isinstance(stmt, ast.ClassDef):
            _class_reads(stmt, lazy, loads, calls)
            continue
        if isinstance(stmt, _DEFS):
            for part in _import_time_exprs(stmt, lazy):
                _collect(part, loads, calls)
            continue
        made: set[str] = set()
        for part in _import_time_exprs(stmt, lazy):
            _collect(part, loads, made)
        calls |= made
        calls.update(f"{c}.__set_name__" for c in made if not c.startswith("."))


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
        cls = type(node)
        if cls is ast.Constant:
            continue
        if cls is ast.Lambda:
            stack.extend(node.args.defaults)  # type: ignore[attr-defined]
            stack.extend(d for d in node.args.kw_defaults if d is not None)  # type: ignore[attr-defined]
            continue  # its body runs when called
        if cls is ast.Call:
            chain = _chain(node.func)  # type: ignore[attr-defined]
            if chain:
                calls.update(_prefixes(chain))
            elif isinstance(node.func, ast.Attribute):  # type: ignore[attr-defined]
                calls.add("." + node.func.attr)  # type: ignore[attr-defined]
            if chain and chain[-1] in _LISTERS:  # `vars(C)`: every attribute of C is read
                for arg in node.args[:1]:  # type: ignore[attr-defined]
                    if whole := _chain(arg):
                        loads.add(".".join(whole) + WHOLE)
        elif cls is ast.Name or cls is ast.Attribute:
            chain = _chain(node)
            if chain and type(node.ctx) is ast.Load:  # type: ignore[attr-defined]
                loads.update(_prefixes(chain))
                if len(chain) > 1 and chain[-1] == "__dict__":
                    loads.add(".".join(chain[:-1]) + WHOLE)
                continue  # a dotted name holds nothing else to read
        stack.extend(_children(node))


_FIELDS: dict[type, tuple[str, ...]] = {}


def _children(node: ast.AST) -> list[ast.AST]:
    """``ast.iter_child_nodes`` without its generators (a lexer's token table is thousands
    of nodes) and without the nodes that hold nothing to read (contexts, operators)."""
    cls = type(node)
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = _FIELDS[cls] = tuple(f for f in cls._fields if f not in ("ctx", "op"))
    out: list[ast.AST] = []
    for name in fields:
        value = getattr(node, name, None)
        if type(value) is list:
            out.extend(v for v in value if isinstance(v, ast.AST))
        elif isinstance(value, ast.AST):
            out.append(value)
    return out


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


_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


class _Frame:
    """One scope of a function's body: what it binds and declares global, and when it runs
    (``run``: None with the body, else the body's nested function whose call runs it)."""

    __slots__ = ("bound", "declared", "kind", "parent", "run")

    def __init__(self, parent: _Frame | None, kind: str, bound: set[str], run: object) -> None:
        self.parent = parent
        self.kind = kind  # "def" (or lambda), "class" or "comprehension"
        self.bound = bound
        self.declared: set[str] = set()  # `global` names: never local here
        self.run = run

    def is_global(self, name: str) -> bool:
        """Does ``name``, read in this scope, stand for a global (or a builtin)?"""
        if name in self.declared:
            return True
        # (a class body reads a name it binds later from outside: no answer from it)
        if self.kind != "class" and name in self.bound:
            return False
        frame = self.parent
        while frame is not None:
            if frame.kind != "class":  # a class's names are not its functions' closure
                if name in frame.declared:
                    return True
                if name in frame.bound:
                    return False
            frame = frame.parent
        return True


_LATER = object()  # when a lambda the body returns runs: never during the call


class BodyReads(NamedTuple):
    """What calling a function reads ``now`` (global names, dotted chains on them, ``".m"``
    markers), and ``later``: the markers of the callbacks it returns, when they are called."""

    now: frozenset[str]
    later: frozenset[str]


def body_reads(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> BodyReads:
    """What ``fn``'s body reads, at any depth, each name in the scope that binds it (a
    nested function's parameter hides nothing from the body). A nested function's method
    calls are the call's when it may run during the call (the body, or a running function,
    names it other than to return it; a local class's methods always); those of a callback
    the body only returns run ``later``, when whoever got it calls it."""
    top = _Frame(None, "def", _arg_names(fn.args), None)
    chains: list[tuple[list[str], _Frame]] = []  # with the scope reading each
    methods: list[tuple[str, object]] = []  # ".m" markers, with when each runs
    uses: dict[object, set[str]] = {}  # the names each run scope loads (returned ones aside)
    returned: set[int] = set()  # ids of the values the body itself returns
    stack: list[tuple[ast.AST, _Frame]] = [(s, top) for s in fn.body]
    while stack:  # one walk: a name is local wherever in its scope it is bound
        node, frame = stack.pop()
        cls = type(node)
        if cls is ast.Name:
            if type(node.ctx) is ast.Load:  # type: ignore[attr-defined]
                chains.append(([node.id], frame))  # type: ignore[attr-defined]
                if id(node) not in returned:
                    uses.setdefault(frame.run, set()).add(node.id)  # type: ignore[attr-defined]
            else:
                frame.bound.add(node.id)  # type: ignore[attr-defined]
            continue
        if cls is ast.Attribute and type(node.ctx) is ast.Load:  # type: ignore[attr-defined]
            chain = _chain(node)
            if chain:
                chains.append((chain, frame))
                uses.setdefault(frame.run, set()).add(chain[0])
                continue
        elif cls is ast.Global:
            frame.declared.update(node.names)  # type: ignore[attr-defined]
        elif cls is ast.Nonlocal:
            frame.bound.update(node.names)  # type: ignore[attr-defined]
        elif cls is ast.Return and frame is top and node.value is not None:  # type: ignore[attr-defined]
            returned.add(id(node.value))  # type: ignore[attr-defined]
        elif cls is ast.NamedExpr:  # binds in the function around its comprehensions
            scope = frame
            while scope.kind == "comprehension" and scope.parent is not None:
                scope = scope.parent
            scope.bound.add(node.target.id)  # type: ignore[attr-defined]
            stack.append((node.value, frame))  # type: ignore[attr-defined]
            continue
        elif cls in _DEFS or cls is ast.Lambda or cls is ast.ClassDef:
            stack.extend(_nested_scope(node, frame, top, returned))
            continue
        elif cls in _COMPREHENSIONS:
            stack.extend(_comprehension_scope(node, frame))
            continue
        elif (
            cls is ast.Call
            and isinstance(node.func, ast.Attribute)  # type: ignore[attr-defined]
            and _chain(node.func) is None  # type: ignore[attr-defined]
        ):
            methods.append(("." + node.func.attr, frame.run))  # type: ignore[attr-defined]
        stack.extend((child, frame) for child in _children(node))
    return _sorted_out(chains, methods, _running(uses))


def _sorted_out(
    chains: list[tuple[list[str], _Frame]], methods: list[tuple[str, object]], running: set[object]
) -> BodyReads:
    now: set[str] = set()
    for chain, frame in chains:
        if frame.is_global(chain[0]):
            now.update(_prefixes(chain))
        elif len(chain) > 1:
            methods.append(("." + chain[1], frame.run))  # a local's: any class's may be it
    later = {marker for marker, run in methods if run not in running}
    now.update(marker for marker, run in methods if run in running)
    return BodyReads(frozenset(now), frozenset(later - now))


def _arg_names(args: ast.arguments) -> set[str]:
    return {a.arg for a in ast.walk(args) if isinstance(a, ast.arg)}


def _nested_scope(
    node: ast.AST, frame: _Frame, top: _Frame, returned: set[int]
) -> list[tuple[ast.AST, _Frame]]:
    """A nested ``def``, ``lambda`` or ``class``'s parts, each with its scope: its body in one
    of its own. A def of the body runs when named; deeper ones and a local class's methods
    with what encloses them; a lambda where it is made, unless the body returns it."""
    if isinstance(node, ast.Lambda):
        run = _LATER if frame is top and id(node) in returned else frame.run
        inner = _Frame(frame, "def", _arg_names(node.args), run)
        return [(node.args, frame), (node.body, inner)]
    if isinstance(node, ast.ClassDef):
        frame.bound.add(node.name)
        inner = _Frame(frame, "class", set(), frame.run)
        outside: list[ast.AST] = [*node.decorator_list, *node.bases]
        outside += [k.value for k in node.keywords]
        return [(n, frame) for n in outside] + [(b, inner) for b in node.body]
    assert isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    frame.bound.add(node.name)
    run = node.name if frame is top else frame.run
    inner = _Frame(frame, "def", _arg_names(node.args), run)
    out: list[tuple[ast.AST, _Frame]] = [(node.args, frame)]
    out += [(d, frame) for d in node.decorator_list]
    if node.returns is not None:
        out.append((node.returns, frame))
    return out + [(b, inner) for b in node.body]


def _running(uses: dict[object, set[str]]) -> set[object]:
    """The body's run scope, and those of its functions a running one names (not to return)."""
    running: set[object] = {None}
    todo: list[object] = [None]
    while todo:
        for name in uses.get(todo.pop(), ()):
            if name not in running:
                running.add(name)
                todo.append(name)
    return running


def _comprehension_scope(node: ast.AST, frame: _Frame) -> list[tuple[ast.AST, _Frame]]:
    """A comprehension's parts with their scopes: its first iterable is evaluated in
    ``frame``, the rest (its targets bound) in a scope of its own."""
    inner = _Frame(frame, "comprehension", set(), frame.run)
    generators: list[ast.comprehension] = node.generators  # type: ignore[attr-defined]
    out: list[tuple[ast.AST, _Frame]] = [(generators[0].iter, frame)]
    for i, gen in enumerate(generators):
        out.append((gen.target, inner))
        if i:
            out.append((gen.iter, inner))
        out += [(cond, inner) for cond in gen.ifs]
    if isinstance(node, ast.DictComp):
        out += [(node.key, inner), (node.value, inner)]
    else:
        out.append((node.elt, inner))  # type: ignore[attr-defined]
    return out


def absolute_module(module: str | None, level: int, package: str | None) -> str | None:
    """The absolute name of ``from <level dots><module> import ...`` in ``package``."""
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
        elif isinstance(sub, (ast.Lambda, *_COMPREHENSIONS)):
            continue
        elif (isinstance(sub, ast.ExceptHandler) and sub.name) or (
            isinstance(sub, ast.MatchAs | ast.MatchStar) and sub.name
        ):
            out.add(sub.name)
        stack.extend(ast.iter_child_nodes(sub))
    return out


def unsafe_reason(node: ast.stmt) -> str | None:
    """Why running this top-level statement alone cannot vouch for the result (SPEC 1.5.6)."""
    if isinstance(node, ast.Global | ast.Delete):
        return f"a top-level `{'global' if isinstance(node, ast.Global) else 'del'}` statement"
    if isinstance(node, (*_DEFS, ast.ClassDef)):
        return None  # their bodies do not run at import time (a class body's calls do)
    called = (s.func.id for s in ast.walk(node) if type(s) is ast.Call and type(s.func) is ast.Name)
    found = next((name for name in called if name in ("exec", "eval")), None)
    return None if found is None else f"top-level code calls `{found}`"


def wholes(rebound: set[str]) -> set[str]:
    """``rebound`` and, for each rebound attribute ``C.x``, ``C`` handed whole (``C.*``)."""
    return rebound | {n.rpartition(".")[0] + WHOLE for n in rebound if n.find(".") > 0}
