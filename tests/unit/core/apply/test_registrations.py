"""What a definition run again registered takes the place of what it registered before; and
the registries of objects kept in place (singledispatch functions, ABCs) merged."""

from __future__ import annotations

import abc
import functools
import sys
import types
from typing import Any

from ipython_hotreload.core.apply.journal import Journal
from ipython_hotreload.core.apply.registrations import (
    Registrations,
    is_dispatcher,
    merge_abc,
    merge_dispatch,
    roots_of,
)


class Route:
    def __init__(self, path: str, fn: Any) -> None:
        self.path, self.fn = path, fn

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Route) and other.path == self.path

    __hash__ = None  # type: ignore[assignment]


class App:
    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.views: dict[str, Any] = {}

    def route(self, path: str, fn: Any) -> Any:
        self.routes.append(Route(path, fn))
        self.views[path] = fn
        return fn


def module_with(app: App) -> dict[str, Any]:
    module = types.ModuleType("regmod")
    module.app = app  # type: ignore[attr-defined]
    sys.modules["regmod"] = module
    return module.__dict__


def test_the_roots_are_the_module_and_what_the_statement_reads() -> None:
    app = App()
    ns = module_with(app)
    try:
        names = [name for name, _ in roots_of(ns, ["app.route", "app", "__x__", ".m"])]
        assert names[0] == "regmod" and "app" in names
    finally:
        sys.modules.pop("regmod", None)


def test_a_registration_made_again_replaces_the_equal_one_through_the_journal() -> None:
    app = App()
    ns = module_with(app)
    try:
        app.route("/items", lambda: 1)
        before_route = app.routes[0]
        regs = Registrations(roots_of(ns, ["app.route"]))
        new_view = lambda: 2  # noqa: E731 - the view the def made again
        app.route("/items", new_view)  # the decorator ran again
        journal = Journal()
        unpaired = regs.settle(journal, lambda obj: obj)
        assert unpaired == []
        assert len(app.routes) == 1 and app.routes[0].fn is new_view
        assert app.views == {"/items": new_view}
        # A rollback undoes the settling (the statement's own call is the caller's to name).
        journal.rollback()
        assert [r.fn for r in app.routes] == [before_route.fn, new_view]
    finally:
        sys.modules.pop("regmod", None)


def test_an_entry_paired_with_nothing_is_reported() -> None:
    app = App()
    ns = module_with(app)
    try:
        regs = Registrations(roots_of(ns, ["app.route"]))
        app.routes.append(object())  # type: ignore[arg-type]
        unpaired = regs.settle(Journal(), lambda obj: obj)
        assert len(unpaired) == 1 and "routes" in unpaired[0]
    finally:
        sys.modules.pop("regmod", None)


# -- registries kept in place ----------------------------------------------------------------


def dispatcher(label: str) -> Any:
    """A singledispatch function, as a module's text makes it, with an ``int`` case."""

    @functools.singledispatch
    def describe(x: object) -> str:
        return "object"

    @describe.register
    def for_int(x: int) -> str:
        return f"int {label}"

    return describe


def test_a_kept_dispatcher_keeps_run_time_cases_and_takes_the_new_texts() -> None:
    old, new = dispatcher("old"), dispatcher("new")
    old_base, old_int = old.registry[object], old.registry[int]
    old.register(str, lambda x: "str at run time")
    new_bytes = new.register(bytes, lambda x: "bytes")
    patched: list[tuple[Any, Any]] = []

    def patch(a: Any, b: Any) -> bool:
        patched.append((a, b))
        return False  # could not be patched in place: the new case is taken instead

    journal = Journal()
    assert is_dispatcher(old) and not is_dispatcher(patch)  # type: ignore[arg-type]
    merge_dispatch(journal, old, new, lambda obj: obj, patch)
    assert (old("s"), old(1), old(b"b"), old(1.5)) == (
        "str at run time",
        "int new",
        "bytes",
        "object",
    )
    # Cases of the same qualified name are offered to the patch first: the base and int.
    assert patched == [(old_base, new.registry[object]), (old_int, new.registry[int])]
    assert old.registry[bytes] is new_bytes
    journal.rollback()
    assert (old(1), old(b"b"), old("s")) == ("int old", "object", "str at run time")


def test_a_dispatcher_case_keyed_by_a_new_class_is_keyed_by_the_kept_one() -> None:
    old, new = dispatcher("old"), dispatcher("new")
    kept_cls, new_cls = type("Shape", (), {}), type("Shape", (), {})
    new.register(new_cls, lambda x: "shape")
    kept = {new_cls: kept_cls}
    merge_dispatch(Journal(), old, new, lambda c: kept.get(c, c), lambda a, b: True)
    assert old(kept_cls()) == "shape" and new_cls not in old.registry
    assert old(1) == "int old"  # patched in place (the patch said so): the same case object


def test_a_kept_abc_keeps_its_virtual_subclasses_and_takes_the_new_ones() -> None:
    class Old(abc.ABC):  # noqa: B024 - an ABC used only for register()
        pass

    class New(abc.ABC):  # noqa: B024
        pass

    at_run_time, kept, fresh = type("A", (), {}), type("K", (), {}), type("K", (), {})
    Old.register(at_run_time)
    New.register(fresh)
    assert not issubclass(kept, Old)
    merge_abc(Journal(), Old, New, lambda c: kept if c is fresh else c)
    assert issubclass(at_run_time, Old) and issubclass(kept, Old)
