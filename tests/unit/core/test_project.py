"""Where a project's modules are: the module of a file, the file of a module, the roots."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ipython_hotreload.core import project as core_project
from ipython_hotreload.errors import HotReloadError, UnsafePathError
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


# -- the project on its own ------------------------------------------------------------------


@pytest.fixture
def where(tmp_path: Path, clean_modules: None) -> Iterator[core_project.Project]:
    root = (tmp_path / "proj").resolve()
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text("def f():\n    return 1\n")
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    made = core_project.Project([root], graph_cache=False)
    yield made
    made.loaded.close()


def test_roots_are_resolved_and_default_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert core_project.resolve_roots(None) == [tmp_path.resolve()]
    assert core_project.resolve_roots("a/../b") == [(tmp_path / "b").resolve()]
    assert core_project.resolve_roots([tmp_path, "c"]) == [
        tmp_path.resolve(),
        tmp_path.resolve() / "c",
    ]


def test_the_module_of_a_file_and_whether_it_can_be_imported(
    where: core_project.Project, tmp_path: Path
) -> None:
    root = where.roots[0]
    assert where.module_name(root / "pkg" / "mod.py") == ("pkg.mod", True)
    assert where.module_name(root / "pkg" / "__init__.py") == ("pkg", True)
    assert where.module_name(root / "my dir" / "x.py") == ("my dir.x", False)
    assert where.module_name(tmp_path / "elsewhere" / "y.py") == ("y", False)
    assert root in where.allowed_dirs() and root in where.allowed_dirs()[1:]  # and on sys.path


def test_the_file_of_a_module_from_the_graph_a_new_file_or_the_loaded_module(
    where: core_project.Project, tmp_path: Path
) -> None:
    root = where.roots[0]
    assert where.file_of("pkg.mod") == root / "pkg" / "mod.py"
    where.graph.modules()  # scanned: a file made since is found as an import would find it
    (root / "pkg" / "late.py").write_text("")
    assert where.file_of("pkg.late") == root / "pkg" / "late.py"
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "ext_mod.py").write_text("")
    sys.path.append(str(outside))
    importlib.import_module("ext_mod")
    assert where.file_of("ext_mod") == outside / "ext_mod.py"  # its __file__
    assert where.file_of("no_such_module") is None


def test_a_definition_target_names_its_checked_file_and_module(
    where: core_project.Project, tmp_path: Path
) -> None:
    root = where.roots[0]
    target, path, mod = where.definition_file("pkg.mod:f")
    assert (target.qualname, path, mod) == ("f", root / "pkg" / "mod.py", "pkg.mod")
    target, path, mod = where.definition_file(f"{root}/pkg/mod.py::C.m")
    assert (target.qualname, path, mod) == ("C.m", root / "pkg" / "mod.py", "pkg.mod")
    with pytest.raises(HotReloadError, match=r"no source file is known for module 'pkg.nope'"):
        where.definition_file("pkg.nope:f")
    with pytest.raises(UnsafePathError):
        where.definition_file(f"{tmp_path}/other.py::f")


def test_describe_module_says_loaded_not_imported_or_unknown(
    where: core_project.Project, tmp_path: Path
) -> None:
    root = where.roots[0]
    assert where.describe_module("pkg.mod") == {
        "mod": "pkg.mod",
        "state": "not_imported",
        "path": str(root / "pkg" / "mod.py"),
        "note": "not imported yet: its functions are read from the file; import it to run them",
    }
    importlib.import_module("pkg.mod")
    loaded = where.describe_module("pkg.mod")
    assert (loaded["state"], loaded["path"], loaded["note"]) == (
        "loaded",
        str(root / "pkg" / "mod.py"),
        "",
    )
    outside = tmp_path / "on_path"
    outside.mkdir()
    (outside / "ext_only.py").write_text("")
    sys.path.append(str(outside))  # outside the roots, on sys.path: an import would find it
    assert where.describe_module("ext_only")["state"] == "not_imported"
    assert where.describe_module("ext_only")["path"] == str(outside / "ext_only.py")
    unknown = where.describe_module("pkg.mdo")
    assert (unknown["state"], unknown["path"]) == ("unknown", None)
    assert "no module named 'pkg.mdo'" in unknown["note"]


def test_a_file_of_an_importable_package_outside_the_roots_adds_its_top_directory(
    where: core_project.Project, tmp_path: Path
) -> None:
    site = (tmp_path / "site").resolve()
    (site / "extlib" / "sub").mkdir(parents=True)
    sys.path.append(str(site))
    inside = where.roots[0] / "pkg" / "mod.py"
    where.adopt_outside_root(inside, "pkg.mod")
    assert len(where.roots) == 1
    where.adopt_outside_root(site / "extlib" / "sub" / "core.py", "extlib.sub.core")
    assert where.roots[1] == site / "extlib" and site / "extlib" in where.graph.roots
    where.adopt_outside_root(tmp_path / "loose.py", "loose")  # no package on sys.path
    assert len(where.roots) == 2


def test_the_modules_no_running_watcher_covers(where: core_project.Project, tmp_path: Path) -> None:
    root = where.roots[0]
    (root / "other").mkdir()
    (root / "other" / "__init__.py").write_text("")
    importlib.import_module("pkg.mod")
    importlib.import_module("other")
    loaded = where.sync()
    assert set(loaded) == {"pkg", "pkg.mod", "other"}
    assert where.unwatched(loaded, []) is loaded
    assert list(where.unwatched(loaded, [root])) == []
    assert list(where.unwatched(loaded, [root / "pkg"])) == ["other"]
    assert list(where.unwatched(loaded, [tmp_path / "elsewhere"])) == list(loaded)
