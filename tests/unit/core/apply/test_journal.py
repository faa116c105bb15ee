"""The undo log of a reload: every mutation recorded before it is made, and a rollback that
puts everything back, newest first, whatever fails on the way."""

from __future__ import annotations

import logging
import sys
import types
from collections.abc import Iterator
from typing import Any

import pytest

from ipython_hotreload.core.apply.journal import MISSING, Journal, cell_value, submodules_bound_in


class Base:
    inherited = "base"


class Thing(Base):
    own = "own"


def closure_cells() -> tuple[Any, Any]:
    full = 1

    def user() -> int:
        return full + empty  # noqa: F821 - `empty` is bound after this def, never here

    empty: int  # an empty cell: annotated, never assigned
    assert user.__closure__ is not None
    cells = dict(zip(user.__code__.co_freevars, user.__closure__, strict=True))
    return cells["full"], cells["empty"]


def test_attributes_set_and_deleted_are_put_back() -> None:
    journal = Journal()
    obj = types.SimpleNamespace(a=1)
    journal.setattr(obj, "a", 2)
    journal.setattr(obj, "b", 3)
    journal.delattr(obj, "a")
    assert vars(obj) == {"b": 3} and len(journal) == 3
    journal.rollback()
    assert vars(obj) == {"a": 1} and len(journal) == 0


def test_a_class_attribute_that_was_inherited_is_inherited_again() -> None:
    journal = Journal()
    journal.setattr(Thing, "inherited", "shadowed")
    journal.setattr(Thing, "own", "changed")
    assert Thing.inherited == "shadowed" and Thing.own == "changed"
    journal.rollback()
    assert "inherited" not in Thing.__dict__ and Thing.inherited == "base"
    assert Thing.own == "own"


def test_closure_cells_are_refilled_or_emptied_again() -> None:
    full, empty = closure_cells()
    journal = Journal()
    journal.set_cell(full, 10)
    journal.set_cell(empty, 20)
    assert (full.cell_contents, empty.cell_contents) == (10, 20)
    journal.rollback()
    assert full.cell_contents == 1 and cell_value(empty) is MISSING
    journal.set_cell(full, MISSING)  # MISSING empties a cell
    assert cell_value(full) is MISSING
    journal.rollback()
    assert full.cell_contents == 1


def test_items_set_are_put_back_and_new_keys_removed() -> None:
    journal = Journal()
    mapping = {"a": 1}
    journal.setitem(mapping, "a", 2)
    journal.setitem(mapping, "b", 3)
    journal.rollback()
    assert mapping == {"a": 1}


def test_a_refilled_container_keeps_its_identity_and_its_order_comes_back() -> None:
    journal = Journal()
    mapping, items, members = {"a": 1, "b": 2}, [1, 2, 3], {1, 2}
    same = (mapping, items, members)
    journal.refill(mapping, [("b", 20), ("c", 3)])
    journal.refill(items, [4])
    journal.refill(members, [3])
    assert (mapping, items, members) == ({"b": 20, "c": 3}, [4], {3})
    journal.rollback()
    assert (mapping, items, members) == ({"a": 1, "b": 2}, [1, 2, 3], {1, 2})
    assert list(mapping) == ["a", "b"]
    assert all(x is y for x, y in zip((mapping, items, members), same, strict=True))


def test_rollback_runs_newest_first_and_a_failing_step_stops_no_other(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = Journal()
    order: list[str] = []
    journal.on_undo(lambda: order.append("first"))

    def fails() -> None:
        raise KeyboardInterrupt  # even a second Ctrl-C during the rollback

    journal.on_undo(fails)
    journal.on_undo(lambda: order.append("last"))
    with caplog.at_level(logging.ERROR, logger="ipython_hotreload.core.apply.journal"):
        journal.rollback()
    assert order == ["last", "first"] and len(journal) == 0
    assert "an undo step failed during rollback" in caplog.text
    journal.rollback()  # nothing left: a no-op
    assert order == ["last", "first"]


class Interrupted(dict[str, int]):
    """A mapping that is interrupted right after an item is set."""

    def __setitem__(self, key: str, value: int) -> None:
        super().__setitem__(key, value)
        raise KeyboardInterrupt


def test_the_undo_is_recorded_before_the_change_so_an_interrupt_loses_nothing() -> None:
    journal = Journal()
    mapping = Interrupted(a=1)
    with pytest.raises(KeyboardInterrupt):
        journal.setitem(mapping, "a", 2)
    assert mapping == {"a": 2}
    journal.rollback()
    assert mapping == {"a": 1}


@pytest.fixture
def package() -> Iterator[types.ModuleType]:
    pkg = types.ModuleType("_hr_journal_pkg")
    pkg.__path__ = []
    children = {
        "_hr_journal_pkg": pkg,
        "_hr_journal_pkg.a": types.ModuleType("_hr_journal_pkg.a"),
        "_hr_journal_pkg.a.deep": types.ModuleType("_hr_journal_pkg.a.deep"),
        "_hr_journal_pkg.b": types.ModuleType("_hr_journal_pkg.b"),
        "_hr_journal_pkg_sibling": types.ModuleType("_hr_journal_pkg_sibling"),
    }
    sys.modules.update(children)
    yield pkg
    for name in children:
        sys.modules.pop(name, None)


def test_a_package_namespace_replaced_keeps_its_loaded_submodules_bound(
    package: types.ModuleType,
) -> None:
    ns = package.__dict__
    ns["X"] = 1
    before = dict(ns)
    journal = Journal()
    held = journal.replace_namespace(ns, {"__name__": "_hr_journal_pkg", "__path__": []})
    assert held == before
    assert set(ns) == {"__name__", "__path__", "a", "b"}
    assert ns["a"] is sys.modules["_hr_journal_pkg.a"]
    journal.rollback()
    assert ns == before


def test_submodules_are_bound_only_in_a_package(package: types.ModuleType) -> None:
    found = submodules_bound_in(package.__dict__)
    assert found == {
        "a": sys.modules["_hr_journal_pkg.a"],
        "b": sys.modules["_hr_journal_pkg.b"],
    }
    assert submodules_bound_in({"__name__": "_hr_journal_pkg"}) == {}  # no __path__
