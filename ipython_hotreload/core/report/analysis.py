"""Static analysis of a module's functions for payloads (astroid), cached per definition.

Astroid costs tens of microseconds per source line, far more than the rest of a reload, so the
module is split into its top-level definitions with the stdlib parse the engine already made,
and only definitions whose text changed since the last analysis go through astroid. Entries
are cached with line numbers relative to their definition and shifted on the way out, so
inserting lines above a function costs nothing but keeps every ``lineno`` right.
"""

from __future__ import annotations

import ast
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from ipython_hotreload.core.results import FunctionInfo
from ipython_hotreload.core.source.statements import Statement

if TYPE_CHECKING:
    from astroid import nodes

# astroid is imported on first analysis, not with the engine: it costs a tenth of a second,
# which `%load_ext` would otherwise pay before anything needs it (a warm-up thread pays it).

__all__ = ["analyse_functions", "definition_entries", "seed_file"]


# Entries per definition text, for calls without a key (a small LRU) and per key (a file):
# a keyed cache holds only the definitions of the file's latest text, so a long session of
# edits never grows it.
_CACHE_SIZE = 256
_cache: OrderedDict[bytes, tuple[FunctionInfo, ...]] = OrderedDict()
_by_key: dict[str, dict[bytes, tuple[FunctionInfo, ...]]] = {}
_cache_lock = threading.Lock()


#: (first line, last line, qualname prefix) of a definition analysed on its own: a top-level
#: one (prefix "") or a method of a class whose members can be read one by one ("K.").
Unit = tuple[int, int, str]


def analyse_functions(
    source: str,
    tree: ast.Module | None = None,
    *,
    key: str | None = None,
    units: Iterable[Unit] | None = None,
) -> list[FunctionInfo]:
    """The functions of a module (top-level functions and methods of top-level and nested
    classes, in source order) as payload entries. ``tree`` is a stdlib parse of ``source``
    to reuse, or ``units`` its definitions (:func:`statement_units`); a source that does not
    parse gives ``[]``. ``key`` (the file) lets the analysis of unchanged definitions be
    reused from the file's previous text."""
    if units is None:
        if tree is None:
            try:
                tree = ast.parse(source)
            except (SyntaxError, ValueError):
                return []
        units = _tree_units(tree.body)
    out: list[FunctionInfo] = []
    with _cache_lock:
        previous = _by_key.get(key, {}) if key is not None else {}
    current: dict[bytes, tuple[FunctionInfo, ...]] = {}
    for first, digest, segment, prefix in _definitions(source, units):
        entries = previous.get(digest) or current.get(digest)
        if entries is None:
            with _cache_lock:
                entries = _cache.get(digest)
                if entries is not None:
                    _cache.move_to_end(digest)
        if entries is None:
            entries = tuple(_analyse_segment(segment, prefix))
            if key is None:
                with _cache_lock:
                    _cache[digest] = entries
                    if len(_cache) > _CACHE_SIZE:
                        _cache.popitem(last=False)
        current[digest] = entries
        shift = first - 1
        for e in entries:
            out.append({**e, "lineno": e["lineno"] + shift, "end_lineno": e["end_lineno"] + shift})
    if key is not None:
        with _cache_lock:
            _by_key[key] = current
    return out


def statement_units(statements: Iterable[Statement], prefix: str = "") -> Iterator[Unit]:
    """The units of an index's statements (their lines are right even where their nodes'
    are not: a spliced index)."""
    for st in statements:
        if st.name is None:
            continue
        if st.body is not None and _one_by_one(st.node):
            yield from statement_units(st.body, f"{prefix}{st.name}.")
        else:
            yield st.start, st.end, prefix


def _tree_units(body: list[ast.stmt], prefix: str = "") -> Iterator[Unit]:
    for stmt in body:
        if isinstance(stmt, ast.ClassDef) and _one_by_one(stmt):
            yield from _tree_units(stmt.body, f"{prefix}{stmt.name}.")
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            first = min([stmt.lineno, *(d.lineno for d in stmt.decorator_list)])
            yield first, stmt.end_lineno or stmt.lineno, prefix


def _one_by_one(node: ast.stmt) -> bool:
    """Can a class's members be analysed one by one, each in a bare class, and say what
    the class as a whole would (an edited method then costs its own analysis, not the
    class's)? Not when its body makes a method a class or static method by assignment
    (``f = classmethod(f)``), or decorates one with a name the body binds (astroid infers
    those in the class)."""
    if not isinstance(node, ast.ClassDef):
        return False
    bound: set[str] = set()
    for stmt in node.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            bound.add(stmt.name)
            continue
        for sub in ast.walk(stmt):
            if isinstance(sub, ast.Name):
                if sub.id in _DESCRIPTORS:
                    return False
                if isinstance(sub.ctx, ast.Store):
                    bound.add(sub.id)
            elif isinstance(sub, ast.Attribute) and sub.attr in _DESCRIPTORS:
                return False
    for stmt in node.body:
        if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for dec in stmt.decorator_list:
            if isinstance(dec, ast.Attribute) and dec.attr in ("setter", "getter", "deleter"):
                continue  # a property's: its kind is read from the name
            root = dec.func if isinstance(dec, ast.Call) else dec
            while isinstance(root, ast.Attribute):
                root = root.value
            if isinstance(root, ast.Name) and root.id in bound:
                return False
    return True


_DESCRIPTORS = frozenset({"classmethod", "staticmethod"})


def _definitions(source: str, units: Iterable[Unit]) -> Iterator[tuple[int, bytes, str, str]]:
    """(first line, digest, text, qualname prefix) of each unit of ``source``."""
    lines = source.splitlines(keepends=True)
    for first, last, prefix in units:
        segment = "".join(lines[first - 1 : last])
        digest = hashlib.blake2b(
            f"{prefix}\0{segment}".encode("utf-8", "surrogatepass"), digest_size=16
        ).digest()
        yield first, digest, segment, prefix


def definition_entries(source: str) -> dict[bytes, tuple[FunctionInfo, ...]]:
    """What the per-file cache holds for ``source``: each top-level definition's entries
    (lines relative to the definition) by the digest of its text; {} if it does not parse.
    Computed with no cache (a separate process calls it, see ``prefetch``)."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return {}
    return {
        digest: tuple(_analyse_segment(seg, prefix))
        for _, digest, seg, prefix in _definitions(source, _tree_units(tree.body))
    }


def seed_file(key: str, entries: dict[bytes, tuple[FunctionInfo, ...]]) -> bool:
    """Take a file's definitions analysed elsewhere into the per-file cache, unless the
    file was analysed here already (that analysis is as new or newer); True if taken."""
    with _cache_lock:
        if key in _by_key:
            return False
        _by_key[key] = entries
        return True


def _analyse_segment(segment: str, prefix: str = "", *, bodies: bool = False) -> list[FunctionInfo]:
    """The entries of one unit, lines relative to it; a class member (``prefix`` set) is
    read inside a bare class, so astroid sees it as a method. A unit that is one function
    reaches astroid without its body (:func:`_header`, unless ``bodies``) and with nothing
    to infer (:func:`_function_tree`); a class read whole goes through astroid's builder."""
    import astroid
    from astroid.builder import AstroidBuilder

    out: list[FunctionInfo] = []
    text = segment
    if prefix:
        first = segment.splitlines()[0] if segment else ""
        indent = first[: len(first) - len(first.lstrip())]
        text = "class _:\n" + "".join(
            "    " + line[len(indent) :] if line.startswith(indent) else line
            for line in segment.splitlines(keepends=True)
        )
    try:
        tree = ast.parse(text + "\n", type_comments=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    fn = _the_function(tree, in_class=bool(prefix))
    header = None if bodies or fn is None else _header(text, fn)
    try:
        if fn is None:
            # No transforms (the brain's plugins): what is read here is the syntax of each
            # def, which they do not change, and they cost a third of the parse.
            module = AstroidBuilder(astroid.MANAGER, apply_transforms=False).string_build(text)
        else:
            module = _function_tree(tree if header is None else header[0])
        body = module.body[0].body if prefix else module.body
        for node in body:
            _collect(node, prefix, in_class=bool(prefix), out=out, infer=fn is None)
    except (astroid.AstroidSyntaxError, SyntaxError, ValueError, RecursionError, MemoryError):
        return []  # Python itself compiled it; astroid's recursive builder may still give up
    if header is not None:
        for e in out:  # the one function's: its body was left out
            e["end_lineno"] = header[1]
    if prefix:
        for e in out:  # the wrapper's line
            e["lineno"] -= 1
            e["end_lineno"] -= 1
    return out


def _the_function(
    tree: ast.Module, *, in_class: bool
) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The one function a unit is (in its wrapper class when ``in_class``), or None."""
    body = tree.body
    if in_class:
        if len(body) != 1 or not isinstance(body[0], ast.ClassDef):
            return None
        body = body[0].body
    if len(body) != 1 or not isinstance(body[0], ast.FunctionDef | ast.AsyncFunctionDef):
        return None
    return body[0]


def _function_tree(source: ast.Module | str) -> nodes.Module:
    """A unit that is one function, as astroid nodes, built by astroid's tree rebuilder
    without the builder's bootstrap of the builtins module (a tenth of a second and some
    ten MiB, for inference the entries of one function never make: a decorator of a unit
    read alone names nothing the unit defines)."""
    import astroid
    from astroid.rebuilder import TreeRebuilder

    tree = ast.parse(source + "\n", type_comments=True) if isinstance(source, str) else source
    return TreeRebuilder(astroid.MANAGER, data=None).visit_module(tree, "", "<?>", False)


def _header(text: str, fn: ast.FunctionDef | ast.AsyncFunctionDef) -> tuple[str, int] | None:
    """``text`` (one unit, as astroid is to read it; ``fn`` its function) cut after the
    docstring, with ``...`` for the body, and the function's last line; None unless the
    body, past the docstring, starts on a line of its own. An entry reads only the header
    (decorators, name, arguments, return annotation, docstring), and astroid's cost is per
    node: the body is most of them."""
    rest = fn.body[1:] if ast.get_docstring(fn, clean=False) is not None else fn.body
    if not rest:
        return None
    lines = text.splitlines(keepends=True)
    node = rest[0]
    decorators = getattr(node, "decorator_list", ())
    start = min([node.lineno, *(d.lineno for d in decorators)])
    col = min([node.col_offset, *(d.col_offset - 1 for d in decorators)])  # before the @
    indent = lines[start - 1].encode("utf-8")[:col].decode("utf-8", "replace")
    if start <= fn.lineno or indent.strip():
        return None  # the body shares a line with the header or the docstring
    return "".join(lines[: start - 1]) + indent + "...\n", fn.end_lineno or fn.lineno


def _collect(
    node: nodes.NodeNG, prefix: str, *, in_class: bool, out: list[FunctionInfo], infer: bool
) -> None:
    from astroid import nodes

    if isinstance(node, nodes.ClassDef):
        inner = f"{prefix}{node.name}."
        for child in node.body:
            _collect(child, inner, in_class=True, out=out, infer=infer)
    elif isinstance(node, nodes.FunctionDef):  # AsyncFunctionDef is a subclass
        kind = _kind(node, in_class, infer)
        if kind is None:
            return
        out.append(
            {
                "name": node.name,
                "qualname": f"{prefix}{node.name}",
                "kind": kind,
                "lineno": node.position.lineno if node.position else node.fromlineno,
                "end_lineno": node.end_lineno or node.lineno,
                "signature": _signature(node),
                "doc": _first_doc_line(node),
            }
        )


def _decorator_names(node: nodes.FunctionDef) -> list[str]:
    from astroid import nodes

    names: list[str] = []
    for dec in node.decorators.nodes if node.decorators else ():
        target = dec.func if isinstance(dec, nodes.Call) else dec
        if isinstance(target, nodes.Name):
            names.append(target.name)
        elif isinstance(target, nodes.Attribute):
            names.append(target.attrname)
    return names


#: The methods astroid takes for class methods by their name alone.
_IMPLICIT_CLASSMETHODS = frozenset(("__new__", "__init_subclass__", "__class_getitem__"))


def _kind(node: nodes.FunctionDef, in_class: bool, infer: bool) -> str | None:
    """The entry's kind. Astroid's ``node.type`` infers a decorator that is no descriptor
    by name; ``infer`` is False for a function read alone, where nothing its decorators
    name is defined, and the names tell what the inference would."""
    from astroid import nodes

    is_async = isinstance(node, nodes.AsyncFunctionDef)
    if not in_class:
        return "async_function" if is_async else "function"
    decorators = _decorator_names(node)
    if any(d in ("setter", "deleter") for d in decorators):
        return None  # a property is one entry: its getter
    if any(d in ("property", "cached_property", "abstractproperty") for d in decorators):
        return "property"
    if not infer:
        if "classmethod" in decorators or node.name in _IMPLICIT_CLASSMETHODS:
            return "classmethod"
        if "staticmethod" in decorators:
            return "staticmethod"
    elif "classmethod" in decorators or node.type == "classmethod":
        return "classmethod"
    elif "staticmethod" in decorators or node.type == "staticmethod":
        return "staticmethod"
    return "async_method" if is_async else "method"


def _signature(node: nodes.FunctionDef) -> str:
    sig = f"({node.args.as_string()})"
    if node.returns is not None:
        sig += f" -> {node.returns.as_string()}"
    return sig


def _first_doc_line(node: nodes.FunctionDef) -> str | None:
    doc = node.doc_node.value if node.doc_node is not None else None
    if not isinstance(doc, str):
        return None
    for line in doc.strip().splitlines():
        if line.strip():
            return line.strip()
    return None


def _clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
        _by_key.clear()
