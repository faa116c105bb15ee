"""How a reload scales with the project: N = 100, 1,000 and 5,000 modules, all imported.

- ``hrbench.hub50`` has 50 compile dependents (each uses it at import time). Ours:
  ``HotReloader.reload`` of the hub (formatter None), which re-executes the 51 modules. Floor:
  write the hub, then ``importlib.reload`` of the hub and the 50 dependents in order (each
  compiles and writes its ``.pyc``), in its own fresh interpreter.
- The same leaf edit as ``reload.py`` at every N, to see what a reload pays per project
  module.
- The stale-file sweep on its own (``LoadedModules.changed_on_disk``: one ``os.stat`` per
  loaded project module, on every reload while no watcher runs), and the listing of loaded
  project modules that precedes it (``LoadedModules.project_modules``).
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from benchmarks import run_all as h

SIZES = (100, 1000, 5000)
REPEAT = 21


def _deps() -> list[str]:
    return [f"hrbench.dep_{k:02d}" for k in range(h.HUB_DEPENDENTS)]


def _hub_ok(edit: int) -> bool:
    for k, name in enumerate(_deps()):
        module = sys.modules[name]
        value, scaled = module.VALUE, module.SCALED
        if value != edit + k or scaled != k * edit:
            return False
    return True


def case_floor(args: dict[str, Any]) -> dict[str, Any]:
    """write + ``importlib.reload`` of the hub then its 50 dependents, in order."""
    root = h.load_project(args)
    hub_path = root / "hrbench" / "hub50.py"
    modules = [sys.modules["hrbench.hub50"], *(sys.modules[d] for d in _deps())]

    def edit(i: int) -> None:
        hub_path.write_text(h.hub_source(i))
        for module in modules:
            importlib.reload(module)

    def check(i: int) -> None:
        if not _hub_ok(i):
            raise AssertionError("floor: the dependents did not see the edit")

    return {"hub": h.time_ms(edit, repeat=args["repeat"], after=check)}


def case_ours(args: dict[str, Any]) -> dict[str, Any]:
    """``HotReloader.reload`` of the hub and of the leaf; the sweep on its own."""
    root = h.load_project(args)
    from ipython_hotreload.core.engine import HotReloader

    reloader = HotReloader(roots=[root], formatter=None)
    hub_path = root / "hrbench" / "hub50.py"
    leaf_path = root / "hrbench" / "leaf20.py"
    leaf = sys.modules["hrbench.leaf20"]
    out: dict[str, Any] = {}

    def hub_check(i: int) -> None:
        if not _hub_ok(i):
            raise AssertionError("ours: the dependents did not see the edit")

    out["hub"] = h.time_ms(
        lambda i: reloader.reload(hub_path, h.hub_source(i)), repeat=args["repeat"], after=hub_check
    )

    def leaf_check(i: int) -> None:
        if leaf.f07(3) != h.leaf_expected(i):
            raise AssertionError("ours: the leaf edit did not take effect")

    out["leaf"] = h.time_ms(
        lambda i: reloader.reload(leaf_path, h.leaf_source(i)),
        repeat=args["repeat"],
        after=leaf_check,
    )
    tracker = getattr(reloader, "loaded", None)  # the engine's LoadedModules
    listing = getattr(tracker, "project_modules", None)
    sweep = getattr(tracker, "changed_on_disk", None)
    if listing is not None and sweep is not None:
        loaded = listing()
        out["listing"] = h.time_ms(lambda i: listing(), repeat=args["repeat"])
        out["sweep"] = h.time_ms(lambda i: sweep(loaded, set()), repeat=args["repeat"])
        out["loaded"] = len(loaded)
    return out


CASES = {"floor": case_floor, "ours": case_ours}


def run() -> list[h.Row]:
    """The 50-dependents rows per N, the N = 5,000 vs N = 100 rows, the sweep rows."""
    rows: list[h.Row] = []
    ours: dict[int, dict[str, Any]] = {}
    floor: dict[int, dict[str, Any]] = {}
    for n in SIZES:
        args = {**h.project(n), "repeat": REPEAT}
        for who, store in (("ours", ours), ("floor", floor)):
            try:
                store[n] = h.run_case("scaling", who, args)
            except Exception as exc:
                rows.append(h.error_row(f"scaling case {who} N={n}", exc))

    def med(store: dict[int, dict[str, Any]], n: int, key: str) -> float | None:
        v = store.get(n, {}).get(key)
        return h.median(v) if isinstance(v, list) and v else None

    hub = f"edit a module with {h.HUB_DEPENDENTS} compile dependents"
    for n in SIZES:
        o, f = med(ours, n, "hub"), med(floor, n, "hub")
        ratio = o / f if o is not None and f else None
        rows.append(
            h.row(
                hub,
                n,
                o,
                f,
                compared_with="write + importlib.reload x51 in order (.pyc)",
                mark="<= 2x",
                met=None if ratio is None else ratio <= 2.0,
            )
        )
    for key, what in (("hub", hub), ("leaf", "edit 1 function of a leaf module")):
        small, big = med(ours, SIZES[0], key), med(ours, SIZES[-1], key)
        ratio = big / small if big is not None and small else None
        rows.append(
            h.row(
                f"{what}: N={SIZES[-1]} vs N={SIZES[0]}",
                f"{SIZES[-1]} vs {SIZES[0]}",
                big,
                small,
                compared_with=f"ours at N={SIZES[0]}",
                mark="within 20%",
                met=None if ratio is None else ratio <= 1.2,
            )
        )
    leaf_small = med(ours, SIZES[0], "leaf")
    for n in SIZES[1:]:
        sweep, listing = med(ours, n, "sweep"), med(ours, n, "listing")
        if sweep is None:
            rows.append(
                h.row(
                    "stale-file sweep per reload (no watcher)",
                    n,
                    None,
                    met=False,
                    note="not measured: HotReloader.loaded.changed_on_disk not found",
                )
            )
            continue
        count = ours[n].get("loaded")
        budget = 0.2 * leaf_small if leaf_small else None
        rows.append(
            h.row(
                "stale-file sweep per reload (no watcher)",
                n,
                sweep,
                leaf_small,
                compared_with=f"ours, leaf edit at N={SIZES[0]}",
                mark="<= 20% of it",
                met=None if budget is None else sweep <= budget,
                note=f"{count} modules stat'ed; listing them: {listing:.3f} ms",
            )
        )
    return rows


if __name__ == "__main__":
    h.case_main(CASES)
