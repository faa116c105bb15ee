"""Pointing what a re-execution built back at the objects kept in its place: containers,
defaults, closures and class attributes walked through the journal, instances rehomed, and
holders of other libraries paired."""

from __future__ import annotations

from types import FunctionType
from typing import Any

import pytest

from ipython_hotreload.core.apply import references
from ipython_hotreload.core.apply.functions import adopt
from ipython_hotreload.core.apply.journal import Journal
from ipython_hotreload.core.apply.references import References

MOD = "_hr_refs_mod"
VERSION = "def f():\n    return {!r}\n\n\nclass C:\n    pass\n"


def run(text: str, name: str = MOD) -> dict[str, Any]:
    ns: dict[str, Any] = {"__name__": name}
    exec(compile(text, f"{name}.py", "exec"), ns)
    return ns


@pytest.fixture
def refs() -> tuple[References, dict[str, Any], dict[str, Any]]:
    """The old objects, the new ones of a re-execution, and a map keeping the old ones."""
    old, new = run(VERSION.format("old")), run(VERSION.format("new"))
    kept = References(Journal(), MOD)
    kept.keep(new["f"], old["f"])
    kept.keep(new["C"], old["C"])
    return kept, old, new


def test_the_map_of_new_objects_to_kept_ones(
    refs: tuple[References, dict[str, Any], dict[str, Any]],
) -> None:
    kept, old, new = refs
    assert kept.kept(new["f"]) is old["f"] and kept.original(new["C"]) is old["C"]
    assert kept.kept(old["f"], None) is None and kept.original(old["f"]) is old["f"]
    kept.forget(new["f"])
    assert kept.original(new["f"]) is new["f"]


def test_containers_get_the_kept_objects_in_place_and_back_on_rollback(
    refs: tuple[References, dict[str, Any], dict[str, Any]],
) -> None:
    kept, old, new = refs
    f, cls = new["f"], new["C"]
    ns: dict[str, Any] = {
        "REG": {"f": f, cls: "by class", "n": 1},
        "LIST": [f, [cls]],
        "TUP": (f, 2),
        "SET": {f},
        "FROZEN": frozenset({cls}),
        "__dunder__": [f],
    }
    reg, items, members = ns["REG"], ns["LIST"], ns["SET"]
    kept.remap_namespace(ns, list(ns))
    assert ns["REG"] is reg and reg == {"f": old["f"], old["C"]: "by class", "n": 1}
    assert list(reg) == ["f", old["C"], "n"]  # a key replaced keeps its place
    assert ns["LIST"] is items and items == [old["f"], [old["C"]]]
    assert ns["TUP"] == (old["f"], 2) and ns["SET"] is members and members == {old["f"]}
    assert ns["FROZEN"] == frozenset({old["C"]})
    assert ns["__dunder__"] == [f]  # the module's own bookkeeping is left alone
    kept.journal.rollback()
    assert ns["REG"] is reg and list(reg) == ["f", cls, "n"] and reg["f"] is f
    assert items == [f, [cls]] and ns["TUP"] == (f, 2) and members == {f}
    assert ns["FROZEN"] == frozenset({cls})


def with_new(new: dict[str, Any]) -> dict[str, Any]:
    """A module namespace whose code was run with the new ``f`` and ``C`` bound."""
    ns: dict[str, Any] = {"__name__": MOD, "f": new["f"], "C": new["C"]}
    exec(
        compile(
            "def g(x=C, *, y=f):\n    return x, y\n"
            "def outer(held):\n    def inner():\n        return held\n    return inner\n"
            "inner = outer(f)\ng.__wrapped__ = f\n"
            "class H:\n    handler = f\n    kinds = [C]\n",
            f"{MOD}.py",
            "exec",
        ),
        ns,
    )
    return ns


def test_defaults_closures_wrapped_and_class_attributes_of_the_module_are_remapped(
    refs: tuple[References, dict[str, Any], dict[str, Any]],
) -> None:
    kept, old, new = refs
    ns = with_new(new)
    kept.remap_namespace(ns, ["g", "inner", "H"])
    g, inner, h = ns["g"], ns["inner"], ns["H"]
    assert g() == (old["C"], old["f"]) and g.__wrapped__ is old["f"]
    assert inner() is old["f"]
    assert h.__dict__["handler"] is old["f"] and h.kinds == [old["C"]]
    kept.journal.rollback()
    assert g() == (new["C"], new["f"]) and inner() is new["f"] and h.__dict__["handler"] is new["f"]


def test_an_instance_of_a_new_class_belongs_to_the_kept_class(
    refs: tuple[References, dict[str, Any], dict[str, Any]],
) -> None:
    kept, old, new = refs
    ns = {"DEFAULT": new["C"](), "BY_NAME": {"x": new["C"]()}}
    kept.remap_namespace(ns, list(ns))
    assert type(ns["DEFAULT"]) is old["C"] and isinstance(ns["BY_NAME"]["x"], old["C"])


def test_functions_of_other_modules_and_large_containers_are_left_alone(
    refs: tuple[References, dict[str, Any], dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    kept, old, new = refs
    other = run("def g(x=None):\n    return x\n", "_hr_refs_other")["g"]
    other.__defaults__ = (new["C"],)
    monkeypatch.setattr(references, "LARGE", 3)
    big, small = [new["f"]] * 4, [new["f"]] * 3
    kept.remap_namespace({"other": other, "big": big, "small": small}, ["other", "big", "small"])
    assert other.__defaults__ == (new["C"],)
    assert big == [new["f"]] * 4 and small == [old["f"]] * 3


def test_a_cycle_is_walked_once(refs: tuple[References, dict[str, Any], dict[str, Any]]) -> None:
    kept, old, new = refs
    loop: list[Any] = [new["f"]]
    loop.append(loop)
    kept.remap_namespace({"loop": loop}, ["loop"])
    assert loop[0] is old["f"] and loop[1] is loop


HOLDER = "class Command:\n    def __init__(self, callback):\n        self.callback = callback\n"


def test_holders_of_another_library_have_their_functions_paired(
    refs: tuple[References, dict[str, Any], dict[str, Any]],
) -> None:
    kept, old, new = refs
    command = run(HOLDER, "_hr_refs_lib")["Command"]
    old_ns = {"cli": command(old["f"]), "table": {"x": old["f"]}, "row": [old["f"], 1]}
    ns = {"cli": command(new["f"]), "table": {"x": new["f"]}, "row": [new["f"], 1]}
    patched: list[tuple[FunctionType, FunctionType]] = []

    def patch(o: FunctionType, n: FunctionType) -> bool:
        patched.append((o, n))
        return adopt(kept.journal, o, n)

    kept.pair_holders(old_ns, ns, ["cli", "table", "row", "missing"], patch)
    assert patched == [(old["f"], new["f"])] * 3
    assert old["f"]() == "new"  # the old function runs the new code ...
    assert ns["cli"].callback is old["f"] and ns["table"]["x"] is old["f"]  # ... held by both
    assert ns["row"][0] is old["f"]
    kept.journal.rollback()
    assert old["f"]() == "old" and ns["cli"].callback is new["f"] and ns["row"][0] is new["f"]
