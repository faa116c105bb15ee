"""Decorators read signatures (SPEC 1.5 rule 3): a decorated def whose signature changed runs
again, and what its decorator registered again takes the place of what it registered before
(one route, one command), with real frameworks."""

from __future__ import annotations

import asyncio
import json
from typing import Any

# Imported before any test: the fixture that restores sys.modules after a test would
# otherwise drop them (and the next test would import a second copy).
import click  # noqa: F401
import fastapi  # noqa: F401
import flask  # noqa: F401
import pydantic  # noqa: F401
from click.testing import CliRunner

from tests.conftest import Project

FASTAPI = """
from fastapi import FastAPI

app = FastAPI()


@app.get("/items")
def items(q: str = "x"):
    return {"q": q}
"""


def test_fastapi_a_new_query_parameter_shows_in_the_schema_with_one_route(
    project: Project,
) -> None:
    project.write("api.py", FASTAPI)
    m = project.import_("api")
    app, items = m.app, m.items
    edited = FASTAPI.replace(
        'def items(q: str = "x"):\n    return {"q": q}',
        'def items(q: str = "x", limit: int = 10):\n    return {"q": q, "limit": limit}',
    )
    project.reload("api.py", edited)
    assert m.app is app and m.items is items
    routes = [r for r in app.routes if getattr(r, "path", None) == "/items"]
    assert len(routes) == 1
    params = app.openapi()["paths"]["/items"]["get"]["parameters"]
    assert [p["name"] for p in params] == ["q", "limit"]
    assert params[1]["schema"]["default"] == 10
    assert _get(app, "/items", "limit=3") == {"q": "x", "limit": 3}


FLASK = """
from flask import Flask

app = Flask(__name__)


@app.route("/hello/<name>")
def hello(name):
    return f"hello {name}"
"""


def test_flask_a_view_with_a_new_parameter_is_still_one_rule(project: Project) -> None:
    project.write("site_app.py", FLASK)
    m = project.import_("site_app")
    app, hello = m.app, m.hello
    edited = FLASK.replace(
        'def hello(name):\n    return f"hello {name}"',
        'def hello(name, mark="!"):\n    return f"hello {name}{mark}"',
    )
    result = project.reload("site_app.py", edited)
    assert result["recompiled"][0]["mode"] == "partial"
    assert m.hello is hello and app.view_functions["hello"] is hello
    assert len([r for r in app.url_map.iter_rules() if r.endpoint == "hello"]) == 1
    assert app.test_client().get("/hello/bob").get_data(as_text=True) == "hello bob!"


CLI = """
import click


@click.group()
def cli():
    pass


@cli.command()
@click.option("--count", default=1)
def hello(count):
    click.echo("hi" * count)
"""


def test_click_a_command_with_a_new_option_is_one_command(project: Project) -> None:
    project.write("tool.py", CLI)
    m = project.import_("tool")
    cli = m.cli
    edited = CLI.replace(
        '@click.option("--count", default=1)\ndef hello(count):\n    click.echo("hi" * count)',
        '@click.option("--count", default=1)\n@click.option("--sep", default="-")\n'
        "def hello(count, sep):\n    click.echo(sep.join(['hi'] * count))",
    )
    project.reload("tool.py", edited)
    assert m.cli is cli and list(cli.commands) == ["hello"]
    assert cli.commands["hello"] is m.hello
    out = CliRunner().invoke(cli, ["hello", "--count", "2", "--sep", "+"])
    assert out.exit_code == 0 and out.output == "hi+hi\n"


MODEL = """
from pydantic import BaseModel, field_validator


class Item(BaseModel):
    name: str

    @field_validator("name")
    @classmethod
    def tidy(cls, value):
        return value.strip()
"""


def test_pydantic_a_validator_taking_info_is_called_with_it(project: Project) -> None:
    project.write("models.py", MODEL)
    m = project.import_("models")
    item_cls = m.Item
    before = item_cls(name=" a ")
    edited = MODEL.replace(
        "def tidy(cls, value):\n        return value.strip()",
        "def tidy(cls, value, info):\n        return f'{value.strip()}@{info.field_name}'",
    )
    project.reload("models.py", edited)
    assert m.Item is item_cls
    made = item_cls(name=" b ")
    assert made.name == "b@name" and isinstance(made, item_cls)
    assert item_cls.model_validate({"name": "c"}).name == "c@name"
    assert before.name == "a"


def _get(app: Any, path: str, query: str) -> Any:
    """One GET through the app's ASGI interface (no HTTP client needed)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": query.encode(),
        "headers": [(b"host", b"test")],
        "server": ("test", 80),
        "client": ("test", 1),
        "root_path": "",
    }
    body: list[bytes] = []
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body":
            body.append(message.get("body", b""))

    asyncio.run(app(scope, receive, send))
    assert status == [200], (status, body)
    return json.loads(b"".join(body))
