"""A spliced index (only the statements an edit touched parsed again) is the index a whole
parse of the new text gives, and the splice declines whenever it could not be sure.

Hypothesis edits the lines of a module made of decorated functions, a class with methods,
constants, comments, blank lines, multi-line strings and brackets, by replacing, inserting
and deleting runs of lines drawn from a pool that also holds lines breaking the
tokenizer's rest (an open bracket, an open triple quote, a backslash, an indented line).
Whenever the new text parses and the splice answers, every statement of its index must
equal the whole parse's: text, header, lines, name, import-time reads, class bodies,
function reads, imports, and the node itself at its lines (``ast.dump`` with positions).
"""

from __future__ import annotations

import ast

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ipython_hotreload.core.graph.importscan import scan_source
from ipython_hotreload.core.source.splice import splice
from ipython_hotreload.core.source.statements import ModuleIndex, Statement

BASE = [
    '"""A module."""\n',
    "\n",
    "import os\n",
    "LIMIT = 3\n",
    "\n",
    "\n",
    "@decorate(LIMIT)\n",
    "def f(x, y=LIMIT):\n",
    '    """Doc."""\n',
    "    return x + y + os.sep.count('/')\n",
    "\n",
    "# a comment\n",
    "\n",
    "class K(Base):\n",
    "    ATTR = f(1)\n",
    "\n",
    "    def m(self):\n",
    "        return self.ATTR\n",
    "\n",
    "    @property\n",
    "    def p(self):\n",
    "        return g()\n",
    "\n",
    "    class Inner:\n",
    "        from os import path\n",
    "\n",
    "        def q(self, n=LIMIT):\n",
    "            return n\n",
    "\n",
    "    def last(self):\n",
    "        return 2\n",
    "\n",
    "\n",
    "TEXT = '''\n",
    "one\n",
    "'''\n",
    "TABLE = [\n",
    "    LIMIT,\n",
    "]\n",
    "\n",
    "def g():\n",
    "    return TABLE\n",
]

POOL = [
    "\n",
    "# note\n",
    "X = LIMIT * 2\n",
    "def h():\n",
    "    return X\n",
    "    return 1\n",
    "        pass\n",
    "@decorate\n",
    "class Z:\n",
    "    pass\n",
    "Y = [\n",
    "]\n",
    "S = '''\n",
    "'''\n",
    "T = 1 + \\\n",
    "    2\n",
    "x = 1; y = 2\n",
    "from __future__ import annotations\n",
    "import sys\n",
    "async def a():\n",
    "    await b()\n",
    "    def n(self, k=LIMIT):\n",
    "        return k\n",
    "    @staticmethod\n",
    "    Z = ATTR + 1\n",
    "  def bad(self):\n",
    "class K(Other):\n",
    "os: int = 1\n",
    "    W = os.sep\n",
]


def _full(text: str) -> ModuleIndex | None:
    try:
        return ModuleIndex(text, ast.parse(text), "pkg")
    except SyntaxError:
        return None


def _same(a: Statement, b: Statement) -> None:
    assert (a.text, a.header, a.start, a.end, a.name) == (b.text, b.header, b.start, b.end, b.name)
    assert (a.loads, a.calls) == (b.loads, b.calls)
    assert ast.dump(a.located(), include_attributes=True) == ast.dump(
        b.node, include_attributes=True
    )
    assert (a.body is None) == (b.body is None)
    if a.body is not None and b.body is not None:
        assert len(a.body) == len(b.body)
        for x, y in zip(a.body, b.body, strict=True):
            _same(x, y)


def _assert_equal(spliced: ModuleIndex, full: ModuleIndex) -> None:
    assert len(spliced.statements) == len(full.statements)
    for a, b in zip(spliced.statements, full.statements, strict=True):
        _same(a, b)
    assert spliced.function_reads == full.function_reads
    assert spliced.module_aliases == full.module_aliases
    assert spliced.from_imports == full.from_imports
    assert spliced.future_flags == full.future_flags


edits = st.lists(
    st.tuples(
        st.integers(0, len(BASE)),  # where
        st.integers(0, 3),  # how many lines it replaces
        st.lists(st.sampled_from(POOL), max_size=3),  # with what
    ),
    min_size=1,
    max_size=3,
)


@settings(max_examples=800, deadline=None)
@given(edits)
# A class whose first body statement, decorated, follows blank lines: its decorators are the
# statement's, not the class header's.
@example([(14, 1, []), (14, 2, []), (14, 2, ["\n"])])
def test_a_spliced_index_is_the_whole_parse(changes: list[tuple[int, int, list[str]]]) -> None:
    lines = list(BASE)
    old = _full("".join(lines))
    assert old is not None
    for where, count, new in changes:
        lines[where : where + count] = new
        text = "".join(lines)
        full = _full(text)
        got = splice(old, text, "<test>")
        if full is None:
            assert got is None  # a text that does not parse is never spliced
            continue
        if got is not None:
            _assert_equal(got.index, full)
            if got.same_imports:  # then the graph keeps the file's records: they must stand
                assert scan_source(old.text, "pkg.m", False) == scan_source(text, "pkg.m", False)
        old = full


def test_a_body_edit_parses_only_its_function() -> None:
    text = "".join(BASE)
    old = _full(text)
    assert old is not None
    got = splice(old, text.replace("return x + y", "return x * y\n    # longer"), "<test>")
    assert got is not None
    assert [type(n).__name__ for n in got.chunk.body] == ["FunctionDef"]
    assert got.same_imports  # no import in it, the same import-time reads
    moved = got.index.statements[-1]
    assert moved.shift == 1 and moved.start == old.statements[-1].start + 1


def test_what_the_graph_must_see_is_not_called_the_same_imports() -> None:
    text = "".join(BASE)
    old = _full(text)
    assert old is not None
    decorator = splice(old, text.replace("@decorate(LIMIT)", "@decorate(os)"), "<test>")
    assert decorator is not None and not decorator.same_imports
    imported = splice(
        old, text.replace("    return TABLE", "    import json\n    return TABLE"), "x"
    )
    assert imported is not None and not imported.same_imports


def test_the_splice_declines_what_it_cannot_vouch_for() -> None:
    text = "".join(BASE)
    old = _full(text)
    assert old is not None
    for new in (
        text.replace("LIMIT = 3\n", "LIMIT = 3\nfrom __future__ import annotations\n"),
        text.replace('"""A module."""', '"""The module."""'),  # the first two lines
        text.replace("# a comment", "# a comment\f"),  # a break the tokenizer does not count
        text.replace("# a comment", "# a comment\x1c"),
        text.replace("# a comment", "# a comment é\u2028"),  # (in a text that is not ASCII)
        text.replace("LIMIT = 3\n", "LIMIT = (\n"),  # opens a bracket: parse it whole
    ):
        assert splice(old, new, "<test>") is None


def test_a_method_added_after_a_blank_line_below_its_class_is_spliced_into_it() -> None:
    # Indented lines after the blank line that ends a class go on with the class's body: the
    # class is parsed again, not the whole module (the whole parse agrees).
    text = "".join(BASE)
    old = _full(text)
    assert old is not None
    end = text.index("    def last(self):\n        return 2\n\n") + len("    def last(self):\n")
    end += len("        return 2\n\n")
    new = text[:end] + "    def added(self):\n        return 3\n" + text[end:]
    got = splice(old, new, "<test>")
    assert got is not None
    assert [type(n).__name__ for n in got.chunk.body] == ["ClassDef"]
    full = _full(new)
    assert full is not None
    _assert_equal(got.index, full)
