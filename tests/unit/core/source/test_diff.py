"""What changed between two texts of a module, statement by statement: the status of each
pair, class bodies taken member by member, and when the comparison cannot vouch."""

from __future__ import annotations

import ast
import dataclasses

import pytest

from ipython_hotreload.core.source.diff import Pair, diff_statements, full_reason, lone_method
from ipython_hotreload.core.source.statements import ModuleIndex

OLD = """\
X = 1


@deco
def f():
    return 1


def g():
    return 1


class C:
    A = 1

    def m(self):
        return 1


def gone():
    pass
"""


def index(text: str) -> ModuleIndex:
    return ModuleIndex(text, ast.parse(text), None)


def statuses(old: str, new: str) -> list[tuple[str, str | None]]:
    pairs = diff_statements(index(old).statements, index(new).statements)
    return [(p.status, (p.new or p.old).name or (p.new or p.old).text.strip()) for p in pairs]  # type: ignore[union-attr]


def test_the_same_text_pairs_every_statement_as_same() -> None:
    assert {s for s, _ in statuses(OLD, OLD)} == {"same"}


def test_each_kind_of_change_has_its_status() -> None:
    new = (
        OLD.replace("X = 1", "X = 2")  # a changed statement runs
        .replace("@deco\ndef f():\n    return 1", "@deco\ndef f():\n    return 2")  # patched
        .replace("def g():\n    return 1", "@other\ndef g():\n    return 1")  # decorator: runs
        .replace("        return 1\n\n\ndef gone", "        return 2\n\n\ndef gone")  # in a class
        .replace("def gone():\n    pass\n", "Y = 3\n")  # removed, and new
    )
    assert statuses(OLD, new) == [
        ("run", "X = 2"),
        ("patch", "f"),
        ("run", "g"),
        ("class", "C"),
        ("run", "Y = 3"),
        ("removed", "X = 1"),  # the new ones in order, then the old ones nothing took
        ("removed", "gone"),
    ]
    [cls] = [p for p in diff_statements(index(OLD).statements, index(new).statements) if p.body]
    assert [(p.status, p.old.name if p.old else None) for p in cls.body] == [
        ("same", None),
        ("patch", "m"),
    ]


def test_a_definition_that_moved_is_paired_by_kind_and_name() -> None:
    new = OLD.replace("def g():\n    return 1\n\n\n", "") + "\n\ndef g():\n    return 5\n"
    assert ("patch", "g") in statuses(OLD, new)
    as_class = OLD.replace("def g():\n    return 1", "class g:\n    pass")
    assert ("run", "g") in statuses(OLD, as_class) and ("removed", "g") in statuses(OLD, as_class)


def test_a_class_whose_header_or_body_statements_changed_runs_whole() -> None:
    assert ("run", "C") in statuses(OLD, OLD.replace("class C:", "class C(Base):"))
    assert ("run", "C") in statuses(OLD, OLD.replace("    A = 1", "    A = 2"))


def test_pairs_are_frozen() -> None:
    [pair] = diff_statements(index("X = 1\n").statements, index("X = 2\n").statements)[:1]
    with pytest.raises(dataclasses.FrozenInstanceError):
        pair.status = "same"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("edit", "status"),
    [
        ("    def extra(self):\n        return 2\n", "class"),  # a method added: one attribute
        ("    @staticmethod\n    def extra():\n        return 2\n", "class"),
        ("    def __eq__(self, other):\n        return True\n", "run"),  # a dunder
        ("    def __hidden(self):\n        return 2\n", "run"),  # mangled
        ("    def extra(self):\n        return 2\n    alias = extra\n", "run"),  # read in the body
    ],
)
def test_a_lone_method_added_to_a_class_is_taken_as_one_attribute(edit: str, status: str) -> None:
    new = OLD.replace(
        "        return 1\n\n\ndef gone", "        return 1\n\n" + edit + "\n\ndef gone"
    )
    assert (status, "C") in statuses(OLD, new)


def test_lone_method_declines_a_setter_that_shares_the_propertys_name() -> None:
    old_body = (
        index("class K:\n    @property\n    def p(self):\n        return 1\n").statements[0].body
    )
    new_text = (
        "class K:\n    @property\n    def p(self):\n        return 1\n"
        "    @p.setter\n    def p(self, v):\n        pass\n"
    )
    new_body = index(new_text).statements[0].body
    assert old_body is not None and new_body is not None
    [_, added] = diff_statements(old_body, new_body)
    assert added.status == "run" and not lone_method(added, old_body, new_body)
    plain = Pair("run", None, index("def q(self):\n    pass\n").statements[0])
    assert lone_method(plain, old_body, [*new_body, plain.new])  # type: ignore[list-item]
    assert not lone_method(Pair("same", plain.new, plain.new), old_body, new_body)


def test_full_reason_says_when_the_comparison_cannot_vouch() -> None:
    base = index("X = 1\n")
    assert full_reason(base, index("X = 2\n")) is None
    assert full_reason(base, index("from __future__ import annotations\nX = 2\n")) == (
        "a `from __future__` import changed"
    )
    assert full_reason(base, index("global X\nX = 2\n")) == "a top-level `global` statement"
    assert full_reason(index("del Y\nX = 1\n"), index("X = 2\n")) == "a top-level `del` statement"
    unsafe = index("exec('Y = 1')\nX = 1\n")
    assert full_reason(unsafe, index(unsafe.text)) is None  # the very same text: nothing runs
