"""Executing a plan: one report per step, modules whose code runs left alone, and on any
failure everything undone, the modules the plan imported dropped, and the failing module
named."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import ipython_hotreload as hr
from ipython_hotreload.core.apply.planrun import Applied, PlanRun
from ipython_hotreload.core.graph.modulegraph import ModuleGraph, Step
from ipython_hotreload.core.source import provenance
from ipython_hotreload.core.source.compiler import Compiler
from ipython_hotreload.core.source.texts import Source
from ipython_hotreload.errors import ModuleFailed
from tests.conftest import Project

BASE = "X = 1\n\n\ndef f():\n    return 1\n"
USER = "from base import X\n\nY = X * 2\n"
LAZY = "import base\n\n\ndef g():\n    return base.X\n"
PROBE = "RUNS = []\n\n\ndef hit(name):\n    RUNS.append(name)\n"


class Plan:
    """A project on disk, its graph and compiler: a change planned and run as the pipeline
    does (the new texts are compiled, not written: the files stay what was imported)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.compiler = Compiler()

    def write(self, **files: str) -> None:
        for name, text in files.items():
            (self.root / f"{name}.py").write_text(text)
        importlib.invalidate_caches()

    def import_(self, *names: str) -> list[ModuleType]:
        return [importlib.import_module(n) for n in names]

    def run(self, changed: dict[str, str], *, minimal: bool = True) -> tuple[PlanRun, list[Step]]:
        graph = ModuleGraph([self.root], use_cache=False)
        sources: dict[str, Source] = {}
        for mod, text in changed.items():
            src = Source(mod, self.root / f"{mod}.py", text.encode(), full=True)
            self.compiler.compile(src)
            graph.update_file(src.path, src.data, src.tree if src.code else None)
            sources[mod] = src
        loaded = {n: sys.modules[n] for n in sorted(graph.modules()) if n in sys.modules}
        order = {n: i for i, n in enumerate(sys.modules) if n in loaded}
        plan = graph.plan(list(changed), loaded, order)
        run = PlanRun(graph, loaded, sources, self.compiler, graph.path_for_module, minimal=minimal)
        return run, plan


@pytest.fixture
def planned(tmp_path: Path, clean_modules: None) -> Plan:
    provenance.record_imports()  # so the files vouch for what their modules run
    sys.path.insert(0, str(tmp_path))
    return Plan(tmp_path)


def test_a_plan_run_reports_each_step_in_plan_order(planned: Plan) -> None:
    planned.write(base=BASE, user=USER, lazy=LAZY)
    base, user, lazy = planned.import_("base", "user", "lazy")
    new = "X = 5\n\n\ndef f():\n    return 2\n\n\ndef h():\n    return 3\n"
    run, plan = planned.run({"base": new})
    assert plan == [Step("base", None, None), Step("user", "base", "compile")]
    applied = run.execute(plan)
    assert isinstance(applied, Applied)
    assert (base.X, base.f(), base.h(), user.Y, lazy.g()) == (5, 2, 3, 10, 5)
    assert applied.executed == ["base", "user"] and applied.skipped == []
    saved, dependent = applied.reports
    assert saved.step == plan[0] and saved.source is applied.sources["base"] and saved.executed
    assert saved.changes == {"added": ["h"], "changed": ["f"], "removed": []}
    assert saved.outcome is not None and saved.outcome.mode == "partial"
    assert saved.path == str(planned.root / "base.py") and saved.ms is not None
    assert dependent.step == plan[1] and dependent.executed and dependent.source is None
    assert dependent.outcome is not None and dependent.outcome.rerun == [(3, 3)]
    assert dependent.changes is None and dependent.path == str(planned.root / "user.py")


def test_whole_modules_run_again_in_module_mode(planned: Plan) -> None:
    planned.write(base=BASE, user=USER)
    base, user = planned.import_("base", "user")
    run, plan = planned.run({"base": BASE.replace("X = 1", "X = 7")}, minimal=False)
    applied = run.execute(plan)
    assert (base.X, user.Y) == (7, 14) and applied.executed == ["base", "user"]
    dependent = applied.reports[1]
    assert dependent.source is not None and dependent.source.data == USER.encode()
    assert dependent.outcome is not None and dependent.outcome.mode == "full"
    assert dependent.outcome.full_reason == "reexecute='module'"


def test_modules_whose_code_is_running_are_skipped(planned: Plan) -> None:
    planned.write(runner="def go(run, plan):\n    return run.execute(plan)\n")
    [runner] = planned.import_("runner")
    run, plan = planned.run({"runner": "def go(run, plan):\n    return None\n\n\nADDED = 1\n"})
    applied: Applied = runner.go(run, plan)  # runner's code is on the call stack
    assert applied.skipped == ["runner"] and applied.executed == []
    assert not applied.reports[0].executed and not hasattr(runner, "ADDED")
    main = PlanRun(run.graph, {"__main__": sys.modules["__main__"]}, {}, Compiler(), lambda m: None)
    assert main.execute([Step("__main__", None, None)]).skipped == ["__main__"]


def test_a_failing_step_undoes_every_step_and_names_its_module(planned: Plan) -> None:
    planned.write(base=BASE, user="from base import X\n\nY = 1 / X\n", hub="SEEN = []\n")
    base, user, hub = planned.import_("base", "user", "hub")
    f = base.f
    new = "import hub\n\nhub.SEEN.append('ran')\nX = 0\n\n\ndef f():\n    return 2\n"
    run, plan = planned.run({"base": new})
    with pytest.raises(ModuleFailed) as info:
        run.execute(plan)
    assert (info.value.mod, info.value.path) == ("user", str(planned.root / "user.py"))
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert base.X == 1 and base.f is f and f() == 1 and user.Y == 1
    assert not hasattr(base, "hub")
    assert hub.SEEN == ["ran"]  # what ran outside the module stays, and is named:
    assert run.not_undone() == (
        "not undone: what these calls did outside the module may remain: hub.SEEN.append (line 3)"
    )


def test_a_plan_that_imported_a_module_and_failed_drops_it(planned: Plan) -> None:
    planned.write(base=BASE, fresh="import probe\n\nprobe.hit('fresh')\nV = 2\n", probe=PROBE)
    base, probe = planned.import_("base", "probe")
    run, plan = planned.run({"base": "import fresh\n\nX = fresh.V\nY = 1 / 0\n"})
    with pytest.raises(ModuleFailed):
        run.execute(plan)
    assert probe.RUNS == ["fresh"] and "fresh" not in sys.modules
    run, plan = planned.run({"base": "import fresh\n\nX = fresh.V\n"})
    run.execute(plan)
    assert base.X == 2 and probe.RUNS == ["fresh", "fresh"]  # imported afresh


def test_a_reload_importing_a_new_project_module_then_failing_leaves_it_unimported(
    project: Project,
) -> None:
    project.files(
        {
            "probe.py": "RUNS = []\nMODULES = []\n\ndef hit(module):\n"
            "    RUNS.append(module.__name__)\n    MODULES.append(module)\n",
            "extra.py": "import sys\nimport probe\n\nprobe.hit(sys.modules[__name__])\nY = 1\n",
            "app.py": "X = 0\n",
        }
    )
    probe = project.import_("probe")
    app = project.import_("app")
    with pytest.raises(hr.ReloadError):
        project.reload("app.py", "import extra\n\nX = extra.Y\nZ = 1 / 0\n")
    assert probe.RUNS == ["extra"] and app.X == 0
    assert "extra" not in sys.modules  # the failed reload's import is undone too
    project.reload("app.py", "import extra\n\nX = extra.Y\n")
    assert app.X == 1 and probe.RUNS == ["extra", "extra"]  # imported afresh ...
    assert sys.modules["extra"] is probe.MODULES[1] is not probe.MODULES[0]  # ... as a new module
    assert app.extra is sys.modules["extra"]


def test_a_saved_module_never_imported_is_imported_by_its_step(planned: Plan) -> None:
    planned.write(later="V = 1\n")
    run, plan = planned.run({"later": "V = 2\n"})
    assert "later" not in sys.modules
    applied = run.execute(plan)
    outcome: Any = applied.reports[0].outcome
    assert sys.modules["later"].V == 1  # imported from its file (the pipeline wrote it first)
    assert outcome.mode == "full" and outcome.full_reason == "first import"
