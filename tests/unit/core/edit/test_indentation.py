"""A definition's text as a block of lines: line endings, indentation moved as a block, tabs,
and the lines of multi-line strings, which are never touched."""

from __future__ import annotations

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

METHOD = "    def m(self):\r\n        text = '''keep\r\n  this'''\r\n\r\n        return text\r\n"


def test_lines_keep_the_endings_python_reads_and_only_those() -> None:
    assert split_lines("a\nb\r\nc\rd") == ["a\n", "b\r\n", "c\r", "d"]
    # str.splitlines would split at these too; Python's tokenizer does not.
    assert split_lines("x = 1  # \x0c form feed\x0b \u2028 end\n") == [
        "x = 1  # \x0c form feed\x0b \u2028 end\n"
    ]
    assert split_lines("") == []
    assert [newline_of(line) for line in split_lines("a\nb\r\nc")] == ["\n", "\r\n", ""]
    assert indent_of("\t  \x0cx = 1\n") == "\t  \x0c" and indent_of("x\n") == ""


def test_the_ending_to_write_is_the_lines_own_else_the_files_first_else_lf() -> None:
    lines = split_lines("a\r\nb\nc")
    assert [file_newline(lines, i) for i in (0, 1, 2, 9, -1)] == ["\r\n", "\n"] + ["\r\n"] * 3
    assert file_newline(split_lines("no ending"), 0) == "\n"
    assert file_newline([], 0) == "\n"


def test_dedenting_moves_the_block_to_column_zero_but_never_a_strings_lines() -> None:
    assert dedent_definition("\n\n" + METHOD + "\n  \n") == (
        "def m(self):\n    text = '''keep\n  this'''\n\n    return text\n"
    )
    assert normalised("\r\n  x\r\n\r\n") == ["  x\n"]
    # Mixed leading whitespace: only what every code line shares goes.
    assert dedent_definition("\t  a = 1\n\t    b = 2\n") == "a = 1\n  b = 2\n"


def test_indenting_a_block_puts_its_code_lines_under_the_indentation() -> None:
    block = dedent_definition(METHOD)
    assert indented(block, "  ", "\r\n") == [
        "  def m(self):\r\n",
        "      text = '''keep\r\n",
        "  this'''\r\n",  # inside the string: as it was
        "\r\n",  # a blank line gets no indentation
        "      return text\r\n",
    ]


def test_in_a_file_indented_with_tabs_each_level_of_spaces_becomes_a_tab() -> None:
    block = "def m(self):\n    if self:\n        return '''a\n    b'''\n      # odd\n"
    assert indented(block, "\t", "\n", tabs=True) == [
        "\tdef m(self):\n",
        "\t\tif self:\n",
        "\t\t\treturn '''a\n",
        "    b'''\n",
        "\t\t  # odd\n",  # six spaces: one level and two left over
    ]


def test_a_file_uses_tabs_when_its_definition_or_first_indented_code_line_does() -> None:
    assert uses_tabs([], "\t") and not uses_tabs([], "    ")
    assert uses_tabs(split_lines("class C:\n\tx = 1\n    y = 2\n"), "")
    text = "S = '''\n\tin a string\n'''\n\n\ndef f():\n    pass\n"
    assert not uses_tabs(split_lines(text), "")  # a string's tab is no indentation
    assert not uses_tabs(split_lines("x = 1\n"), "")
