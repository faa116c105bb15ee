"""One definition of a file (SPEC §1.6): locating, splicing, validation. Pure text."""

from __future__ import annotations

import ast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ipython_hotreload.core.edit.definitions import (
    changed_line_count,
    find_definition,
    splice_definition,
)
from ipython_hotreload.core.edit.indentation import dedent_definition
from ipython_hotreload.core.edit.targets import parse_target
from ipython_hotreload.errors import HotReloadError

SOURCE = """\
import functools

X = 1


class C:
    \"\"\"Doc.\"\"\"

    class D:
        @staticmethod
        # a comment between decorators
        @functools.cache
        def m():
            return 1

    def n(self):
        text = '''keep
  this'''
        return text

    @property
    def p(self):
        return 1

    @p.setter
    def p(self, value):
        pass


def f(): return X
"""


def splice(text: str | None, target: str, content: str, **kw: object) -> str:
    return splice_definition(text, parse_target(target), content, where="m.py", **kw).text  # type: ignore[arg-type]


# -- finding -------------------------------------------------------------------------------


def test_a_definitions_lines_include_its_decorators_and_the_comments_between_them() -> None:
    found = find_definition(SOURCE, "C.D.m", "m.py")
    assert found is not None
    lines = SOURCE.splitlines()
    assert lines[found.start - 1].strip() == "@staticmethod"
    assert lines[found.end - 1].strip() == "return 1"
    assert found.indent == " " * 8


def test_a_property_stands_for_its_getter_and_a_one_line_function_is_one_line() -> None:
    found = find_definition(SOURCE, "C.p", "m.py")
    assert found is not None
    assert SOURCE.splitlines()[found.start - 1].strip() == "@property"
    f = find_definition(SOURCE, "f", "m.py")
    assert f is not None and f.start == f.end


def test_a_missing_class_or_a_file_that_does_not_parse_is_an_error() -> None:
    assert find_definition(SOURCE, "C.nothing", "m.py") is None
    with pytest.raises(HotReloadError, match=r"no class Z in m\.py"):
        find_definition(SOURCE, "Z.m", "m.py")
    with pytest.raises(HotReloadError, match="is a function"):
        find_definition(SOURCE, "f.inner", "m.py")
    with pytest.raises(HotReloadError, match="does not parse"):
        find_definition("def f(:\n", "f", "m.py")


# -- splicing ------------------------------------------------------------------------------


def test_replacing_a_method_reindents_it_and_keeps_every_other_byte() -> None:
    new = splice(SOURCE, "mod:C.D.m", "@staticmethod\ndef m():\n    return 2\n")
    before, after = SOURCE.split("        @staticmethod\n", 1)
    assert new.startswith(
        before + "        @staticmethod\n        def m():\n            return 2\n"
    )
    assert new.endswith(after.split("return 1\n", 1)[1])
    ast.parse(new)


def test_lines_inside_a_multiline_string_are_never_reindented() -> None:
    content = "def n(self):\n    text = '''keep\n  this'''\n    return text + '!'\n"
    new = splice(SOURCE, "mod:C.n", content)
    assert "        text = '''keep\n  this'''\n        return text + '!'\n" in new
    # The exact text, indented as on disk, round-trips to the same file.
    found = find_definition(SOURCE, "C.n", "m.py")
    assert found is not None
    exact = "".join(SOURCE.splitlines(keepends=True)[found.start - 1 : found.end])
    assert splice(SOURCE, "mod:C.n", exact) == SOURCE
    assert splice(SOURCE, "mod:C.n", dedent_definition(exact)) == SOURCE


def test_crlf_tabs_and_no_final_newline_are_kept() -> None:
    text = "class C:\r\n\tdef m(self):\r\n\t\treturn 1\r\n\r\n\tdef k(self): return 0"
    new = splice(text, "mod:C.m", "def m(self):\n    if self:\n        return 2\n")
    assert new == (
        "class C:\r\n\tdef m(self):\r\n\t\tif self:\r\n\t\t\treturn 2\r\n\r\n\tdef k(self): return 0"
    )
    last = splice(text, "mod:C.k", "def k(self):\n    return 9\n")
    assert last.endswith("\tdef k(self):\r\n\t\treturn 9")  # still no final newline


def test_a_new_function_is_appended_to_the_module_and_a_new_method_to_its_class() -> None:
    new = splice(SOURCE, "mod:g", "def g():\n    return 3")
    assert new == SOURCE + "\n\ndef g():\n    return 3\n"
    method = splice(SOURCE, "mod:C.D.k", "def k(self):\n    return 4\n")
    assert (
        "            return 1\n\n        def k(self):\n            return 4\n\n    def n" in method
    )
    created = splice(None, "new.py::h", "def h():\n    pass\n")
    assert created == "def h():\n    pass\n"


def test_a_class_body_on_the_class_line_cannot_take_a_method() -> None:
    with pytest.raises(HotReloadError, match="on the line of 'class'"):
        splice("class C: pass\n", "mod:C.m", "def m(self): pass")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("x = 1\n", "exactly one def"),
        ("def m(self): pass\ndef m(self): pass\n", "exactly one def"),
        ("def other(self): pass\n", "must be named 'm'"),
        ("def m(self:\n", "does not parse"),
        ("", "exactly one def"),
    ],
)
def test_content_that_is_not_one_definition_of_that_name_is_refused(
    content: str, message: str
) -> None:
    with pytest.raises(HotReloadError, match=message):
        splice(SOURCE, "mod:C.D.m", content)


def test_only_the_new_definition_goes_through_the_formatter() -> None:
    seen: list[str] = []

    def fmt(text: str) -> tuple[str, str | None]:
        seen.append(text)
        return text.replace("return   2", "return 2"), None

    result = splice_definition(
        SOURCE, parse_target("m:f"), "def f():\n    return   2\n", where="m.py", format=fmt
    )
    assert seen == ["def f():\n    return   2\n"]
    assert result.text.endswith("def f():\n    return 2\n") and result.formatted_lines == 1
    failing = splice_definition(
        SOURCE, parse_target("m:f"), "def f(): return 3", where="m.py", format=lambda t: (t, "no")
    )
    assert failing.warnings == ("no",) and failing.formatted_lines == 0


def test_changed_line_count() -> None:
    assert changed_line_count("a\nb\nc\n", "a\nB\nc\nd\n") == 2
    assert changed_line_count("a\n", "a\n") == 0
    assert (
        changed_line_count("def a(): pass\ndef b(): pass\n", "def a(): pass\n\n\ndef b(): pass\n")
        == 0
    )


# -- property: splicing never changes a byte outside the definition --------------------------

_names = st.sampled_from(["a", "b", "c"])
_bodies = st.lists(
    st.sampled_from(["return 1", "x = 2", "pass", "y = '''s\n  t'''"]), min_size=1, max_size=3
)


@st.composite
def _modules(draw: st.DrawFn) -> tuple[str, str, str]:
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    indent = draw(st.sampled_from(["    ", "\t", "  "]))
    names = draw(st.lists(_names, min_size=1, max_size=3, unique=True))
    parts = []
    for name in names:
        body = draw(_bodies)
        parts.append(f"def {name}(self):" + "".join(f"\n{indent * 2}{b}" for b in body))
    comment = draw(st.sampled_from(["", "# tail\n", "X = 1\n"]))
    text = f"class K:\n{indent}" + f"\n\n{indent}".join(parts) + "\n\n" + comment
    if draw(st.booleans()):
        text = text.rstrip("\n")
    target = draw(st.sampled_from(names))
    return text.replace("\n", newline), target, newline


@settings(max_examples=150, deadline=None)
@given(_modules(), _bodies)
def test_splicing_never_changes_bytes_outside_the_definition(
    module: tuple[str, str, str], body: list[str]
) -> None:
    text, name, _newline = module
    found = find_definition(text, f"K.{name}", "m.py")
    assert found is not None
    lines = text.splitlines(keepends=True)
    content = f"def {name}(self):\n" + "".join(f"    {b}\n" for b in body)
    new = splice(text, f"m:K.{name}", content)
    new_lines = new.splitlines(keepends=True)
    head, tail = lines[: found.start - 1], lines[found.end :]
    assert new_lines[: len(head)] == head
    if tail:
        assert new_lines[len(new_lines) - len(tail) :] == tail
    # The last line of the definition keeps its own ending (none at the end of the file).
    assert new.endswith(text[len("".join(lines[: found.end])) :])
    ast.parse(new)
    replaced = find_definition(new, f"K.{name}", "m.py")
    assert replaced is not None
    block = "".join(new_lines[replaced.start - 1 : replaced.end])
    # The same code (a tab-indented file gets tabs), and the same string contents.
    assert ast.dump(ast.parse(dedent_definition(block))) == ast.dump(ast.parse(content))
