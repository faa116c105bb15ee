"""What importing the package costs an editor plugin: ``import ipython_hotreload.client``.

Each sample is a fresh interpreter that times one import statement with
``time.perf_counter`` around it (so the interpreter's own start-up is not counted), for the
client, the package and, as the yardstick of "a small module", ``import json``. The kinds
take turns, so a change in the machine's load falls on all of them; the row reports the
medians and their ratio. The mark: the client costs about what a small stdlib module costs
(within 4x of ``json``, which imports no ``typing``), not the engine's and astroid's few
hundred milliseconds.
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


def run() -> list[h.Row]:
    """The table rows: client and package import time against ``import json``."""
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
