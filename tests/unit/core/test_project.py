"""Where a project's modules are: the module of a file, the file of a module, the roots."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.conftest import Project


def test_reloading_a_package_outside_the_roots_adopts_its_top_directory(
    project: Project, tmp_path: Path
) -> None:
    site = tmp_path / "site"
    (site / "extlib" / "sub").mkdir(parents=True)
    (site / "extlib" / "__init__.py").write_text("")
    (site / "extlib" / "sub" / "__init__.py").write_text("")
    (site / "extlib" / "sub" / "core.py").write_text("V = 1\n")
    (site / "extlib" / "user.py").write_text("from extlib.sub.core import V\nW = V + 1\n")
    sys.path.insert(0, str(site))
    project.import_("extlib.user")
    result = project.reload(str(site / "extlib" / "sub" / "core.py"), "V = 10\n")
    assert (site / "extlib").resolve() in project.reloader.roots
    assert project.mods(result) == ["extlib.sub.core", "extlib.user"]
    assert sys.modules["extlib.user"].W == 11


def test_a_module_created_after_the_first_scan_is_planned_as_a_dependent(project: Project) -> None:
    project.write("early.py", "X = 1\n")
    project.reloader.compile_dep_edges()  # the graph's first scan
    project.files({"b/__init__.py": "", "b/mod.py": "def f():\n    return 1\n"})
    project.write("b/user.py", "from b.mod import f\nX = f()\n")
    user = project.import_("b.user")
    result = project.reload("b/mod.py", "def f():\n    return 2\n")
    assert project.mods(result) == ["b.mod", "b.user"] and user.X == 2
