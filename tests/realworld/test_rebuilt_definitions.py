"""Definitions rebuilt by an edit: a class registry fed by ``__init_subclass__``, class trees
and nested instances in modules that re-execute whole (a top-level ``del``), a def whose
name a later statement rebinds.

The scenario model is in ``scenarios.py``; the marks are as in ``test_app_frameworks.py``.
"""

from __future__ import annotations

import sys

import pytest

from tests.conftest import Project
from tests.realworld.scenarios import (
    Mods,
    Scenario,
    apply_edit,
    check_fresh_import,
    edited,
    modes,
    start,
)

pytestmark = pytest.mark.slow

SCENARIOS: dict[str, Scenario] = {}


# -- a registry fed by __init_subclass__ ------------------------------------------------------

EXPORTERS = """
REGISTRY = {}


class Exporter:
    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        REGISTRY[cls.__name__.lower()] = cls

    def export(self, rows):
        raise NotImplementedError
"""
FORMATS = """
from exporters import Exporter


class CSV(Exporter):
    def export(self, rows):
        return "\\n".join(",".join(map(str, row)) for row in rows)


class TSV(Exporter):
    def export(self, rows):
        return "\\n".join("\\t".join(map(str, row)) for row in rows)
"""


def _expect_exporters(m: Mods) -> None:
    exporters, formats = m["exporters"], m["formats"]
    assert exporters.REGISTRY == {"csv": formats.CSV, "tsv": formats.TSV}
    assert formats.CSV.extension == ".csv" and formats.TSV().extension == ".tsv"
    assert formats.CSV().export([(1, 2)]) == "1,2"


SCENARIOS["init_subclass"] = Scenario(
    {"exporters.py": EXPORTERS, "formats.py": FORMATS},
    {
        "exporters.py": edited(
            EXPORTERS,
            (
                "REGISTRY[cls.__name__.lower()] = cls",
                'REGISTRY[cls.__name__.lower()] = cls\n        cls.extension = "." + cls.__name__.lower()',
            ),
        )
    },
    "formats",
    _expect_exporters,
)


@modes()
def test_init_subclass_registry_edit_reaches_the_subclasses(project: Project, mode: str) -> None:
    sc = SCENARIOS["init_subclass"]
    m = start(project, sc)
    registry, CSV = sys.modules["exporters"].REGISTRY, m.CSV
    held = CSV()
    apply_edit(project, mode, sc)
    sc.expect(sys.modules)
    assert m.CSV is CSV and held.extension == ".csv"
    assert sys.modules["exporters"].REGISTRY["csv"] is CSV
    if mode == "minimal":
        assert sys.modules["exporters"].REGISTRY is registry


# -- class trees in a module that re-executes whole (a top-level `del`) ----------------------

TREE = """
class Node:
    leaf_class = None  # set once the classes exist

    def __init__(self, children=()):
        self.children = list(children)

    def size(self):
        return 1 + sum(child.size() for child in self.children)


class Term(Node):
    def __init__(self):
        super().__init__()


class Leaf(Term):
    def __init__(self, value):
        super().__init__()
        self.value = value


Node.leaf_class = Leaf

for _name in ("Term", "Leaf"):
    globals()[_name].kind = _name.lower()
del _name
"""
TREE_USER = """
from tree import Leaf, Node


class Pair(Node):
    def __init__(self, a, b):
        super().__init__([Leaf(a), Leaf(b)])


ONE = Pair(1, 2)
"""


def _expect_tree(m: Mods) -> None:
    tree, user = m["tree"], m["tree_user"]
    assert tree.Leaf.__bases__ == (tree.Term,) and tree.Node.leaf_class is tree.Leaf
    assert tree.Leaf(5).size() == 10 and tree.Leaf(5).kind == "leaf"
    assert user.ONE.size() == 30 and user.Pair(3, 4).size() == 30


SCENARIOS["tree_with_del"] = Scenario(
    {"tree.py": TREE, "tree_user.py": TREE_USER},
    {"tree.py": edited(TREE, ("return 1 + sum(", "return 10 + sum("))},
    "tree_user",
    _expect_tree,
)


@modes()
def test_class_tree_in_a_module_that_re_executes_whole(project: Project, mode: str) -> None:
    sc = SCENARIOS["tree_with_del"]
    start(project, sc)
    tree = sys.modules["tree"]
    Node, Leaf, held = tree.Node, tree.Leaf, tree.Leaf(7)
    results = apply_edit(project, mode, sc)
    assert results[0]["recompiled"][0]["mode"] == "full"
    sc.expect(sys.modules)
    assert tree.Node is Node and tree.Leaf is Leaf and held.size() == 10


SHAPES = """
class Shape:
    def area(self):
        return 1


class Square(Shape):
    def area(self):
        return super().area() * 10


class Group:
    def __init__(self, members):
        self.members = members


UNIT = Square()
PAIR = Group([Square(), Square()])

_cache = {}
del _cache
"""


def _expect_shapes(m: Mods) -> None:
    shapes = m["shapes"]
    assert shapes.UNIT.area() == 20 and isinstance(shapes.UNIT, shapes.Square)
    assert all(isinstance(s, shapes.Square) for s in shapes.PAIR.members)
    assert [s.area() for s in shapes.PAIR.members] == [20, 20]


SCENARIOS["nested_instances"] = Scenario(
    {"shapes.py": SHAPES},
    {"shapes.py": edited(SHAPES, ("return 1\n", "return 2\n"))},
    "shapes",
    _expect_shapes,
)


@modes()
def test_instances_nested_in_module_objects_of_a_module_that_re_executes_whole(
    project: Project, mode: str
) -> None:
    sc = SCENARIOS["nested_instances"]
    m = start(project, sc)
    Square, held = m.Square, m.Square()
    results = apply_edit(project, mode, sc)
    assert results[0]["recompiled"][0]["mode"] == "full"
    sc.expect(sys.modules)
    assert m.Square is Square and held.area() == 20


# -- a def whose name a later statement rebinds (pyparsing's `delimited_list`) ----------------

ALIASES = """
class Number:
    def __init__(self, text):
        self.value = float(text)


def parse_int(text):  # the old parser, kept for its docstring; the alias below replaces it
    return int(text)


parse_int = Number  # the old name now builds the new type
"""


def _expect_aliases(m: Mods) -> None:
    aliases = m["aliases"]
    assert aliases.parse_int is aliases.Number and aliases.parse_int("2").value == 2.0


SCENARIOS["shadowed_def"] = Scenario(
    {"aliases.py": ALIASES},
    {"aliases.py": edited(ALIASES, ("return int(text)", "return int(text, 10)"))},
    "aliases",
    _expect_aliases,
)


@modes()
def test_editing_a_def_shadowed_by_a_later_alias(project: Project, mode: str) -> None:
    sc = SCENARIOS["shadowed_def"]
    m = start(project, sc)
    Number = m.Number
    apply_edit(project, mode, sc)
    sc.expect(sys.modules)
    assert m.Number is Number


# -- every expectation, on a fresh import of the edited text -----------------------------------


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_expectations_hold_on_a_fresh_import(project: Project, name: str) -> None:
    check_fresh_import(project, SCENARIOS[name])
