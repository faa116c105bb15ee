"""One definition of a module file: name it, find its lines, splice a new text in their place.

Pure text work over a file's exact contents (SPEC §1.6). A target is ``"pkg.mod:Class.method"``,
``"pkg.mod:func"`` or ``"path/to/mod.py::Class.method"``. A definition's lines run from its
first decorator to the last line of its body; :func:`splice_definition` replaces exactly
those lines (or appends new ones at the end of the class body or the module) and leaves every
other byte of the file as it was: its line endings, its tabs, a missing final newline.

The new text is dedented, checked (exactly one ``def``/``async def``/``class`` of the target's
name), formatted alone when asked, then re-indented to the definition's level. Lines that
begin inside a multi-line string are never re-indented: their characters are the string's.

Naming a definition (a target string) is :mod:`.targets`' part; moving a block of lines from
one indentation to another, :mod:`.indentation`'s.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ipython_hotreload.core.edit.indentation import (
    dedent_definition,
    file_newline,
    indent_of,
    indented,
    newline_of,
    normalised,
    split_lines,
    uses_tabs,
)
from ipython_hotreload.core.edit.targets import Target
from ipython_hotreload.errors import HotReloadError

__all__ = [
    "Found",
    "Splice",
    "changed_line_count",
    "definition_text",
    "find_definition",
    "read_module_text",
    "splice_definition",
    "text_hash",
]

#: ``format(text) -> (text, why it was not formatted or None)``: the reloader's formatter.
FormatText = Callable[[str], tuple[str, str | None]]

_DefNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
_BOM = "\ufeff"


def _parse(text: str, what: str) -> ast.Module:
    try:
        return ast.parse(text)
    except SyntaxError as exc:
        where = f"line {exc.lineno}: " if exc.lineno else ""
        raise HotReloadError(
            f"{what} does not parse ({where}{exc.msg}); nothing was written"
        ) from exc
    except (ValueError, RecursionError, MemoryError) as exc:
        raise HotReloadError(f"{what} cannot be parsed ({exc}); nothing was written") from exc


# -- finding a definition ------------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """A definition's place in a file: 1-based first line (its first decorator), last line,
    and the indentation of its first line."""

    start: int
    end: int
    indent: str


def _first_line(node: _DefNode) -> int:
    return min([node.lineno, *(d.lineno for d in node.decorator_list)])


def _accessor_of(node: _DefNode, name: str) -> bool:
    """``@name.setter`` / ``.deleter`` / ``.getter``: a property's other half, not the entry
    a property's qualified name stands for (its getter, as in the payload's ``functions``)."""
    return any(
        isinstance(d, ast.Attribute)
        and d.attr in ("setter", "deleter", "getter")
        and isinstance(d.value, ast.Name)
        and d.value.id == name
        for d in node.decorator_list
    )


def _named(body: list[ast.stmt], name: str) -> _DefNode | None:
    """The definition of ``name`` directly in ``body`` that the name stands for: the last one
    (a later definition rebinds the name), a property's getter rather than its setter."""
    found = [
        n
        for n in body
        if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and n.name == name
    ]
    plain = [n for n in found if not _accessor_of(n, name)]
    chosen = plain or found
    return chosen[-1] if chosen else None


def _container(tree: ast.Module, parts: list[str], where: str) -> ast.Module | ast.ClassDef:
    """The class (or module) whose body holds the definition ``parts`` names."""
    node: ast.Module | ast.ClassDef = tree
    for i, part in enumerate(parts[:-1]):
        child = _named(node.body, part)
        qual = ".".join(parts[: i + 1])
        if child is None:
            raise HotReloadError(f"there is no class {qual} in {where}; nothing was written")
        if not isinstance(child, ast.ClassDef):
            raise HotReloadError(
                f"{qual} in {where} is a function: a function nested in a function cannot be "
                f"edited on its own; edit {qual} instead. Nothing was written"
            )
        node = child
    return node


def find_definition(text: str, qualname: str, where: str) -> Found | None:
    """Where definition ``qualname`` is in ``text`` (a module's source), or None when its class
    exists but the definition does not; a missing class or a text that does not parse raises
    :class:`HotReloadError` (``where`` names the file in messages)."""
    text = text.removeprefix(_BOM)  # Python skips it; ast.parse of a str would not
    tree = _parse(text, where)
    return _locate(tree, split_lines(text), qualname.split("."), where)


def definition_text(text: str, qualname: str, where: str) -> tuple[Found, str] | None:
    """Where definition ``qualname`` is in a module's ``text`` and its exact text there
    (None: it is not there)."""
    found = find_definition(text, qualname, where)
    if found is None:
        return None
    lines = split_lines(text.removeprefix(_BOM))
    return found, "".join(lines[found.start - 1 : found.end])


def text_hash(text: str) -> str:
    """The ``source_hash`` of a definition's text: sha256 hex of its UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def read_module_text(path: Path) -> str | None:
    """A module file's text (None: it does not exist); unreadable or not UTF-8 is an
    error that says so."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise HotReloadError(f"cannot read {path}: {exc}") from exc
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise HotReloadError(
            f"{path} is not valid UTF-8 (byte {exc.start}): edit the whole file instead"
        ) from None


def _locate(tree: ast.Module, lines: list[str], parts: list[str], where: str) -> Found | None:
    node = _named(_container(tree, parts, where).body, parts[-1])
    if node is None:
        return None
    start = _first_line(node)
    return Found(start, node.end_lineno or node.lineno, indent_of(lines[start - 1]))


# -- the new definition's text -------------------------------------------------------------


def _check_one_definition(text: str, name: str, qualname: str) -> ast.Module:
    tree = _parse(text, f"the new definition of {qualname}")
    if len(tree.body) != 1 or not isinstance(tree.body[0], _DEFINITIONS):
        raise HotReloadError(_not_one_definition(tree.body, name, qualname))
    found = tree.body[0]
    if found.name != name:
        raise HotReloadError(
            f"the new text defines {found.name!r}, but the target is {qualname}: its "
            f"definition must be named {name!r}; nothing was written"
        )
    return tree


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _not_one_definition(body: list[ast.stmt], name: str, qualname: str) -> str:
    """What is wrong with a text that is not one definition, said the way the user sees it:
    a line unindented out of the body, a line before the ``def``, two definitions."""
    rule = (
        f"the new text for {qualname} must be exactly one def, async def or class statement "
        f"named {name!r} (with its decorators)"
    )
    definitions = [s for s in body if isinstance(s, _DEFINITIONS)]
    if not body:
        return f"{rule}, but it is empty; nothing was written"
    if not definitions:
        return f"{rule}, but it holds no definition: {_describe(body[0])}; nothing was written"
    first = body[0]
    if isinstance(first, _DEFINITIONS) and len(definitions) == 1:
        outside = body[1]
        return (
            f"unexpected unindent at line {outside.lineno} of the new text for {qualname}: "
            f"{_code(outside)} is outside {_describe(first)}; indent it into the body; "
            "nothing was written"
        )
    if len(definitions) > 1:
        listed = ", ".join(_describe(s) for s in definitions)
        return f"{rule}, but it holds {len(definitions)}: {listed}; nothing was written"
    return f"{rule}, but {_describe(first)} comes before {_describe(definitions[0])}; nothing was written"


def _describe(stmt: ast.stmt) -> str:
    if isinstance(stmt, _DEFINITIONS):
        keyword = {"FunctionDef": "def", "AsyncFunctionDef": "async def"}.get(
            type(stmt).__name__, "class"
        )
        return f"{keyword} {stmt.name} (line {stmt.lineno})"
    return f"{_code(stmt)} (line {stmt.lineno})"


def _code(stmt: ast.stmt) -> str:
    return repr(ast.unparse(stmt).splitlines()[0][:40])


def changed_line_count(before: str, after: str) -> int:
    """How many lines with text differ between two texts (a replaced run counts its longer
    side); blank lines a formatter adds or removes between definitions do not count."""
    a = [line for line in before.splitlines() if line.strip()]
    b = [line for line in after.splitlines() if line.strip()]
    ops = difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in ops if tag != "equal")


def _formatted(block: str, target: Target, format: FormatText | None) -> tuple[str, int, list[str]]:
    """``block`` formatted alone (still one definition of the target's name, or unformatted
    with a warning), how many lines the formatter changed, and warnings."""
    if format is None:
        return block, 0, []
    out, why = format(block)
    if why:
        return block, 0, [why]
    out = "".join(normalised(out))
    try:
        _check_one_definition(out, target.name, target.qualname)
    except HotReloadError:
        return block, 0, ["the formatter changed what the definition is; saved unformatted"]
    return out, changed_line_count(block, out), []


# -- splicing ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Splice:
    """A file's new text with one definition replaced or added, and where it now is."""

    text: str
    qualname: str
    lineno: int
    end_lineno: int
    added: bool
    formatted_lines: int
    warnings: tuple[str, ...]


def splice_definition(
    text: str | None,
    target: Target,
    content: str,
    *,
    where: str,
    format: FormatText | None = None,
) -> Splice:
    """Put ``content`` (one definition of ``target``'s name) into ``text``, the file's source
    (None: the file does not exist yet), in place of the definition or appended at the end of
    its class body or module. Raises :class:`HotReloadError` and changes nothing when the
    content is not that one definition, a class is missing, or the file does not parse."""
    if not isinstance(content, str):
        raise HotReloadError(f"the new text for {target.qualname} must be a string")
    file_text = text or ""
    bom = _BOM if file_text.startswith(_BOM) else ""
    file_text = file_text.removeprefix(bom)
    tree = _parse(file_text, where)
    lines = split_lines(file_text)
    block = dedent_definition(content)
    _check_one_definition(block, target.name, target.qualname)
    block, formatted_lines, warnings = _formatted(block, target, format)
    found = _locate(tree, lines, target.parts, where)
    if found is not None:
        newline = file_newline(lines, found.start - 1)
        tabs = uses_tabs(lines, found.indent)
        new_lines = indented(block, found.indent, newline, tabs)
        # The last line keeps the ending the old one had (none, at the end of a file without
        # a final newline), so the bytes after the definition stay exactly as they were.
        new_lines[-1] = new_lines[-1].rstrip("\r\n") + newline_of(lines[found.end - 1])
        head, tail = lines[: found.start - 1], lines[found.end :]
        lineno, added = found.start, False
    else:
        head, new_lines, tail, lineno = _appended(tree, lines, block, target, where)
        added = True
    new_text = bom + "".join([*head, *new_lines, *tail])
    _parse(new_text.removeprefix(bom), f"{where} with the new {target.qualname} in it")
    return Splice(
        new_text,
        target.qualname,
        lineno,
        lineno + len(new_lines) - 1,
        added,
        formatted_lines,
        tuple(warnings),
    )


def _appended(
    tree: ast.Module, lines: list[str], block: str, target: Target, where: str
) -> tuple[list[str], list[str], list[str], int]:
    """(lines before, the new definition's lines, lines after, its first line) for a
    definition added at the end of its class body, or of the module."""
    container = _container(tree, target.parts, where)
    if isinstance(container, ast.Module):
        head = list(lines)
        newline = file_newline(head, len(head) - 1)
        if head and not newline_of(head[-1]):
            head[-1] += newline  # the definition needs a line of its own
        blank = 0
        while blank < len(head) and not head[-1 - blank].strip():
            blank += 1
        if blank < len(head):  # some code above: two blank lines before a top-level definition
            head += [newline] * max(0, 2 - blank)
        new_lines = indented(block, "", newline, uses_tabs(lines, ""))
        return head, new_lines, [], len(head) + 1
    first = container.body[0]
    if first.lineno == container.lineno:
        raise HotReloadError(
            f"class {'.'.join(target.parts[:-1])} in {where} has its body on the line of "
            f"'class': add {target.name} by editing the class itself; nothing was written"
        )
    end = container.end_lineno or container.lineno
    indent = indent_of(lines[first.lineno - 1])
    newline = file_newline(lines, end - 1)
    head, tail = lines[:end], lines[end:]
    if head and not newline_of(head[-1]):
        head[-1] += newline
    head = [*head, newline]  # one blank line between methods
    return head, indented(block, indent, newline, uses_tabs(lines, indent)), tail, len(head) + 1
