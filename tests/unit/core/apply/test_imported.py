"""What changed in the modules a module imports, under its own names: dependents at name
granularity (SPEC §1.5), names passed on through an export edge (SPEC §3); and the reading
on its own, on a module, its index and the outcomes of what it imports."""

from __future__ import annotations

import ast
import sys
import types
from typing import Any

import pytest

from ipython_hotreload.core.apply.imported import (
    changed_by_imports,
    hot_names,
    rebind_exports,
)
from ipython_hotreload.core.apply.journal import Journal
from ipython_hotreload.core.apply.minimal import Outcome
from ipython_hotreload.core.source.statements import ModuleIndex, import_marker
from tests.conftest import Project
from tests.unit.core.apply.test_minimal import PROBE, mods, payload, runs


@pytest.fixture
def probed(project: Project) -> Project:
    """The project with ``probe.py``, whose ``hit(name)`` counts the statements that ran."""
    project.write("probe.py", PROBE)
    project.import_("probe")
    return project


# -- dependents at name granularity ------------------------------------------------------------

HUB = "class Base:\n    def who(self):\n        return 'base 1'\n\n\ndef f():\n    return 1\n"


def test_dependents_that_only_reference_a_patched_object_run_nothing(project: Project) -> None:
    project.write("hub.py", HUB)
    project.import_("hub")
    for i in range(5):
        project.write(
            f"dep{i}.py",
            f"import hub\nfrom hub import f\n\n\nclass D{i}(hub.Base):\n    pass\n\n\nH = [hub.f, f]\n",
        )
        project.import_(f"dep{i}")
    d0 = sys.modules["dep0"].D0()
    result = project.reload(
        "hub.py", HUB.replace("'base 1'", "'base 2'").replace("return 1", "return 2")
    )
    assert mods(result) == ["hub"]
    assert d0.who() == "base 2" and sys.modules["dep3"].H[1]() == 2


def test_dependents_calling_a_changed_function_at_import_time_run_that_statement(
    probed: Project,
) -> None:
    probed.write("hub.py", HUB)
    probed.import_("hub")
    probed.write("caller.py", "import probe\nimport hub\n\nVALUE = hub.f()\nprobe.hit('caller')\n")
    caller = probed.import_("caller")
    result = probed.reload("hub.py", HUB.replace("return 1", "return 2"))
    assert mods(result) == ["hub", "caller"]
    assert caller.VALUE == 2 and runs("caller") == 1
    assert payload(result, "caller")["rerun"] == [{"lineno": 4, "end_lineno": 4}]


def test_a_name_imported_by_an_import_error_fallback_reaches_its_readers(project: Project) -> None:
    project.write("slow.py", "def f():\n    return 1\n")
    project.write(
        "fallback.py",
        "try:\n    from fast_missing import f\nexcept ImportError:\n    from slow import f\nX = f()\n",
    )
    fallback = project.import_("fallback")
    result = project.reload("slow.py", "def f():\n    return 2\n")
    assert mods(result) == ["slow", "fallback"] and fallback.X == 2
    project.reload("slow.py", "def g():\n    return 3\n\n\nf = g\n")
    assert fallback.f() == 3 and fallback.X == 3


@pytest.mark.parametrize("mode", ["minimal", "module"])
def test_a_name_passed_on_through_an_export_edge_reaches_what_reads_it(
    project: Project, mode: str
) -> None:
    """``xmid`` only passes ``LIMIT`` on (``from xbase import LIMIT``, read in a function:
    an export edge); the modules that take it from ``xmid`` must see the new value as a
    fresh interpreter would: at import time (``DOUBLE``), in functions, through an
    attribute of the module, and down a second export edge. One that takes something else
    from ``xmid`` does not follow."""
    project.write("xbase.py", "LIMIT = 1\n")
    project.write("xmid.py", "from xbase import LIMIT\n\n\ndef limit():\n    return LIMIT\n")
    project.write("xread.py", "from xmid import LIMIT\n\nDOUBLE = LIMIT * 2\n")
    project.write("xpass.py", "from xmid import LIMIT\n\n\ndef get():\n    return LIMIT\n")
    project.write("xlast.py", "from xpass import LIMIT\n\nQUAD = LIMIT * 4\n")
    project.write("xattr.py", "import xmid\n\nTRIPLE = xmid.LIMIT * 3\n")
    project.write("xother.py", "from xmid import limit\n\nF = limit\n")
    names = ("xbase", "xmid", "xread", "xpass", "xlast", "xattr", "xother")
    read, passed, last, attr, other = (project.import_(n) for n in names[2:])
    result = project.reload("xbase.py", "LIMIT = 5\n", reexecute=mode)
    assert (read.DOUBLE, passed.get(), last.QUAD, attr.TRIPLE) == (10, 5, 20, 15)
    assert sys.modules["xmid"].limit() == 5
    assert "xother" not in mods(result) and other.F is sys.modules["xmid"].limit
    assert {"xread", "xlast", "xattr"} <= set(mods(result))


# -- the reading on its own ------------------------------------------------------------------

IMPORTER = """\
from base import K, f as g, gone
import base as bb
from pkg import sub
from star import *
"""


def importer_of(text: str) -> tuple[types.ModuleType, ModuleIndex]:
    """A module named ``_hr_importer`` and the index of ``text`` (not run: its names are set
    by hand)."""
    module = types.ModuleType("_hr_importer")
    return module, ModuleIndex(text, ast.parse(text), None)


@pytest.fixture
def imported(clean_modules: None) -> dict[str, Any]:
    """``base`` (whose ``K`` was rebuilt and ``gone`` removed), ``pkg.sub`` and ``star``, in
    ``sys.modules``, with what ``base`` held before."""
    old_k, new_k = type("K", (), {}), type("K", (), {})
    base = types.ModuleType("base")
    base.K, base.f = new_k, lambda: 2
    sys.modules["base"] = base
    for name in ("pkg", "pkg.sub", "star"):
        sys.modules[name] = types.ModuleType(name)
    return {"old_k": old_k, "new_k": new_k, "old_ns": {"base": {"K": old_k}}}


def test_nothing_changed_yet_makes_nothing_of_the_imports(imported: dict[str, Any]) -> None:
    module, index = importer_of(IMPORTER)
    assert changed_by_imports(module, index, {}, {}, Journal()) == (set(), set())


def test_each_kind_of_import_names_what_changed_under_the_importers_names(
    imported: dict[str, Any],
) -> None:
    module, index = importer_of(IMPORTER)
    module.K, module.sub = imported["old_k"], sys.modules["pkg.sub"]
    outcomes = {
        "base": Outcome("partial", rebound={"K", "K.x", "gone"}, code_changed={"f", "f.y"}),
        "pkg.sub": Outcome("patched", code_changed={"run", ".m"}),
        "star": Outcome("partial", rebound={"S"}, code_changed={"h"}),
    }
    journal = Journal()
    rebound, changed = changed_by_imports(module, index, outcomes, imported["old_ns"], journal)
    assert rebound == {
        "K",
        "K.x",
        "gone",
        import_marker("base"),  # `gone` is gone: the import must fail, as fresh
        "bb.K",
        "bb.K.x",
        "bb.gone",
        "S",
        import_marker("star"),
    }
    assert changed == {"g", "g.y", "bb.f", "bb.f.y", "sub.run", ".m", "h"}
    # The binding still on base's old K takes the new one, through the journal.
    assert module.K is imported["new_k"]
    journal.rollback()
    assert module.K is imported["old_k"]


def test_a_binding_the_importer_changed_itself_is_left_alone(imported: dict[str, Any]) -> None:
    module, index = importer_of("from base import K\n")
    mine = object()
    module.K = mine
    outcomes = {"base": Outcome("partial", rebound={"K"})}
    rebound, _ = changed_by_imports(module, index, outcomes, imported["old_ns"], Journal())
    assert rebound == {"K"} and module.K is mine


def test_a_changed_class_makes_the_importers_own_subclasses_code_changed(
    imported: dict[str, Any],
) -> None:
    module, index = importer_of("from base import K\n")
    module.K = imported["new_k"]
    module.Sub = type("Sub", (imported["new_k"],), {})
    outcomes = {"base": Outcome("patched", code_changed={"K"})}
    _, changed = changed_by_imports(module, index, outcomes, imported["old_ns"], Journal())
    assert changed == {"K", "Sub"}


def test_hot_names_are_every_name_rebound_or_code_changed_so_far() -> None:
    outcomes = [Outcome("partial", rebound={"A"}), Outcome("patched", code_changed={"f", "A"})]
    assert hot_names(outcomes) == {"A", "f"} and hot_names([]) == set()


def test_an_export_edge_rebinds_only_what_still_holds_the_old_object(
    imported: dict[str, Any],
) -> None:
    importer = types.ModuleType("_hr_importer")
    base = sys.modules["base"]
    mine = object()
    importer.K, importer.F = imported["old_k"], mine
    old_ns = {"K": imported["old_k"], "f": base.f}
    journal = Journal()
    bound = [("K", "K"), ("f", "F")]
    assert rebind_exports(importer, base, bound, old_ns, journal) == {"K"}
    assert importer.K is imported["new_k"] and importer.F is mine
    journal.rollback()
    assert importer.K is imported["old_k"]
    # A name it imports is gone: None, and the importer must run again.
    assert rebind_exports(importer, base, [("gone", "gone")], old_ns, Journal()) is None
