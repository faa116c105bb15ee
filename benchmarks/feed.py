"""The stale check's change feed: our inotify binding against watchfiles' notifier.

Before every reload the loaded-module tracker asks its feed which directories changed. Two
things matter: what one question costs when nothing changed, and whether a write that has
completed before the question is always in the answer (a miss would let stale code run).
50 directories of one file each are watched by ``DirectoryFeed`` and by a ``RustNotify``
(asked with its smallest step, 1 ms); each writes-then-asks ``TRIALS`` times.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import run_all as h

DIRS = 50
ASKS = 200
TRIALS = 200


def _dirs(root: str) -> list[str]:
    out = []
    for i in range(DIRS):
        d = os.path.join(root, f"p{i}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "m.py"), "w") as fh:
            fh.write("x = 1\n")
        out.append(d)
    return out


def _misses(ask: Callable[[], set[str]], dirs: list[str], settle: Callable[[], object]) -> int:
    missed = 0
    for k in range(TRIALS):
        d = dirs[k % len(dirs)]
        path = os.path.join(d, "m.py")
        with open(path, "w") as fh:
            fh.write(f"x = {k}\n")
        got = ask()
        if d not in got and path not in got:
            missed += 1
        settle()
    return missed


def measure() -> dict[str, Any]:
    """Idle cost of one question and misses right after a write, for both feeds."""
    from watchfiles._rust_notify import RustNotify

    from ipython_hotreload.core.changes.dirfeed import DirectoryFeed

    root = tempfile.mkdtemp(prefix="hr-feed-")
    try:
        dirs = _dirs(root)
        feed = DirectoryFeed.create()
        if feed is None:
            raise RuntimeError("no inotify here: DirectoryFeed.create() gave None")
        for d in dirs:
            feed.watch(d)
        feed.changed()
        stop = threading.Event()
        notify = RustNotify(
            watch_paths=[root],
            debug=False,
            force_polling=False,
            poll_delay_ms=50,
            recursive=True,
            ignore_permission_denied=True,
        )

        def ask_feed() -> set[str]:
            return feed.changed() or set()

        def ask_notify() -> set[str]:
            got = notify.watch(debounce_ms=1, step_ms=1, timeout_ms=1, stop_event=stop)
            return {p for _change, p in got} if isinstance(got, set) else set()

        def drain_notify() -> None:
            time.sleep(0.01)  # let late events arrive, so each trial starts empty
            ask_notify()

        ask_notify()
        idle_feed = h.median(h.time_ms(lambda i: ask_feed(), repeat=ASKS))
        idle_notify = h.median(h.time_ms(lambda i: ask_notify(), repeat=ASKS))
        missed_feed = _misses(ask_feed, dirs, lambda: None)
        missed_notify = _misses(ask_notify, dirs, drain_notify)
        notify.close()
        feed.close()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return {
        "idle_ms": {"dirfeed": idle_feed, "rustnotify": idle_notify},
        "missed": {"dirfeed": missed_feed, "rustnotify": missed_notify},
    }


def run() -> list[h.Row]:
    """The table rows: idle question cost, and exactness, of both feeds."""
    got = measure()
    idle, missed = got["idle_ms"], got["missed"]
    return [
        h.row(
            "stale-check feed: one question, nothing changed",
            DIRS,
            idle["dirfeed"],
            idle["rustnotify"],
            compared_with="watchfiles RustNotify.watch (step 1 ms)",
            mark="faster",
            met=idle["dirfeed"] < idle["rustnotify"],
            note=f"median of {ASKS}",
        ),
        h.row(
            "stale-check feed: writes missed when asked right after",
            DIRS,
            None,
            None,
            mark="0 missed",
            met=missed["dirfeed"] == 0,
            note=(
                f"DirectoryFeed {missed['dirfeed']}/{TRIALS}; "
                f"RustNotify {missed['rustnotify']}/{TRIALS}"
            ),
        ),
    ]


if __name__ == "__main__":
    print(h.markdown([h.normalise(r) for r in run()], h.machine()))
