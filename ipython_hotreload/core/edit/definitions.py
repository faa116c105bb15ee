"""One definition of a module file: name it, find its lines, splice a new text in their place.

Pure text work over a file's exact contents (SPEC §1.6). A target is ``"pkg.mod:Class.method"``,
``"pkg.mod:func"`` or ``"path/to/mod.py::Class.method"``. A definition's lines run from its
first decorator to the last line of its body; :func:`splice_definition` replaces exactly
those lines (or appends new ones at the end of the class body or the module) and leaves every
other byte of the file as it was: its line endings, its tabs, a missing final newline.

The new text is dedented, checked (exactly one ``def``/``async def``/``class`` of the target's
name), formatted alone when asked, then re-indented to the definition's level. Lines that
begin inside a multi-line string are never re-indented: their characters are the string's.

Naming a definition (a target string) is :mod:`.targets`' part.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import io
import re
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ipython_hotreload.core.edit.targets import Target
from ipython_hotreload.errors import HotReloadError

__all__ = [
    "Found",
    "Splice",
    "changed_line_count",
    "dedent_definition",
    "definition_text",
    "find_definition",
    "read_module_text",
    "splice_definition",
    "split_lines",
    "text_hash",
]

#: ``format(text) -> (text, why it was not formatted or None)``: the reloader's formatter.
FormatText = Callable[[str], tuple[str, str | None]]

_DefNode = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_BOM = "\ufeff"


def split_lines(text: str) -> list[str]:
    """``text``'s lines with their own endings (``\\n``, ``\\r\\n`` or ``\\r``, as Python
    reads them; ``str.splitlines`` would also split at form feeds and other characters)."""
    return _LINES.findall(text)


def _newline_of(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :]


def _file_newline(lines: list[str], index: int) -> str:
    """The line ending to write: that of line ``index``, else the file's first, else ``\\n``."""
    if 0 <= index < len(lines) and _newline_of(lines[index]):
        return _newline_of(lines[index])
    return next((_newline_of(line) for line in lines if _newline_of(line)), "\n")


def _indent_of(line: str) -> str:
    return line[: len(line) - len(line.lstrip(" \t\f"))]


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
    return Found(start, node.end_lineno or node.lineno, _indent_of(lines[start - 1]))


# -- the new definition's text -------------------------------------------------------------


def _string_lines(lines: list[str]) -> set[int]:
    """Indexes of the lines that begin inside a multi-line string (their leading characters
    belong to the string, so no dedent or indent may touch them)."""
    inside: set[int] = set()
    try:
        for tok in tokenize.generate_tokens(io.StringIO("".join(lines)).readline):
            if tok.type == tokenize.STRING and tok.end[0] > tok.start[0]:
                inside.update(range(tok.start[0], tok.end[0]))  # 1-based next lines = 0-based
            elif (
                tok.type == getattr(tokenize, "FSTRING_MIDDLE", None) and tok.end[0] > tok.start[0]
            ):
                inside.update(range(tok.start[0], tok.end[0]))
    except (tokenize.TokenError, SyntaxError):
        pass  # the parse that follows says what is wrong
    return inside


def _common_indent(lines: list[str], skip: set[int]) -> str:
    indents = [_indent_of(line) for i, line in enumerate(lines) if i not in skip and line.strip()]
    if not indents:
        return ""
    first, last = min(indents), max(indents)
    n = 0
    while n < len(first) and first[n] == last[n]:
        n += 1
    return first[:n]


def _normalised(content: str) -> list[str]:
    """``content``'s lines with ``\\n`` endings, leading and trailing blank lines dropped."""
    lines = [line.rstrip("\r\n") + "\n" for line in split_lines(content)]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def dedent_definition(content: str) -> str:
    """``content`` moved to column 0 as a block: code lines lose their common indentation,
    lines inside multi-line strings are kept as they are; ``\\n`` line endings."""
    lines = _normalised(content)
    skip = _string_lines(lines)
    prefix = _common_indent(lines, skip)
    return "".join(
        line[len(prefix) :] if i not in skip and line.startswith(prefix) else line
        for i, line in enumerate(lines)
    )


def _indented(block: str, indent: str, newline: str, tabs: bool = False) -> list[str]:
    """``block``'s lines (a dedented definition) under ``indent``, with ``newline`` endings;
    with ``tabs``, the block's own space indentation becomes tabs, one per level, so a
    tab-indented file does not get lines that mix both."""
    lines = split_lines(block)
    skip = _string_lines(lines)
    unit = _indent_unit(lines, skip) if tabs else 0
    out = []
    for i, line in enumerate(lines):
        body = line.rstrip("\r\n")
        if i not in skip:
            if unit:
                lead = _indent_of(body)
                if lead and lead.strip(" ") == "":
                    body = "\t" * (len(lead) // unit) + " " * (len(lead) % unit) + body[len(lead) :]
            body = indent + body if body.strip() else ""
        out.append(body + newline)
    return out


def _indent_unit(lines: list[str], skip: set[int]) -> int:
    """The smallest space indentation of the block's code lines (0: none)."""
    widths = [
        len(lead)
        for i, line in enumerate(lines)
        if i not in skip and line.strip() and (lead := _indent_of(line)) and not lead.strip(" ")
    ]
    return min(widths, default=0)


def _uses_tabs(lines: list[str], indent: str) -> bool:
    """Does the file indent with tabs? (Its definition's indentation says so, else the first
    indented line of the file.)"""
    if indent:
        return indent.startswith("\t")
    skip = _string_lines(lines)
    for i, line in enumerate(lines):
        lead = _indent_of(line)
        if lead and line.strip() and i not in skip:
            return lead.startswith("\t")
    return False


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
    out = "".join(_normalised(out))
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
        newline = _file_newline(lines, found.start - 1)
        tabs = _uses_tabs(lines, found.indent)
        new_lines = _indented(block, found.indent, newline, tabs)
        # The last line keeps the ending the old one had (none, at the end of a file without
        # a final newline), so the bytes after the definition stay exactly as they were.
        new_lines[-1] = new_lines[-1].rstrip("\r\n") + _newline_of(lines[found.end - 1])
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
        newline = _file_newline(head, len(head) - 1)
        if head and not _newline_of(head[-1]):
            head[-1] += newline  # the definition needs a line of its own
        blank = 0
        while blank < len(head) and not head[-1 - blank].strip():
            blank += 1
        if blank < len(head):  # some code above: two blank lines before a top-level definition
            head += [newline] * max(0, 2 - blank)
        new_lines = _indented(block, "", newline, _uses_tabs(lines, ""))
        return head, new_lines, [], len(head) + 1
    first = container.body[0]
    if first.lineno == container.lineno:
        raise HotReloadError(
            f"class {'.'.join(target.parts[:-1])} in {where} has its body on the line of "
            f"'class': add {target.name} by editing the class itself; nothing was written"
        )
    end = container.end_lineno or container.lineno
    indent = _indent_of(lines[first.lineno - 1])
    newline = _file_newline(lines, end - 1)
    head, tail = lines[:end], lines[end:]
    if head and not _newline_of(head[-1]):
        head[-1] += newline
    head = [*head, newline]  # one blank line between methods
    return head, _indented(block, indent, newline, _uses_tabs(lines, indent)), tail, len(head) + 1
