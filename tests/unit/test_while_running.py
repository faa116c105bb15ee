"""Edits while code runs (SPEC §2.5), in a real IPython shell: the main thread runs a cell
that loops until told to stop, calling a project function; another thread reloads.

What reaches the running loop is read from the values it records, never from timing: the
loop appends what ``step()`` returns on each turn, and the other thread waits on those."""

from __future__ import annotations

import sys
import textwrap
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell

import ipython_hotreload as hr
from ipython_hotreload.core.cells import CellGate
from ipython_hotreload.core.pipeline import RELOAD_LOCK
from ipython_hotreload.ipython import extension
from tests.conftest import Project

TIMEOUT = 30  # deadlines, not delays

WORK = """\
X = 1


def step():
    return X


def loop(started, stop, seen):
    started.set()
    while not stop.is_set():
        seen.append(step())
        stop.wait(0.001)
    return seen
"""


class Seen:
    """What the loop recorded, with a way to wait for a value."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.values: list[Any] = []

    def append(self, value: Any) -> None:
        with self.cond:
            self.values.append(value)
            self.cond.notify_all()

    def wait_for(self, value: Any, timeout: float = TIMEOUT) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: value in self.values, timeout)


@dataclass
class Events:
    """Every event, with the name of the thread that published it."""

    cond: threading.Condition = field(default_factory=threading.Condition)
    seen: list[tuple[hr.ModuleEvent, str]] = field(default_factory=list)

    def __call__(self, event: hr.ModuleEvent) -> None:
        with self.cond:
            self.seen.append((event, threading.current_thread().name))
            self.cond.notify_all()

    def of(self, kind: str) -> list[tuple[hr.ModuleEvent, str]]:
        with self.cond:
            return [(e, t) for e, t in self.seen if e.kind == kind]

    def kinds(self) -> list[str]:
        with self.cond:
            return [e.kind for e, _ in self.seen]

    def wait_for(self, kind: str, mod: str) -> hr.ModuleEvent:
        def found() -> hr.ModuleEvent | None:
            return next((e for e, _ in self.seen if e.kind == kind and e.mod == mod), None)

        with self.cond:
            assert self.cond.wait_for(lambda: found() is not None, TIMEOUT), (kind, mod)
            event = found()
        assert event is not None
        return event


@dataclass
class Cell:
    """One looping cell and the thread that works beside it."""

    started: threading.Event = field(default_factory=threading.Event)
    stop: threading.Event = field(default_factory=threading.Event)
    seen: Seen = field(default_factory=Seen)


class Live:
    """The shell with the extension loaded, the project's reloader as the default one."""

    def __init__(self, ip: InteractiveShell, project: Project) -> None:
        self.ip = ip
        self.project = project
        self.reloader = project.reloader
        self.events = Events()

    def during_cell(self, work: Callable[[Cell], Any], cell: str | None = None) -> Any:
        """Run ``work(cell)`` in a thread named ``other`` once the main thread's cell loops;
        the loop stops when ``work`` ends (or the test sets ``cell.stop``). Returns what
        ``work`` returned, raises what it raised."""
        state = Cell()
        self.ip.user_ns.update(_started=state.started, _stop=state.stop, _seen=state.seen)
        out: dict[str, Any] = {}

        def run() -> None:
            try:
                assert state.started.wait(TIMEOUT), "the cell never started looping"
                out["value"] = work(state)
            except BaseException as exc:
                out["error"] = exc
            finally:
                state.stop.set()

        thread = threading.Thread(target=run, name="other", daemon=True)
        thread.start()
        code = cell or "import live.work\n_n = live.work.loop(_started, _stop, _seen)"
        result = self.ip.run_cell(code, store_history=False)
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "the other thread hung"
        assert result.success, result.error_in_exec or result.error_before_exec
        self.last_values = list(state.seen.values)
        if "error" in out:
            raise out["error"]
        return out.get("value")

    def reload(self, text: str) -> dict[str, Any]:
        return self.project.reload("live/work.py", text)  # type: ignore[no-any-return]


@pytest.fixture
def live(project: Project, monkeypatch: pytest.MonkeyPatch) -> Iterator[Live]:
    ip = InteractiveShell.instance()
    monkeypatch.chdir(project.root)
    project.files({"live/__init__.py": "", "live/work.py": WORK})
    project.import_("live.work")
    hr.set_default_reloader(project.reloader)
    ip.run_line_magic("load_ext", "ipython_hotreload")
    state = Live(ip, project)
    sub = hr.subscribe(state.events)
    try:
        yield state
    finally:
        sub.close()
        if "ipython_hotreload" in ip.extension_manager.loaded:
            ip.run_line_magic("unload_ext", "ipython_hotreload")
        extension.unload(ip)
        hr.set_default_reloader(None)
        ip.config.pop("HotReload", None)
        for name in ("live", "_started", "_stop", "_seen", "_n"):
            ip.user_ns.pop(name, None)


def stop_when_waiting(cell: Cell) -> hr.Subscription:
    """End the cell's loop as soon as a reload announces that it waits for it."""
    return hr.subscribe(lambda e: cell.stop.set(), kinds=["reload_waiting"])


# -- "patch" (the default) ------------------------------------------------------------------


def test_a_patch_from_another_thread_reaches_the_running_loop_at_once(live: Live) -> None:
    def work(cell: Cell) -> dict[str, Any]:
        result = live.reload(WORK.replace("return X\n", "return X * 10\n"))
        # Returned while the cell still runs: the patch did not wait for it.
        assert live.reloader.rule.cell_running() and not cell.stop.is_set()
        assert cell.seen.wait_for(10), "the running loop never called the new code"
        return result

    result = live.during_cell(work)
    [payload] = result["recompiled"]
    assert payload["mod"] == "live.work" and payload["mode"] == "patched"
    values = live.last_values
    first_new = values.index(10)
    assert first_new > 0 and set(values[:first_new]) == {1} and set(values[first_new:]) == {10}
    assert live.events.of("reload_waiting") == []
    # Events, payload and history, all from the other thread, as from the main one.
    [(event, thread)] = live.events.of("recompiled")
    assert thread == "other" and event.payload == payload
    [entry] = live.reloader.history()
    assert entry["mods"] == ["live.work"] and entry["origin"] == "reload"


def test_a_patch_beside_a_running_cell_switches_threads_often_meanwhile(live: Live) -> None:
    """The reload's thread gets the GIL back sooner from a cell that computes; the
    interpreter's switch interval is as it was afterwards."""
    before = sys.getswitchinterval()
    during: list[float] = []

    def work(cell: Cell) -> None:
        live.reload(WORK.replace("return X\n", "return X * 10\n"))

    with hr.subscribe(lambda e: during.append(sys.getswitchinterval()), kinds=["recompiled"]):
        live.during_cell(work)
        assert during and during[0] < before / 5
        assert sys.getswitchinterval() == before
        live.reload(WORK)  # no cell runs: nothing to switch for
    assert during[1:] == [before]


def test_a_statement_edit_waits_for_the_cell_then_applies_on_its_thread(live: Live) -> None:
    def work(cell: Cell) -> dict[str, Any]:
        with stop_when_waiting(cell):
            result = live.reload(WORK.replace("X = 1\n", "X = 2\n"))
        # Returned only once applied: the cell had ended by then.
        assert cell.stop.is_set() and not live.reloader.rule.cell_running()
        return result

    result = live.during_cell(work)
    assert 2 not in live.last_values, "a statement ran while the cell was running"
    [payload] = result["recompiled"]
    assert payload["mode"] == "partial" and payload["rerun"] == [{"lineno": 1, "end_lineno": 1}]
    assert sys.modules["live.work"].step() == 2
    [(waiting, waiting_thread)] = live.events.of("reload_waiting")
    assert waiting_thread == "other"
    assert (waiting.mod, waiting.path) == ("live.work", str(live.project.path("live/work.py")))
    assert waiting.payload is not None
    assert "line 1 of live.work (X = 2)" in waiting.payload["reason"]
    [(recompiled, thread)] = live.events.of("recompiled")
    assert thread == "MainThread" and recompiled.payload == payload
    kinds = live.events.kinds()
    assert kinds.index("reload_waiting") < kinds.index("recompiled")


def test_a_definition_edit_that_waits_still_says_where_the_definition_is(live: Live) -> None:
    def work(cell: Cell) -> dict[str, Any]:
        with stop_when_waiting(cell):
            return live.reloader.reload_definition(  # type: ignore[no-any-return]
                "live.work:step", "@staticmethod\ndef step():\n    return 3\n"
            )

    result = live.during_cell(work)
    assert 3 not in live.last_values
    assert result["definition"]["qualname"] == "step"
    assert [e.mod for e, _ in live.events.of("reload_waiting")] == ["live.work"]
    assert sys.modules["live.work"].step.__func__() == 3


def test_an_undo_from_another_thread_waits_for_the_cell(live: Live) -> None:
    live.reload(WORK.replace("return X\n", "return X * 10\n"))

    def work(cell: Cell) -> dict[str, Any]:
        with stop_when_waiting(cell):
            return live.reloader.undo()  # type: ignore[no-any-return]

    result = live.during_cell(work)
    assert set(live.last_values) == {10}
    assert result["undone"] == [1]
    assert sys.modules["live.work"].step() == 1
    [(waiting, _)] = live.events.of("reload_waiting")
    assert waiting.mod == "live.work" and "undo" in waiting.payload["reason"]  # type: ignore[index]


def test_a_failing_patch_from_another_thread_leaves_everything_as_it_was(live: Live) -> None:
    """step() is patched, then loop()'s new default raises: the running loop never calls
    the new step(), and afterwards everything is as it was."""
    module = sys.modules["live.work"]
    codes = {name: getattr(module, name).__code__ for name in ("step", "loop")}
    broken = WORK.replace("stop, seen):", "stop, seen, unit=FAILING()):").replace(
        "return X\n", "return X * 10\n"
    )
    state: dict[str, Any] = {}

    def work(cell: Cell) -> BaseException:
        def failing() -> int:
            # The default is evaluated once step()'s new code is compiled: had step() taken
            # it already, the running loop would call it now. Give it every chance to.
            state["loop_saw_patch"] = cell.seen.wait_for(10, timeout=1.0)
            raise ZeroDivisionError("the new default fails")

        module.FAILING = failing
        state["namespace"] = dict(module.__dict__)
        with pytest.raises(hr.ReloadError) as failed:
            live.reload(broken)
        return failed.value

    error = live.during_cell(work)
    assert "ZeroDivisionError" in str(error)
    assert state["loop_saw_patch"] is False, "the loop called a patch that was rolled back"
    assert set(live.last_values) == {1}
    assert all(getattr(module, n).__code__ is c for n, c in codes.items())
    assert module.__dict__ == state["namespace"]
    [(failed, thread)] = live.events.of("compile_failed")
    assert thread == "other" and failed.error is not None
    assert live.events.of("recompiled") == [] and live.reloader.history() == []


# -- while_running ---------------------------------------------------------------------------


def test_while_running_all_applies_statements_at_once_from_the_receiving_thread(
    live: Live,
) -> None:
    live.ip.run_line_magic("config", "HotReload.while_running = 'all'")
    assert live.reloader.rule.while_running == "all"

    def work(cell: Cell) -> dict[str, Any]:
        result = live.reload(WORK.replace("X = 1\n", "X = 2\n"))
        assert cell.seen.wait_for(2)
        return result

    result = live.during_cell(work)
    assert result["recompiled"][0]["mode"] == "partial"
    assert live.events.of("reload_waiting") == []
    [(_, thread)] = live.events.of("recompiled")
    assert thread == "other"


def test_while_running_wait_holds_back_even_a_patch(live: Live) -> None:
    live.ip.run_line_magic("config", "HotReload.while_running = 'wait'")

    def work(cell: Cell) -> dict[str, Any]:
        with stop_when_waiting(cell):
            return live.reload(WORK.replace("return X\n", "return X * 10\n"))

    result = live.during_cell(work)
    assert 10 not in live.last_values
    assert result["recompiled"][0]["mode"] == "patched"
    [(waiting, _)] = live.events.of("reload_waiting")
    assert "while_running is 'wait'" in waiting.payload["reason"]  # type: ignore[index]
    [(_, thread)] = live.events.of("recompiled")
    assert thread == "MainThread"


def test_while_running_is_checked() -> None:
    with pytest.raises(ValueError, match="while_running must be one of"):
        hr.HotReloader(roots=[], formatter=None, while_running="sometimes")  # type: ignore[arg-type]


# -- old code still running -------------------------------------------------------------------


def test_running_old_names_the_running_loop_until_it_returns(live: Live) -> None:
    reloader = live.reloader

    def work(cell: Cell) -> tuple[dict[str, Any], dict[str, Any], list[dict[str, str]]]:
        # Lines moved, code the same: no old version runs.
        moved = live.reload("# a comment moves everything down\n" + WORK)
        changed = live.reload(
            "# a comment moves everything down\n" + WORK.replace("wait(0.001)", "wait(0.002)")
        )
        return moved, changed, reloader.still_running()

    moved, changed, during = live.during_cell(work)
    assert "running_old" not in moved["recompiled"][0]
    [payload] = changed["recompiled"]
    assert payload["mode"] == "patched"
    assert payload["running_old"] == [{"qualname": "loop", "thread": "MainThread"}]
    assert during == [{"mod": "live.work", "qualname": "loop", "thread": "MainThread"}]
    # The cell has ended: its frame of the old loop returned.
    assert reloader.still_running() == []
    assert reloader.still_running(payload["running_old"]) == []


def test_still_running_follows_a_frame_until_it_returns(project: Project) -> None:
    """Without a shell: a thread runs the old code; the query sees it until it returns."""
    project.files({"pkg/__init__.py": "", "pkg/w.py": "def hold(e):\n    e.wait()\n"})
    w = project.import_("pkg.w")
    release = threading.Event()
    thread = threading.Thread(target=w.hold, args=(release,), name="holder")
    thread.start()
    try:
        result = project.reload("pkg/w.py", "def hold(e):\n    return e.wait()\n")
        [payload] = result["recompiled"]
        assert payload["running_old"] == [{"qualname": "hold", "thread": "holder"}]
        entries = [{"mod": "pkg.w", **e} for e in payload["running_old"]]
        assert project.reloader.still_running(entries) == entries
        assert project.reloader.still_running([{"qualname": "hold", "thread": "x"}]) == []
    finally:
        release.set()
        thread.join(TIMEOUT)
    assert project.reloader.still_running() == []


def test_sys_current_frames_shows_another_threads_frames() -> None:
    """The private API ``running_old`` reads (README, "Private APIs")."""
    release = threading.Event()

    def hold() -> None:
        release.wait()

    thread = threading.Thread(target=hold)
    thread.start()
    try:
        top = sys._current_frames()[thread.ident]  # type: ignore[index]
        codes = []
        frame = top
        while frame is not None:
            codes.append(frame.f_code)
            frame = frame.f_back  # type: ignore[assignment]
        assert hold.__code__ in codes
    finally:
        release.set()
        thread.join(TIMEOUT)


# -- the watcher ------------------------------------------------------------------------------


def test_the_watcher_patches_the_running_loop_and_holds_statements_for_the_cell(
    live: Live,
) -> None:
    """A shell without a kernel: the watcher's batches that must wait run on the cell's
    thread when it ends; a patch, and a patch of another file while one waits, at once."""
    project = live.project
    project.write("live/other.py", "def k():\n    return 1\n")
    other = project.import_("live.other")
    watcher = live.reloader.watch(debounce_ms=20)
    assert watcher.ready.wait(TIMEOUT)
    path = project.path("live/work.py")

    def work(cell: Cell) -> None:
        path.write_text(WORK.replace("return X\n", "return X * 10\n"))  # another editor
        assert cell.seen.wait_for(10), "the watcher's patch never reached the running loop"
        path.write_text(WORK.replace("return X\n", "return X * 10\n").replace("X = 1", "X = 2"))
        waiting = live.events.wait_for("reload_waiting", "live.work")
        assert "line 1 of live.work" in waiting.payload["reason"]  # type: ignore[index]
        assert watcher.queued
        # Another file's patch while that batch waits: at once, too.
        project.path("live/other.py").write_text("def k():\n    return 2\n")
        live.events.wait_for("recompiled", "live.other")
        assert other.k() == 2 and watcher.queued

    live.during_cell(work)
    assert 20 not in live.last_values and 10 in live.last_values
    # The batch that waited ran when the cell ended, on the cell's thread.
    assert sys.modules["live.work"].step() == 20
    work_runs = [t for e, t in live.events.of("recompiled") if e.mod == "live.work"]
    assert work_runs == ["hotreload-watch-" + format(id(watcher), "x"), "MainThread"]
    assert not watcher.queued and watcher.last_batch is not None
    assert watcher.last_batch.recompiled == ("live.work",)


def test_a_failing_watched_patch_is_not_printed_into_the_running_cell(
    live: Live, capfd: pytest.CaptureFixture[str]
) -> None:
    watcher = live.reloader.watch(debounce_ms=20)
    assert watcher.ready.wait(TIMEOUT)
    path = live.project.path("live/work.py")
    printed: list[str] = []

    def work(cell: Cell) -> None:
        path.write_text(WORK.replace("return X\n", "return X +\n"))  # a syntax error
        live.events.wait_for("compile_failed", "live.work")
        assert watcher.wait_for_batch(0, TIMEOUT)
        printed.append(capfd.readouterr().err)  # what the cell has printed so far

    live.during_cell(work)
    assert "did not reload" not in printed[0], "printed from the watcher into the running cell"
    assert "did not reload" in capfd.readouterr().err  # once the cell had ended
    assert set(live.last_values) == {1}


# -- the gate ---------------------------------------------------------------------------------


def test_the_gate_follows_nested_blank_and_interrupted_cells(live: Live) -> None:
    gate = extension.loaded(live.ip).gate  # type: ignore[union-attr]
    assert live.reloader.rule.cells is gate
    seen: list[bool] = []

    def look() -> None:
        seen.append(gate.running())

    live.ip.user_ns["_look_from_another_thread"] = lambda: _in_thread(look)
    cell = textwrap.dedent(
        """\
        ip = get_ipython()
        ip.run_cell("")           # a blank cell: post_run_cell without pre_run_cell
        ip.run_cell("1 + 1")      # a nested cell, ended
        _look_from_another_thread()
        """
    )
    assert live.ip.run_cell(cell, store_history=False).success
    assert seen == [True], "the outer cell counted as ended"
    assert not gate.running()
    # An interrupted cell (ipykernel's cancelled coroutine) ends with no result to match.
    other = CellGate(RELOAD_LOCK)
    started, go = threading.Event(), threading.Event()

    def interrupted_cell() -> None:
        other.cell_started(object())
        started.set()
        assert go.wait(TIMEOUT)
        other.cell_ended(None)

    thread = threading.Thread(target=interrupted_cell)
    thread.start()
    assert started.wait(TIMEOUT) and other.running()
    go.set()
    thread.join(TIMEOUT)
    assert not other.running()


def test_unloading_inside_a_cell_applies_what_waited_for_it(live: Live) -> None:
    done: dict[str, Any] = {}

    def work(cell: Cell) -> None:
        with hr.subscribe(lambda e: cell.stop.set(), kinds=["reload_waiting"]):
            done["result"] = live.reload(WORK.replace("X = 1\n", "X = 2\n"))

    cell = (
        "import live.work\n_n = live.work.loop(_started, _stop, _seen)\n"
        "%unload_ext ipython_hotreload\n"
        "assert live.work.X == 2, 'the waiting reload did not run at unload'"
    )
    # Here the reload waits for the cell that unloads the extension: it runs at the unload.
    live.during_cell(work, cell)
    assert done["result"]["recompiled"][0]["mode"] == "partial"
    assert live.reloader.rule.cells is None


def _in_thread(fn: Callable[[], object]) -> None:
    thread = threading.Thread(target=fn)
    thread.start()
    thread.join(TIMEOUT)
    assert not thread.is_alive()
