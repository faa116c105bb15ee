"""IPython deduperreload's scenarios, run through ``HotReloader.reload``.

deduperreload (``IPython/extensions/tests/test_deduperreload.py``) diffs the old and new AST
and patches only the definitions that changed, falling back to a full reload otherwise. Its
detection tests assert *which* definitions it would patch; we re-execute the whole module
(SPEC section 1.1), so those translate into behaviour: changed definitions run new code
through old references, unchanged ones keep their identity and behaviour, moved ones keep
working and report their new lines. Its patching, hook, class, decorator and enum suites
translate one to one.
"""

from __future__ import annotations

import asyncio
import inspect
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import pytest

import ipython_hotreload as hr

if TYPE_CHECKING:
    from conftest import Project


def payload_of(result: dict[str, Any], mod: str) -> dict[str, Any]:
    """The payload of ``mod`` in a reload result (fails the test when it is missing)."""
    for payload in result["recompiled"]:
        if payload["mod"] == mod:
            return dict(payload)
    raise AssertionError(f"{mod} not in {[p['mod'] for p in result['recompiled']]}")


def replaced(result: dict[str, Any], mod: str) -> list[str]:
    """The ``replaced`` qualnames of ``mod``'s payload (the key may be left out when empty)."""
    return list(payload_of(result, mod).get("replaced", []))


def qualnames(result: dict[str, Any], mod: str) -> list[str]:
    """Qualnames of the saved module's ``functions`` entries, in source order."""
    functions = payload_of(result, mod)["functions"]
    assert functions is not None, "the saved module's payload must carry its functions"
    return [entry["qualname"] for entry in functions]


def run(ns: dict[str, Any], code: str) -> None:
    """Run a "notebook cell" in the namespace ``ns``."""
    exec(textwrap.dedent(code), ns)


def line_of(text: str, needle: str) -> int:
    """1-based number of the first line of (dedented) ``text`` that contains ``needle``."""
    for number, line in enumerate(textwrap.dedent(text).splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the text")


# ---------------------------------------------------------------------------------------------
# AutoreloadDetectionSuite, as behaviour
# ---------------------------------------------------------------------------------------------


def test_identical_source_keeps_everything(project: Project) -> None:
    # deduperreload: test_autoreload_no_changes, test_compare_ast2
    text = """
        def factorial(n):
            return 1 if n < 2 else n * factorial(n - 1)


        x = 1212121
    """
    path = project.write("same.py", text)
    same = project.import_("same")
    held = same.factorial

    result = project.reload("same.py", text)

    assert same.factorial is held
    assert held(5) == 120
    assert same.x == 1212121
    assert replaced(result, "same") == []
    assert path.read_text(encoding="utf-8") == textwrap.dedent(text)


def test_module_constant_added(project: Project) -> None:
    # deduperreload: test_autoreload_static_assign_change_outside_function
    project.write("consts.py", "def factorial(n):\n    return n\n")
    consts = project.import_("consts")
    held = consts.factorial

    project.reload("consts.py", "def factorial(n):\n    return n\n\n\nx = 1212121\n")

    assert consts.x == 1212121
    assert consts.factorial is held


def test_function_body_change(project: Project) -> None:
    # deduperreload: test_autoreload_changes_inside_function, test_compare_ast
    project.write("inside.py", "def factorial(n):\n    return str(n)\n")
    inside = project.import_("inside")
    held = inside.factorial

    project.reload("inside.py", "def factorial(n):\n    return str(n) + 'edit!'\n")

    assert held(3) == "3edit!"


def test_function_body_and_module_statement_change(project: Project) -> None:
    # deduperreload: test_autoreload_changes_inside_and_outside_function (it falls back to a
    # full reload; we always re-execute)
    project.write("both.py", "def factorial(n):\n    return n\n\n\nlog = [1]\n")
    both = project.import_("both")
    held = both.factorial

    project.reload("both.py", "def factorial(n):\n    return n + 1\n\n\nlog = [2]\n")

    assert held(1) == 2
    assert both.log == [2]


def test_inner_function_change(project: Project) -> None:
    # deduperreload: test_autoreload_changes_inner_function
    text = """
        def factorial(n):
            def foo():
                x = {value}
                return x

            return foo
    """
    project.write("inner.py", text.format(value=3))
    inner = project.import_("inner")
    held = inner.factorial
    assert held(0)() == 3

    project.reload("inner.py", text.format(value=4))

    assert held(0)() == 4
    assert qualnames(project.reload("inner.py", text.format(value=5)), "inner") == ["factorial"]


def test_two_functions_change(project: Project) -> None:
    # deduperreload: test_autoreload_changes_multiple_function
    project.write("pair.py", "def foo():\n    return 3\n\n\ndef bar():\n    return 1\n")
    pair = project.import_("pair")
    held_foo, held_bar = pair.foo, pair.bar

    project.reload("pair.py", "def foo():\n    return 4\n\n\ndef bar():\n    return 2\n")

    assert (held_foo(), held_bar()) == (4, 2)


def test_one_of_two_functions_changes(project: Project) -> None:
    # deduperreload: test_autoreload_change_one_function_of_multiple
    project.write("one_of.py", "def foo():\n    return 3\n\n\ndef bar():\n    return 1\n")
    one_of = project.import_("one_of")
    held_foo, held_bar = one_of.foo, one_of.bar

    project.reload("one_of.py", "def foo():\n    return 4\n\n\ndef bar():\n    return 1\n")

    assert (held_foo(), held_bar()) == (4, 1)
    assert one_of.bar is held_bar


MOVES_V1 = """
    def factorial(n):
        return 1


    x = 1


    def foo():
        return 23


    x = 2
"""

MOVES_V2 = """
    x = 1
    x = 2


    def foo():
        return 23


    def factorial(n):
        return 1
"""


def test_functions_moved_keep_identity_and_report_new_lines(project: Project) -> None:
    # deduperreload: test_autoreload_handling_moves, test_autoreload_handling_function_moves_success,
    # test_autoreload_handling_function_moves_only (deduperreload leaves co_firstlineno stale)
    project.write("moves.py", MOVES_V1)
    moves = project.import_("moves")
    held_fact, held_foo = moves.factorial, moves.foo

    result = project.reload("moves.py", MOVES_V2)

    assert moves.factorial is held_fact
    assert moves.foo is held_foo
    assert (held_fact(3), held_foo(), moves.x) == (1, 23, 2)
    assert held_fact.__code__.co_firstlineno == line_of(MOVES_V2, "def factorial")
    assert held_foo.__code__.co_firstlineno == line_of(MOVES_V2, "def foo")
    assert inspect.getsourcelines(held_fact)[1] == line_of(MOVES_V2, "def factorial")
    assert qualnames(result, "moves") == ["foo", "factorial"]


def test_new_import_added_at_top(project: Project) -> None:
    # deduperreload: test_autoreload_handles_new_imports
    project.write("imports_new.py", "def factorial(n):\n    return 1\n\n\nx = 1\n")
    mod = project.import_("imports_new")
    held = mod.factorial

    project.reload(
        "imports_new.py",
        "import ast\n\n\ndef factorial(n):\n    return ast.literal_eval(str(n))\n\n\nx = 1\n",
    )

    assert mod.ast is sys.modules["ast"]
    assert held(7) == 7
    assert held.__code__.co_firstlineno == 4


def test_async_function_body_change(project: Project) -> None:
    # deduperreload: test_autoreload_async_function
    text = """
        import asyncio


        async def sleep():
            await asyncio.sleep(0)
            return {value}
    """
    project.write("asleep.py", text.format(value=1))
    asleep = project.import_("asleep")
    held = asleep.sleep

    project.reload("asleep.py", text.format(value=10))

    assert asyncio.run(held()) == 10


@pytest.mark.parametrize("body", ["pass", "..."])
def test_function_added(project: Project, body: str) -> None:
    # deduperreload: test_autoreload_add_function, test_autoreload_add_function_ellipsis
    project.write("added.py", "async def sleep():\n    return 1\n")
    added = project.import_("added")
    held = added.sleep

    result = project.reload(
        "added.py", f"async def sleep():\n    return 1\n\n\ndef add(x, y):\n    {body}\n"
    )

    assert added.add(1, 2) is None
    assert added.sleep is held
    functions = payload_of(result, "added")["functions"]
    assert [(e["qualname"], e["kind"], e["signature"]) for e in functions] == [
        ("sleep", "async_function", "()"),
        ("add", "function", "(x, y)"),
    ]


# ---------------------------------------------------------------------------------------------
# AutoreloadPatchingSuite
# ---------------------------------------------------------------------------------------------


def test_patching(project: Project) -> None:
    # deduperreload: test_patching
    project.write("patch1.py", "def foo():\n    return 1\n")
    held = project.import_("patch1").foo

    project.reload("patch1.py", "def foo():\n    return 2\n")

    assert held() == 2


def test_patching_parameters_removed(project: Project) -> None:
    # deduperreload: test_patching_parameters
    project.write("patch2.py", "def foo(n, s):\n    return n + s\n")
    held = project.import_("patch2").foo

    result = project.reload("patch2.py", "def foo(n):\n    return n\n")

    assert held(2) == 2
    assert str(inspect.signature(held)) == "(n)"
    with pytest.raises(TypeError):
        held(1, 2)
    assert payload_of(result, "patch2")["functions"][0]["signature"] == "(n)"


def test_add_function_next_to_existing(project: Project) -> None:
    # deduperreload: test_add_function
    project.write("patch3.py", "def foo2(n):\n    return n\n")
    patch3 = project.import_("patch3")
    held = patch3.foo2

    project.reload("patch3.py", "def foo2(n):\n    return n\n\n\ndef foo(n):\n    return 55\n")

    assert patch3.foo(2) == 55
    assert held(2) == 2


def test_two_operations(project: Project) -> None:
    # deduperreload: test_two_operations
    project.write("patch4.py", "def foo(n):\n    return 1\n")
    patch4 = project.import_("patch4")
    held = patch4.foo

    project.reload("patch4.py", "def foo(n):\n    return 55\n")
    assert held(2) == 55
    project.reload(
        "patch4.py",
        """
        def goo():
            return -1


        def foo(n):
            x = 2
            return x + n


        def bar():
            return 200
        """,
    )
    assert held(2) == 4
    assert (patch4.goo(), patch4.bar()) == (-1, 200)


def test_using_module_global(project: Project) -> None:
    # deduperreload: test_using_outside_param
    project.write("patch5.py", "x = 1\n\n\ndef foo(n):\n    return 1\n")
    held = project.import_("patch5").foo

    project.reload("patch5.py", "x = 1\n\n\ndef foo(n):\n    return 55 + x\n")

    assert held(2) == 56


def test_function_using_imported_name(project: Project) -> None:
    # deduperreload: test_importing_func, test_deduperreloader_imported_mod
    project.write("patch6.py", "from os import environ\n\n\ndef foo(n):\n    pass\n")
    ns: dict[str, Any] = {}
    run(ns, "import patch6")
    held = ns["patch6"].foo

    project.reload(
        "patch6.py",
        "from os import environ\n\n\ndef foo():\n    return isinstance(environ, object) + 0\n",
    )

    assert held() == 1
    assert ns["patch6"].foo() == 1


# ---------------------------------------------------------------------------------------------
# AutoreloadHookSuite
# ---------------------------------------------------------------------------------------------

BASIC_V1 = "x = 9\n\n\ndef foo(y):\n    return y + 3\n"
BASIC_V2 = "x = 9\n\n\ndef foo(y):\n    return y + 5\n"


@pytest.mark.parametrize("when", ["imported_before_reloader", "not_imported", "after_noop_reload"])
def test_reload_whatever_the_history(project: Project, when: str) -> None:
    # deduperreload: test_deduperreloader_basic (autoreload enabled before/after import/first pass)
    project.write("basic.py", BASIC_V1)
    reloader = project.reloader
    fresh: hr.HotReloader | None = None
    if when == "imported_before_reloader":
        project.import_("basic")
        fresh = hr.HotReloader(roots=[project.root], formatter=None)
        reloader = fresh
    elif when == "after_noop_reload":
        project.import_("basic")
        project.reload("basic.py", BASIC_V1)
    try:
        held = sys.modules["basic"].foo if "basic" in sys.modules else None
        reloader.reload(project.path("basic.py"), BASIC_V2)
    finally:
        if fresh is not None:
            fresh.close()

    basic = sys.modules["basic"]
    assert basic.foo(0) == 5
    if held is not None:
        assert held(0) == 5


def test_zero_arg_super_same_module(project: Project) -> None:
    # deduperreload: test_super
    text = """
        class Foo:
            def foo(self):
                return 1


        class Bar(Foo):
            def bar(self):
                return super().foo() + {inc}
    """
    project.write("supers.py", text.format(inc=1))
    ns: dict[str, Any] = {}
    run(ns, "from supers import Bar\nbar = Bar()")
    assert ns["bar"].bar() == 2

    project.reload("supers.py", text.format(inc=2))

    run(ns, "result = bar.bar()")
    assert ns["result"] == 3


def test_global_and_function_both_change(project: Project) -> None:
    # deduperreload: test_deduperreloader_need_to_default_back
    project.write("back.py", "x = 9\n\n\ndef foo(y):\n    return y + 3\n")
    back = project.import_("back")
    held = back.foo

    project.reload("back.py", "x = 200\n\n\ndef foo(y):\n    return y + 5\n")

    assert (back.x, held(0)) == (200, 5)


def test_broken_source_keeps_old_code(project: Project) -> None:
    # deduperreload: test_deduperreloader_failure
    path = project.write("broken.py", "x = 9\n\n\ndef foo(y):\n    return y + 3\n")
    broken = project.import_("broken")
    held = broken.foo

    with pytest.raises(hr.ReloadError) as failure:
        project.reload("broken.py", "broken broken broken\n")

    assert isinstance(failure.value.__cause__, SyntaxError)
    assert failure.value.lineno == 1
    assert held(0) == 3
    assert broken.x == 9
    assert path.read_text(encoding="utf-8") == "broken broken broken\n"
    assert [e.kind for e in project.events if e.mod == "broken"] == [
        "source_written",
        "compile_failed",
    ]


# ---------------------------------------------------------------------------------------------
# AutoreloadClassMethodsDetectionSuite, as behaviour
# ---------------------------------------------------------------------------------------------


def test_method_body_change_in_subclass(project: Project) -> None:
    # deduperreload: test_autoreload_method
    text = "class Base:\n    pass\n\n\nclass C(Base):\n    def foo():\n        {body}\n"
    project.write("meth.py", text.format(body="pass"))
    meth = project.import_("meth")
    held_cls, held_fn = meth.C, meth.C.foo

    result = project.reload("meth.py", text.format(body="x = 1\n        return x"))

    assert meth.C is held_cls
    assert held_fn() == 1
    assert qualnames(result, "meth") == ["C.foo"]


def test_unchanged_class_keeps_identity(project: Project) -> None:
    # deduperreload: test_autoreload_no_changes_class
    text = "class D:\n    def foo():\n        return 'd'\n\n\ndef foo():\n    return 'f'\n"
    project.write("same_cls.py", text)
    mod = project.import_("same_cls")
    held_cls, held_meth, held_fn = mod.D, mod.D.foo, mod.foo

    project.reload("same_cls.py", text)

    assert (mod.D, mod.D.foo, mod.foo) == (held_cls, held_meth, held_fn)
    assert mod.D.__dict__["foo"] is held_meth
    assert (held_meth(), held_fn()) == ("d", "f")


def test_method_added_and_changed_in_class(project: Project) -> None:
    # deduperreload: test_autoreload_add_function_class
    project.write("addm.py", "class C:\n    def foo():\n        pass\n\n\ndef foo():\n    pass\n")
    addm = project.import_("addm")
    held = addm.C

    result = project.reload(
        "addm.py",
        """
        class C:
            def foo():
                x = 1
                return x

            def bar():
                return -1


        def foo():
            pass
        """,
    )

    assert (held.foo(), held.bar()) == (1, -1)
    assert qualnames(result, "addm") == ["C.foo", "C.bar", "foo"]


def test_method_removed_from_class(project: Project) -> None:
    # deduperreload: test_autoreload_remove_method
    project.write(
        "rmm.py", "class C:\n    def foo(self):\n        pass\n\n\ndef foo():\n    pass\n"
    )
    rmm = project.import_("rmm")
    obj = rmm.C()

    project.reload("rmm.py", "class C:\n    pass\n\n\ndef foo():\n    pass\n")

    assert "foo" not in rmm.C.__dict__
    assert not hasattr(obj, "foo")


def test_class_removed_from_module(project: Project) -> None:
    # deduperreload: test_autoreload_remove_class
    project.write("rmc.py", "class C:\n    def foo():\n        pass\n\n\ndef foo():\n    pass\n")
    rmc = project.import_("rmc")

    result = project.reload("rmc.py", "def foo():\n    return 'still'\n")

    assert not hasattr(rmc, "C")
    assert rmc.foo() == "still"
    assert qualnames(result, "rmc") == ["foo"]


def test_nested_class_added(project: Project) -> None:
    # deduperreload: test_autoreload_add_class_in_class
    project.write("nest1.py", "class C:\n    pass\n\n\ndef foo():\n    pass\n")
    nest1 = project.import_("nest1")
    held = nest1.C
    obj = nest1.C()

    project.reload("nest1.py", "class C:\n    class D:\n        pass\n\n\ndef foo():\n    pass\n")

    assert nest1.C is held
    assert held.D.__qualname__ == "C.D"
    assert isinstance(obj.D(), held.D)


def test_method_added_to_nested_class(project: Project) -> None:
    # deduperreload: test_autoreload_add_method_in_class_in_class
    project.write("nest2.py", "class C:\n    class D:\n        x = 1\n\n\ndef foo():\n    pass\n")
    nest2 = project.import_("nest2")
    held_c, held_d = nest2.C, nest2.C.D

    result = project.reload(
        "nest2.py",
        """
        class C:
            class D:
                x = 1

                def foo():
                    return 1


        def foo():
            pass
        """,
    )

    assert nest2.C is held_c
    assert nest2.C.D is held_d
    assert held_d.foo() == 1
    assert qualnames(result, "nest2") == ["C.D.foo", "foo"]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        # deduperreload: test_autoreload_add_var_and_method_in_class_in_class
        (
            "class C:\n    class D:\n        pass\n",
            "class C:\n    class D:\n        x = 1\n\n        def foo():\n            return 1\n",
            {"D.x": 1, "D.foo": 1},
        ),
        # deduperreload: test_autoreload_add_method_in_class_in_class_pass
        (
            "class C:\n    class D:\n        pass\n",
            "class C:\n    class D:\n        def foo():\n            return 1\n",
            {"D.foo": 1},
        ),
        # deduperreload: test_autoreload_add_method_in_class_in_class_more
        (
            "class C:\n    class D:\n        pass\n",
            "class C:\n    def bar():\n        return -1\n\n"
            "    class D:\n        def foo():\n            return 1\n",
            {"bar": -1, "D.foo": 1},
        ),
        # deduperreload: test_autoreload_add_method_in_class_in_class_with_members
        (
            "class C:\n    class D:\n        pass\n",
            "class C:\n    def bar():\n        return -1\n\n"
            "    class D:\n        s = 2\n\n        def foo():\n            return 1\n",
            {"bar": -1, "D.s": 2, "D.foo": 1},
        ),
    ],
    ids=["var_and_method", "method_pass", "more", "with_members"],
)
def test_nested_class_gains_members(
    project: Project, before: str, after: str, expected: dict[str, Any]
) -> None:
    project.write("nest3.py", before + "\n\ndef foo():\n    pass\n")
    nest3 = project.import_("nest3")
    held_c, held_d = nest3.C, nest3.C.D

    project.reload("nest3.py", after + "\n\ndef foo():\n    pass\n")

    assert (held_c, held_d) == (nest3.C, nest3.C.D)
    for dotted, value in expected.items():
        obj: Any = held_c
        for part in dotted.split("."):
            obj = getattr(obj, part)
        assert (obj() if callable(obj) else obj) == value, dotted


# ---------------------------------------------------------------------------------------------
# AutoreloadReliabilitySuite
# ---------------------------------------------------------------------------------------------


def test_class_reload_with_no_change(project: Project) -> None:
    # deduperreload: test_autoreload_class_basic
    text = "x = 9\n\n\nclass C:\n    def foo():\n        return 1\n"
    project.write("rel1.py", text)
    rel1 = project.import_("rel1")

    project.reload("rel1.py", text)

    assert rel1.C.foo() == 1


def test_removed_override_falls_back_to_base(project: Project) -> None:
    # deduperreload: test_remove_overridden_method
    project.write(
        "override.py",
        """
        class A:
            def foo(self):
                return 1


        class B(A):
            def foo(self):
                return 42
        """,
    )
    ns: dict[str, Any] = {}
    run(ns, "from override import B\nb = B()")
    assert ns["b"].foo() == 42

    project.reload(
        "override.py",
        """
        class A:
            def foo(self):
                return 1


        class B(A):
            pass
        """,
    )

    assert ns["b"].foo() == 1


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        # deduperreload: test_autoreload_class_use_outside_func
        (
            "x = 9\n\n\nclass C:\n    def foo():\n        return 1\n",
            "x = 9\n\n\nclass C:\n    def foo():\n        return 1 + x\n",
            10,
        ),
        # deduperreload: test_autoreload_class_use_class_member
        (
            "x = 9\n\n\nclass C:\n    def foo():\n        return 1\n",
            "class C:\n    x = 9\n\n    def foo():\n        return 1 + C.x\n",
            10,
        ),
        # deduperreload: test_autoreload_class_pass
        (
            "x = 9\n\n\nclass C:\n    pass\n",
            "class C:\n    x = 9\n\n    def foo():\n        return 1 + C.x\n",
            10,
        ),
        # deduperreload: test_autoreload_class_ellipsis
        (
            "x = 9\n\n\nclass C:\n    ...\n",
            "class C:\n    x = 9\n\n    def foo():\n        return 1 + C.x\n",
            10,
        ),
        # deduperreload: test_autoreload_class_default_autoreload
        (
            "class C:\n    x = 9\n\n    def foo():\n        return 1 + C.x\n",
            "class C:\n    x = 20\n\n    def foo():\n        return 1 + C.x\n",
            21,
        ),
    ],
    ids=["use_outside_func", "use_class_member", "class_pass", "class_ellipsis", "class_attr"],
)
def test_class_body_changes(project: Project, before: str, after: str, expected: int) -> None:
    project.write("cbody.py", before)
    cbody = project.import_("cbody")
    held = cbody.C

    project.reload("cbody.py", after)

    assert cbody.C is held
    assert held.foo() == expected
    # A module global that the new text no longer defines is gone.
    assert hasattr(cbody, "x") == after.startswith("x = ")


NESTED_CASES = [
    # deduperreload: test_autoreload_class_nested
    (
        "class C:\n    x = 9\n\n    class D:\n        def foo():\n            pass\n",
        "class C:\n    x = 9\n\n    class D:\n        def foo():\n            return 10\n",
        {"D.foo": 10},
    ),
    # deduperreload: test_autoreload_class_nested2
    (
        "class C:\n    x = 9\n\n    def c():\n        return 1\n\n"
        "    class D:\n        def foo():\n            pass\n",
        "class C:\n    x = 9\n\n    def c():\n        return 1\n\n"
        "    class D:\n        def foo():\n            return 10\n",
        {"D.foo": 10, "c": 1},
    ),
    # deduperreload: test_autoreload_class_nested3
    (
        "class C:\n    x = 9\n\n    def c():\n        return 1\n\n"
        "    class D:\n        def foo():\n            pass\n",
        "class C:\n    x = 9\n\n    def c():\n        return 13\n\n"
        "    class D:\n        def foo():\n            return 10\n",
        {"D.foo": 10, "c": 13},
    ),
    # deduperreload: test_autoreload_class_nested_default
    (
        "class C:\n    pass\n",
        "class C:\n    x = 9\n\n    def c():\n        return 13\n\n"
        "    class D:\n        def foo():\n            return 10\n",
        {"D.foo": 10, "c": 13},
    ),
    # deduperreload: test_autoreload_class_nested_using_members
    (
        "class C:\n    x = 9\n\n    def c():\n        return 13\n\n"
        "    class D:\n        def foo():\n            return 10\n",
        "class C:\n    x = 9\n\n    def c():\n        return 13\n\n"
        "    class D:\n        def foo():\n            return 10 + C.x\n",
        {"D.foo": 19, "c": 13},
    ),
    # deduperreload: test_autoreload_class_nested_using_members_ellipsis
    (
        "class C:\n    x = 9\n\n    def c():\n        return 13\n\n"
        "    class D:\n        def foo():\n            ...\n",
        "class C:\n    x = 9\n\n    def c():\n        return 13\n\n"
        "    class D:\n        def foo():\n            return 10 + C.x\n",
        {"D.foo": 19, "c": 13},
    ),
]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    NESTED_CASES,
    ids=["nested", "nested2", "nested3", "nested_default", "using_members", "members_ellipsis"],
)
def test_nested_class_changes(
    project: Project, before: str, after: str, expected: dict[str, int]
) -> None:
    project.write("cnest.py", before)
    cnest = project.import_("cnest")
    held_c = cnest.C
    held_d = getattr(held_c, "D", None)

    project.reload("cnest.py", after)

    assert cnest.C is held_c
    if held_d is not None:
        assert cnest.C.D is held_d
    for dotted, value in expected.items():
        obj: Any = held_c
        for part in dotted.split("."):
            obj = getattr(obj, part)
        assert obj() == value, dotted


def test_new_class_added_next_to_changed_one(project: Project) -> None:
    # deduperreload: test_autoreload_new_class_added
    project.write("newcls.py", "class C:\n    x = 9\n\n    def c():\n        return 1\n")
    newcls = project.import_("newcls")
    held = newcls.C

    result = project.reload(
        "newcls.py",
        "class C:\n    x = 9\n\n    def c():\n        return 13\n\n\n"
        "class D:\n    def c():\n        return 1\n",
    )

    assert (held.c(), newcls.D.c()) == (13, 1)
    assert qualnames(result, "newcls") == ["C.c", "D.c"]


def test_method_default_argument_added(project: Project) -> None:
    # deduperreload: test_autoreload_class_default_args
    project.write("dflt1.py", "x = 42\n\n\nclass Foo:\n    def foo(self, y):\n        return y\n")
    dflt1 = project.import_("dflt1")
    obj = dflt1.Foo()

    project.reload(
        "dflt1.py", "x = 42\n\n\nclass Foo:\n    def foo(self, y=x):\n        return y\n"
    )

    assert obj.foo(2) == 2
    assert obj.foo() == 42


def test_method_default_argument_follows_global(project: Project) -> None:
    # deduperreload: test_autoreload_class_change_default_args
    project.write("dflt2.py", "x = 42\n\n\nclass Foo:\n    def foo(y):\n        return y\n")
    dflt2 = project.import_("dflt2")
    held = dflt2.Foo.foo

    project.reload("dflt2.py", "x = 44\n\n\nclass Foo:\n    def foo(y=x):\n        return y\n")

    assert dflt2.Foo.foo() == 44
    assert held() == 44


def test_new_class_keeps_existing_method_identity(project: Project) -> None:
    # deduperreload: test_autoreload_class_new_class
    text = "x = 42\n\n\nclass Foo:\n    def foo(y=x):\n        return y\n"
    project.write("keepid.py", text)
    ns: dict[str, Any] = {}
    run(ns, "import keepid")
    prev_foo = ns["keepid"].Foo.foo

    project.reload("keepid.py", text + "\n\nclass C:\n    def foo():\n        return 200\n")

    assert ns["keepid"].Foo.foo is prev_foo
    assert ns["keepid"].Foo.foo() == 42
    assert ns["keepid"].C.foo() == 200


def test_local_shadows_changed_global_in_method(project: Project) -> None:
    # deduperreload: test_autoreload_overloaded_vars
    project.write("shadow1.py", "x = 42\n\n\nclass Foo:\n    pass\n")
    shadow1 = project.import_("shadow1")
    held = shadow1.Foo

    project.reload(
        "shadow1.py", "x = 44\n\n\nclass Foo:\n    def foo():\n        x = 2\n        return x\n"
    )

    assert held.foo() == 2
    assert shadow1.x == 44


def test_local_shadows_changed_global_in_function(project: Project) -> None:
    # deduperreload: test_autoreload_overloaded_vars2
    project.write("shadow2.py", "x = 42\n\n\ndef foo():\n    return x\n")
    held = project.import_("shadow2").foo
    assert held() == 42

    project.reload("shadow2.py", "x = 44\n\n\ndef foo():\n    x = 2\n    return x\n")

    assert held() == 2


# ---------------------------------------------------------------------------------------------
# DecoratorPatchingSuite
# ---------------------------------------------------------------------------------------------

CLASSMETHOD_FOO = """
    class Foo:
        @classmethod
        def bar(cls):
            return {bar}

        @classmethod
        def foo(cls):
            return 42 + cls.bar()


    foo = Foo.foo
"""


def test_classmethod_alias_survives_identical_reload(project: Project) -> None:
    # deduperreload: test_method_decorators_no_changes, test_method_decorators_no_changes1
    project.write("cm0.py", CLASSMETHOD_FOO.format(bar=0))
    ns: dict[str, Any] = {}
    run(ns, "import cm0\nfrom cm0 import foo")

    project.reload("cm0.py", CLASSMETHOD_FOO.format(bar=0))

    assert ns["cm0"].foo() == 42
    assert ns["foo"]() == 42


def test_classmethod_change_seen_through_module_alias_and_held_binding(project: Project) -> None:
    # deduperreload: test_method_classmethod_one_change, test_method_decorators_again
    project.write("cm1.py", CLASSMETHOD_FOO.format(bar=0))
    ns: dict[str, Any] = {}
    run(ns, "import cm1\nfrom cm1 import foo")
    assert ns["foo"]() == 42

    project.reload("cm1.py", CLASSMETHOD_FOO.format(bar=1))

    assert ns["cm1"].Foo.foo() == 43
    assert ns["cm1"].foo() == 43
    assert ns["foo"]() == 43


def test_staticmethod_change_seen_through_held_function(project: Project) -> None:
    # deduperreload: test_method_staticmethod_one_change
    text = """
        class Foo:
            @staticmethod
            def bar():
                return {bar}

            @staticmethod
            def func():
                return 42 + Foo.bar()


        func = Foo.func
    """
    project.write("sm1.py", text.format(bar=0))
    ns: dict[str, Any] = {}
    run(ns, "from sm1 import func")
    assert ns["func"]() == 42

    project.reload("sm1.py", text.format(bar=1))

    assert ns["func"]() == 43


def test_modify_property(project: Project) -> None:
    # deduperreload: test_modify_property
    text = "class Foo:\n    @property\n    def foo(self):\n        return {v}\n"
    project.write("prop1.py", text.format(v=42))
    ns: dict[str, Any] = {}
    run(ns, "from prop1 import Foo\nfoo = Foo()")

    project.reload("prop1.py", text.format(v=43))

    assert ns["foo"].foo == 43


INCREMENTED = """
    def incremented(f):
        return lambda *args: f(*args) + {inc}


    class Foo:
        @classmethod
        {deco}
        def foo(cls):
            return 42


    foo = Foo.foo
"""


def test_method_decorator_removed(project: Project) -> None:
    # deduperreload: test_method_decorator
    project.write("mdeco1.py", INCREMENTED.format(inc=1, deco="@incremented"))
    ns: dict[str, Any] = {}
    run(ns, "import mdeco1\nfrom mdeco1 import foo")
    held = ns["foo"]
    assert held() == 43

    result = project.reload("mdeco1.py", INCREMENTED.format(inc=1, deco=""))

    assert ns["mdeco1"].foo() == 42
    assert ns["mdeco1"].Foo.foo() == 42
    # The wrapper's closure has a different shape from the plain function: either the held
    # binding was patched anyway, or the payload says the object had to be replaced.
    assert held() == 42 or "Foo.foo" in replaced(result, "mdeco1")


def test_method_decorator_modified(project: Project) -> None:
    # deduperreload: test_method_modified_decorator
    project.write("mdeco2.py", INCREMENTED.format(inc=1, deco="@incremented"))
    ns: dict[str, Any] = {}
    run(ns, "from mdeco2 import foo")
    assert ns["foo"]() == 43

    project.reload("mdeco2.py", INCREMENTED.format(inc=0, deco="@incremented"))

    assert ns["foo"]() == 42


def test_function_decorator_removed_then_made_a_factory(project: Project) -> None:
    # deduperreload: test_function_decorators
    project.write(
        "fdeco.py",
        """
        def incremented(f):
            return lambda *args: f(*args) + 1


        @incremented
        def foo():
            return 42
        """,
    )
    fdeco = project.import_("fdeco")
    held = fdeco.foo
    assert held() == 43

    result = project.reload(
        "fdeco.py",
        """
        def incremented(f):
            return lambda *args: f(*args) + 1


        def foo():
            return 42
        """,
    )
    assert fdeco.foo() == 42
    assert held() == 42 or "foo" in replaced(result, "fdeco")

    project.reload(
        "fdeco.py",
        """
        def incremented(v):
            def deco(f):
                return lambda *args: f(*args) + v

            return deco


        @incremented(2)
        def foo():
            return 43
        """,
    )
    assert fdeco.foo() == 45


def test_function_decorator_from_other_module(project: Project) -> None:
    # deduperreload: test_function_decorator_from_other_module (globals must be the decorated
    # function's module, not the decorator's)
    project.write(
        "deco_lib.py",
        """
        import functools


        def incremented(f):
            @functools.wraps(f)
            def wrapper(*args, **kwargs):
                return f(*args, **kwargs) + 1

            return wrapper
        """,
    )
    # The upstream edit, a body edit: the held wrapper must run foo's new code, so this
    # fails if function code is not patched (a constant edit would pass through globals).
    text = """
        from deco_lib import incremented as deco


        @deco
        def foo():
            return {value}
    """
    project.write("deco_user.py", text.format(value=42))
    ns: dict[str, Any] = {}
    run(ns, "from deco_user import foo")
    held = ns["foo"]
    inner = held.__wrapped__
    assert held() == 43

    project.reload("deco_user.py", text.format(value=43))

    assert held() == 44
    assert held.__wrapped__ is inner and inner() == 43
    assert sys.modules["deco_user"].foo is held
    # Patched with the decorated function's module as its globals, never the decorator's.
    assert inner.__globals__ is vars(sys.modules["deco_user"])
    assert not hasattr(sys.modules["deco_lib"], "foo")


def test_decorator_closure_values_follow_new_code(project: Project) -> None:
    # deduperreload: test_decorators_with_freevars
    text = """
        def decorate(func):
            {a} = "{av}"
            {b} = "{bv}"

            def wrapper(*args, **kwargs):
                return func(*args, **kwargs), {a}, {b}

            return wrapper


        @decorate
        def f():
            return "{ret}"
    """
    project.write("freevars.py", text.format(a="free_x", av="x", b="free_y", bv="y", ret="v1"))
    ns: dict[str, Any] = {}
    run(ns, "from freevars import f")
    freevars = sys.modules["freevars"]
    assert freevars.f() == ("v1", "x", "y")

    project.reload("freevars.py", text.format(a="free_ax", av="ax", b="free_by", bv="by", ret="v2"))

    assert freevars.f() == ("v2", "ax", "by")
    assert ns["f"]() == ("v2", "ax", "by")


def test_enum_member_added(project: Project) -> None:
    # deduperreload: test_reload_enums
    text = "from enum import Enum\n\n\nclass MyEnum(Enum):\n    A = 'A'\n    B = 'B'\n"
    project.write("enum_d.py", text)
    enum_d = project.import_("enum_d")

    result = project.reload("enum_d.py", text + "    C = 'C'\n")

    assert enum_d.MyEnum.C.value == "C"
    assert "MyEnum" in replaced(result, "enum_d")
