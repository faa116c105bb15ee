"""Watch mode: how soon a save in another editor is running.

**Save to patch.** A leaf module of 20 functions (``hrbench/leaf20.py``, in the synthetic
   project of N = 1,000 modules, all imported) is saved 50 times (after warm-ups) by a
   plain write from the main thread, as an editor would. Ours: the time from just before the
   write to the ``recompiled`` event of the module, with ``HotReloader.watch()`` (debounce
   50 ms, the default). jurigged 0.6: the time to its watcher's ``postrun`` event for the
   same file (``jurigged.watch`` over the same project, debounce 50 ms, its default). Both
   fresh interpreters, one run; each edit is checked (``f07`` returns the new value).
What watching costs a cell (nothing: no cell hook) is measured by ``benchmarks.percell``,
watch on and off, against ``%autoreload 2``.

    python -m benchmarks.watch          # prints the table
"""

from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks import run_all as h

LATENCY_N = 1000
EDITS = 50
LATENCY_ROUNDS = 2
WARMUP = 3
DEBOUNCE_MS = 50
EVENT_TIMEOUT_S = 20.0
LEAF_MOD = "hrbench.leaf20"


def _leaf(root: Path) -> Path:
    return root / "hrbench" / "leaf20.py"


def _save_and_wait(
    root: Path, edits: int, done: threading.Event, stamps: list[float]
) -> list[float]:
    """Save ``edits`` (+ warm-up) versions of the leaf; the ms from write to ``stamps[0]``."""
    leaf = _leaf(root)
    module = sys.modules[LEAF_MOD]
    out: list[float] = []
    for i in range(WARMUP + edits):
        edit = 1000 + i
        done.clear()
        stamps.clear()
        t0 = time.perf_counter()
        leaf.write_text(h.leaf_source(edit))
        if not done.wait(EVENT_TIMEOUT_S):
            raise RuntimeError(f"edit {i}: no patch within {EVENT_TIMEOUT_S} s")
        if module.f07(3) != h.leaf_expected(edit):
            raise RuntimeError(f"edit {i}: f07 still runs the old code")
        if i >= WARMUP:
            out.append((stamps[0] - t0) * 1000.0)
    return out


def case_latency_ours(args: dict[str, Any]) -> dict[str, Any]:
    """Save-to-``recompiled`` times with our watcher (batches run in its thread)."""
    import ipython_hotreload as hr

    root = h.load_project(args)
    reloader = hr.HotReloader(roots=[root], formatter=None)
    done = threading.Event()
    stamps: list[float] = []
    reload_ms: list[float] = []

    def on_event(event: hr.ModuleEvent) -> None:
        if event.mod != LEAF_MOD:
            return
        if event.kind == "recompiled":
            stamps.append(time.perf_counter())
            reload_ms.append(float((event.payload or {}).get("elapsed_ms") or 0.0))
            done.set()

    sub = hr.subscribe(on_event)
    watcher = reloader.watch(debounce_ms=args.get("debounce_ms", DEBOUNCE_MS))
    try:
        if not watcher.ready.wait(120):
            raise RuntimeError("the watcher did not finish its first scan")
        times = _save_and_wait(root, args.get("edits", EDITS), done, stamps)
    finally:
        reloader.stop_watching()
        sub.close()
    return {"times": times, "reload_ms": reload_ms[WARMUP:]}


def case_latency_jurigged(args: dict[str, Any]) -> dict[str, Any]:
    """Save-to-``postrun`` times with jurigged's watcher over the same project."""
    import jurigged

    root = h.load_project(args)
    errors: list[object] = []
    done = threading.Event()
    stamps: list[float] = []
    leaf = str(_leaf(root))

    def log(event: object) -> None:
        if isinstance(event, Exception):
            errors.append(event)

    watcher = jurigged.watch(
        pattern=str(root), logger=log, debounce=args.get("debounce_ms", DEBOUNCE_MS) / 1000
    )

    started: list[float] = []
    patch_ms: list[float] = []

    def prerun(path: str, codefile: object) -> None:
        if path == leaf:
            started.append(time.perf_counter())

    def postrun(path: str, codefile: object) -> None:
        if path == leaf:
            stamps.append(time.perf_counter())
            patch_ms.append((stamps[-1] - started[-1]) * 1000.0 if started else 0.0)
            done.set()

    watcher.prerun.register(prerun)
    watcher.postrun.register(postrun)
    try:
        times = _save_and_wait(root, args.get("edits", EDITS), done, stamps)
    finally:
        watcher.stop()
        watcher.join()
    if errors:
        raise RuntimeError(f"jurigged logged {errors[0]!r}")
    return {"times": times, "patch_ms": patch_ms[WARMUP:]}


CASES = {
    "latency_ours": case_latency_ours,
    "latency_jurigged": case_latency_jurigged,
}


def run() -> list[h.Row]:
    """Save-to-patch latency, ours vs jurigged. (Per-cell overhead with watching on, against
    ``%autoreload 2``, is measured by :mod:`benchmarks.percell`.)"""
    rows: list[h.Row] = []
    proj = h.project(LATENCY_N)
    what = f"watch: save to patched, leaf module, median of {EDITS} edits"
    # Alternating halves, so that drift in the machine's load falls on both sides.
    ours: dict[str, list[float]] | None = {"times": [], "reload_ms": []}
    theirs: dict[str, list[float]] | None = {"times": [], "patch_ms": []}
    for _ in range(LATENCY_ROUNDS):
        args = {**proj, "edits": EDITS // LATENCY_ROUNDS}
        if ours is not None:
            try:
                got = h.run_case("watch", "latency_ours", args)
                ours["times"] += got["times"]
                ours["reload_ms"] += got["reload_ms"]
            except Exception as exc:
                rows.append(h.error_row(what, exc))
                ours = None
        if theirs is not None:
            try:
                got = h.run_case("watch", "latency_jurigged", args)
                theirs["times"] += got["times"]
                theirs["patch_ms"] += got["patch_ms"]
            except Exception as exc:
                rows.append(h.error_row(f"{what} (jurigged)", exc))
                theirs = None
    if ours is not None:
        t = ours["times"]
        rows.append(
            h.row(
                what,
                LATENCY_N,
                h.median(t),
                h.median(theirs["times"]) if theirs else None,
                compared_with="jurigged 0.6 watch" if theirs else "",
                note=(
                    f"debounce {DEBOUNCE_MS} ms on both sides; ours min {min(t):.1f} / "
                    f"max {max(t):.1f} ms; the reload itself {h.median(ours['reload_ms']):.2f} ms"
                    + (
                        f", jurigged's patch itself {h.median(theirs['patch_ms']):.2f} ms"
                        if theirs
                        else ""
                    )
                    + f"; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
                ),
            )
        )

    return rows


if __name__ == "__main__":
    h.case_main(CASES)
