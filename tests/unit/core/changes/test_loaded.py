"""LoadedModules with the inotify feed must answer exactly what stat-ing every file answers."""

from __future__ import annotations

import os
import random
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from ipython_hotreload.core.changes.dirfeed import DirectoryFeed
from ipython_hotreload.core.changes.loaded import LoadedModules

pytestmark = pytest.mark.skipif(DirectoryFeed.create() is None, reason="needs Linux inotify")


@pytest.fixture
def fake_modules(tmp_path: Path) -> Iterator[dict[str, Path]]:
    """30 module objects in sys.modules whose files lie in tmp_path (never executed)."""
    files: dict[str, Path] = {}
    for i in range(30):
        sub = tmp_path / f"pkg{i % 3}"
        sub.mkdir(exist_ok=True)
        path = sub / f"m{i}.py"
        path.write_text(f"x = {i}\n")
        name = f"_hr_test_loaded.m{i}"
        module = types.ModuleType(name)
        module.__file__ = str(path)
        sys.modules[name] = module
        files[name] = path
    yield files
    for name in files:
        sys.modules.pop(name, None)


def _pair(root: Path) -> tuple[LoadedModules, LoadedModules]:
    return LoadedModules([root]), LoadedModules([root], feed_factory=None)


def _check(fast: LoadedModules, plain: LoadedModules) -> tuple[list[str], list[str]]:
    a = fast.project_modules()
    b = plain.project_modules()
    assert a == b and list(a) == list(b)
    # Given the loaded set itself, the tracker checks only what the feed does not vouch for.
    got = fast.changed_on_disk(a, set())
    assert got == plain.changed_on_disk(list(b), set())
    return got


def _expected_project(root: Path) -> dict[str, object]:
    """Straight from sys.modules: the modules whose file lies under ``root``, in order."""
    out: dict[str, object] = {}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if not (name != "__main__" and isinstance(file, str) and file.endswith(".py")):
            continue
        if Path(file).resolve().is_relative_to(root.resolve()):
            out[name] = module
    return out


def test_feed_is_used_and_sweeps_nothing_when_idle(
    tmp_path: Path, fake_modules: dict[str, Path]
) -> None:
    fast, plain = _pair(tmp_path)
    assert _check(fast, plain) == ([], [])
    assert fast._verified == set(fake_modules)  # every file is vouched for by the feed


def test_same_size_in_place_write_is_found(tmp_path: Path, fake_modules: dict[str, Path]) -> None:
    fast, plain = _pair(tmp_path)
    _check(fast, plain)
    name, path = "_hr_test_loaded.m4", fake_modules["_hr_test_loaded.m4"]
    st = path.stat()
    with open(path, "r+b") as fh:  # same inode, same size
        fh.write(b"y")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1))
    assert _check(fast, plain) == ([name], [])


def test_rename_over_save_and_delete(tmp_path: Path, fake_modules: dict[str, Path]) -> None:
    fast, plain = _pair(tmp_path)
    _check(fast, plain)
    path = fake_modules["_hr_test_loaded.m7"]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("x = 7777\n")
    os.replace(tmp, path)
    fake_modules["_hr_test_loaded.m8"].unlink()
    assert _check(fast, plain) == (["_hr_test_loaded.m7"], ["_hr_test_loaded.m8"])


def test_directory_made_later_and_renamed_ancestor(
    tmp_path: Path, fake_modules: dict[str, Path]
) -> None:
    fast, plain = _pair(tmp_path)
    _check(fast, plain)
    late = tmp_path / "a" / "b"
    late.mkdir(parents=True)
    path = late / "late.py"
    path.write_text("z = 1\n")
    module = types.ModuleType("_hr_test_loaded.late")
    module.__file__ = str(path)
    sys.modules["_hr_test_loaded.late"] = module
    fake_modules["_hr_test_loaded.late"] = path
    assert _check(fast, plain) == ([], [])
    path.write_text("z = 22\n")
    assert _check(fast, plain) == (["_hr_test_loaded.late"], [])
    # Its grandparent renamed away: no event in its own directory, yet the file is gone.
    os.rename(tmp_path / "a", tmp_path / "a2")
    assert _check(fast, plain) == ([], ["_hr_test_loaded.late"])


def test_queue_overflow_falls_back_to_stat_everything(
    tmp_path: Path, fake_modules: dict[str, Path]
) -> None:
    fast, plain = _pair(tmp_path)
    _check(fast, plain)
    try:
        limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    except OSError:
        limit = 16384
    feed = fast._feed
    assert feed is not None
    old_watches = set(feed._wds)
    first, second = (fake_modules["_hr_test_loaded.m0"].parent / n for n in ("n1", "n2"))
    fds = [os.open(p, os.O_WRONLY | os.O_CREAT) for p in (first, second)]
    try:
        for i in range(limit + 100):
            os.write(fds[i % 2], b"n")  # alternating, so the kernel cannot merge them
    finally:
        for fd in fds:
            os.close(fd)
    fake_modules["_hr_test_loaded.m5"].write_text("x = 55555\n")
    assert _check(fast, plain) == (["_hr_test_loaded.m5"], [])
    assert old_watches.isdisjoint(feed._wds)  # the overflow dropped and renewed every watch
    fake_modules["_hr_test_loaded.m6"].write_text("x = 66666\n")
    assert _check(fast, plain) == (["_hr_test_loaded.m5", "_hr_test_loaded.m6"], [])


def test_random_edits_match_a_full_stat(tmp_path: Path, fake_modules: dict[str, Path]) -> None:
    fast, plain = _pair(tmp_path)
    rng = random.Random(1234)
    names = sorted(fake_modules)
    _check(fast, plain)
    for step in range(300):
        name = rng.choice(names)
        path = fake_modules[name]
        op = rng.randrange(6)
        if op == 0 and path.exists():
            path.write_text(f"x = {step}\n" * rng.randrange(1, 3))
        elif op == 1:
            tmp = path.with_suffix(".new")
            tmp.write_text(f"y = {step}\n")
            os.replace(tmp, path)
        elif op == 2 and path.exists():
            path.unlink()
        elif op == 3 and path.exists():
            st = path.stat()
            os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1000))
        elif op == 4:
            for mods in (fast, plain):  # the engine re-ran it from what is on disk now
                try:
                    st = path.stat()
                    mods.executed(name, (st.st_mtime_ns, st.st_size))
                except FileNotFoundError:
                    mods.executed(name, None)
        elif op == 5:  # a reload of it failed: the text on disk now is what failed
            for mods in (fast, plain):
                try:
                    st = path.stat()
                    mods.failed(name, (st.st_mtime_ns, st.st_size))
                except FileNotFoundError:
                    mods.failed(name, None)
        _check(fast, plain)


def test_project_modules_follows_sys_modules(tmp_path: Path, fake_modules: dict[str, Path]) -> None:
    fast, plain = _pair(tmp_path)
    rng = random.Random(99)
    names = sorted(fake_modules)
    for _ in range(200):
        name = rng.choice(names)
        op = rng.randrange(4)
        if op == 0:
            sys.modules.pop(name, None)
        elif op == 1:  # a new object for the name (possibly in another file)
            module = types.ModuleType(name)
            module.__file__ = str(fake_modules[rng.choice(names)])
            sys.modules[name] = module
        elif op == 2:  # not a project module any more
            sys.modules[name] = types.ModuleType(name)
        else:  # popped and put back: moves to the end of sys.modules
            module = sys.modules.pop(name, None)
            if getattr(module, "__file__", None) is None:
                # (A module is told apart by its file when first seen: a new object here.)
                module = types.ModuleType(name)
                module.__file__ = str(fake_modules[name])
            sys.modules[name] = module
        a, b = fast.project_modules(), plain.project_modules()
        expected = _expected_project(tmp_path)
        assert list(a) == list(expected) == list(b)
        assert all(a[n] is expected[n] for n in a)  # the objects in sys.modules now
        assert all(fast.path_of(n) == plain.path_of(n) for n in a)
        assert fast.import_order() == {n: i for i, n in enumerate(expected)}


def test_an_unchanged_sys_modules_costs_one_comparison(
    tmp_path: Path, fake_modules: dict[str, Path]
) -> None:
    mods = LoadedModules([tmp_path], feed_factory=None)
    first = mods.project_modules()
    assert mods.not_graphed(first) == sorted(fake_modules)
    assert mods.project_modules() is first  # the same snapshot: nothing derived again
    assert mods.not_graphed(first) == []
    order = mods.import_order()
    assert mods.import_order() is order
    # A module object replaced in the middle of sys.modules (same name, same length).
    name = "_hr_test_loaded.m3"
    other = types.ModuleType(name)
    other.__file__ = str(fake_modules[name])
    sys.modules[name] = other
    again = mods.project_modules()
    assert again[name] is other
    assert mods.not_graphed(again) == []  # the name was graphed already


def test_without_a_feed_nothing_is_watched(tmp_path: Path, fake_modules: dict[str, Path]) -> None:
    plain = LoadedModules([tmp_path], feed_factory=None)
    plain.changed_on_disk(list(plain.project_modules()), set())
    assert plain._feed is None and not plain._verified


def test_a_proxy_that_claims_equality_or_a_renamed_entry_is_noticed(
    tmp_path: Path, fake_modules: dict[str, Path]
) -> None:
    class Proxy(types.ModuleType):
        def __eq__(self, other: object) -> bool:
            return True  # "equal" to whatever it stands in for

        __hash__ = types.ModuleType.__hash__

    mods = LoadedModules([tmp_path], feed_factory=None)
    mods.project_modules()
    name = "_hr_test_loaded.m3"  # in the middle of sys.modules
    proxy = Proxy(name)
    proxy.__file__ = str(fake_modules[name])
    sys.modules[name] = proxy
    assert mods.project_modules()[name] is proxy
    # The next-to-last entry renamed (it moves to the end), then the last one popped and put
    # back (as importlib.reload does): the objects are in their old order and the last name
    # is the same, yet a name changed.
    a, b = "_hr_test_loaded.m4", "_hr_test_loaded.m5"
    for name in (a, b):  # make them the last two entries
        sys.modules[name] = sys.modules.pop(name)
    mods.project_modules()
    before = list(sys.modules.values())
    sys.modules["_hr_test_loaded.renamed"] = sys.modules.pop(a)
    sys.modules[b] = sys.modules.pop(b)
    fake_modules["_hr_test_loaded.renamed"] = fake_modules[a]
    try:
        assert list(sys.modules.values()) == before and next(reversed(sys.modules)) == b
        got = mods.project_modules()
        assert a not in got and "_hr_test_loaded.renamed" in got
        assert list(got) == list(_expected_project(tmp_path))
    finally:
        sys.modules.pop("_hr_test_loaded.renamed", None)
