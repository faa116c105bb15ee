"""Application code on frameworks that register what their decorators find: a FastAPI app
with pydantic request models, dependency injection and routers, pluggy hook implementations
in modules and in plugin objects, typer commands whose options come from the signature.

The scenario model (files, the edited text, what must hold, checked on a fresh import and
after the reload) is in ``scenarios.py``. Where the default mode fails today because of an
engine fault, the scenario says which (``minimal_fails``); where a whole-module
re-execution cannot pass by what it means, it says why (``module_cannot``). Both are strict
xfails: a fix turns them red until the mark goes.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

# Imported before any test: the fixture that restores sys.modules after a test would
# otherwise drop them, and pydantic's extension cannot be loaded twice.
import fastapi
import pluggy  # noqa: F401
import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

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


def _import_what_frameworks_import_lazily() -> None:
    """Run each framework once now: typer loads rich and its help renderer on the first
    `--help`, starlette its test transport on the first request. Loaded inside a test, the
    fixture would drop them afterwards, and the next test would mix a second copy of them
    with the first (rich's Text from one, its callers from the other)."""
    cli = typer.Typer()

    @cli.command()
    def one(name: str) -> None: ...

    @cli.command()
    def two() -> None: ...

    CliRunner().invoke(cli, ["one", "--help"])
    api = fastapi.FastAPI()
    api.get("/")(lambda: 1)
    TestClient(api).get("/")


_import_what_frameworks_import_lazily()


# -- FastAPI: pydantic request models, dependency injection, routers --------------------------

API = """
from fastapi import Depends, FastAPI
from pydantic import BaseModel

app = FastAPI()
STORE = {}


class Item(BaseModel):
    name: str
    price: float


def get_store():
    return STORE


@app.post("/items/{item_id}")
def put_item(item_id: int, item: Item, store: dict = Depends(get_store)):
    store[item_id] = item
    return {"id": item_id}


@app.get("/items/{item_id}")
def read_item(item_id: int, store: dict = Depends(get_store)):
    item = store[item_id]
    return {"name": item.name, "price": item.price, "version": 1}
"""


def _routes(app: Any, path: str) -> list[tuple[str, ...]]:
    """The methods of every route serving ``path``: routes copied into the app by
    ``include_router`` (older FastAPI) or reached through the included router (newer)."""
    found = []
    for route in app.routes:
        included = getattr(route, "original_router", None)
        if included is not None:
            prefix = route.include_context.prefix
            found += _routes(included, path[len(prefix) :]) if path.startswith(prefix) else []
        elif getattr(route, "path", None) == path:
            found.append(tuple(sorted(route.methods)))
    return found


def _expect_api(m: Mods) -> None:
    client = TestClient(m["api"].app)
    assert client.post("/items/7", json={"name": "cup", "price": 3}).json() == {"id": 7}
    assert client.get("/items/7").json() == {"name": "CUP", "price": 3.0, "version": 2}
    assert sorted(_routes(m["api"].app, "/items/{item_id}")) == [("GET",), ("POST",)]


SCENARIOS["fastapi_route_body"] = Scenario(
    {"api.py": API},
    {
        "api.py": edited(
            API,
            (
                '{"name": item.name, "price": item.price, "version": 1}',
                '{"name": item.name.upper(), "price": item.price, "version": 2}',
            ),
        )
    },
    "api",
    _expect_api,
)


@modes(
    module_cannot="re-running the module makes a new STORE: the item stored before the "
    "edit is gone (that is what re-running the module means)"
)
def test_fastapi_route_body_with_a_model_and_a_dependency(project: Project, mode: str) -> None:
    sc = SCENARIOS["fastapi_route_body"]
    m = start(project, sc)
    app, store, read_item = m.app, m.STORE, m.read_item
    client = TestClient(app)  # the server holds this app for the whole session
    assert client.post("/items/1", json={"name": "pen", "price": 2}).json() == {"id": 1}
    apply_edit(project, mode, sc)
    sc.expect(sys.modules)
    assert client.get("/items/1").json() == {"name": "PEN", "price": 2.0, "version": 2}
    assert m.app is app and m.STORE is store and m.read_item is read_item
    assert sorted(_routes(app, "/items/{item_id}")) == [("GET",), ("POST",)]


API_QUERY = """
from fastapi import FastAPI

app = FastAPI()
ITEMS = ["a", "b", "c", "d"]


@app.get("/items")
def list_items():
    return ITEMS
"""


def _expect_api_query(m: Mods) -> None:
    app = m["api_query"].app
    client = TestClient(app)
    assert client.get("/items").json() == ["a", "b"]
    assert client.get("/items", params={"limit": 3}).json() == ["a", "b", "c"]
    parameters = app.openapi()["paths"]["/items"]["get"].get("parameters", [])
    assert [(p["name"], p["in"]) for p in parameters] == [("limit", "query")]
    assert _routes(app, "/items") == [("GET",)]


SCENARIOS["fastapi_query_parameter"] = Scenario(
    {"api_query.py": API_QUERY},
    {
        "api_query.py": edited(
            API_QUERY,
            (
                "def list_items():\n    return ITEMS",
                "def list_items(limit: int = 2):\n    return ITEMS[:limit]",
            ),
        )
    },
    "api_query",
    _expect_api_query,
)


@modes(
    module_cannot="a whole re-execution builds a new FastAPI app; the server keeps serving "
    "the old one, whose route was built from the old signature",
)
def test_fastapi_route_gains_a_query_parameter(project: Project, mode: str) -> None:
    sc = SCENARIOS["fastapi_query_parameter"]
    m = start(project, sc)
    app = m.app
    client = TestClient(app)
    assert client.get("/items").json() == ["a", "b", "c", "d"]
    apply_edit(project, mode, sc)
    sc.expect(sys.modules)
    assert m.app is app
    assert client.get("/items", params={"limit": 1}).json() == ["a"]


API_ROUTES = """
from fastapi import APIRouter

router = APIRouter(prefix="/users")


@router.get("/{name}")
def greet(name: str):
    return {"greeting": "hello " + name}
"""
API_MAIN = """
from fastapi import FastAPI

from api_routes import router

app = FastAPI()
app.include_router(router)
"""


def _expect_api_router(m: Mods) -> None:
    app = m["api_main"].app
    assert TestClient(app).get("/users/ann").json() == {"greeting": "welcome ann"}
    assert _routes(app, "/users/{name}") == [("GET",)]


SCENARIOS["fastapi_router"] = Scenario(
    {"api_routes.py": API_ROUTES, "api_main.py": API_MAIN},
    {"api_routes.py": edited(API_ROUTES, ('"hello "', '"welcome "'))},
    "api_main",
    _expect_api_router,
)


@modes()
def test_fastapi_router_included_by_an_app_in_another_module(project: Project, mode: str) -> None:
    sc = SCENARIOS["fastapi_router"]
    m = start(project, sc)
    app = m.app
    client = TestClient(app)
    assert client.get("/users/bob").json() == {"greeting": "hello bob"}
    apply_edit(project, mode, sc)
    sc.expect(sys.modules)
    assert client.get("/users/bob").json() == {"greeting": "welcome bob"}
    assert _routes(app, "/users/{name}") == [("GET",)]


# -- pluggy: hook implementations in modules and in plugin objects ---------------------------

HOOKS = """
import pluggy

hookspec = pluggy.HookspecMarker("shop")
hookimpl = pluggy.HookimplMarker("shop")


class Spec:
    @hookspec
    def price(self, amount):
        \"\"\"Adjust a price; every plugin answers.\"\"\"
"""
PLUGINS = """
from hooks import hookimpl


@hookimpl
def price(amount):
    return amount * 1.0


class Discount:
    def __init__(self, rate):
        self.rate = rate

    @hookimpl
    def price(self, amount):
        return amount * (1 - self.rate)
"""
PLUGIN_HOST = """
import pluggy

import hooks
import plugins
from plugins import Discount

pm = pluggy.PluginManager("shop")
pm.add_hookspecs(hooks.Spec)
pm.register(plugins)
pm.register(Discount(0.1), name="discount")
"""
PLUGGY_FILES = {"hooks.py": HOOKS, "plugins.py": PLUGINS, "plugin_host.py": PLUGIN_HOST}


def _expect_prices(*prices: float) -> Callable[[Mods], None]:
    def expect(m: Mods) -> None:
        pm = m["plugin_host"].pm
        assert sorted(pm.hook.price(amount=100)) == sorted(prices)
        assert sorted(name for name, _ in pm.list_name_plugin()) == ["discount", "plugins"]

    return expect


SCENARIOS["pluggy_module_hookimpl"] = Scenario(
    PLUGGY_FILES,
    {"plugins.py": edited(PLUGINS, ("amount * 1.0", "amount * 2.0"))},
    "plugin_host",
    _expect_prices(200.0, 90.0),
)
SCENARIOS["pluggy_plugin_object"] = Scenario(
    PLUGGY_FILES,
    {"plugins.py": edited(PLUGINS, ("amount * (1 - self.rate)", "amount * (1 - self.rate) - 1"))},
    "plugin_host",
    _expect_prices(100.0, 89.0),
)


@modes()
def test_pluggy_hookimpl_in_a_plugin_module(project: Project, mode: str) -> None:
    sc = SCENARIOS["pluggy_module_hookimpl"]
    m = start(project, sc)
    pm = m.pm
    apply_edit(project, mode, sc)
    sc.expect(sys.modules)
    assert sorted(pm.hook.price(amount=100)) == [90.0, 200.0] and len(pm.get_plugins()) == 2


@modes()
def test_pluggy_hookimpl_on_a_registered_plugin_object(project: Project, mode: str) -> None:
    sc = SCENARIOS["pluggy_plugin_object"]
    m = start(project, sc)
    pm = m.pm
    (plugin,) = [p for name, p in pm.list_name_plugin() if name == "discount"]
    plugin.rate = 0.5  # state set at run time on the registered object
    apply_edit(project, mode, sc)
    assert sorted(pm.hook.price(amount=100)) == [49.0, 100.0]
    assert pm.get_plugin("discount") is plugin and len(pm.get_plugins()) == 2


# -- typer: options read from the signature ---------------------------------------------------

CLI = """
import typer

app = typer.Typer()


@app.command()
def greet(name: str):
    typer.echo("hello " + name)


@app.command()
def bye():
    typer.echo("bye")
"""


def _expect_cli_body(m: Mods) -> None:
    app = m["cli_app"].app
    assert CliRunner().invoke(app, ["greet", "ann"]).output == "hi ann\n"
    assert len(app.registered_commands) == 2


def _expect_cli_option(m: Mods) -> None:
    app = m["cli_app"].app
    runner = CliRunner()
    assert runner.invoke(app, ["greet", "ann", "--shout"]).output == "HELLO ANN\n"
    assert runner.invoke(app, ["greet", "ann"]).output == "hello ann\n"
    assert "--shout" in runner.invoke(app, ["greet", "--help"]).output
    assert len(app.registered_commands) == 2


SCENARIOS["typer_body"] = Scenario(
    {"cli_app.py": CLI},
    {"cli_app.py": edited(CLI, ('"hello "', '"hi "'))},
    "cli_app",
    _expect_cli_body,
)
SCENARIOS["typer_option"] = Scenario(
    {"cli_app.py": CLI},
    {
        "cli_app.py": edited(
            CLI,
            (
                'def greet(name: str):\n    typer.echo("hello " + name)',
                "def greet(name: str, shout: bool = False):\n"
                '    text = "hello " + name\n'
                "    typer.echo(text.upper() if shout else text)",
            ),
        )
    },
    "cli_app",
    _expect_cli_option,
)


@modes()
def test_typer_command_body(project: Project, mode: str) -> None:
    sc = SCENARIOS["typer_body"]
    m = start(project, sc)
    app = m.app
    apply_edit(project, mode, sc)
    sc.expect(sys.modules)
    assert CliRunner().invoke(app, ["greet", "bob"]).output == "hi bob\n"


@modes()
def test_typer_command_gains_an_option(project: Project, mode: str) -> None:
    sc = SCENARIOS["typer_option"]
    m = start(project, sc)
    app = m.app
    assert CliRunner().invoke(app, ["greet", "bob"]).output == "hello bob\n"
    apply_edit(project, mode, sc)
    sc.expect(sys.modules)
    assert CliRunner().invoke(app, ["greet", "bob", "--shout"]).output == "HELLO BOB\n"
    assert len(app.registered_commands) == 2


# -- every expectation, on a fresh import of the edited text -----------------------------------


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_expectations_hold_on_a_fresh_import(project: Project, name: str) -> None:
    check_fresh_import(project, SCENARIOS[name])
