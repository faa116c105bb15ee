"""Paths: module names, which paths may be written, and atomic writes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ipython_hotreload.core.paths import (
    atomic_write,
    check_path,
    in_skipped_dir,
    is_within,
    module_name_for,
    open_temporary,
    read_if_exists,
    read_source,
    stamp_of,
    sys_path_dirs,
)
from ipython_hotreload.errors import SourceWriteError, UnsafePathError
from tests.conftest import Project


def test_atomic_write_keeps_mode_and_makes_parents(project: Project) -> None:
    p = project.write("mode.py", "X = 1\n")
    p.chmod(0o640)
    project.reload("mode.py", "X = 2\n")
    assert (p.stat().st_mode & 0o777) == 0o640
    project.reload("deep/er/new_mod.py", "Z = 1\n")
    assert project.path("deep/er/new_mod.py").read_text() == "Z = 1\n"
    assert not [n for n in os.listdir(project.root) if n.endswith(".tmp")]


def test_read_source_gives_the_bytes_and_the_stamp_of_exactly_those_bytes(tmp_path: Path) -> None:
    p = tmp_path / "m.py"
    p.write_bytes(b"X = 1\n")
    data, stamp = read_source(p)
    assert data == b"X = 1\n" and stamp == stamp_of(p) == (p.stat().st_mtime_ns, 6)
    p.write_bytes(b"X = 10\n")
    assert stamp_of(p) != stamp
    assert read_if_exists(p) == b"X = 10\n"
    assert read_if_exists(tmp_path / "gone.py") is None and stamp_of(tmp_path / "gone.py") is None


def test_sys_path_dirs_are_resolved_and_follow_sys_path_and_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    monkeypatch.syspath_prepend("")
    assert sys_path_dirs()[0] == (tmp_path / "a").resolve()
    monkeypatch.chdir(tmp_path / "b")  # '' is the working directory of the moment
    assert sys_path_dirs()[0] == (tmp_path / "b").resolve()
    monkeypatch.syspath_prepend(str(tmp_path / "a" / ".." / "a"))
    dirs = sys_path_dirs()
    assert dirs[0] == (tmp_path / "a").resolve() and dirs[1] == (tmp_path / "b").resolve()
    dirs.clear()  # a copy: the cache is not the caller's to change
    assert sys_path_dirs()[0] == (tmp_path / "a").resolve()


def test_hidden_and_vendor_directories_below_a_base_are_skipped(tmp_path: Path) -> None:
    assert in_skipped_dir(tmp_path / ".venv" / "lib" / "x.py", tmp_path)
    assert in_skipped_dir(tmp_path / "pkg" / "__pycache__" / "x.py", tmp_path)
    assert in_skipped_dir(tmp_path / "lib" / "site-packages" / "x.py", tmp_path)
    assert not in_skipped_dir(tmp_path / "pkg" / "x.py", tmp_path)
    assert not in_skipped_dir(tmp_path / ".hidden.py", tmp_path)  # a file, not a directory
    assert not in_skipped_dir(tmp_path / "x.py", tmp_path / ".base")  # not below the base
    assert is_within(tmp_path, tmp_path) and is_within(tmp_path / "x" / "y", tmp_path)
    assert not is_within(tmp_path.parent, tmp_path)


def test_module_names_come_from_the_longest_entry_that_covers_the_file(tmp_path: Path) -> None:
    src = tmp_path / "src"
    search = [tmp_path, src]
    assert module_name_for(src / "pkg" / "mod.py", search) == "pkg.mod"
    assert module_name_for(src / "pkg" / "__init__.py", search) == "pkg"
    assert module_name_for(tmp_path / "tools" / "run.py", search) == "tools.run"
    assert module_name_for(tmp_path / "my dir" / "m.py", search) is None
    assert module_name_for(tmp_path / "notes.txt", search) is None
    assert module_name_for(tmp_path / "__init__.py", search) is None
    assert module_name_for(Path("/elsewhere/m.py"), search) is None


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"m.py", "bytes"),
        ("", "empty"),
        ("   ", "empty"),
        ("a\x00.py", "NUL"),
        ("m.txt", "only .py files"),
        ("\udcff.py", "UTF-8"),
        ("pkg", "only .py files"),
        ("adir.py", "directory"),
        ("fifo.py", "not a regular file"),
        ("loop.py", "loop"),
        ("../outside.py", "outside the project roots"),
        ("link.py", "outside the project roots"),
    ],
)
def test_check_path_refuses_what_is_no_py_file_in_the_allowed_directories(
    tmp_path: Path, raw: str | bytes, why: str
) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "adir.py").mkdir()
    os.mkfifo(root / "fifo.py")
    (root / "loop.py").symlink_to(root / "loop.py")
    (tmp_path / "real.py").write_text("X = 1\n")
    (root / "link.py").symlink_to(tmp_path / "real.py")
    with pytest.raises(UnsafePathError, match=why):
        check_path(raw, [root.resolve()], base=root)  # type: ignore[arg-type]


def test_check_path_resolves_a_relative_path_against_the_base(tmp_path: Path) -> None:
    root = (tmp_path / "root").resolve()
    (root / "pkg").mkdir(parents=True)
    assert check_path("pkg/../pkg/new.py", [root], base=root) == root / "pkg" / "new.py"
    assert check_path(root / "m.py", [root]) == root / "m.py"  # need not exist yet
    with pytest.raises(UnsafePathError):
        check_path("m.py", [tmp_path / "other"], base=root)


def test_atomic_write_returns_the_stamp_of_what_it_wrote_and_follows_the_umask(
    tmp_path: Path,
) -> None:
    p = tmp_path / "deep" / "m.py"
    umask = os.umask(0o027)
    try:
        stamp = atomic_write(p, b"X = 1\n")
    finally:
        os.umask(umask)
    assert p.read_bytes() == b"X = 1\n" and stamp == stamp_of(p)
    assert p.stat().st_mode & 0o777 == 0o640
    inode = p.stat().st_ino
    atomic_write(p, b"X = 2\n")
    assert p.stat().st_ino != inode  # renamed over, never written in place
    assert sorted(os.listdir(p.parent)) == ["m.py"]


def test_a_failed_atomic_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    p = tmp_path / "ro.py"
    p.write_bytes(b"X = 1\n")
    p.chmod(0o444)
    with pytest.raises(SourceWriteError, match=r"ro\.py: permission denied.*\[EACCES\]") as info:
        atomic_write(p, b"X = 2\n")
    assert isinstance(info.value.__cause__, PermissionError)
    assert p.read_bytes() == b"X = 1\n" and sorted(os.listdir(tmp_path)) == ["ro.py"]
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(SourceWriteError, match="file"):
        atomic_write(blocked / "m.py", b"X = 1\n")  # its "directory" is a file


def test_temporaries_are_new_files_beside_the_target(tmp_path: Path) -> None:
    target = tmp_path / "m.py"
    first_fd, first = open_temporary(target)
    second_fd, second = open_temporary(target)
    os.close(first_fd)
    os.close(second_fd)
    assert first != second
    assert Path(first).parent == Path(second).parent == tmp_path
    assert Path(first).name.startswith(".m.py.") and first.endswith(".tmp")
