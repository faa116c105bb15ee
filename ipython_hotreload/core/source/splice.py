"""A new text of a module read from an index of its earlier text: only the top-level
statements an edit touched are parsed again (SPEC §1.5's comparison, at the cost of the
edit rather than of the module).

Design. The lines the two texts share at their start and at their end are found by
comparison; the old top-level statements the changed lines overlap or touch (a line added
right after a ``def`` may belong to its body, one right before it may be a decorator) make
the *chunk*. The new chunk is parsed on its own. That is the parse the whole text would
give when the chunk starts and ends where the tokenizer is at rest: it starts at the first
line of an old top-level statement (or at the first changed line, in a gap of blank lines
and comments) with an unchanged text before it, and ends at the end of one with an
unchanged text after it; a new chunk that opens a bracket or string, or starts indented
(continuing the statement before it), does not parse alone. Whenever the chunk does not
parse, or the edit is one the comparison should not guess about (the first two lines, which
may hold an encoding declaration; a ``from __future__`` import; line separators the
tokenizer does not count), the caller parses the whole text instead, which also gives the
user's syntax error its right line.

Statements outside the chunk keep their old entries, moved by the lines the chunk grew or
shrank: their nodes are shifted only if they run (:meth:`Statement.located`).
"""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass

from ipython_hotreload.core.graph.treescan import import_time_reads
from ipython_hotreload.core.source.statements import ModuleIndex, Statement

__all__ = ["Spliced", "splice"]

_ANNOTATIONS = getattr(__import__("__future__"), "annotations").compiler_flag

# str.splitlines() also breaks at these; the tokenizer (and so every lineno) does not.
_ODD_BREAKS = re.compile("[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")


@dataclass
class Spliced:
    """A new text's index made from an old one, and the chunk parsed for it."""

    index: ModuleIndex
    chunk: ast.Module  # the new chunk's statements, at their lines in the new text
    old_text: str  # the chunk's old and new text
    new_text: str
    old_nodes: list[ast.stmt]  # the chunk's statements before
    class_body: bool = False  # the chunk is members of a class

    @property
    def same_imports(self) -> bool:
        """Are the module's import records what they were: no ``import`` in either text of
        the chunk, and the same names read at import time, as the graph's scan counts
        them (for the records' ``used`` flags)?"""
        if "import" in self.old_text or "import" in self.new_text:
            return False
        lazy = bool(self.index.future_flags & _ANNOTATIONS)
        kw = {"class_body": self.class_body, "evaluate_annotations": not lazy}
        return import_time_reads(self.old_nodes, **kw) == import_time_reads(self.chunk_nodes, **kw)

    @property
    def chunk_nodes(self) -> list[ast.stmt]:
        """The chunk's statements after (a class member chunk's, out of its bare class)."""
        body = self.chunk.body
        if self.class_body and body and isinstance(body[0], ast.ClassDef):
            return body[0].body
        return body


def _odd_breaks(text: str) -> bool:
    """Does ``text`` hold a line break the tokenizer does not count? (An ASCII text is
    asked about its five such characters: a search of each is a fast scan of the bytes.)"""
    if text.isascii():
        return any(c in text for c in "\x0b\x0c\x1c\x1d\x1e")
    return _ODD_BREAKS.search(text) is not None


def splice(old: ModuleIndex, text: str, filename: str) -> Spliced | None:
    """The index of ``text`` made from ``old`` (the index of an earlier text of the same
    module), or None when the whole text must be parsed. Raises nothing: a chunk that does
    not parse is left to the whole parse to report."""
    if _odd_breaks(text) or _odd_breaks(old.text):
        return None
    before, after = old.lines, text.splitlines(keepends=True)
    if before == after:
        return None
    limit = min(len(before), len(after))
    p = 0  # lines [0, p) are the same
    while p < limit and before[p] == after[p]:
        p += 1
    s = 0  # and so are the last s
    while s < limit - p and before[-1 - s] == after[-1 - s]:
        s += 1
    old_end, new_end = len(before) - s, len(after) - s  # changed: [p, old_end) -> [p, new_end)
    statements = old.statements
    # The statements the change overlaps or touches (0-based lines [start - 1, end)).
    hit = [k for k, st in enumerate(statements) if st.end >= p and st.start - 1 <= old_end]
    first = hit[0] if hit else _first_after(statements, p)
    if first > 0 and _continues(statements[first - 1], before, after[p:new_end], p):
        hit.insert(0, first - 1)  # indented lines after blank ones: its body goes on
    i, j = (hit[0], hit[-1] + 1) if hit else (_first_after(statements, p), None)
    if j is None:
        j = i
    a = min([p, *(statements[k].start - 1 for k in hit)])
    b = max([old_end, *(statements[k].end for k in hit)])
    if a < 2 or (i > 0 and statements[i - 1].end > a):
        return None  # the encoding line may be in it; a line shared with the one before
    if j < len(statements) and statements[j].start - 1 < b:
        return None  # a statement after it starts on its last line (`x = 1; y = 2`)
    delta = new_end - old_end
    if j == i + 1 and statements[i].is_class:
        inside = _members(old, i, after, p, old_end, delta, filename)
        if inside is not None:
            return inside
    new_text = "".join(after[a : b + delta])
    try:  # the blank lines put the chunk at its lines (cheaper than moving the nodes)
        chunk = ast.parse("\n" * a + new_text, filename)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    touched = statements[i:j]
    if any(_is_future(n) for n in chunk.body) or any(_is_future(t.node) for t in touched):
        return None
    kept: dict[int, tuple[Statement, int]] = {}
    body: list[ast.stmt] = []
    for st in statements[:i]:
        kept[id(st.node)] = (st, 0)
        body.append(st.node)
    body += chunk.body
    for st in statements[j:]:
        kept[id(st.node)] = (st, delta)
        body.append(st.node)
    tree = ast.Module(body, [])
    index = ModuleIndex(text, tree, old.package, old, kept=kept, lines=after)
    return Spliced(index, chunk, "".join(before[a:b]), new_text, [t.node for t in touched])


def _members(
    old: ModuleIndex,
    k: int,
    after: list[str],
    p: int,
    old_end: int,
    delta: int,
    filename: str,
) -> Spliced | None:
    """The change lies inside the body of top-level class ``k``: parse only the members it
    touched, inside a bare class at their lines (the same rules as at the top level, one
    indentation in), or None."""
    cls = old.statements[k]
    members = cls.body or []
    header_end = cls.start - 1 + cls.header.count("\n")  # 0-based line after the header
    if not members or p < header_end or old_end > cls.end:
        return None
    hit = [m for m, st in enumerate(members) if st.end >= p and st.start - 1 <= old_end]
    if not hit:
        return None
    i, j = hit[0], hit[-1] + 1
    a = min([p, *(members[m].start - 1 for m in hit)])
    b = max([old_end, *(members[m].end for m in hit)])
    if (i > 0 and members[i - 1].end > a) or (j < len(members) and members[j].start - 1 < b):
        return None  # a line shared with a member outside
    indent = members[0].node.col_offset
    new_text = "".join(after[a : b + delta])
    try:
        wrapper = ast.parse("\n" * (a - 1) + "class _:\n" + new_text, filename)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    if len(wrapper.body) != 1 or not isinstance(wrapper.body[0], ast.ClassDef):
        return None  # the new lines end the class: read at the top level
    fresh = wrapper.body[0].body
    if any(n.col_offset != indent or _is_future(n) for n in fresh):
        return None  # another indentation: the class's body would not take it
    first = min([fresh[0].lineno, *(d.lineno for d in getattr(fresh[0], "decorator_list", []))])
    if i == 0 and first != members[0].start:
        return None  # the class's header (its lines up to the first member) changed
    node = copy.copy(cls.node)
    assert isinstance(node, ast.ClassDef)
    kept = {id(m.node): m for m in members[:i]}
    kept.update({id(m.node): m.moved(delta) for m in members[j:]})
    node.body = [*(m.node for m in members[:i]), *fresh, *(m.node for m in members[j:])]
    tree_body = [st.node for st in old.statements]
    tree_body[k] = node
    outer = {id(st.node): (st, 0) for st in old.statements[:k]}
    outer.update({id(st.node): (st, delta) for st in old.statements[k + 1 :]})
    outer[id(node)] = (cls, 0)  # a stand-in, replaced just below
    text = "".join(after)
    index = ModuleIndex(text, ast.Module(tree_body, []), old.package, old, kept=outer)
    index.statements[k] = index.with_members(cls, node, kept)
    touched = [m.node for m in members[i:j]]
    return Spliced(index, wrapper, "".join(old.lines[a:b]), new_text, touched, class_body=True)


def _continues(prev: Statement, before: list[str], added: list[str], p: int) -> bool:
    """Do the changed lines (``added``, from 0-based line ``p``) go on with ``prev``'s body:
    they start with an indented line and only blank or comment lines lie between ``prev``'s
    last line and them (``class K:`` ... a blank line ... ``    def new(self):``)?"""
    if prev.body is None and not prev.is_def:
        return False
    code = next((line for line in added if line.strip() and not line.lstrip().startswith("#")), "")
    if not code[:1].isspace():
        return False
    between = before[prev.end : p]
    return all(not line.strip() or line.lstrip().startswith("#") for line in between)


def _first_after(statements: list[Statement], line: int) -> int:
    """The index of the first statement starting at or after 0-based ``line``."""
    for k, st in enumerate(statements):
        if st.start - 1 >= line:
            return k
    return len(statements)


def _is_future(node: ast.stmt) -> bool:
    return isinstance(node, ast.ImportFrom) and node.module == "__future__"
