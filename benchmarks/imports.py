"""What importing the package costs an editor plugin (``import ipython_hotreload.client``),
and what a reloader's import audit hook then costs every ``open()`` of the process.

Each sample is a fresh interpreter that times one import statement with
``time.perf_counter`` around it (so the interpreter's own start-up is not counted), for the
client, the package and, as the yardstick of "a small module", ``import json``. The kinds
take turns, so a change in the machine's load falls on all of them; the row reports the
medians and their ratio. The mark: the client costs about what a small stdlib module costs
(within 4x of ``json``, which imports no ``typing``), not the engine's and astroid's few
hundred milliseconds.

The audit hook (installed by the first ``HotReloader``, never by an import) runs on every
``open()`` of the process: the last rows time ``open()`` + ``close()`` of a small file, and
an ``os.stat`` (an audit event the hook returns from at once), in one interpreter before the
engine is imported, after, and after a reloader is made; the mark is "no more than a
microsecond a call".
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import run_all as h

SAMPLES = 15
MARK_RATIO = 4.0
STATEMENTS = {
    "client": "import ipython_hotreload.client",
    "package": "import ipython_hotreload",
    "json": "import json",
    "engine": "import ipython_hotreload.core.engine",
}
_PROBE = (
    "import time, sys; t0 = time.perf_counter(); {stmt}; t1 = time.perf_counter(); "
    "print((t1 - t0) * 1000); print(int('astroid' in sys.modules))"
)


def _sample(statement: str) -> tuple[float, bool]:
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE.format(stmt=statement)],
        cwd=h.REPO,
        env=h.child_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    ms, astroid = proc.stdout.split()
    return float(ms), astroid == "1"


def measure(samples: int = SAMPLES) -> dict[str, Any]:
    """Medians of ``samples`` fresh-interpreter imports of each statement, in turns."""
    times: dict[str, list[float]] = {name: [] for name in STATEMENTS}
    astroid: dict[str, bool] = {}
    for _ in range(samples):
        for name, statement in STATEMENTS.items():
            ms, loaded = _sample(statement)
            times[name].append(ms)
            astroid[name] = loaded
    return {"median_ms": {k: h.median(v) for k, v in times.items()}, "astroid": astroid}


_HOOK_PROBE = """
import os, sys, tempfile, time
path = os.path.join(tempfile.mkdtemp(), "probe.txt")
open(path, "w").close()


def best():  # CPU time of this thread: other processes' load does not count
    best_open = best_stat = float("inf")
    for _ in range(7):
        t0 = time.thread_time()
        for _ in range(20000):
            open(path, "rb").close()
        t1 = time.thread_time()
        for _ in range(20000):
            os.stat(path)
        t2 = time.thread_time()
        best_open, best_stat = min(best_open, t1 - t0), min(best_stat, t2 - t1)
    return best_open / 20000 * 1e6, best_stat / 20000 * 1e6


before = best()
from ipython_hotreload.core.engine import HotReloader
after_import = best()
HotReloader(roots=[os.path.dirname(path)], formatter=None)
after = best()
print(*before, *after_import, *after)
"""

HOOK_SAMPLES = 5
HOOK_MARK_US = 1.0


def measure_hook(samples: int = HOOK_SAMPLES) -> dict[str, dict[str, float]]:
    """Medians (µs per call) of ``open()``+``close()`` and ``os.stat``: before the engine is
    imported, after it is, and after a reloader is made (one interpreter measures all three,
    in its own CPU time)."""
    kinds = ("before", "imported", "with")
    got: dict[str, dict[str, list[float]]] = {k: {"open": [], "stat": []} for k in kinds}
    for _ in range(samples):
        proc = subprocess.run(
            [sys.executable, "-c", _HOOK_PROBE],
            cwd=h.REPO,
            env=h.child_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        values = [float(x) for x in proc.stdout.split()]
        for k, kind in enumerate(kinds):
            got[kind]["open"].append(values[2 * k])
            got[kind]["stat"].append(values[2 * k + 1])
    return {k: {op: h.median(v) for op, v in ops.items()} for k, ops in got.items()}


def hook_rows() -> list[h.Row]:
    """What the audit hook adds to an ``open()`` (and to an ``os.stat``)."""
    hook = measure_hook()
    rows = []
    for op, label in (("open", "open() + close()"), ("stat", "os.stat()")):
        ours, theirs = hook["with"][op], hook["before"][op]
        added, by_import = ours - theirs, hook["imported"][op] - theirs
        rows.append(
            h.row(
                f"a reloader's audit hook: {label}, µs per call",
                None,
                ours / 1000,
                theirs / 1000,
                compared_with="before importing the engine",
                mark=f"+<= {HOOK_MARK_US:g} µs",
                met=added <= HOOK_MARK_US,
                note=(
                    f"{added:+.2f} µs a call (columns in ms: {ours:.2f} µs vs {theirs:.2f} µs); "
                    f"after importing the engine only: {by_import:+.2f} µs; CPU time, best of "
                    f"7 x 20,000 calls, median of {HOOK_SAMPLES} interpreters"
                ),
            )
        )
    return rows


def run() -> list[h.Row]:
    """The table rows: client and package import time against ``import json``, then what
    the audit hook costs an ``open()``."""
    return [*_import_rows(), *hook_rows()]


def _import_rows() -> list[h.Row]:
    got = measure()
    med, astroid = got["median_ms"], got["astroid"]
    rows = []
    for name in ("client", "package"):
        ratio = med[name] / med["json"]
        rows.append(
            h.row(
                f"import time: {STATEMENTS[name]}",
                None,
                med[name],
                med["json"],
                compared_with="import json",
                mark=f"<= {MARK_RATIO:g}x",
                met=ratio <= MARK_RATIO and not astroid[name],
                note=(
                    f"fresh interpreter per sample, {SAMPLES} each, in turns; astroid loaded: "
                    f"{'yes' if astroid[name] else 'no'}; the engine itself: "
                    f"{med['engine']:.0f} ms"
                ),
            )
        )
    return rows


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--json":
        print(json.dumps(measure()))
    else:
        print(h.markdown([h.normalise(r) for r in run()], h.machine()))
