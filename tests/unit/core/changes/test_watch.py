"""Watch mode (SPEC §2.3): real files edited by another thread while a real watcher runs."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import ipython_hotreload as hr
from ipython_hotreload.core import pipeline
from ipython_hotreload.core.changes.watch import Batch, Watcher, is_watched_source
from tests.conftest import Project

TIMEOUT = 15  # generous deadlines: a loaded 2-core CI machine is slow, never a reason to fail


class EventLog:
    """Events as they arrive, with a way to wait for one."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.events: list[hr.ModuleEvent] = []

    def __call__(self, event: hr.ModuleEvent) -> None:
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
        with self.cond:
            return self.cond.wait_for(predicate, timeout)

    def count(self, kind: str, mod: str) -> int:
        with self.cond:
            return sum(1 for e in self.events if e.kind == kind and e.mod == mod)

    def of(self, kind: str) -> list[hr.ModuleEvent]:
        with self.cond:
            return [e for e in self.events if e.kind == kind]

    def clear(self) -> None:
        with self.cond:
            self.events.clear()


class Setup:
    """A project with ``pkg.a`` (a leaf), ``pkg.b`` (compile-dependent on a), ``pkg.c``
    (runtime-dependent on a) and ``sentinel``, all loaded, and an event log."""

    def __init__(self, project: Project, log: EventLog) -> None:
        self.project = project
        self.log = log
        self.sentinel_version = 0
        project.files(
            {
                "pkg/__init__.py": "",
                "pkg/a.py": "X = 1\n\ndef f():\n    return X\n",
                "pkg/b.py": "from pkg.a import X\n\nY = X + 1\n",
                "pkg/c.py": "def g():\n    from pkg import a\n    return a.X\n",
                "sentinel.py": "N = 0\n",
            }
        )
        for name in ("pkg.a", "pkg.b", "pkg.c", "sentinel"):
            project.import_(name)

    def watch(self, **kw: object) -> Watcher:
        watcher = self.project.reloader.watch(**kw)  # type: ignore[arg-type]
        assert isinstance(watcher, Watcher) and watcher.alive
        return watcher

    def flush(self, watcher: Watcher) -> None:
        """Edit the sentinel and wait for its reload: every change made before has been
        through a batch by then (the OS reports changes in order)."""
        self.sentinel_version += 1
        want = self.log.count("recompiled", "sentinel") + 1
        edit(self.project.path("sentinel.py"), f"N = {self.sentinel_version}\n")
        assert self.log.wait_for(lambda: self.log.count("recompiled", "sentinel") >= want), (
            f"the sentinel edit was not reloaded; batches: {list(watcher.history)}"
        )


def in_other_thread(work: Callable[[], None]) -> None:
    """Run ``work`` in a separate thread, as an editor would, and wait for it."""
    errors: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:
            errors.append(exc)

    t = threading.Thread(target=run, name="editor")
    t.start()
    t.join(TIMEOUT)
    assert not t.is_alive(), "the editing thread hung"
    if errors:
        raise errors[0]


def edit(path: Path, text: str) -> None:
    """Save ``text`` to ``path`` in place, from another thread."""
    in_other_thread(lambda: path.write_text(textwrap.dedent(text), encoding="utf-8"))


def batches_since(watcher: Watcher, before: int) -> list[Batch]:
    history = list(watcher.history)
    return history[len(history) - (watcher.batches - before) :]


@pytest.fixture
def setup(project: Project) -> Iterator[Setup]:
    log = EventLog()
    sub = hr.subscribe(log)
    try:
        yield Setup(project, log)
    finally:
        sub.close()
        project.reloader.stop_watching()


def _watcher_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("hotreload-watch")]


# -- edits made elsewhere -------------------------------------------------------------------


def test_an_outside_edit_reloads_the_module_and_its_compile_dependents(setup: Setup) -> None:
    a = sys.modules["pkg.a"]
    b = sys.modules["pkg.b"]
    old_f = a.f
    watcher = setup.watch()
    edit(setup.project.path("pkg/a.py"), "X = 5\n\ndef f():\n    return X * 10\n")
    assert setup.log.wait_for(lambda: setup.log.count("recompiled", "pkg.b") == 1)
    recompiled = setup.log.of("recompiled")
    assert [e.mod for e in recompiled] == ["pkg.a", "pkg.b"]
    payload = recompiled[0].payload
    assert payload is not None
    assert payload["mod"] == "pkg.a" and payload["source_hash"] is not None
    assert [fn["qualname"] for fn in payload["functions"]] == ["f"]
    assert a.f is old_f and old_f() == 50 and b.Y == 6
    assert not setup.log.of("source_written")  # the file already held the text
    # The events are published during the batch; the watcher notes the batch after it.
    assert watcher.wait_for_batch(0, timeout=TIMEOUT)
    assert watcher.last_batch is not None and watcher.last_batch.recompiled == ("pkg.a", "pkg.b")


def test_a_rename_over_save_is_seen_once(setup: Setup) -> None:
    watcher = setup.watch()
    target = setup.project.path("pkg/a.py")

    def save_like_an_editor() -> None:
        (target.parent / "a.py~").write_text(target.read_text())  # backup copy
        tmp = target.parent / ".a.py.swp"
        tmp.write_text("X = 2\n\ndef f():\n    return X\n")
        os.replace(tmp, target)

    in_other_thread(save_like_an_editor)
    assert setup.log.wait_for(lambda: setup.log.count("recompiled", "pkg.a") == 1)
    setup.flush(watcher)
    assert setup.log.count("recompiled", "pkg.a") == 1
    assert sys.modules["pkg.a"].f() == 2


def test_a_burst_of_50_files_is_one_batch(setup: Setup) -> None:
    project = setup.project
    names = [f"burst.m{i:02d}" for i in range(50)]
    project.write("burst/__init__.py")
    for i in range(50):
        project.write(f"burst/m{i:02d}.py", f"V = {i}\n")
    for name in names:
        project.import_(name)
    # A debounce longer than any stall of a loaded machine between two writes of the burst.
    watcher = setup.watch(debounce_ms=500)
    before = watcher.batches
    texts = [(project.path(f"burst/m{i:02d}.py"), f"V = {i + 100}\n") for i in range(50)]

    def checkout() -> None:
        for i, (path, text) in enumerate(texts):
            if i == 25:
                # A checkout that stalls half way (not synchronisation: the behaviour under
                # test). Longer than the watcher's OS-level grouping, well inside the debounce.
                time.sleep(0.15)
            path.write_text(text)

    in_other_thread(checkout)
    assert setup.log.wait_for(lambda: all(setup.log.count("recompiled", n) for n in names))
    setup.flush(watcher)
    working = [
        b for b in batches_since(watcher, before) if b.changed and "sentinel" not in b.recompiled
    ]
    assert len(working) == 1, working
    assert set(working[0].recompiled) == set(names)
    assert all(setup.log.count("recompiled", n) == 1 for n in names)
    assert [sys.modules[n].V for n in names] == [i + 100 for i in range(50)]


def test_a_deleted_module_file_is_purged(setup: Setup) -> None:
    setup.watch()
    in_other_thread(setup.project.path("pkg/b.py").unlink)
    assert setup.log.wait_for(lambda: setup.log.count("source_removed", "pkg.b") == 1)
    assert "pkg.b" not in sys.modules
    assert setup.project.reloader.graph.path_for_module("pkg.b") is None
    assert not setup.log.of("recompiled")


def test_a_syntax_error_fails_once_and_old_code_keeps_running(
    setup: Setup, capsys: pytest.CaptureFixture[str]
) -> None:
    a = sys.modules["pkg.a"]
    watcher = setup.watch()
    edit(setup.project.path("pkg/a.py"), "X = (\n")
    assert setup.log.wait_for(lambda: setup.log.count("compile_failed", "pkg.a") == 1)
    [failed] = setup.log.of("compile_failed")
    assert failed.error is not None and failed.error["type"] == "SyntaxError"
    assert failed.error["lineno"] == 1
    assert a.f() == 1 and sys.modules["pkg.b"].Y == 2
    # An edit elsewhere goes through; the broken file is not retried (nor reported) again.
    edit(setup.project.path("pkg/c.py"), "def g():\n    return 'c2'\n")
    assert setup.log.wait_for(lambda: setup.log.count("recompiled", "pkg.c") == 1)
    setup.flush(watcher)
    assert setup.log.count("compile_failed", "pkg.a") == 1
    assert capsys.readouterr().err.count("did not reload") == 1
    # Fixing the file reloads it.
    edit(setup.project.path("pkg/a.py"), "X = 3\n\ndef f():\n    return X\n")
    assert setup.log.wait_for(lambda: setup.log.count("recompiled", "pkg.a") == 1)
    assert a.f() == 3 and sys.modules["pkg.b"].Y == 4


def test_a_failed_batch_is_retried_with_the_next_one(setup: Setup) -> None:
    project = setup.project
    setup.watch(debounce_ms=500)

    def broken_checkout() -> None:
        project.path("pkg/c.py").write_text("def g():\n    return 'new'\n")
        project.path("pkg/a.py").write_text("X = (\n")

    in_other_thread(broken_checkout)
    assert setup.log.wait_for(lambda: setup.log.count("compile_failed", "pkg.a") == 1)
    assert sys.modules["pkg.c"].g() == 1  # all or nothing: c waits with a
    edit(project.path("pkg/a.py"), "X = 7\n\ndef f():\n    return X\n")
    assert setup.log.wait_for(lambda: setup.log.count("recompiled", "pkg.c") == 1)
    assert sys.modules["pkg.c"].g() == "new" and sys.modules["pkg.a"].f() == 7


def test_the_reloaders_own_writes_are_not_reloaded_twice(setup: Setup) -> None:
    watcher = setup.watch()
    before = watcher.batches
    setup.project.reload("pkg/a.py", "X = 9\n\ndef f():\n    return X\n")
    setup.flush(watcher)
    assert setup.log.count("recompiled", "pkg.a") == 1
    assert setup.log.count("recompiled", "pkg.b") == 1
    skipped = [p for b in batches_since(watcher, before) for p in b.skipped]
    assert setup.project.path("pkg/a.py").resolve() in skipped


def test_saving_the_same_text_again_reloads_nothing(setup: Setup) -> None:
    watcher = setup.watch()
    edit(setup.project.path("pkg/a.py"), "X = 4\n\ndef f():\n    return X\n")
    assert setup.log.wait_for(lambda: setup.log.count("recompiled", "pkg.a") == 1)
    edit(setup.project.path("pkg/a.py"), "X = 4\n\ndef f():\n    return X\n")
    setup.flush(watcher)
    assert setup.log.count("recompiled", "pkg.a") == 1


def test_a_new_file_joins_the_graph_and_is_imported_only_when_used(setup: Setup) -> None:
    project = setup.project
    watcher = setup.watch()
    edit(project.path("pkg/fresh.py"), "Z = 42\n")
    setup.flush(watcher)
    assert project.reloader.graph.path_for_module("pkg.fresh") == project.path("pkg/fresh.py")
    assert "pkg.fresh" not in sys.modules
    assert setup.log.count("recompiled", "pkg.fresh") == 0
    edit(project.path("pkg/b.py"), "from pkg.a import X\nfrom pkg.fresh import Z\n\nY = X + Z\n")
    assert setup.log.wait_for(lambda: setup.log.count("recompiled", "pkg.b") == 1)
    assert sys.modules["pkg.b"].Y == 43 and "pkg.fresh" in sys.modules
    assert {"from": "pkg.b", "to": "pkg.fresh", "label": "compile"} in (
        project.reloader.compile_dep_edges()
    )


def test_editor_temp_files_and_hidden_or_cache_dirs_are_ignored(setup: Setup) -> None:
    project = setup.project
    watcher = setup.watch()
    before = watcher.batches
    noise = [".#a.py", "a.py~", ".a.py.swp", ".a.py.x1y2.tmp", "flycheck_a.py",
             "__pycache__/a.py", ".hidden/h.py", "notes.txt"]  # fmt: skip

    def scribble() -> None:
        for rel in noise:
            p = project.path("pkg") / rel
            p.parent.mkdir(exist_ok=True)
            p.write_text("this is not python (\n")

    in_other_thread(scribble)
    setup.flush(watcher)
    seen = [p for b in batches_since(watcher, before) for p in (*b.changed, *b.added, *b.skipped)]
    assert seen == [project.path("sentinel.py").resolve()]
    assert not setup.log.of("compile_failed")


@pytest.mark.parametrize(
    ("rel", "watched"),
    [
        ("pkg/a.py", True),
        ("pkg/.#a.py", False),
        ("pkg/a.py~", False),
        ("pkg/.a.py.swp", False),
        ("pkg/.a.py.abcd.tmp", False),
        ("pkg/__pycache__/a.py", False),
        (".venv/lib/x.py", False),
        ("node_modules/x.py", False),
        ("pkg/a.pyc", False),
    ],
)
def test_is_watched_source(tmp_path: Path, rel: str, watched: bool) -> None:
    assert is_watched_source(tmp_path / rel, tmp_path) is watched


def test_a_directory_moved_away_purges_its_modules_and_one_moved_in_joins_the_graph(
    setup: Setup,
) -> None:
    project = setup.project
    project.write("pkg/sub/__init__.py")
    project.write("pkg/sub/leaf.py", "L = 1\n")
    project.import_("pkg.sub.leaf")
    watcher = setup.watch()
    outside = project.root.parent / "elsewhere"
    in_other_thread(lambda: os.replace(project.path("pkg/sub"), outside))
    assert setup.log.wait_for(lambda: setup.log.count("source_removed", "pkg.sub.leaf") == 1)
    assert "pkg.sub.leaf" not in sys.modules
    in_other_thread(lambda: os.replace(outside, project.path("pkg/moved")))
    setup.flush(watcher)
    graph = project.reloader.graph
    assert graph.path_for_module("pkg.moved.leaf") == project.path("pkg/moved/leaf.py")
    assert "pkg.moved.leaf" not in sys.modules


# -- where batches run ----------------------------------------------------------------------


def test_batches_run_where_the_scheduler_puts_them_and_merge_while_queued(setup: Setup) -> None:
    queued: list[Callable[[], None]] = []
    arrived = threading.Condition()

    def schedule(fn: Callable[[], None]) -> None:
        with arrived:
            queued.append(fn)
            arrived.notify_all()

    threads: list[str] = []
    sub = hr.subscribe(lambda e: threads.append(threading.current_thread().name))
    try:
        watcher = setup.watch(schedule=schedule)
        edit(setup.project.path("pkg/a.py"), "X = 2\n\ndef f():\n    return X\n")
        with arrived:
            assert arrived.wait_for(lambda: queued, TIMEOUT)
        # While the batch waits (a cell is running, say), later edits join it.
        edit(setup.project.path("pkg/c.py"), "def g():\n    return 'c'\n")
        deadline = time.monotonic() + TIMEOUT
        while setup.project.path("pkg/c.py").resolve() not in watcher._pending:
            assert time.monotonic() < deadline, "the second edit never reached the watcher"
            with arrived:
                arrived.wait(0.05)
        assert len(queued) == 1 and setup.log.of("recompiled") == []
        queued.pop()()  # the "main thread" runs it
        assert sorted(e.mod for e in setup.log.of("recompiled")) == ["pkg.a", "pkg.b", "pkg.c"]
        assert set(threads) == {threading.current_thread().name}
    finally:
        sub.close()


def test_stop_waits_for_no_one_while_its_caller_holds_the_reload_lock(setup: Setup) -> None:
    reached = threading.Event()

    def schedule(fn: Callable[[], None]) -> None:
        reached.set()
        fn()  # in the watcher thread: it now waits for the lock the test holds

    watcher = setup.watch(schedule=schedule)
    with pipeline.RELOAD_LOCK:
        edit(setup.project.path("pkg/a.py"), "X = 2\n\ndef f():\n    return X\n")
        assert reached.wait(TIMEOUT)
        started = time.monotonic()
        watcher.stop(timeout=TIMEOUT)
        assert time.monotonic() - started < TIMEOUT / 2
    assert not watcher.alive and not _watcher_threads()
    assert sys.modules["pkg.a"].f() == 1  # the dropped batch changed nothing


# -- lifecycle ------------------------------------------------------------------------------


def test_stop_leaves_no_thread_and_is_idempotent(setup: Setup) -> None:
    reloader = setup.project.reloader
    watcher = setup.watch()
    assert len(_watcher_threads()) == 1
    assert reloader.status()["watching"] == [str(setup.project.root.resolve())]
    again = setup.watch()  # watching anew replaces the old watcher
    assert again is not watcher and not watcher.alive and len(_watcher_threads()) == 1
    reloader.stop_watching()
    assert not again.alive and not _watcher_threads()
    again.stop()
    watcher.stop()
    assert reloader.status()["watching"] == []
    assert not again.wait_for_batch(again.batches, timeout=0.01)


def test_watching_a_missing_path_is_a_clear_error(setup: Setup) -> None:
    with pytest.raises(hr.HotReloadError, match="no such file or directory"):
        setup.project.reloader.watch([setup.project.root / "nope"])
    assert not _watcher_threads()


def test_a_watcher_left_running_is_stopped_at_interpreter_exit(tmp_path: Path) -> None:
    (tmp_path / "m.py").write_text("X = 1\n")
    script = textwrap.dedent(
        f"""
        import sys, threading
        sys.path.insert(0, {str(tmp_path)!r})
        import ipython_hotreload as hr
        import m
        import atexit
        # Registered before the watch module is imported, so it runs after its hook.
        atexit.register(lambda: print("alive at exit:", w.alive))
        w = hr.HotReloader(roots=[{str(tmp_path)!r}], formatter=None).watch()
        assert w.alive
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "alive at exit: False"
    assert "Traceback" not in done.stderr


def test_a_watched_file_survives_rename_over_saves_and_siblings_are_ignored(
    setup: Setup,
) -> None:
    project = setup.project
    target = project.path("pkg/a.py")
    watcher = setup.watch(paths=[target])
    assert watcher.paths == [target.resolve()]
    for value in (2, 3):  # the second save must be seen too (a new inode each time)

        def save(value: int = value) -> None:
            tmp = target.parent / ".a.py.tmp"
            tmp.write_text(f"X = {value}\n\ndef f():\n    return X\n")
            os.replace(tmp, target)

        in_other_thread(save)
        assert setup.log.wait_for(lambda v=value: sys.modules["pkg.a"].f() == v)
    before = watcher.batches
    edit(project.path("pkg/c.py"), "def g():\n    return 'c'\n")  # not watched
    in_other_thread(lambda: target.write_text("X = 4\n\ndef f():\n    return X\n"))
    assert watcher.wait_for_batch(before, TIMEOUT)
    assert setup.log.wait_for(lambda: sys.modules["pkg.a"].f() == 4)
    # The watcher reports only its file; an unwatched sibling edited on disk is picked up by
    # the engine's stale check on the next reload (SPEC 1.1 step 4), and says so.
    assert all(p == target.resolve() for b in watcher.history for p in (*b.changed, *b.added))
    for event in setup.log.of("recompiled"):
        if event.mod == "pkg.c":
            assert event.payload is not None
            assert event.payload["reason"] == {"after": None, "label": "changed_on_disk"}


def test_a_watcher_on_one_file_leaves_the_others_to_the_stale_check(project: Project) -> None:
    project.files({"w1.py": "A = 1\n", "w2.py": "B = 1\n"})
    project.import_("w1")
    w2 = project.import_("w2")
    project.reload("w1.py", "A = 2\n")  # both files seen by the reloader
    project.reloader.watch([project.path("w1.py")])
    try:
        project.path("w2.py").write_text("B = 'changed elsewhere'\n")
        project.reload("w1.py", "A = 3\n")
        assert w2.B == "changed elsewhere"
    finally:
        project.reloader.stop_watching()
