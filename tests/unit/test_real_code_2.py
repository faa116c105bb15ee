"""Reload faults first met on real code (pyparsing, registries, aliases), each reduced to a
minimal module.

What "right" means is what a fresh interpreter gives for the edited text: each test reads
the same expression in the reloaded process and in a new one that imports the files as they
are on disk after the edit (:func:`_fresh`), and the two must agree; then it checks what only
a reload can keep (the objects held before the edit).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

import ipython_hotreload as hr
from tests.conftest import Project


@pytest.fixture(params=["minimal", "module"])
def mode(request: pytest.FixtureRequest, project: Project) -> str:
    """The ``reexecute`` mode of the project's reloader."""
    project.reloader.reexecute = request.param
    return str(request.param)


def _live(modules: list[str], expr: str) -> str:
    """``expr`` read in this process, over the loaded ``modules``."""
    return repr(eval(f"({expr})", {name: sys.modules[name] for name in modules}))


def _fresh(project: Project, modules: list[str], expr: str) -> str:
    """``expr`` read in a new interpreter that imports ``modules`` from the project's files."""
    code = f"import {', '.join(modules)}\nprint(repr(({expr})))"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=project.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _agrees_with_fresh_import(project: Project, modules: list[str], expr: str) -> None:
    fresh = _fresh(project, modules, expr)
    assert _live(modules, expr) == fresh


# -- instances nested in module-level objects, after a whole re-execution -----------------

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
DEEP = Group({"inner": Group((Square(),))})
LOOP = Group([])
LOOP.members.append(LOOP)

_tmp = 0
del _tmp
"""
SHAPES_SEEN = (
    "[isinstance(s, shapes.Square) for s in"
    " (shapes.UNIT, *shapes.PAIR.members, shapes.DEEP.members['inner'].members[0])],"
    " [s.area() for s in shapes.PAIR.members],"
    " shapes.DEEP.members['inner'].members[0].area(),"
    " shapes.LOOP.members[0] is shapes.LOOP"
)


def test_instances_nested_in_module_objects_take_the_kept_class(
    project: Project, mode: str
) -> None:
    project.write("shapes.py", SHAPES)
    m = project.import_("shapes")
    Square, held = m.Square, m.Square()
    result = project.reload("shapes.py", SHAPES.replace("return 1\n", "return 2\n"))
    assert result["recompiled"][0]["mode"] == "full"  # the top-level `del`
    _agrees_with_fresh_import(project, ["shapes"], SHAPES_SEEN)
    assert m.Square is Square and held.area() == 20
    assert type(m.PAIR.members[0]) is Square and type(m.PAIR) is m.Group


def test_a_function_held_by_a_nested_instance_is_the_kept_one(project: Project, mode: str) -> None:
    text = SHAPES + "\ndef handler():\n    return 'h1'\n"
    project.write("shapes.py", text)
    m = project.import_("shapes")
    handler = m.handler
    added = "\nBOX = Group([Group([handler])])\n"  # a new name: no old object to pair with
    project.reload("shapes.py", text.replace("'h1'", "'h2'") + added)
    assert m.handler is handler
    assert m.BOX.members[0].members[0] is handler and m.BOX.members[0].members[0]() == "h2"


# -- a def whose name a later statement rebinds ---------------------------------------------

ALIASES = """
class Number:
    def __init__(self, text):
        self.value = float(text)


def parse_int(text):
    return int(text)


parse_int = Number
CACHE = {}
"""


def test_a_def_rebound_by_a_later_statement_stays_rebound(project: Project, mode: str) -> None:
    project.write("aliases.py", ALIASES)
    m = project.import_("aliases")
    Number, cache = m.Number, m.CACHE
    result = project.reload("aliases.py", ALIASES.replace("int(text)\n", "int(text, 10)\n"))
    seen = "aliases.parse_int is aliases.Number, aliases.parse_int('2').value"
    _agrees_with_fresh_import(project, ["aliases"], seen)
    assert m.Number is Number
    if mode == "minimal":
        payload = result["recompiled"][0]
        assert payload["mode"] == "partial"
        # The def and the alias ran; `CACHE = {}` binds another name and did not.
        assert [r["lineno"] for r in payload["rerun"]] == [7, 11]
        assert m.CACHE is cache


OVERLOADS = """
from typing import overload


@overload
def first(x: int) -> int: ...


@overload
def first(x: str) -> str: ...


def first(x):
    return x
"""


def test_editing_an_overload_stub_keeps_the_implementation(project: Project, mode: str) -> None:
    # typing.overload keeps the stub out of reach (the name ends on the implementation), so
    # the stub's def runs: every later def of the name must run after it, as on import.
    project.write("overloads.py", OVERLOADS)
    m = project.import_("overloads")
    first = m.first
    result = project.reload("overloads.py", OVERLOADS.replace("(x: int)", "(x: int, y: int = 0)"))
    _agrees_with_fresh_import(project, ["overloads"], "overloads.first(3)")
    assert m.first is first and m.first("a") == "a"
    assert not result["recompiled"][0].get("replaced")  # nothing was lost on the way


# -- what a re-executed dependent registered in another module ------------------------------

EXPORTERS = """
REGISTRY = {}


class Exporter:
    by_name = {}

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        REGISTRY[cls.__name__] = cls
        Exporter.by_name[cls.__name__] = cls

    def export(self):
        return "v1"
"""
FORMATS = """
from exporters import Exporter


class CSV(Exporter):
    pass
"""
REGISTERED = (
    "exporters.REGISTRY['CSV'] is formats.CSV,"
    " exporters.Exporter.by_name['CSV'] is formats.CSV,"
    " formats.CSV().export()"
)


def test_a_dependent_re_executed_whole_registers_its_kept_class(project: Project) -> None:
    project.files({"exporters.py": EXPORTERS, "formats.py": FORMATS})
    m = project.import_("formats")
    CSV = m.CSV
    for version in ("v2", "v3"):  # the second time, formats runs the code it ran before
        text = EXPORTERS.replace("v1", version)
        result = project.reload("exporters.py", text, reexecute="module")
        assert project.mods(result) == ["exporters", "formats"]
        _agrees_with_fresh_import(project, ["exporters", "formats"], REGISTERED)
        assert m.CSV is CSV and sys.modules["exporters"].REGISTRY["CSV"] is CSV


def test_a_rebuilt_class_statement_registers_its_kept_class(project: Project, mode: str) -> None:
    # The class statement of the saved module runs again (its body changed beyond a method):
    # __init_subclass__ registers the class it builds in exporters, which must end up
    # holding the class that stays.
    project.files({"exporters.py": EXPORTERS, "formats.py": FORMATS})
    m = project.import_("formats")
    CSV, registry = m.CSV, sys.modules["exporters"].REGISTRY
    project.reload("formats.py", FORMATS.replace("pass", "sep = ','"))
    _agrees_with_fresh_import(project, ["exporters", "formats"], REGISTERED + ", formats.CSV.sep")
    assert m.CSV is CSV and registry["CSV"] is CSV and CSV.sep == ","


REGISTRY_FACTORY = """
def make_registry():
    entries = {}

    def register(cls):
        entries[cls.__name__] = cls
        return cls

    register.lookup = entries.get
    return register


register = make_registry()
"""
PLUGINS = """
from registry import register


@register
class Plugin:
    name = "one"
"""


def test_a_registry_in_a_decorator_s_closure_holds_the_kept_class(
    project: Project, mode: str
) -> None:
    project.files({"registry.py": REGISTRY_FACTORY, "plugins.py": PLUGINS})
    m = project.import_("plugins")
    Plugin = m.Plugin
    project.reload("plugins.py", PLUGINS.replace('"one"', '"two"'))
    seen = "registry.register.lookup('Plugin') is plugins.Plugin, plugins.Plugin.name"
    _agrees_with_fresh_import(project, ["registry", "plugins"], seen)
    assert m.Plugin is Plugin and sys.modules["registry"].register.lookup("Plugin") is Plugin


# -- a rollback of a class whose bases changed ----------------------------------------------


def test_a_rollback_puts_a_class_s_bases_back(project: Project) -> None:
    text = "class A:\n    pass\n\n\nclass M:\n    pass\n\n\nclass B(A):\n    pass\n"
    project.write("based.py", text)
    m = project.import_("based")
    B, A = m.B, m.A
    broken = text.replace("class B(A)", "class B(A, M)") + "\nraise RuntimeError('late')\n"
    with pytest.raises(hr.ReloadError):
        project.reload("based.py", broken)
    assert m.B is B and B.__bases__ == (A,)
