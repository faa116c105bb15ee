"""Reload plans (SPEC §3): which loaded modules follow a change, in what order, and plans
kept while what they read is as it was, on throw-away packages."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ipython_hotreload.core.graph.edges import Edge
from ipython_hotreload.core.graph.modulegraph import ModuleGraph, Step
from ipython_hotreload.core.graph.planning import Planner, ReverseIndex
from tests.unit.core.graph.conftest import graph, write

# -- reload plans ----------------------------------------------------------------------------

CHAIN = {
    "pkg/base.py": "X = 1\n",
    "pkg/mid.py": "from pkg.base import X\nY = X\n",
    "pkg/top.py": "from pkg.mid import Y\nZ = Y\n",
    "pkg/side.py": "from pkg.base import X\nW = X\n",
    "pkg/exporter.py": "from pkg.mid import Y\ndef f():\n    return Y\n",
    "pkg/lazy.py": "import pkg.base\ndef f():\n    return pkg.base.X\n",
}


def test_plan_follows_compile_edges_transitively_in_dependency_order(root: Path) -> None:
    g = graph(root, CHAIN)
    order = {m: i for i, m in enumerate(["pkg", "pkg.base", "pkg.side", "pkg.mid", "pkg.top"])}
    plan = g.plan(
        ["pkg.base"], {"pkg.mid", "pkg.top", "pkg.side", "pkg.exporter", "pkg.lazy"}, order
    )
    assert plan == [
        Step("pkg.base", None, None),
        Step("pkg.side", "pkg.base", "compile"),
        Step("pkg.mid", "pkg.base", "compile"),
        Step("pkg.exporter", "pkg.mid", "export"),  # one step, right after what it follows
        Step("pkg.top", "pkg.mid", "compile"),
    ]  # pkg.lazy (runtime) is not there


def test_a_repeated_plan_follows_what_changed_since(root: Path) -> None:
    """Plans are kept per changed modules: one asked again must still follow the loaded
    modules, the import order and the edges of the moment."""
    g = graph(root, CHAIN)
    every = {"pkg.mid", "pkg.top", "pkg.side", "pkg.exporter"}
    order = {m: i for i, m in enumerate(["pkg", "pkg.base", "pkg.side", "pkg.mid", "pkg.top"])}
    first = g.plan(["pkg.base"], every, order)
    assert g.plan(["pkg.base"], every, order) == first
    assert [s.mod for s in g.plan(["pkg.base"], every - {"pkg.top"}, order)] == [
        "pkg.base",
        "pkg.side",
        "pkg.mid",
        "pkg.exporter",
    ]
    swapped = {**order, "pkg.side": 9}
    mods = [s.mod for s in g.plan(["pkg.base"], every, swapped)]
    assert mods.index("pkg.mid") < mods.index("pkg.side")  # side now comes after mid
    (root / "pkg" / "side.py").write_text("X = 1\n")  # no longer imports pkg.base
    g.update_file(root / "pkg" / "side.py")
    assert "pkg.side" not in [s.mod for s in g.plan(["pkg.base"], every, order)]


def test_plan_only_includes_loaded_modules_but_always_the_changed_ones(root: Path) -> None:
    g = graph(root, CHAIN)
    plan = g.plan(["pkg.base"], {"pkg.top", "pkg.exporter"}, {})
    assert plan == [Step("pkg.base", None, None)]


def test_plan_export_steps_are_one_step_only(root: Path) -> None:
    g = graph(
        root,
        {
            "pkg/base.py": "X = 1\n",
            "pkg/e1.py": "from pkg.base import X\ndef f():\n    return X\n",
            "pkg/e2.py": "from pkg.e1 import f\ndef g():\n    return f\n",
            "pkg/c.py": "from pkg.e1 import f\nF = f\n",
        },
    )
    plan = g.plan(["pkg.base"], {"pkg.e1", "pkg.e2", "pkg.c"}, {})
    assert plan == [Step("pkg.base", None, None), Step("pkg.e1", "pkg.base", "export")]


def test_plan_runs_changed_modules_in_dependency_order_and_a_cycle_by_import_order(
    root: Path,
) -> None:
    g = graph(
        root,
        {
            "pkg/base.py": "X = 1\n",
            "pkg/a.py": "from pkg.base import X\nimport pkg.b\nA = X\nB = pkg.b\n",
            "pkg/b.py": "import pkg.a\nA = pkg.a\n",
            "pkg/other.py": "from pkg.a import A\nO = A\n",
        },
    )
    loaded = {"pkg.a", "pkg.b", "pkg.other", "pkg.base"}
    for first, second in (("pkg.b", "pkg.a"), ("pkg.a", "pkg.b")):
        order = {"pkg.base": 0, first: 1, second: 2, "pkg.other": 3}
        plan = g.plan(["pkg.base"], loaded, order)
        assert [s.mod for s in plan] == ["pkg.base", first, second, "pkg.other"]
        assert all(s.label == "compile" for s in plan[1:])
    # A saved module that imports another changed module runs after it (and after what
    # follows that one), so it never binds the old objects.
    plan = g.plan(["pkg.other", "pkg.base"], loaded, {"pkg.base": 0, "pkg.a": 1, "pkg.b": 2})
    assert [(s.mod, s.label) for s in plan] == [
        ("pkg.base", None),
        ("pkg.a", "compile"),
        ("pkg.b", "compile"),
        ("pkg.other", None),
    ]
    assert g.plan([], loaded, {}) == []


def test_plan_rebinds_an_exporter_after_each_reexecuted_target(root: Path) -> None:
    g = graph(
        root,
        {
            "pkg/base.py": "X = 1\n",
            "pkg/mid.py": "from pkg.base import X\nY = X\n",
            "pkg/both.py": "from pkg.base import X\nfrom pkg.mid import Y\ndef f():\n    return X, Y\n",
        },
    )
    plan = g.plan(["pkg.base"], {"pkg.mid", "pkg.both"}, {})
    assert plan == [
        Step("pkg.base", None, None),
        Step("pkg.both", "pkg.base", "export"),
        Step("pkg.mid", "pkg.base", "compile"),
        Step("pkg.both", "pkg.mid", "export"),
    ]


def test_plans_follow_edits_new_files_and_removals_without_a_rebuild(root: Path) -> None:
    g = graph(root, CHAIN)
    loaded = {"pkg.base", "pkg.mid", "pkg.top", "pkg.side", "pkg.exporter", "pkg.lazy"}
    g.plan(["pkg.base"], loaded, {})  # builds the reverse index
    lazy = root / "pkg" / "lazy.py"
    # runtime -> compile: pkg.lazy joins the plan
    g.update_file(lazy, b"import pkg.base\nL = pkg.base.X\n")
    assert Step("pkg.lazy", "pkg.base", "compile") in g.plan(["pkg.base"], loaded, {})
    # compile -> nothing: pkg.side leaves it
    g.update_file(root / "pkg" / "side.py", b"W = 1\n")
    assert "pkg.side" not in {s.mod for s in g.plan(["pkg.base"], loaded, {})}
    # a new module (the module set changes) and a removed one
    new = root / "pkg" / "new.py"
    new.write_text("from pkg.top import Z\ndef f():\n    return Z\n")
    g.update_file(new)
    steps = g.plan(["pkg.base"], {*loaded, "pkg.new"}, {})
    assert Step("pkg.new", "pkg.top", "export") in steps
    g.remove_module("pkg.mid")
    assert [s.mod for s in g.plan(["pkg.base"], {*loaded, "pkg.new"}, {})] == [
        "pkg.base",
        "pkg.lazy",
    ]


EDIT_STYLES = {
    "compile": "from pkg.m{j} import V as v{j}\nU{j} = v{j}\n",
    "export": "from pkg.m{j} import V as e{j}\ndef g{j}():\n    return e{j}\n",
    "runtime": "import pkg.m{j}\ndef c{j}():\n    return pkg.m{j}\n",
}


@settings(max_examples=20, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 4),
            st.lists(st.tuples(st.integers(0, 4), st.sampled_from(sorted(EDIT_STYLES)))),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_plans_after_a_sequence_of_edits_equal_those_of_a_fresh_graph(
    edits: list[tuple[int, list[tuple[int, str]]]],
) -> None:
    def body(i: int, imports: list[tuple[int, str]]) -> str:
        return "V = 1\n" + "".join(EDIT_STYLES[s].format(j=j) for j, s in imports if j != i)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write(root, {"pkg/__init__.py": "", **{f"pkg/m{i}.py": body(i, []) for i in range(5)}})
        sys.path.insert(0, tmp)
        try:
            g = ModuleGraph([root], use_cache=False)
            modules = [f"pkg.m{i}" for i in range(5)]
            loaded = set(modules)
            g.plan(modules[:1], loaded, {})
            for i, imports in edits:
                text = body(i, imports)
                (root / "pkg" / f"m{i}.py").write_text(text)
                g.update_file(root / "pkg" / f"m{i}.py", text.encode())
                fresh = ModuleGraph([root], use_cache=False)
                for m in modules:
                    assert g.plan([m], loaded, {}) == fresh.plan([m], loaded, {})
        finally:
            sys.path.remove(tmp)


# -- the reverse index and the planner on their own ------------------------------------------


def test_the_reverse_index_holds_compile_and_export_importers_and_forgets_dropped_ones() -> None:
    index = ReverseIndex()
    index.add("a", [Edge("a", "b", "compile"), Edge("a", "c", "export"), Edge("a", "d", "runtime")])
    index.add("e", [Edge("e", "b", "export")])
    index.add("f", [Edge("f", "b", "runtime")])  # runtime edges force nothing
    assert index.compile_in == {"b": {"a"}}
    assert index.export_in == {"c": {"a"}, "b": {"e"}}
    assert set(index.edges_of) == {"a", "e"} and len(index.edges_of["a"]) == 2
    index.drop("a")
    index.drop("never-added")
    assert index.compile_in == {"b": set()} and index.export_in == {"c": set(), "b": {"e"}}
    assert set(index.edges_of) == {"e"}
    index.clear()
    assert (index.compile_in, index.export_in, index.edges_of) == ({}, {}, {})


def planner(edges: list[Edge], names: dict[tuple[str, str], list[tuple[str, str]]]) -> Planner:
    index = ReverseIndex()
    for module in sorted({e.from_ for e in edges}):
        index.add(module, [e for e in edges if e.from_ == module])
    return Planner(index, lambda importer, target: names.get((importer, target), []))


def test_a_plan_runs_the_compile_importers_after_the_changed_module() -> None:
    p = planner(
        [Edge("b", "a", "compile"), Edge("c", "b", "compile"), Edge("x", "a", "export")], {}
    )
    assert p.plan(["a"], {"a", "b", "c", "x"}, {}) == [
        Step("a", None, None),
        Step("x", "a", "export"),
        Step("b", "a", "compile"),
        Step("c", "b", "compile"),
    ]
    assert p.plan(["a"], {"c"}, {}) == [Step("a", None, None)]  # b is not loaded: nor is c
    assert p.plan(["a", "a"], set(), {}) == [Step("a", None, None)]
    assert p.plan([], {"a"}, {}) == []


def test_what_takes_a_passed_on_name_follows_the_exporter_that_passes_it() -> None:
    edges = [Edge("x", "a", "export"), Edge("y", "x", "compile"), Edge("z", "x", "compile")]
    # x takes V from a; y takes V from x (it follows), z takes W from x (it does not).
    names = {("x", "a"): [("V", "V")], ("y", "x"): [("V", "V")], ("z", "x"): [("W", "W")]}
    p = planner(edges, names)
    assert p.plan(["a"], {"x", "y", "z"}, {}) == [
        Step("a", None, None),
        Step("x", "a", "export"),
        Step("y", "x", "compile"),
    ]


def test_a_kept_plan_stands_until_the_edges_are_said_to_change() -> None:
    index = ReverseIndex()
    index.add("b", [Edge("b", "a", "compile")])
    p = Planner(index, lambda importer, target: [])
    first = p.plan(["a"], {"b"}, {})
    assert first == [Step("a", None, None), Step("b", "a", "compile")]
    first.clear()  # the caller's copy: the kept plan is not changed through it
    again = p.plan(["a"], {"b"}, {})
    assert again == [Step("a", None, None), Step("b", "a", "compile")]
    again.clear()
    assert p.plan(["a"], {"b"}, {}) == [Step("a", None, None), Step("b", "a", "compile")]
    index.drop("b")  # the owner of the index changes it ...
    assert p.plan(["a"], {"b"}, {}) == [Step("a", None, None), Step("b", "a", "compile")]
    p.forget_plans()  # ... and says so: the plan is made again
    assert p.plan(["a"], {"b"}, {}) == [Step("a", None, None)]


def test_a_kept_plan_is_made_again_when_a_module_it_read_is_loaded_or_moves() -> None:
    index = ReverseIndex()
    index.add("b", [Edge("b", "a", "compile")])
    index.add("c", [Edge("c", "a", "compile")])
    p = Planner(index, lambda importer, target: [])
    assert p.plan(["a"], {"b"}, {"b": 0, "c": 1}) == [
        Step("a", None, None),
        Step("b", "a", "compile"),
    ]
    assert p.plan(["a"], {"b", "c"}, {"b": 0, "c": 1}) == [
        Step("a", None, None),
        Step("b", "a", "compile"),
        Step("c", "a", "compile"),
    ]
    assert [s.mod for s in p.plan(["a"], {"b", "c"}, {"b": 1, "c": 0})] == ["a", "c", "b"]
