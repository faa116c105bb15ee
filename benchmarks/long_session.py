"""A long session: 1,000 consecutive reloads of one module, N = 100 project loaded.

Each reload is a new edit (as when someone types), formatter None. Reported: the time of the
late reloads against the early ones: medians of the 100 reloads from the 10th and of the
last 100. On this shared virtual machine the speed of a core swings by a third from one
second to the next, even in CPU time, so whether the session stays flat is judged on the
reload's CPU time (``time.thread_time``) divided by that of a fixed reference job run right
after it (compiling the 300-line module), which cancels the machine's speed of the moment:
those normalised medians, late against early, and their Theil-Sen trend over all 1,000.
Then memory growth from the 10th to
the 1,000th reload: process RSS (``psutil``) and live allocated blocks; then, in the same
session, ``tracemalloc`` over 200 more reloads (tracing triples a reload's time, so it is
kept out of the timed ones) for the traced growth per reload and where it comes from.
"""

from __future__ import annotations

import gc
import sys
import time
import tracemalloc
from typing import Any

from benchmarks import run_all as h

N = 100
RELOADS = 1000
WINDOW = 10
SPAN = 100  # reloads per timing window
TRACED = 200


def _reloader(args: dict[str, Any]) -> tuple[Any, Any, Any]:
    root = h.load_project(args)
    from ipython_hotreload.core.engine import HotReloader

    reloader = HotReloader(roots=[root], formatter=None)
    return reloader, root / "hrbench" / "leaf20.py", sys.modules["hrbench.leaf20"]


def case_session(args: dict[str, Any]) -> dict[str, Any]:
    """1,000 timed reloads with RSS and allocated blocks at the 10th and the last; then
    ``TRACED`` traced reloads: growth and its biggest sites."""
    import psutil

    reloader, path, leaf = _reloader(args)
    process = psutil.Process()
    times: list[float] = []
    cpu: list[float] = []
    ref: list[float] = []
    reference = h.big_source(None)
    rss: dict[str, int] = {}
    blocks: dict[str, int] = {}
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
        if i in (WINDOW, RELOADS):
            gc.collect()
            rss[str(i)] = process.memory_info().rss
            blocks[str(i)] = sys.getallocatedblocks()
    if leaf.f07(3) != h.leaf_expected(RELOADS):
        raise AssertionError("the last edit did not take effect")
    tracemalloc.start(1)  # one frame per trace: deeper tracebacks triple the time again
    gc.collect()
    first = tracemalloc.take_snapshot()
    start = tracemalloc.get_traced_memory()[0]
    for i in range(RELOADS + 1, RELOADS + TRACED + 1):
        reloader.reload(path, h.leaf_source(i))
    gc.collect()
    grown = tracemalloc.get_traced_memory()[0] - start
    top = tracemalloc.take_snapshot().compare_to(first, "lineno")[:3]
    tracemalloc.stop()
    sites = []
    for stat in top:
        frame = stat.traceback[0]
        at = f"{frame.filename.rsplit('/', 2)[-1]}:{frame.lineno}"
        sites.append({"bytes": stat.size_diff, "count": stat.count_diff, "at": at})
    return {
        "times": times,
        "cpu": cpu,
        "ref": ref,
        "rss": rss,
        "blocks": blocks,
        "traced": grown,
        "sites": sites,
    }


CASES = {"session": case_session}


def theil_sen(ys: list[float], step: int = 5) -> float:
    """The median of the pairwise slopes of (i, ys[i]) (every ``step``-th point): a trend
    that outliers (a scheduler hiccup, a garbage collection) do not move."""
    pts = list(enumerate(ys))[::step]
    slopes = [(yb - ya) / (xb - xa) for k, (xa, ya) in enumerate(pts) for xb, yb in pts[k + 1 :]]
    return h.median(slopes)


def run() -> list[h.Row]:
    """Late vs early reload time; RSS, allocated blocks and traced growth."""
    what = f"{RELOADS} consecutive reloads"
    try:
        t = h.run_case("long_session", "session", h.project(N), timeout=600)
    except Exception as exc:
        return [h.error_row(what, exc)]
    times = t["times"]
    early, late = h.median(times[WINDOW - 1 : WINDOW - 1 + SPAN]), h.median(times[-SPAN:])
    norm = [c / r for c, r in zip(t["cpu"], t["ref"], strict=True)]
    norm_early, norm_late = h.median(norm[WINDOW - 1 : WINDOW - 1 + SPAN]), h.median(norm[-SPAN:])
    norm_ratio = norm_late / norm_early
    trend = theil_sen(norm[WINDOW - 1 :]) * (RELOADS - WINDOW) / norm_early
    last, tenth = str(RELOADS), str(WINDOW)
    rss = (t["rss"][last] - t["rss"][tenth]) / 1024
    blocks = t["blocks"][last] - t["blocks"][tenth]
    per_reload = t["traced"] / TRACED
    projected = per_reload * (RELOADS - WINDOW) / 1024
    sites = "; ".join(f"{s['bytes'] / 1024:+.0f} KiB at {s['at']}" for s in t["sites"])
    return [
        h.row(
            what + f": reload {RELOADS} vs reload {WINDOW}",
            N,
            late,
            early,
            compared_with=f"ours, reload {WINDOW}",
            mark="within 10%",
            met=norm_ratio <= 1.1,
            note=f"medians of {SPAN} reloads each; met judged on CPU time over a reference "
            f"job's: {norm_late:.2f} vs {norm_early:.2f} ({norm_ratio:.2f}x), Theil-Sen trend "
            f"{trend:+.0%} over the session; all {RELOADS} took {sum(times) / 1000:.1f} s",
        ),
        h.row(
            what + ": RSS growth, reload 10 to 1,000",
            N,
            None,
            mark="no growth (< 1 MiB)",
            met=rss < 1024,
            note=f"{rss:+.0f} KiB; live allocated blocks {blocks:+d}",
        ),
        h.row(
            what + ": traced memory growth (tracemalloc)",
            N,
            None,
            mark="no growth (< 256 KiB per 1,000)",
            met=projected < 256,
            note=f"{per_reload:+.0f} B per reload over {TRACED} traced reloads "
            f"(= {projected:+.0f} KiB per 1,000). Top: {sites}",
        ),
    ]


if __name__ == "__main__":
    h.case_main(CASES)
