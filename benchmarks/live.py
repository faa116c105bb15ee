"""Edits while a cell runs (SPEC §2.5): how soon a save in another editor is running inside
a loop that is still going.

**Save to first new call.** The main thread runs a loop (a training step's stand-in: a call
of ``hrbench.leaf20.f07`` and a little pure-Python work per turn, holding the GIL most of
the time); another thread saves ``hrbench/leaf20.py`` (20 functions, in the synthetic
project of N = 1,000 modules, all imported) with a new body of ``f07``, as an editor would
(another process writes the file in place), and waits until the loop has called the new code. Measured: the time from just before the
write to the loop's first call that returns the new value, over 40 saves (after warm-ups).
Ours: IPython's ``InteractiveShell`` with the extension loaded and ``%hotreload watch``
(debounce 50 ms, the default); the loop runs in a cell, so the watcher's batch is applied
at once from its thread (a patch; no statement runs). jurigged 0.6: ``jurigged.watch`` over
the same project (debounce 50 ms, its default), the same loop on the main thread. Fresh
interpreters, in turns (two rounds each).

    python -m benchmarks.live          # prints the table
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

from benchmarks import run_all as h

N = 1000
EDITS = 40
ROUNDS = 2
WARMUP = 3
DEBOUNCE_MS = 50
EDIT_TIMEOUT_S = 20.0
LEAF_MOD = "hrbench.leaf20"


class Loop:
    """What the loop and the saving thread share."""

    def __init__(self, module: ModuleType) -> None:
        self.module = module
        self.expected: int | None = None
        self.seen_at: float | None = None
        self.hit = threading.Event()
        self.stop = False
        self.error: BaseException | None = None
        self.times: list[float] = []
        self.trace: list[str] = []  # what the reloader said, for a failure's message


def spin(loop: Loop) -> int:
    """The running loop: call the edited function, do a little work, until told to stop."""
    turns = 0
    module = loop.module
    while not loop.stop:
        value = module.f07(3)
        if value == loop.expected and loop.seen_at is None:
            loop.seen_at = time.perf_counter()
            loop.hit.set()
        turns += 1
        total = 0
        for i in range(200):  # a step's own work, in Python, holding the GIL
            total += i * i
    return turns


def _save_each(root: Path, loop: Loop, edits: int) -> None:
    """In a thread: save ``edits`` (+ warm-up) versions of the leaf; after each, wait for
    the loop to run it and note the time from the write; then stop the loop."""
    leaf = root / "hrbench" / "leaf20.py"
    # The editor is another process, as it is in life: a thread of this one would wait for
    # the GIL the loop holds between opening the file and writing it, long enough for a
    # watcher to read the file half-written.
    editor = subprocess.Popen(
        [sys.executable, "-c", _EDITOR],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=h.REPO,
        env=h.child_env(),
    )
    try:
        for i in range(WARMUP + edits):
            edit = 2000 + i
            loop.hit.clear()
            loop.seen_at = None
            loop.expected = h.leaf_expected(edit)
            assert editor.stdin is not None and editor.stdout is not None
            editor.stdin.write(f"{leaf}\t{edit}\n")
            editor.stdin.flush()
            t0 = float(editor.stdout.readline())
            if not loop.hit.wait(EDIT_TIMEOUT_S):
                raise RuntimeError(
                    f"edit {i}: the running loop never called the new code; "
                    f"last events: {loop.trace[-4:]}"
                )
            assert loop.seen_at is not None
            if i >= WARMUP:
                loop.times.append((loop.seen_at - t0) * 1000.0)
    except BaseException as exc:
        loop.error = exc
    finally:
        loop.stop = True
        editor.communicate()


# Saves ``leaf_source(edit)`` in place for each "path<TAB>edit" line; answers the
# ``time.perf_counter()`` (CLOCK_MONOTONIC: one clock for every process) just before it.
_EDITOR = """
import sys, time
from pathlib import Path
from benchmarks import run_all as h
for line in sys.stdin:
    path, edit = line.rstrip("\\n").split("\\t")
    text = h.leaf_source(int(edit))
    t0 = time.perf_counter()
    Path(path).write_text(text)
    print(t0, flush=True)
"""


def _run(root: Path, loop: Loop, edits: int, run_loop: Any) -> None:
    saver = threading.Thread(target=_save_each, args=(root, loop, edits), name="editor")
    saver.start()
    run_loop()
    saver.join(EDIT_TIMEOUT_S)
    if loop.error is not None:
        raise RuntimeError(f"{type(loop.error).__name__}: {loop.error}")


def case_ours(args: dict[str, Any]) -> dict[str, Any]:
    """Save to first new call, the loop in a cell of a shell watching with ours."""
    from IPython.core.interactiveshell import InteractiveShell

    import ipython_hotreload as hr

    root = h.load_project(args)
    os.chdir(root)
    hr.set_default_reloader(hr.HotReloader(roots=[root], formatter=None))
    ip = InteractiveShell.instance()
    reload_ms: list[float] = []

    def on_event(event: hr.ModuleEvent) -> None:
        if event.mod != LEAF_MOD:
            return
        payload = event.payload or {}
        loop.trace.append(
            f"{event.kind} {payload.get('mode') or payload.get('reason') or (event.error or {}).get('message') or ''}"
        )
        if event.kind == "recompiled":
            reload_ms.append(float(payload.get("elapsed_ms") or 0.0))

    with h.quiet_stdout():
        ip.run_line_magic("load_ext", "ipython_hotreload")
        ip.run_line_magic("hotreload", "watch")
    watcher = hr.default_reloader().watcher
    if watcher is None or not watcher.ready.wait(120):
        raise RuntimeError("the watcher did not finish its first scan")
    # The project was written a moment before this interpreter started, closer than the
    # clock can tell apart: one reload first, so the text the leaf runs is known (as in a
    # session where the file is older than the kernel, or was edited before) and an edit
    # can be told to be a patch.
    hr.default_reloader().reload(root / "hrbench" / "leaf20.py", h.leaf_source(1999))
    loop = Loop(sys.modules[LEAF_MOD])
    sub = hr.subscribe(on_event)
    ip.user_ns.update(_bench_spin=spin, _bench_loop=loop)

    def in_a_cell() -> None:
        result = ip.run_cell("_bench_spin(_bench_loop)", store_history=False)
        if not result.success:
            raise RuntimeError(f"the loop's cell failed: {result.error_in_exec!r}")

    try:
        _run(root, loop, args.get("edits", EDITS), in_a_cell)
    finally:
        with h.quiet_stdout():
            ip.run_line_magic("hotreload", "watch --stop")
        sub.close()
    return {"times": loop.times, "reload_ms": reload_ms[WARMUP:]}


def case_jurigged(args: dict[str, Any]) -> dict[str, Any]:
    """Save to first new call, the same loop on the main thread, jurigged watching."""
    import jurigged

    root = h.load_project(args)
    errors: list[object] = []

    def log(event: object) -> None:
        if isinstance(event, Exception):
            errors.append(event)

    watcher = jurigged.watch(pattern=str(root), logger=log, debounce=DEBOUNCE_MS / 1000)
    loop = Loop(sys.modules[LEAF_MOD])
    try:
        _run(root, loop, args.get("edits", EDITS), lambda: spin(loop))
    finally:
        watcher.stop()
        watcher.join()
    if errors:
        raise RuntimeError(f"jurigged logged {errors[0]!r}")
    return {"times": loop.times}


CASES = {"ours": case_ours, "jurigged": case_jurigged}


def run() -> list[h.Row]:
    """Save to the first call of the new code inside a running loop, ours vs jurigged."""
    proj = h.project(N)
    what = f"edit while a cell runs: save to the loop's first new call, median of {EDITS}"
    ours: list[float] = []
    reload_ms: list[float] = []
    theirs: list[float] = []
    rows: list[h.Row] = []
    for _ in range(ROUNDS):  # in turns, so drift in the machine's load falls on both sides
        args = {**proj, "edits": EDITS // ROUNDS}
        got = h.run_case("live", "ours", args)
        ours += got["times"]
        reload_ms += got["reload_ms"]
        try:
            theirs += h.run_case("live", "jurigged", args)["times"]
        except Exception as exc:
            rows.append(h.error_row(f"{what} (jurigged)", exc))
    rows.insert(
        0,
        h.row(
            what,
            N,
            h.median(ours),
            h.median(theirs) if theirs else None,
            compared_with="jurigged 0.6 watch, same loop" if theirs else "",
            note=(
                f"debounce {DEBOUNCE_MS} ms on both sides; ours min {min(ours):.1f} / max "
                f"{max(ours):.1f} ms, the reload itself {h.median(reload_ms):.2f} ms"
                + (f"; jurigged min {min(theirs):.1f} / max {max(theirs):.1f} ms" if theirs else "")
                + f"; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
            ),
        ),
    )
    return rows


if __name__ == "__main__":
    h.case_main(CASES)
