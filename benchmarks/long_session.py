"""A long session: 1,000 consecutive reloads of one module, N = 100 project loaded.

Each reload is a new edit (as when someone types), formatter None. Reported: the time of the
late reloads against the early ones (medians of the 10 reloads around the 10th and around the
1,000th, so one scheduler hiccup does not decide), and memory growth between the 10th and
the 1,000th reload: traced Python memory (``tracemalloc``, in its own run, since tracing
slows everything) with the biggest growth sites, and the process RSS (``psutil``).
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


def _reloader(args: dict[str, Any]) -> tuple[Any, Any, Any]:
    root = h.load_project(args)
    from ipython_hotreload.core.engine import HotReloader

    reloader = HotReloader(roots=[root], formatter=None)
    return reloader, root / "hrbench" / "leaf20.py", sys.modules["hrbench.leaf20"]


def case_timing(args: dict[str, Any]) -> dict[str, Any]:
    """Per-reload times of 1,000 reloads and RSS at the 10th and the last."""
    import psutil

    reloader, path, leaf = _reloader(args)
    process = psutil.Process()
    times: list[float] = []
    rss: dict[int, int] = {}
    blocks: dict[int, int] = {}
    for i in range(1, RELOADS + 1):
        t0 = time.perf_counter()
        reloader.reload(path, h.leaf_source(i))
        times.append((time.perf_counter() - t0) * 1000)
        if i in (WINDOW, RELOADS):
            gc.collect()
            rss[i] = process.memory_info().rss
            blocks[i] = sys.getallocatedblocks()
    if leaf.f07(3) != h.leaf_expected(RELOADS):
        raise AssertionError("the last edit did not take effect")
    return {
        "times": times,
        "rss": {str(k): v for k, v in rss.items()},
        "blocks": {str(k): v for k, v in blocks.items()},
    }


def case_memory(args: dict[str, Any]) -> dict[str, Any]:
    """Traced memory at the 10th and the 1,000th reload, and where it grew."""
    reloader, path, _ = _reloader(args)
    tracemalloc.start(1)  # one frame per trace: deeper tracebacks triple the run's time
    snaps: dict[int, tracemalloc.Snapshot] = {}
    traced: dict[str, int] = {}
    for i in range(1, RELOADS + 1):
        reloader.reload(path, h.leaf_source(i))
        if i in (WINDOW, RELOADS):
            gc.collect()
            traced[str(i)] = tracemalloc.get_traced_memory()[0]
            snaps[i] = tracemalloc.take_snapshot()
    tracemalloc.stop()
    top = snaps[RELOADS].compare_to(snaps[WINDOW], "lineno")[:4]
    sites = []
    for stat in top:
        frame = stat.traceback[0]
        at = f"{frame.filename.rsplit('/', 2)[-1]}:{frame.lineno}"
        sites.append({"bytes": stat.size_diff, "count": stat.count_diff, "at": at})
    return {"traced": traced, "sites": sites}


CASES = {"timing": case_timing, "memory": case_memory}


def run() -> list[h.Row]:
    """Late vs early reload time; traced and RSS growth."""
    rows: list[h.Row] = []
    args = h.project(N)
    what = f"{RELOADS} consecutive reloads"
    try:
        t = h.run_case("long_session", "timing", args, timeout=600)
    except Exception as exc:
        rows.append(h.error_row(what + " (timing)", exc))
    else:
        times = t["times"]
        early = h.median(times[WINDOW - 5 : WINDOW + 5])
        late = h.median(times[-WINDOW:])
        rows.append(
            h.row(
                what + f": reload {RELOADS} vs reload {WINDOW}",
                N,
                late,
                early,
                compared_with=f"ours, reload {WINDOW}",
                mark="within 10%",
                met=late <= 1.1 * early,
                note=f"medians of {WINDOW} reloads each; whole run {sum(times) / 1000:.1f} s",
            )
        )
        rss = t["rss"]
        grown = (rss[str(RELOADS)] - rss[str(WINDOW)]) / 1024
        rows.append(
            h.row(
                what + ": RSS growth, reload 10 to 1,000",
                N,
                None,
                mark="no growth (< 1 MiB)",
                met=grown < 1024,
                note=f"{grown:+.0f} KiB ({grown * 1024 / (RELOADS - WINDOW):+.0f} B per reload); "
                f"allocated blocks {t['blocks'][str(RELOADS)] - t['blocks'][str(WINDOW)]:+d}",
            )
        )
    try:
        m = h.run_case("long_session", "memory", args, timeout=600)
    except Exception as exc:
        rows.append(h.error_row(what + " (tracemalloc)", exc))
    else:
        grown = (m["traced"][str(RELOADS)] - m["traced"][str(WINDOW)]) / 1024
        sites = "; ".join(f"{s['bytes'] / 1024:+.0f} KiB at {s['at']}" for s in m["sites"][:3])
        rows.append(
            h.row(
                what + ": traced memory growth, reload 10 to 1,000",
                N,
                None,
                mark="no growth (< 256 KiB)",
                met=grown < 256,
                note=f"{grown:+.0f} KiB ({grown * 1024 / (RELOADS - WINDOW):+.0f} B per reload). Top: {sites}",
            )
        )
    return rows


if __name__ == "__main__":
    h.case_main(CASES)
