"""The files of a project, for the graph: which files are modules and their names, and the
on-disk cache of their import records, on throw-away packages."""

from __future__ import annotations

import os
import textwrap
from pathlib import Path

import pytest

from ipython_hotreload.core.graph.modulegraph import ModuleGraph
from ipython_hotreload.core.paths import module_name_for


def write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(textwrap.dedent(text), encoding="utf-8")


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    r = tmp_path / "proj"
    r.mkdir()
    monkeypatch.syspath_prepend(str(r))
    return r


def labels(g: ModuleGraph) -> dict[tuple[str, str], str]:
    return {(e.from_, e.to): e.label for e in g.edges()}


HELPERS = {"pkg/helpers.py": "def deco(f):\n    return f\nX = 1\nclass Base: ...\n"}


def test_discovery_skips_hidden_cache_vendor_and_virtualenv_dirs(root: Path) -> None:
    write(
        root,
        {
            "pkg/__init__.py": "",
            "pkg/.hidden/x.py": "",
            "pkg/__pycache__/y.py": "",
            "node_modules/z.py": "",
            "venv/pyvenv.cfg": "home = /usr\n",
            "venv/lib/w.py": "",
            "lib/site-packages/v.py": "",
            "build/made.py": "",
            "pkg/not-a-name.py": "",
            "pkg/.pkg.py.1234.tmp": "",
        },
    )
    assert ModuleGraph([root], use_cache=False).modules() == {"pkg", "build.made"}


def test_names_follow_sys_path_with_the_longest_entry_winning(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(
        root,
        {
            "pkg/__init__.py": "",
            "pkg/mod.py": "",
            "src/__init__.py": "",
            "src/inner/__init__.py": "",
            "src/inner/leaf.py": "",
            "src/top.py": "",
            "tools/run.py": "",
        },
    )
    monkeypatch.syspath_prepend(str(root / "src"))
    g = ModuleGraph([root], use_cache=False)
    assert g.modules() == {"pkg", "pkg.mod", "src", "inner", "inner.leaf", "top", "tools.run"}
    for name in g.modules():
        path = g.path_for_module(name)
        assert path is not None
        assert g.module_for_path(path) == name
        assert module_name_for(path.resolve()) == name  # the same rule as the paths module


def test_names_fall_back_to_the_root_when_off_sys_path(tmp_path: Path) -> None:
    r = tmp_path / "offpath"
    write(
        r,
        {
            "app/__init__.py": "",
            "app/main.py": "from app import util\nX = util.Y\n",
            "app/util.py": "",
        },
    )
    g = ModuleGraph([r], use_cache=False)
    assert labels(g) == {("app.main", "app.util"): "compile"}
    assert g.module_for_path(r / "app" / "main.py") == "app.main"


# -- the on-disk cache -----------------------------------------------------------------------


def test_a_warm_cache_gives_the_same_edges_and_rescans_only_changed_files(
    root: Path, tmp_path: Path
) -> None:
    write(root, {"pkg/__init__.py": "", **HELPERS, "pkg/a.py": "from pkg.helpers import X\n"})
    cache = tmp_path / "cache"
    cold = ModuleGraph([root], cache_dir=cache)
    edges = cold.edges()
    assert cold.files_scanned == 3 and list(cache.iterdir())
    warm = ModuleGraph([root], cache_dir=cache)
    assert warm.edges() == edges
    assert warm.files_scanned == 0
    a = root / "pkg" / "a.py"
    a.write_text("from pkg.helpers import X\nY = X\n")
    again = ModuleGraph([root], cache_dir=cache)
    assert labels(again) == {("pkg.a", "pkg.helpers"): "compile"}
    assert again.files_scanned == 1
    assert ModuleGraph([root], cache_dir=cache, use_cache=False).edges() == again.edges()


def test_a_corrupt_cache_is_ignored(root: Path, tmp_path: Path) -> None:
    write(root, {"pkg/__init__.py": "", **HELPERS})
    cache = tmp_path / "cache"
    ModuleGraph([root], cache_dir=cache).edges()
    [cache_file] = cache.iterdir()
    cache_file.write_bytes(b"\x00garbage")
    g = ModuleGraph([root], cache_dir=cache)
    assert g.modules() == {"pkg", "pkg.helpers"}
    assert g.files_scanned == 2


def test_the_default_cache_dir_follows_xdg(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    write(root, {"pkg/__init__.py": ""})
    ModuleGraph([root]).edges()
    assert len(list((tmp_path / "xdg" / "ipython_hotreload").iterdir())) == 1


def test_the_cache_dir_keeps_only_the_most_recent_root_sets(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    for k in range(35):
        r = tmp_path / f"root{k}"
        write(r, {f"m{k}.py": ""})
        ModuleGraph([r], cache_dir=cache).edges()
        newest = max(cache.glob("graph-*.marshal"), key=lambda p: p.stat().st_mtime_ns)
        os.utime(newest, ns=(k * 10**9, k * 10**9))  # distinct ages whatever the clock
    assert len(list(cache.glob("graph-*.marshal"))) == 32
    recent = ModuleGraph([tmp_path / "root34"], cache_dir=cache, use_cache=True)
    recent.edges()
    assert recent.files_scanned == 0  # its cache file was kept
    oldest = ModuleGraph([tmp_path / "root0"], cache_dir=cache)
    oldest.edges()
    assert oldest.files_scanned == 1  # its cache file was pruned
