"""Dependency order for a plan: each module after what it depends on, cycles and free
modules in import order."""

from __future__ import annotations

from ipython_hotreload.core.graph.ordering import dependency_order, strongly_connected


def test_each_module_comes_after_the_modules_it_depends_on() -> None:
    depends = {"app": ["models", "utils"], "models": ["utils"]}
    for given in (["app", "models", "utils"], ["utils", "app", "models"]):
        assert dependency_order(given, depends, {}) == ["utils", "models", "app"]


def test_free_modules_go_in_import_order_and_the_unknown_last_by_name() -> None:
    order = {"c": 0, "a": 1, "b": 2}
    assert dependency_order(["a", "b", "c", "z", "y"], {}, order) == ["c", "a", "b", "y", "z"]
    # A dependency wins over the import order.
    assert dependency_order(["a", "b", "c"], {"c": ["b"]}, order) == ["a", "b", "c"]


def test_a_cycle_goes_in_import_order_after_what_it_needs_and_before_what_needs_it() -> None:
    depends = {"x": ["y", "base"], "y": ["x"], "top": ["x"]}
    for first, second in (("x", "y"), ("y", "x")):
        order = {"top": 0, first: 1, second: 2, "base": 3}
        assert dependency_order(["top", "x", "y", "base"], depends, order) == [
            "base",
            first,
            second,
            "top",
        ]


def test_dependencies_outside_the_modules_and_on_themselves_are_ignored() -> None:
    depends = {"a": ["a", "elsewhere"], "b": ["a"]}
    assert dependency_order(["b", "a"], depends, {"b": 0, "a": 1}) == ["a", "b"]
    assert dependency_order([], depends, {}) == []


def test_a_chain_deeper_than_the_recursion_limit() -> None:
    mods = [f"m{i}" for i in range(5000)]
    depends = {m: [mods[i + 1]] for i, m in enumerate(mods[:-1])}  # m0 needs m1 needs ...
    assert dependency_order(mods, depends, {}) == mods[::-1]
    depends[mods[-1]] = [mods[0]]  # one cycle through all of them
    components = strongly_connected(mods, {m: depends.get(m, []) for m in mods})
    assert len(components) == 1 and sorted(components[0]) == sorted(mods)


def test_components_come_out_after_those_they_depend_on() -> None:
    deps = {"a": ["b"], "b": ["c"], "c": ["b", "d"], "d": [], "e": []}
    components = strongly_connected(["a", "b", "c", "d", "e"], deps)
    assert sorted(map(sorted, components)) == [["a"], ["b", "c"], ["d"], ["e"]]
    position = {m: i for i, comp in enumerate(components) for m in comp}
    assert position["d"] < position["b"] < position["a"]
