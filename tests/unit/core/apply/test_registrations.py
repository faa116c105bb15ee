"""What a definition run again registered takes the place of what it registered before."""

from __future__ import annotations

import sys
import types
from typing import Any

from ipython_hotreload.core.apply.journal import Journal
from ipython_hotreload.core.apply.registrations import Registrations, roots_of


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
