"""The payload's analysis of a class member by member (so that editing one method sends one
method through astroid, not its class) says exactly what the analysis of the whole class
says, on real code: this package, the standard library's modules and astroid's own; and a
file's cached analysis is never replaced by a prefetched one."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import astroid
import pytest

from ipython_hotreload.core.report import analysis
from tests.conftest import Project

STDLIB = Path(os.__file__).parent
CORPUS = [
    *sorted(Path(analysis.__file__).parents[2].rglob("*.py")),
    *sorted(STDLIB.glob("*.py"))[:80],
    *sorted(Path(astroid.__file__).parent.rglob("*.py"))[:40],
]


def _whole_classes(tree: ast.Module) -> list[analysis.Unit]:
    return [
        (min([s.lineno, *(d.lineno for d in s.decorator_list)]), s.end_lineno or s.lineno, "")
        for s in tree.body
        if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    ]


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_member_by_member_is_the_whole_class(path: Path) -> None:
    source = path.read_text(encoding="utf-8", errors="replace")
    try:
        tree = ast.parse(source)
    except SyntaxError:
        pytest.skip("not this Python's syntax")
    analysis._clear_cache()
    whole = analysis.analyse_functions(source, units=_whole_classes(tree))
    analysis._clear_cache()
    assert analysis.analyse_functions(source, tree) == whole


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_a_function_read_without_its_body_gives_the_same_entry(path: Path) -> None:
    source = path.read_text(encoding="utf-8", errors="replace")
    try:
        tree = ast.parse(source)
    except SyntaxError:
        pytest.skip("not this Python's syntax")
    units = list(analysis._tree_units(tree.body))
    for _, _, segment, prefix in analysis._definitions(source, units):
        assert analysis._analyse_segment(segment, prefix) == analysis._analyse_segment(
            segment, prefix, bodies=True
        ), segment.splitlines()[0]


def test_bodies_are_left_out_where_they_can_be() -> None:
    cut = [
        'def f(x: int = 1) -> int:\n    """Doc."""\n    y = x\n    return y\n',
        "class _:\n    @property\n    def p(self):\n        @wraps(g)\n        def inner(): ...\n",
    ]
    kept = [
        "def f(): return 1\n",  # the body shares the def's line
        'def f():\n    """Only a docstring."""\n',
        'def f():\n    """doc"""; return 1\n',
        "class K:\n    def m(self): ...\n",  # a class, read whole (no one function)
    ]

    def header(text: str) -> tuple[str, int] | None:
        fn = analysis._the_function(ast.parse(text), in_class=text.startswith("class _"))
        return None if fn is None else analysis._header(text, fn)

    assert [header(t) for t in cut] == [
        ('def f(x: int = 1) -> int:\n    """Doc."""\n    ...\n', 4),
        ("class _:\n    @property\n    def p(self):\n        ...\n", 5),
    ]
    assert [header(t) for t in kept] == [None] * len(kept)
    assert analysis._analyse_segment("def f(a, *, b=2):\n    x = 1\n    return x\n") == [
        {
            "name": "f",
            "qualname": "f",
            "kind": "function",
            "lineno": 1,
            "end_lineno": 3,
            "signature": "(a, *, b=2)",
            "doc": None,
        }
    ]


def test_a_class_that_makes_methods_by_assignment_is_read_whole() -> None:
    source = (
        "class K:\n"
        "    def make(cls):\n"
        "        return cls()\n"
        "    make = classmethod(make)\n\n"
        "    def plain(self):\n"
        "        return 1\n"
    )
    tree = ast.parse(source)
    assert list(analysis._tree_units(tree.body)) == [(1, 7, "")]
    kinds = {e["qualname"]: e["kind"] for e in analysis.analyse_functions(source, tree)}
    assert kinds == {"K.make": "classmethod", "K.plain": "method"}


def test_an_edited_method_is_analysed_alone() -> None:
    source = "class K:\n    def a(self):\n        return 1\n\n    def b(self):\n        return 2\n"
    units = list(analysis._tree_units(ast.parse(source).body))
    assert units == [(2, 3, "K."), (5, 6, "K.")]
    analysis._clear_cache()
    analysis.analyse_functions(source, key="k.py")
    edited = source.replace("return 2", "return 3")
    seen: list[str] = []
    real = analysis._analyse_segment

    def spy(segment: str, prefix: str = "") -> list[analysis.FunctionInfo]:
        seen.append(segment)
        return real(segment, prefix)

    analysis._analyse_segment = spy  # type: ignore[assignment]
    try:
        entries = analysis.analyse_functions(edited, key="k.py")
    finally:
        analysis._analyse_segment = real  # type: ignore[assignment]
    assert seen == ["    def b(self):\n        return 3\n"]
    assert [(e["qualname"], e["lineno"], e["end_lineno"]) for e in entries] == [
        ("K.a", 2, 3),
        ("K.b", 5, 6),
    ]


def test_a_prefetch_answer_never_replaces_an_analysis_made_here(project: Project) -> None:
    analysis._clear_cache()
    analysis.analyse_functions("def g():\n    pass\n", key="k")
    assert not analysis.seed_file("k", {})
    assert analysis.seed_file("other", {})
