"""A changed module's defs patched into their function objects without running: functions
behind decorators, methods with their class cell and class namespace, line numbers that
follow an edit; and the patcher on its own, on a namespace and the pairs of a diff."""

from __future__ import annotations

import ast
import textwrap
from typing import Any

import pytest

from ipython_hotreload.core.apply.defpatch import DefPatcher
from ipython_hotreload.core.apply.journal import Journal
from ipython_hotreload.core.source.diff import Pair, diff_statements
from ipython_hotreload.core.source.statements import ModuleIndex
from tests.conftest import Project
from tests.unit.core.apply.test_minimal import payload

# -- functions behind decorators ---------------------------------------------------------------

DECORATED = textwrap.dedent(
    """
    import functools


    def tagged(fn):
        @functools.wraps(fn)
        def wrapper(*a):
            return ("tag", fn(*a))

        return wrapper


    @functools.cache
    def cached(x):
        return x + 1


    @tagged
    def wrapped(x):
        return x + 1


    @functools.singledispatch
    def show(x):
        return "object"


    @show.register
    def _(x: int):
        return "int 1"


    class Box:
        def __init__(self):
            self._v = 1

        @property
        def v(self):
            return self._v + 1

        @v.setter
        def v(self, value):
            self._v = value + 1

        @classmethod
        def make(cls):
            return "make 1"

        @staticmethod
        def util():
            return "util 1"
    """
)


def test_functions_behind_decorators_are_patched_and_decorators_not_reapplied(
    project: Project,
) -> None:
    project.write("deco.py", DECORATED)
    deco = project.import_("deco")
    cached, wrapped, show, box = deco.cached, deco.wrapped, deco.show, deco.Box()
    assert cached(1) == 2
    new = (
        DECORATED.replace("return x + 1\n\n\n@tagged", "return x + 100\n\n\n@tagged")
        .replace('return ("tag"', 'return ("tag"')
        .replace("def wrapped(x):\n    return x + 1", "def wrapped(x):\n    return x + 10")
        .replace('"int 1"', '"int 2"')
        .replace("self._v + 1", "self._v + 1000")
        .replace("self._v = value + 1", "self._v = value + 2")
        .replace('"make 1"', '"make 2"')
        .replace('"util 1"', '"util 2"')
    )
    result = project.reload("deco.py", new)
    p = payload(result, "deco")
    assert p["mode"] == "patched", p
    assert cached(1) == 101  # the cache was cleared
    assert wrapped(1) == ("tag", 11) and deco.wrapped is wrapped
    assert show(1) == "int 2" and deco.show is show and len(show.registry) == 2
    assert box.v == 1001
    box.v = 5
    assert box._v == 7
    assert deco.Box.make() == "make 2" and deco.Box.util() == "util 2"
    assert set(p["changes"]["changed"]) == {
        "cached",
        "wrapped",
        "_",
        "Box.v",
        "Box.make",
        "Box.util",
    }


def test_a_method_using_super_keeps_its_class_cell(project: Project) -> None:
    text = "class A:\n    def s(self):\n        return 'a'\n\n\nclass B(A):\n    def s(self):\n        return super().s() + '1'\n"
    project.write("sup.py", text)
    sup = project.import_("sup")
    b = sup.B()
    result = project.reload("sup.py", text.replace("'1'", "'2'"))
    assert payload(result, "sup")["mode"] == "patched"
    assert b.s() == "a2"


def test_a_method_default_reading_a_class_attribute_is_evaluated_in_the_class(
    project: Project,
) -> None:
    text = "class K:\n    LIMIT = 3\n\n    def m(self, x=LIMIT):\n        return x\n"
    project.write("kls.py", text)
    kls = project.import_("kls")
    project.reload("kls.py", text.replace("return x", "return x * 10"))
    assert kls.K().m() == 30


def test_lines_of_unchanged_functions_follow_an_edit_above_them(project: Project) -> None:
    text = "def a():\n    return 1\n\n\ndef b():\n    raise ValueError('b')\n"
    project.write("lines.py", text)
    lines = project.import_("lines")
    b = lines.b
    project.reload("lines.py", text.replace("return 1\n", "x = 1\n    y = 2\n    return x + y\n"))
    assert b.__code__.co_firstlineno == 7
    with pytest.raises(ValueError) as info:
        b()
    assert info.traceback[-1].lineno + 1 == 8


# -- the patcher on its own ------------------------------------------------------------------

FILENAME = "/project/_hr_defpatch_mod.py"


def patcher(old: str, new: str) -> tuple[dict[str, Any], DefPatcher, list[Pair]]:
    """A namespace run from ``old``, a patcher of it, and the pairs of ``old`` -> ``new``."""
    ns: dict[str, Any] = {"__name__": "_hr_defpatch_mod"}
    exec(compile(old, FILENAME, "exec"), ns)
    before, after = (ModuleIndex(t, ast.parse(t), None) for t in (old, new))
    pairs = diff_statements(before.statements, after.statements)
    return ns, DefPatcher(Journal(), ns, FILENAME, after.future_flags), pairs


def test_an_edited_def_takes_the_new_code_in_its_own_object() -> None:
    old = "def f(x, k=1):\n    return x + k\n\n\ndef g():\n    return 0\n"
    ns, defs, pairs = patcher(old, old.replace("x + k", "x * k").replace("k=1", "k=3"))
    f = ns["f"]
    assert [p.status for p in pairs] == ["patch", "same"]
    assert [defs.patch(p) for p in pairs] == [True, True]
    assert ns["f"] is f and f(2) == 6
    assert (defs.patched, defs.code_changed, defs.rebound) == (1, {"f"}, set())
    defs.journal.rollback()
    assert f(2) == 3


def test_a_method_added_to_a_class_is_set_on_it_alone() -> None:
    old = "class C:\n    def m(self):\n        return 1\n"
    new = old + "\n    def n(self):\n        return 2\n"
    ns, defs, pairs = patcher(old, new)
    cls = ns["C"]
    assert [p.status for p in pairs] == ["class"] and all(defs.patch(p) for p in pairs)
    assert ns["C"] is cls and cls().n() == 2
    assert "C.n" in defs.rebound and defs.patched == 1


def test_an_unchanged_def_below_an_edit_has_its_lines_shifted() -> None:
    old = "def a():\n    return 1\n\n\ndef b():\n    return 2\n"
    ns, defs, pairs = patcher(old, old.replace("return 1", "x = 1\n    return x"))
    b = ns["b"]
    assert all(defs.patch(p) for p in pairs)
    assert b.__code__.co_firstlineno == 6 and "b" not in defs.code_changed


def test_compiling_ahead_fails_before_any_function_takes_new_code() -> None:
    old = "def f():\n    return 1\n\n\ndef g(x=1):\n    return x\n"
    ns, defs, pairs = patcher(old, old.replace("return 1", "return 2").replace("x=1", "x=1 / 0"))
    with pytest.raises(ZeroDivisionError):
        defs.compile_ahead(pairs)
    assert ns["f"]() == 1 and ns["g"]() == 1 and defs.patched == 0


def test_a_redecorated_def_hands_its_decorators_the_function_they_had() -> None:
    old = "SEEN = []\n\n\ndef register(fn):\n    SEEN.append(fn)\n    return fn\n\n\n"
    old += "@register\ndef view(a):\n    return a\n"
    new = old.replace("def view(a):\n    return a", "def view(a, b=2):\n    return a + b")
    ns, defs, pairs = patcher(old, new)
    view, first, last = ns["view"], pairs[0].new, pairs[-1]
    assert last.old is not None and last.new is not None and first is not None
    kept = defs.kept_function(last.old)
    assert kept is view
    code = defs.redecorated(last.new)
    assert code is not None
    with defs.keeping(kept):
        exec(code, ns)
    assert ns["SEEN"] == [view, view] and ns["view"] is view and view(1) == 3
    assert "__hotreload_kept_function__" not in ns
    assert defs.redecorated(first) is None  # `SEEN = []`: no decorated def
