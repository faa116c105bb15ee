"""The files of a project, for the graph: which files are modules and their names, and the
on-disk cache of their import records, on throw-away packages."""

from __future__ import annotations

import ast
import logging
import marshal
import os
from pathlib import Path

import pytest

from ipython_hotreload.core.graph.modulegraph import ModuleGraph
from ipython_hotreload.core.graph.projectfiles import (
    FileEntry,
    Namer,
    cache_file,
    default_cache_dir,
    discover,
    load_cache,
    save_cache,
)
from ipython_hotreload.core.paths import module_name_for
from tests.unit.core.graph.conftest import write


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


# -- the parts on their own --------------------------------------------------------------------


def test_a_namer_names_a_directorys_files_as_module_name_for_does(tmp_path: Path) -> None:
    base, root = tmp_path / "path", tmp_path / "offpath"
    src = base / "src"
    namer = Namer([base, src], [root])
    assert namer.name(str(src / "pkg"), "mod") == "pkg.mod"  # the deepest entry wins
    assert namer.name(str(src / "pkg"), "__init__") == "pkg"
    assert namer.name(str(base / "tools"), "run") == "tools.run"
    for directory, stem in ((src / "pkg", "mod"), (base / "tools", "run")):
        assert namer.name(str(directory), stem) == module_name_for(
            directory / f"{stem}.py", [base, src]
        )
    assert namer.name(str(base / "my dir"), "m") is None  # no importable name
    assert namer.name(str(base), "not-a-name") is None
    assert namer.name(str(base), "__init__") is None  # a directory on the path is no package
    assert namer.name(str(root / "app"), "main") == "app.main"  # the roots, after sys.path
    assert namer.name(str(tmp_path / "elsewhere"), "m") is None


def test_discover_gives_each_named_file_with_its_stat(tmp_path: Path) -> None:
    write(tmp_path, {"pkg/__init__.py": "", "pkg/mod.py": "X = 1\n", "pkg/.hidden/h.py": ""})
    write(tmp_path, {"env/pyvenv.cfg": "", "env/lib/v.py": "", "bad name/b.py": ""})
    found = discover([str(tmp_path)], Namer([tmp_path], []))
    mod = tmp_path / "pkg" / "mod.py"
    assert found == {
        str(tmp_path / "pkg" / "__init__.py"): ("pkg", *stat_of(tmp_path / "pkg" / "__init__.py")),
        str(mod): ("pkg.mod", *stat_of(mod)),
    }
    assert discover([str(tmp_path / "missing")], Namer([tmp_path], [])) == {}


def stat_of(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_mtime_ns, st.st_size


def test_a_file_entry_keeps_its_last_good_records_when_its_text_does_not_scan(
    tmp_path: Path,
) -> None:
    entry = FileEntry(-1, -1, [], None)
    assert entry.scan("m.py", "import a\nX = a.Y\n")
    good = entry.records
    assert [(r.module, r.used) for r in good] == [("a", True)]
    assert not entry.scan("m.py", b"import a\nX = a.Y\n")  # the same records
    assert not entry.scan("m.py", "import b\nX = (\n")
    assert entry.records is good and entry.error is not None and "SyntaxError" in entry.error
    assert entry.scan("m.py", "import b\n", ast.parse("import b\n"))  # a tree given
    assert entry.error is None and [r.module for r in entry.records] == ["b"]
    p = tmp_path / "m.py"
    p.write_text("import c\n")
    assert entry.scan(str(p), None) and [r.module for r in entry.records] == ["c"]


def test_the_cache_file_is_one_per_set_of_roots(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    assert cache_file(tmp_path, [a, b]) == cache_file(tmp_path, [b, a])
    assert cache_file(tmp_path, [a]) != cache_file(tmp_path, [a, b])
    assert cache_file(tmp_path, [a]).parent == tmp_path
    assert cache_file(None, [a]).parent == default_cache_dir()


def test_the_default_cache_dir_without_xdg_is_under_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", "/home/someone")
    assert default_cache_dir() == Path("/home/someone/.cache/ipython_hotreload")


def test_the_cache_round_trip_gives_the_same_entries(tmp_path: Path) -> None:
    ok = FileEntry(10, 20, [], None)
    ok.scan("m.py", "from .a import b as c\ndef f():\n    import d\n")
    broken = FileEntry(30, 40, [], "SyntaxError: invalid syntax (line 1)")
    path = tmp_path / "cache" / "graph-x.marshal"
    assert save_cache(path, {"/p/m.py": ok, "/p/bad.py": broken})
    loaded = load_cache(path, FileEntry)
    assert set(loaded) == {"/p/m.py", "/p/bad.py"}
    again = loaded["/p/m.py"]
    assert (again.mtime_ns, again.size, again.records, again.error) == (10, 20, ok.records, None)
    assert again.records[0] == ok.records[0] and again.records[0].name == "b"
    bad = loaded["/p/bad.py"]
    assert (bad.mtime_ns, bad.size, bad.records, bad.error) == (30, 40, [], broken.error)
    assert [p.name for p in path.parent.iterdir()] == ["graph-x.marshal"]  # no temporary left


def test_a_cache_that_is_missing_stale_or_unreadable_gives_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "graph-x.marshal"
    assert load_cache(path, FileEntry) == {}
    path.write_bytes(marshal.dumps(((0, 3, 11), {"/p/m.py": (1, 2, [], None)})))
    assert load_cache(path, FileEntry) == {}  # written by another version
    path.write_bytes(b"\x00garbage")
    with caplog.at_level(logging.WARNING):
        assert load_cache(path, FileEntry) == {}
    assert "ignoring the unreadable graph cache" in caplog.text


def test_a_cache_that_cannot_be_saved_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("")
    with caplog.at_level(logging.WARNING):
        assert not save_cache(blocked / "graph-x.marshal", {"/p/m.py": FileEntry(1, 2, [], None)})
    assert "could not save the graph cache" in caplog.text


def test_saving_prunes_the_oldest_cache_files_beside_it(tmp_path: Path) -> None:
    for k in range(40):
        old = tmp_path / f"graph-{k:02}.marshal"
        old.write_bytes(b"")
        os.utime(old, ns=((k + 1) * 10**9, (k + 1) * 10**9))
    (tmp_path / "other.txt").write_text("not a cache file")
    assert save_cache(tmp_path / "graph-new.marshal", {})
    left = {p.name for p in tmp_path.iterdir()}
    kept = {f"graph-{k:02}.marshal" for k in range(9, 40)}  # the 31 newest, and the new one
    assert left == {"graph-new.marshal", "other.txt", *kept}
