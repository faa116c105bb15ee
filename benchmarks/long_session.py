"""A long session: 1,000 consecutive reloads of one module, N = 100 project loaded.

Each reload is a new edit (as when someone types), formatter None. Two fresh interpreters:

- timing: the medians of the 100 reloads from the 10th and of the last 100. On this shared
  virtual machine the speed of a core swings by a third from one second to the next, even
  in CPU time, so whether the session stays flat is judged on each reload's CPU time
  (``time.thread_time``) divided by that of a fixed reference job run right after it
  (compiling the 300-line module), which cancels the machine's speed of the moment: those
  normalised medians, late against early, and their Theil-Sen trend over all 1,000. The same
  run reads the process RSS (``psutil``) at the 10th, 500th and 1,000th reload.
- memory: the same session under ``tracemalloc`` from the first reload (tracing triples a
  reload's time, so it is kept out of the timed run). Growth from the 500th to the 1,000th
  reload is the steady state (bounded caches, such as the analysis cache of the last 256
  definitions, are full by then); growth from the 10th is shown beside it, with the sites.
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import run_all as h

N = 100
RELOADS = 1000
WINDOW = 10
SPAN = 100  # reloads per timing window
MARKS = (WINDOW, RELOADS // 2, RELOADS)  # where memory is read


def _reloader(args: dict[str, Any]) -> tuple[Any, Any, Any]:
    root = h.load_project(args)
    from ipython_hotreload.core.engine import HotReloader

    reloader = HotReloader(roots=[root], formatter=None)
    return reloader, root / "hrbench" / "leaf20.py", sys.modules["hrbench.leaf20"]


def case_timing(args: dict[str, Any]) -> dict[str, Any]:
    """1,000 timed reloads, each followed by the reference job; RSS along the way."""
    import psutil

    reloader, path, leaf = _reloader(args)
    process = psutil.Process()
    times: list[float] = []
    cpu: list[float] = []
    ref: list[float] = []
    reference = h.big_source(None)
    rss: dict[str, int] = {}
    for i in range(1, RELOADS + 1):
        t0, c0 = time.perf_counter(), time.thread_time()
        reloader.reload(path, h.leaf_source(i))
        c1, t1 = time.thread_time(), time.perf_counter()
        times.append((t1 - t0) * 1000)
        cpu.append((c1 - c0) * 1000)
        # The same fixed work right after: how fast the machine is at this moment.
        r0 = time.thread_time()
        compile(reference, "<reference>", "exec")
        ref.append((time.thread_time() - r0) * 1000)
        if i in MARKS:
            gc.collect()
            rss[str(i)] = process.memory_info().rss
    if leaf.f07(3) != h.leaf_expected(RELOADS):
        raise AssertionError("the last edit did not take effect")
    return {"times": times, "cpu": cpu, "ref": ref, "rss": rss}


def case_memory(args: dict[str, Any]) -> dict[str, Any]:
    """The same 1,000 reloads traced from the first: traced memory at the marks, and the
    sites that grew from the 500th to the 1,000th."""
    reloader, path, _ = _reloader(args)
    tracemalloc.start(1)  # one frame per trace: deeper tracebacks triple the time again
    traced: dict[str, int] = {}
    snaps: dict[int, tracemalloc.Snapshot] = {}
    for i in range(1, RELOADS + 1):
        reloader.reload(path, h.leaf_source(i))
        if i in MARKS:
            gc.collect()
            traced[str(i)] = tracemalloc.get_traced_memory()[0]
            if i != WINDOW:
                snaps[i] = tracemalloc.take_snapshot()
    tracemalloc.stop()
    sites = []
    for stat in snaps[RELOADS].compare_to(snaps[MARKS[1]], "lineno")[:3]:
        frame = stat.traceback[0]
        at = f"{frame.filename.rsplit('/', 2)[-1]}:{frame.lineno}"
        sites.append({"bytes": stat.size_diff, "count": stat.count_diff, "at": at})
    return {"traced": traced, "sites": sites}


CASES = {"timing": case_timing, "memory": case_memory}


def theil_sen(ys: list[float], step: int = 5) -> float:
    """The median of the pairwise slopes of (i, ys[i]) (every ``step``-th point): a trend
    that outliers (a scheduler hiccup, a garbage collection) do not move."""
    pts = list(enumerate(ys))[::step]
    slopes = [(yb - ya) / (xb - xa) for k, (xa, ya) in enumerate(pts) for xb, yb in pts[k + 1 :]]
    return h.median(slopes)


def run() -> list[h.Row]:
    """Late vs early reload time; RSS and traced growth."""
    what = f"{RELOADS} consecutive reloads"
    rows: list[h.Row] = []
    try:
        t = h.run_case("long_session", "timing", h.project(N), timeout=600)
    except Exception as exc:
        rows.append(h.error_row(what + " (timing)", exc))
    else:
        times = t["times"]
        early, late = h.median(times[WINDOW - 1 : WINDOW - 1 + SPAN]), h.median(times[-SPAN:])
        norm = [c / r for c, r in zip(t["cpu"], t["ref"], strict=True)]
        norm_early = h.median(norm[WINDOW - 1 : WINDOW - 1 + SPAN])
        norm_late = h.median(norm[-SPAN:])
        norm_ratio = norm_late / norm_early
        trend = theil_sen(norm[WINDOW - 1 :]) * (RELOADS - WINDOW) / norm_early
        rss = {int(k): v / 1024 for k, v in t["rss"].items()}
        rows += [
            h.row(
                what + f": reload {RELOADS} vs reload {WINDOW}",
                N,
                late,
                early,
                compared_with=f"ours, reload {WINDOW}",
                mark="within 10%",
                met=norm_ratio <= 1.1,
                note=f"medians of {SPAN} reloads each; met judged on CPU time over a reference "
                f"job's: {norm_late:.2f} vs {norm_early:.2f} ({norm_ratio:.2f}x), Theil-Sen "
                f"trend {trend:+.0%} over the session; all {RELOADS} took "
                f"{sum(times) / 1000:.1f} s",
            ),
            h.row(
                what + ": RSS growth, reload 10 to 1,000",
                N,
                None,
                mark="no growth (< 1 MiB)",
                met=rss[RELOADS] - rss[WINDOW] < 1024,
                note=f"{rss[RELOADS] - rss[WINDOW]:+.0f} KiB "
                f"({rss[RELOADS] - rss[RELOADS // 2]:+.0f} KiB from reload 500)",
            ),
        ]
    try:
        m = h.run_case("long_session", "memory", h.project(N), timeout=600)
    except Exception as exc:
        rows.append(h.error_row(what + " (tracemalloc)", exc))
    else:
        traced = {int(k): v / 1024 for k, v in m["traced"].items()}
        steady = traced[RELOADS] - traced[RELOADS // 2]
        sites = "; ".join(f"{s['bytes'] / 1024:+.1f} KiB at {s['at']}" for s in m["sites"])
        rows.append(
            h.row(
                what + ": traced memory growth, reload 500 to 1,000 (tracemalloc)",
                N,
                None,
                mark="no growth (< 64 KiB)",
                met=steady < 64,
                note=f"{steady:+.0f} KiB ({steady * 1024 / (RELOADS // 2):+.0f} B per reload); "
                f"from reload 10: {traced[RELOADS] - traced[WINDOW]:+.0f} KiB "
                f"(bounded caches filling). Top sites from reload 500: {sites}",
            )
        )
    return rows


if __name__ == "__main__":
    h.case_main(CASES)
