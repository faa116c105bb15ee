"""A definition's text as a block of lines: its line endings, its indentation, its strings.

Splicing a definition into a file (:mod:`.definitions`) moves a block of lines from one
indentation to another without touching a character that is not indentation:

* lines keep the endings Python reads (``\\n``, ``\\r\\n``, ``\\r``; :func:`split_lines`), and
  the block takes those of the file it goes into (:func:`file_newline`);
* :func:`dedent_definition` moves a block to column 0, :func:`indented` under an indentation
  again, with tabs, one per level, in a file indented with tabs (:func:`uses_tabs`);
* lines that begin inside a multi-line string are never dedented or indented: their leading
  characters are the string's.
"""

from __future__ import annotations

import io
import re
import tokenize

__all__ = [
    "dedent_definition",
    "file_newline",
    "indent_of",
    "indented",
    "newline_of",
    "normalised",
    "split_lines",
    "uses_tabs",
]

_LINES = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def split_lines(text: str) -> list[str]:
    """``text``'s lines with their own endings (``\\n``, ``\\r\\n`` or ``\\r``, as Python
    reads them; ``str.splitlines`` would also split at form feeds and other characters)."""
    return _LINES.findall(text)


def newline_of(line: str) -> str:
    """``line``'s own ending (``""`` for a last line without one)."""
    return line[len(line.rstrip("\r\n")) :]


def file_newline(lines: list[str], index: int) -> str:
    """The line ending to write: that of line ``index``, else the file's first, else ``\\n``."""
    if 0 <= index < len(lines) and newline_of(lines[index]):
        return newline_of(lines[index])
    return next((newline_of(line) for line in lines if newline_of(line)), "\n")


def indent_of(line: str) -> str:
    """``line``'s leading spaces, tabs and form feeds."""
    return line[: len(line) - len(line.lstrip(" \t\f"))]


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
    indents = [indent_of(line) for i, line in enumerate(lines) if i not in skip and line.strip()]
    if not indents:
        return ""
    first, last = min(indents), max(indents)
    n = 0
    while n < len(first) and first[n] == last[n]:
        n += 1
    return first[:n]


def normalised(content: str) -> list[str]:
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
    lines = normalised(content)
    skip = _string_lines(lines)
    prefix = _common_indent(lines, skip)
    return "".join(
        line[len(prefix) :] if i not in skip and line.startswith(prefix) else line
        for i, line in enumerate(lines)
    )


def indented(block: str, indent: str, newline: str, tabs: bool = False) -> list[str]:
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
                lead = indent_of(body)
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
        if i not in skip and line.strip() and (lead := indent_of(line)) and not lead.strip(" ")
    ]
    return min(widths, default=0)


def uses_tabs(lines: list[str], indent: str) -> bool:
    """Does the file indent with tabs? (Its definition's indentation says so, else the first
    indented line of the file.)"""
    if indent:
        return indent.startswith("\t")
    skip = _string_lines(lines)
    for i, line in enumerate(lines):
        lead = indent_of(line)
        if lead and line.strip() and i not in skip:
            return lead.startswith("\t")
    return False
