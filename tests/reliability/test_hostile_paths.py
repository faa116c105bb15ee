"""Hostile paths: ``..``, absolute paths outside the roots, symlinks out of the roots and in
loops, ``.py`` directories, device files and FIFOs named ``x.py``, odd characters, Windows
separators, NUL bytes.

The promise: ``reload`` returns or raises ``HotReloadError`` (``TypeError`` for a path of the
wrong type), and nothing outside the roots is ever written: the temp tree around the project
is listed (type, size, mtime, inode of every entry) before and after, and must not change.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

import ipython_hotreload as hr
from tests.reliability.conftest import tree_state

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


class Site:
    """A project root with traps inside it, next to an "outside" directory that holds a
    victim file; both under a few levels of ``tmp_path`` so ``..`` cannot leave it."""

    def __init__(self, tmp_path: Path) -> None:
        self.top = tmp_path
        base = tmp_path / "t1" / "t2"
        self.root = base / "proj"
        self.outside = base / "outside"
        self.root.mkdir(parents=True)
        self.outside.mkdir()
        (self.outside / "victim.py").write_text("VICTIM = 1\n")
        (self.outside / "pkg").mkdir()
        (self.outside / "pkg" / "__init__.py").write_text("")
        r = self.root
        (r / "real.py").write_text("X = 0\n")
        (r / "sub").mkdir()
        (r / "dir.py").mkdir()  # a directory named like a module
        os.symlink(self.outside / "victim.py", r / "link_out.py")
        os.symlink(self.outside, r / "dir_out")
        os.symlink(self.outside / "not_there.py", r / "dangling_out.py")
        os.symlink(r / "loop_b.py", r / "loop_a.py")
        os.symlink(r / "loop_a.py", r / "loop_b.py")
        os.symlink("self_loop.py", r / "self_loop.py")
        os.symlink("/dev/null", r / "null.py")
        os.symlink(r / "real.py", r / "link_in.py")
        os.mkfifo(r / "fifo.py")  # writing through it would block the kernel forever
        if os.geteuid() == 0:
            os.mknod(r / "chardev.py", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        self.special = {
            name: os.lstat(r / name)
            for name in (
                "dir.py",
                "link_out.py",
                "dir_out",
                "dangling_out.py",
                "loop_a.py",
                "loop_b.py",
                "self_loop.py",
                "null.py",
                "fifo.py",
            )
        }

    def outside_state(self) -> dict[str, tuple[int, int, int, int]]:
        return tree_state(self.top, skip=self.root)

    def specials_intact(self) -> None:
        for name, before in self.special.items():
            after = os.lstat(self.root / name)
            assert (after.st_mode, after.st_ino) == (before.st_mode, before.st_ino), name


@pytest.fixture
def site(tmp_path: Path, clean_modules: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    s = Site(tmp_path)
    # Relative paths resolve against the working directory: make it the root, so that a
    # relative path can never land in the repository (which is on sys.path under pytest).
    monkeypatch.chdir(s.root)
    sys.path.insert(0, str(s.root))
    yield s


@pytest.fixture
def reloader(site: Site) -> Iterator[hr.HotReloader]:
    r = hr.HotReloader(roots=[site.root], formatter=None, graph_cache=False)
    yield r
    r.close()


def attempt(reloader: hr.HotReloader, path: Any, content: str = "X = 1\n") -> BaseException | None:
    """Reload, allowing only the documented errors through as values."""
    try:
        reloader.reload(path, content, format=False)
    except (hr.HotReloadError, TypeError) as exc:
        return exc
    except BaseException as exc:
        raise AssertionError(f"reload({path!r}) raised {type(exc).__name__}: {exc!r}") from exc
    return None


REFUSED = {
    "dot-dot out of the root": "{root}/../outside/evil.py",
    "dot-dot onto the victim": "{root}/sub/../../outside/victim.py",
    "relative dot-dot": "../outside/victim.py",
    "absolute outside": "{outside}/evil.py",
    "absolute victim": "{outside}/victim.py",
    "outside package": "{outside}/pkg/mod.py",
    "symlink to a file outside": "{root}/link_out.py",
    "through a symlinked directory": "{root}/dir_out/victim.py",
    "new file in a symlinked directory": "{root}/dir_out/new.py",
    "dangling symlink out": "{root}/dangling_out.py",
    "symlink loop": "{root}/loop_a.py",
    "self loop": "{root}/self_loop.py",
    "a directory named .py": "{root}/dir.py",
    "a directory named .py, trailing slash": "{root}/dir.py/",
    "/dev/null as x.py": "{root}/null.py",
    "a FIFO named x.py": "{root}/fifo.py",
    "a character device named x.py": "{root}/chardev.py",
    "not .py": "{root}/real.txt",
    "no suffix": "{root}/real",
    "just .py": "{root}/.py",
    "pyc": "{root}/real.pyc",
    "py with a trailing space": "{root}/real.py ",
    "NUL byte": "{root}/real\x00.py",
    "NUL byte before the suffix": "{root}/real.py\x00.txt",
    "empty": "",
    "blank": "   ",
    "the root itself": "{root}",
    "filesystem root": "/",
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_refused_paths_write_nothing(site: Site, reloader: hr.HotReloader, case: str) -> None:
    if case == "a character device named x.py" and os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    raw = REFUSED[case].format(root=site.root, outside=site.outside)
    before_outside, before_root = site.outside_state(), tree_state(site.root)
    seen: list[hr.ModuleEvent] = []
    with hr.subscribe(seen.append):
        error = attempt(reloader, raw)
    assert isinstance(error, hr.UnsafePathError), repr(error)
    assert isinstance(error.path, str) and error.reason, "the error must say which path and why"
    assert site.outside_state() == before_outside
    assert tree_state(site.root) == before_root, "a refused path changed the project"
    assert seen == [], "a refused path was broadcast"
    site.specials_intact()


@pytest.mark.parametrize("path", [b"/tmp/x.py", 42, None, ["x.py"]])
def test_paths_of_the_wrong_type(site: Site, reloader: hr.HotReloader, path: Any) -> None:
    before = site.outside_state()
    error = attempt(reloader, path)
    assert isinstance(error, hr.UnsafePathError | TypeError), repr(error)
    assert site.outside_state() == before


ALLOWED_ODD = {
    "unicode identifier": "名前.py",
    "dash": "my-mod.py",
    "space": "a b.py",
    "windows separator": "sub\\win.py",
    "drive letter": "C:\\x\\y.py",
    "newline": "new\nline.py",
    "leading dash": "-x.py",
    "tilde": "~x.py",
    "dots": "a.b.py",
    "dot-dot that stays inside": "sub/../inside.py",
    "symlink to a file inside": "link_in.py",
    "new subdirectory": "deep/er/mod.py",
}


@pytest.mark.parametrize("case", list(ALLOWED_ODD))
def test_odd_names_inside_the_root_stay_inside(
    site: Site, reloader: hr.HotReloader, case: str
) -> None:
    """Odd but harmless names inside the root: saved (and run when importable) or refused,
    never written anywhere else."""
    raw = ALLOWED_ODD[case]
    before = site.outside_state()
    error = attempt(reloader, raw, "ODD = 1\n")
    assert site.outside_state() == before
    if error is None:
        target = (site.root / raw).resolve()
        assert target.read_text() == "ODD = 1\n"
        assert target.is_relative_to(site.root)
    else:
        assert isinstance(error, hr.HotReloadError), repr(error)
    site.specials_intact()


def test_a_too_long_path_is_a_clear_error(site: Site, reloader: hr.HotReloader) -> None:
    before = site.outside_state()
    error = attempt(reloader, str(site.root / ("a" * 300 + ".py")))
    assert isinstance(error, hr.HotReloadError), repr(error)
    assert site.outside_state() == before


SEGMENTS = [
    "..",
    ".",
    "",
    "sub",
    "outside",
    "proj",
    "victim.py",
    "real.py",
    "x.py",
    "dir.py",
    "dir_out",
    "link_out.py",
    "link_in.py",
    "loop_a.py",
    "null.py",
    "fifo.py",
    "chardev.py",
    "dangling_out.py",
    "名前.py",
    "a b.py",
    "a\\b.py",
    "C:",
    "~",
    ".py",
    "__init__.py",
    "__pycache__",
    "x.py\x00",
    "x.pyc",
]


@st.composite
def hostile_path(draw: st.DrawFn) -> str:
    base = draw(st.sampled_from(["", "{root}/", "{root}/sub/", "{outside}/", "{top}/t1/t2/"]))
    parts = draw(st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=6))
    # At most three ".." from a base at least three levels below tmp_path: the temp tree
    # this test watches holds every place a path can reach.
    if parts.count("..") > 3:
        parts = [p for p in parts if p != ".."] + [".."] * 3
    sep = draw(st.sampled_from(["/", "//", "\\"]))
    return base + sep.join(parts)


@FUZZ
@given(raw=hostile_path())
def test_generated_paths_never_write_outside_the_root(
    site: Site, reloader: hr.HotReloader, raw: str
) -> None:
    path = raw.format(root=site.root, outside=site.outside, top=site.top)
    before = site.outside_state()
    error = attempt(reloader, path, "FUZZ = 1\n")
    assert site.outside_state() == before, f"{path!r} wrote outside the root"
    site.specials_intact()
    event(type(error).__name__ if error else "saved")
    if error is None:
        target = Path(path if os.path.isabs(path) else site.root / path).resolve()
        assert target.is_relative_to(site.root), target
        assert stat.S_ISREG(os.stat(target).st_mode)
        assert target.read_text() == "FUZZ = 1\n"
    # Undo a successful write of a file the next example might treat differently.
    with contextlib.suppress(Exception):
        (site.root / "real.py").write_text("X = 0\n")
