"""Minimal re-execution (SPEC §1.5): the normative examples, the full-re-execution cases,
functions behind decorators, dependents at name granularity, and all or nothing; and
ModuleUpdate on its own, on a module and two indexes."""

from __future__ import annotations

import ast
import sys
import textwrap
import types
from typing import Any

import pytest

import ipython_hotreload as hr
from ipython_hotreload.core.apply.journal import Journal
from ipython_hotreload.core.apply.minimal import ModuleUpdate, Outcome, changes_between
from ipython_hotreload.core.source.statements import ModuleIndex
from tests.conftest import Project

PROBE = "RUNS = []\n\ndef hit(name):\n    RUNS.append(name)\n    return len(RUNS)\n"


def runs(name: str) -> int:
    """How many times the statement tagged ``name`` ran."""
    return sys.modules["probe"].RUNS.count(name)


def payload(result: dict[str, Any], mod: str) -> dict[str, Any]:
    for p in result["recompiled"]:
        if p["mod"] == mod:
            return dict(p)
    raise AssertionError(f"{mod} not in {[p['mod'] for p in result['recompiled']]}")


def mods(result: dict[str, Any]) -> list[str]:
    return [p["mod"] for p in result["recompiled"]]


@pytest.fixture
def probed(project: Project) -> Project:
    project.write("probe.py", PROBE)
    project.import_("probe")
    return project


# -- the normative examples ------------------------------------------------------------------

SLOW = textwrap.dedent(
    """
    import probe


    def slow():
        probe.hit("slow")
        return [1, 2, 3]


    DATA = slow()
    """
) + "".join(f"\n\ndef f{i}(x):\n    return x + {i}\n" for i in range(20))


def test_editing_one_function_of_a_module_with_an_expensive_top_level_runs_nothing(
    probed: Project,
) -> None:
    probed.write("heavy.py", SLOW)
    heavy = probed.import_("heavy")
    data, f7 = heavy.DATA, heavy.f7
    result = probed.reload("heavy.py", SLOW.replace("return x + 7", "return x * 700"))
    p = payload(result, "heavy")
    assert p["mode"] == "patched" and p["rerun"] == []
    assert p["changes"] == {"added": [], "changed": ["f7"], "removed": []}
    assert runs("slow") == 1 and heavy.DATA is data
    assert f7(2) == 1400 and heavy.f7 is f7


REGISTRY = "ITEMS = []\n\ndef register(fn):\n    ITEMS.append(fn)\n    return fn\n"
USES_REGISTER = "from registry import register\n\n\n@register\ndef handler():\n    return {}\n"


def test_a_decorated_function_edited_three_times_is_registered_once(project: Project) -> None:
    project.write("registry.py", REGISTRY)
    registry = project.import_("registry")
    project.write("handlers.py", USES_REGISTER.format(1))
    handlers = project.import_("handlers")
    for body in (2, 3, 4):
        result = project.reload("handlers.py", USES_REGISTER.format(body))
        assert payload(result, "handlers")["mode"] == "patched"
    assert len(registry.ITEMS) == 1 and registry.ITEMS[0] is handlers.handler
    assert registry.ITEMS[0]() == 4


URSA = "ursa_major = [1, 2, 3, 4]\nNAME = 'bear'\n\n\ndef count():\n    return len(ursa_major)\n"


def test_a_list_appended_at_run_time_survives_an_edit_of_another_statement(
    project: Project,
) -> None:
    project.write("stars.py", URSA)
    stars = project.import_("stars")
    stars.ursa_major.append(5)
    held = stars.ursa_major
    result = project.reload("stars.py", URSA.replace("'bear'", "'great bear'"))
    assert payload(result, "stars")["mode"] == "partial"
    assert stars.NAME == "great bear"
    assert stars.ursa_major is held and stars.ursa_major == [1, 2, 3, 4, 5]


SCALE_A = textwrap.dedent(
    """
    import probe


    def slow():
        probe.hit("slow")
        return 7


    DATA = slow()
    SCALE = 2
    SQUARE = SCALE * SCALE
    probe.hit("square")
    """
)
SCALE_B = "import a\n\nDOUBLE = a.SCALE * 2\nOTHER = a.DATA\n"
SCALE_C = "from a import SCALE\n\nTRIPLE = SCALE * 3\n"
SCALE_D = "import a\n\n\nclass Sub:\n    base = a.slow\n"


def test_a_constant_edit_reruns_its_readers_here_and_in_compile_dependents(
    probed: Project,
) -> None:
    probed.files({"a.py": SCALE_A, "b.py": SCALE_B, "c.py": SCALE_C, "d.py": SCALE_D})
    a, b, c = probed.import_("a"), probed.import_("b"), probed.import_("c")
    probed.import_("d")
    data = a.DATA
    new = SCALE_A.replace("SCALE = 2", "SCALE = 5")
    result = probed.reload("a.py", new)
    pa = payload(result, "a")
    assert pa["mode"] == "partial"
    lines = new.splitlines()
    rerun = [lines[r["lineno"] - 1] for r in pa["rerun"]]
    assert rerun == ["SCALE = 5", "SQUARE = SCALE * SCALE"]
    assert a.SQUARE == 25 and runs("slow") == 1 and a.DATA is data
    assert runs("square") == 1  # it reads nothing that changed
    assert b.DOUBLE == 10 and c.TRIPLE == 15 and c.SCALE == 5
    assert payload(result, "b")["rerun"] == [{"lineno": 3, "end_lineno": 3}]
    assert payload(result, "b")["reason"] == {"after": "a", "label": "compile"}
    assert "d" not in mods(result)  # it reads a.slow, which did not change


def test_editing_a_loader_reruns_its_callers_and_editing_a_helper_reruns_nothing(
    probed: Project,
) -> None:
    text = textwrap.dedent(
        """
        import probe


        def helper():
            return 1


        def load():
            probe.hit("load")
            return [1]


        def prepare():
            return load()


        DATA = prepare()
        """
    )
    probed.write("loading.py", text)
    loading = probed.import_("loading")
    result = probed.reload("loading.py", text.replace("return 1\n", "return 2\n"))
    assert payload(result, "loading")["mode"] == "patched" and runs("load") == 1
    result = probed.reload("loading.py", text.replace("return [1]", "return [9]"))
    # DATA = prepare() calls prepare, whose code reads load, whose code changed
    assert payload(result, "loading")["mode"] == "partial" and runs("load") == 2
    assert loading.DATA == [9]


def test_module_mode_reexecutes_the_whole_module(probed: Project) -> None:
    probed.write("heavy.py", SLOW)
    heavy = probed.import_("heavy")
    f7 = heavy.f7
    result = probed.reload(
        "heavy.py", SLOW.replace("return x + 7", "return x * 700"), reexecute="module"
    )
    p = payload(result, "heavy")
    assert p["mode"] == "full" and "module" in p["full_reason"]
    assert runs("slow") == 2 and f7(2) == 1400 and heavy.f7 is f7


def test_the_same_text_runs_nothing(probed: Project) -> None:
    probed.write("heavy.py", SLOW)
    probed.import_("heavy")
    result = probed.reload("heavy.py", SLOW)
    p = payload(result, "heavy")
    assert p["mode"] == "unchanged" and p["rerun"] == [] and runs("slow") == 1
    assert p["source_hash"] is not None and p["functions"]  # the saved module's full payload


# -- what a statement-level update cannot vouch for ------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "why"),
    [
        ("X = 1\n", "from __future__ import annotations\nX = 1\n", "__future__"),
        ("X = 1\n", "X = 1\nglobal Y\nY = 2\n", "global"),
        ("X = 1\nZ = 3\n", "X = 2\nZ = 3\ndel Z\n", "del"),
        ("X = 1\n", "exec('X = 2')\n", "exec"),
        (
            "import enum\n\n\nclass Color(enum.Enum):\n    RED = 1\n",
            "import enum\n\n\nclass Color(enum.Enum):\n    RED = 1\n    BLUE = 2\n",
            "Enum",
        ),
    ],
)
def test_cases_the_comparison_cannot_vouch_for_reexecute_the_module(
    project: Project, before: str, after: str, why: str
) -> None:
    project.write("cases.py", before + "\n\ndef f():\n    return 1\n")
    project.import_("cases")
    result = project.reload("cases.py", after + "\n\ndef f():\n    return 1\n")
    p = payload(result, "cases")
    assert p["mode"] == "full" and why in p["full_reason"]


def test_a_module_edited_on_disk_before_its_first_reload_is_reexecuted_whole(
    project: Project,
) -> None:
    project.write("edited.py", "X = 1\n\ndef f():\n    return X\n")
    edited = project.import_("edited")
    # Edited behind the reloader's back: the text it runs is not on disk any more.
    project.write("edited.py", "X = 2\n\ndef f():\n    return X\n")
    result = project.reload("other.py", "Y = 1\n")  # another module's reload finds it
    assert "edited" in mods(result)
    p = payload(result, "edited")
    assert p["mode"] == "full" and "not known" in p["full_reason"]
    assert p["reason"] == {"after": None, "label": "changed_on_disk"}
    assert edited.f() == 2


# -- all or nothing ------------------------------------------------------------------------------

PARTIAL = textwrap.dedent(
    """
    A = 1
    B = [A]
    C = 3


    def f():
        return "f1"


    def gone():
        return 1
    """
)


def test_a_partial_reload_that_raises_in_its_third_statement_changes_nothing(
    project: Project,
) -> None:
    project.write("part.py", PARTIAL)
    part = project.import_("part")
    ns_before = dict(vars(part))
    f, b = part.f, part.B
    new = PARTIAL.replace("A = 1", "A = 2").replace("B = [A]", "B = [A, A]")
    new = new.replace("C = 3", "C = 1 / 0").replace('"f1"', '"f2"')
    new = new.replace("def gone():\n    return 1\n", "")
    with pytest.raises(hr.ReloadError) as info:
        project.reload("part.py", new)
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert vars(part) == ns_before
    assert all(vars(part)[k] is v for k, v in ns_before.items())
    assert part.f is f and f() == "f1" and part.B is b and part.gone() == 1


# -- the text a module runs, when something else ran it ------------------------------------------


def test_a_module_reloaded_by_importlib_is_compared_with_what_that_ran(project: Project) -> None:
    import importlib

    project.files({"pk/__init__.py": "", "pk/a.py": "REG = []\n", "pk/b.py": "X = 1\n"})
    a, _ = project.import_("pk.a"), project.import_("pk.b")
    project.reload("pk/b.py", "X = 2\n")  # the reloader now knows what pk.a runs
    for n in (1, 2):
        # Behind the reloader's back, as %autoreload does: the file runs anew.
        project.path("pk/a.py").write_text(
            "REG = []\n" + "".join(f"REG.append({i})\n" for i in range(1, n + 1))
        )
        importlib.reload(a)
        project.reload("pk/b.py", f"X = {n + 2}\n")
    assert a.REG == [1, 2]  # no statement ran twice


def test_the_same_text_with_a_top_level_del_runs_nothing(project: Project) -> None:
    text = "from pkd import sub\nVALUE = sub.make()\ndel sub\n"
    project.files({"pkd/__init__.py": text, "pkd/sub.py": "def make():\n    return 1\n"})
    pkd = project.import_("pkd")
    pkd.EXTRA = "set by someone else"
    result = project.reload("pkd/__init__.py", text)
    assert payload(result, "pkd")["mode"] == "unchanged" and pkd.EXTRA == "set by someone else"


def test_an_edit_the_watcher_reports_runs_only_what_changed(probed: Project) -> None:
    probed.write("heavy.py", SLOW)
    heavy = probed.import_("heavy")
    data = heavy.DATA
    done = __import__("threading").Event()
    seen: list[dict[str, Any]] = []

    def on_event(event: hr.ModuleEvent) -> None:
        if event.kind == "recompiled" and event.mod == "heavy":
            seen.append(event.payload or {})
            done.set()

    sub = hr.subscribe(on_event)
    watcher = probed.reloader.watch()
    try:
        probed.write("heavy.py", SLOW.replace("return x + 7", "return x * 700"))
        assert done.wait(timeout=15), "the watcher never reloaded heavy"
    finally:
        sub.close()
        watcher.stop()
    assert seen[0]["mode"] == "patched" and runs("slow") == 1 and heavy.DATA is data
    assert heavy.f7(2) == 1400


def test_a_dependent_calling_a_function_that_reads_a_changed_constant_runs_again(
    project: Project,
) -> None:
    project.files(
        {
            "hubc.py": "BASE = 1\n\n\ndef scale(x):\n    return x * BASE\n",
            "depc.py": "from hubc import scale\n\nSCALED = scale(3)\n",
        }
    )
    depc = project.import_("depc")
    result = project.reload("hubc.py", "BASE = 5\n\n\ndef scale(x):\n    return x * BASE\n")
    assert "depc" in mods(result) and depc.SCALED == 15


# -- the update on its own ---------------------------------------------------------------------

FILENAME = "/project/_hr_minimal_mod.py"


def update(old: str, new: str | None = None, **kw: Any) -> tuple[types.ModuleType, ModuleUpdate]:
    """A module run from ``old``, and the update of it to ``new`` (None: a dependent, whose
    text is the one it runs, told what changed in what it imports)."""
    module = types.ModuleType("_hr_minimal_mod")
    module.__file__ = FILENAME
    exec(compile(old, FILENAME, "exec"), module.__dict__)
    old_index = ModuleIndex(old, ast.parse(old), None)
    new_index = old_index if new is None else ModuleIndex(new, ast.parse(new), None)
    return module, ModuleUpdate(Journal(), module, FILENAME, old_index, new_index, **kw)


def test_an_edited_body_is_patched_in_place_and_nothing_runs() -> None:
    old = "X = 1\n\n\ndef f():\n    return X\n"
    module, up = update(old, old.replace("return X", "return X + 1"))
    f = module.f
    outcome = up.run()
    assert (outcome.mode, outcome.rerun, outcome.patched) == ("patched", [], 1)
    assert outcome.code_changed == {"f"} and outcome.rebound == set() and outcome.touched
    assert module.f is f and f() == 2
    up.journal.rollback()
    assert f() == 1


def test_a_changed_constant_runs_with_what_reads_it_and_taints_its_readers() -> None:
    old = "X = 1\nY = X * 2\nZ = 7\n\n\ndef g():\n    return X\n\n\nW = g()\n"
    module, up = update(old, old.replace("X = 1", "X = 5"))
    outcome = up.run()
    assert outcome.mode == "partial"
    assert outcome.rerun == [(1, 1), (2, 2), (10, 10)]  # X, Y reading it, W calling g
    assert outcome.rebound == {"X", "Y", "W"} and "g" in outcome.code_changed
    assert (module.Y, module.W, module.Z) == (10, 5, 7)


def test_a_method_added_to_a_kept_class_reaches_the_statements_reading_it() -> None:
    old = (
        "class C:\n    def m(self):\n        return 1\n\n\n"
        "try:\n    N = C.n\nexcept AttributeError:\n    N = None\n"
    )
    module, up = update(
        old, old.replace("return 1\n", "return 1\n\n    def n(self):\n        return 2\n")
    )
    cls = module.C
    outcome = up.run()
    assert module.C is cls and module.N is cls.n and outcome.patched == 1
    assert "C.n" in outcome.rebound and outcome.rerun == [(9, 12)]


def test_names_bound_only_by_removed_statements_leave_the_module() -> None:
    module, up = update("A = 1\nB = 2\n\n\ndef gone():\n    pass\n", "A = 1\n")
    outcome = up.run()
    assert not hasattr(module, "B") and not hasattr(module, "gone") and module.A == 1
    assert outcome.rebound == {"B", "gone"} and outcome.mode == "patched"


def test_a_dependent_runs_only_the_statements_reading_what_changed_elsewhere() -> None:
    module, up = update("B = 1\nA = B + 1\nC = 5\n", rebound={"B"})
    module.B = 10  # what a rebinding of an import did before the update
    outcome = up.run()
    assert outcome.rerun == [(2, 2)] and module.A == 11 and module.C == 5
    assert outcome.rebound == {"B", "A"}


def test_a_statement_that_raises_leaves_the_module_to_the_rollback() -> None:
    old = "A = 1\nB = [A]\n"
    module, up = update(old, "A = 2\nB = [A]\nC = 1 / 0\n")
    before = dict(module.__dict__)
    with pytest.raises(ZeroDivisionError):
        up.run()
    assert [n.lineno for n in up.ran_nodes] == [1, 2, 3]  # the failing one too
    up.journal.rollback()
    assert module.__dict__ == before and all(module.__dict__[k] is v for k, v in before.items())


def test_changes_between_two_texts_are_function_qualnames() -> None:
    def index(text: str) -> ModuleIndex:
        return ModuleIndex(text, ast.parse(text), None)

    old = index("def f():\n    pass\n\n\nclass C:\n    def m(self):\n        pass\n")
    new = index("def f():\n    return 1\n\n\nclass C:\n    def n(self):\n        pass\n")
    assert changes_between(old, new) == {"added": ["C.n"], "changed": ["f"], "removed": ["C.m"]}
    assert changes_between(None, new) == {"added": ["f", "C.n"], "changed": [], "removed": []}
    assert not Outcome("unchanged").touched


# -- what a function's nested scopes read ------------------------------------------------------

TIMING = """
class Clock:
    def now(self):
        return {n}


def timed(fn):
    def wrapper(*args, **kwargs):
        return fn(*args, **kwargs), Clock().now()

    return wrapper
"""


def test_a_decorators_wrapper_called_at_import_time_sees_a_changed_method(
    project: Project,
) -> None:
    # The wrapper `timed` returns calls Clock.now when `load()` runs, during the import.
    project.files(
        {
            "timing.py": TIMING.format(n=1),
            "conf.py": "from timing import timed\n\n\n@timed\ndef load():\n    return 'x'\n\n\n"
            "CONFIG = load()\n",
        }
    )
    conf = project.import_("conf")
    project.reload("timing.py", TIMING.format(n=2))
    assert conf.CONFIG == ("x", 2)


def test_a_method_a_local_class_calls_is_called_by_the_function(project: Project) -> None:
    units = (
        "class Unit:\n    def scale(self):\n        return {n}\n\n\n"
        "def measure():\n    class Probe:\n        def go(self):\n"
        "            return Unit().scale()\n\n    return Probe().go()\n"
    )
    project.files(
        {
            "units.py": units.format(n=1),
            "uses.py": "from units import measure\n\nVALUE = measure()\n",
        }
    )
    uses = project.import_("uses")
    project.reload("units.py", units.format(n=2))
    assert uses.VALUE == 2


def test_a_nested_functions_parameter_hides_no_global_from_the_body(project: Project) -> None:
    routes = (
        "config = {{'a': {n}}}\n\n\n"
        "def build_routes():\n"
        "    def route(path, config=None):\n"
        "        return (path, config or {{}})\n\n"
        "    return [route('/a', config['a']), route('/b')]\n\n\n"
        "ROUTES = build_routes()\n"
    )
    project.files({"routes.py": routes.format(n=1)})
    mod = project.import_("routes")
    project.reload("routes.py", routes.format(n=2))
    assert mod.ROUTES[0] == ("/a", 2)


def test_what_a_factory_made_runs_the_new_code_and_the_factorys_callers_do_not_run(
    project: Project,
) -> None:
    # SPEC 1.5 rule 1: the statement calling `load()` at import time runs again; the
    # decorated def (the factory's call) and a class that only keeps a callback do not.
    timing = TIMING.replace("def timed(fn):\n", "def timed(fn):\n    hit('timed')\n")
    project.files(
        {
            "probe.py": PROBE,
            "timing.py": "from probe import hit\n" + timing.format(n=1),
            "conf.py": "from probe import hit\nfrom timing import timed\n\n\n"
            "@timed\ndef load():\n    return 'x'\n\n\n"
            "class Holder:\n    callback = timed(len)\n    hit('holder')\n\n\n"
            "CONFIG = load()\n",
            "local.py": "from probe import hit\n" + timing.format(n=1) + "\n\n@timed\n"
            "def here():\n    return 'y'\n\n\nVALUE = here()\n",
        }
    )
    conf, local = project.import_("conf"), project.import_("local")
    load, made = conf.load, (runs("timed"), runs("holder"))
    project.reload("timing.py", "from probe import hit\n" + timing.format(n=2))
    assert conf.CONFIG == ("x", 2) and conf.load is load
    assert (runs("timed"), runs("holder")) == made  # neither `timed` nor Holder ran
    assert conf.Holder.callback("ab") == (2, 2)
    # The same in one module: the factory, what it made, and the call.
    project.reload(
        "local.py",
        "from probe import hit\n" + timing.format(n=3) + "\n\n@timed\n"
        "def here():\n    return 'y'\n\n\nVALUE = here()\n",
    )
    assert local.VALUE == ("y", 3) and runs("timed") == made[0]


def test_a_module_re_executed_whole_passes_on_its_functions_reading_what_changed(
    project: Project,
) -> None:
    # A top-level `del` makes the hub run whole; `scale` keeps its object and its code, but
    # reads the rebound BASE: the dependent's `SCALED = scale(3)` must run again.
    hub = "BASE = {n}\n_tmp = 0\ndel _tmp\n\n\ndef scale(x):\n    return x * BASE\n"
    project.files(
        {
            "hub.py": hub.format(n=1),
            "dep.py": "from hub import BASE, scale\n\nVALUE = BASE + 1\nSCALED = scale(3)\n",
        }
    )
    dep = project.import_("dep")
    result = project.reload("hub.py", hub.format(n=5))
    assert payload(result, "hub")["mode"] == "full"
    assert (dep.VALUE, dep.SCALED) == (6, 15)


def test_a_dependent_left_alone_is_asked_again_once_its_text_changed(project: Project) -> None:
    # The same edit of `f` twice: the dependent that only references it runs nothing (and
    # is left alone at once the second time); once its own text calls `f` at import time,
    # the same edit again must run that call.
    hub = "def f():\n    return {n}\n"
    project.files({"hub.py": hub.format(n=1), "dep.py": "from hub import f\n\nH = f\n"})
    dep = project.import_("dep")
    for n in (2, 3):
        result = project.reload("hub.py", hub.format(n=n))
        assert mods(result) == ["hub"] and dep.H() == n
    project.reload("dep.py", "from hub import f\n\nH = f()\n")
    assert dep.H == 3
    result = project.reload("hub.py", hub.format(n=2))
    assert dep.H == 2 and "dep" in mods(result)


@pytest.mark.parametrize("spelling", ["vars(Common).values()", "Common.__dict__.values()"])
def test_a_statement_handed_a_class_whole_runs_when_its_attributes_are_rebound(
    project: Project, spelling: str
) -> None:
    # pyparsing's `_builtin_exprs = [v for v in vars(pyparsing_common).values() ...]`: the
    # class statement runs again (it calls `make`), the kept class takes new attribute
    # objects, and the list built from the class's attributes must take them too.
    text = (
        "def make(x):\n    return [x, {n}]\n\n\n"
        "class Common:\n    a = make(1)\n    b = make(2)\n\n\n"
        f"BUILTIN = [v for v in {spelling} if isinstance(v, list)]\n"
    )
    project.files({"common_mod.py": text.format(n=0)})
    mod = project.import_("common_mod")
    kept = mod.Common
    project.reload("common_mod.py", text.format(n=5))
    assert mod.Common is kept and mod.Common.a == [1, 5]
    assert [id(v) for v in mod.BUILTIN] == [id(mod.Common.a), id(mod.Common.b)]
