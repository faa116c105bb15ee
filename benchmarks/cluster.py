"""Cluster workers: how long until an edit runs on every Dask worker.

**Edit to all workers patched.** A top-level module of 20 functions (``bclleaf.py``), imported
in the kernel and on every worker of a ``LocalCluster(processes=True, threads_per_worker=1)``
of 2 workers. Ours: ``HotReloader.reload`` (formatter None) with the cluster attached, from
the call to its return, which is when every worker has answered (its ``"workers"`` entry
says ``ok: 2``; each edit is then checked on every worker, untimed). Side by side:
``Client.upload_file`` of the same file with the same text (Dask ships it and calls
``importlib.reload`` on each worker; the kernel itself is not reloaded, so it does less), and
``Client.restart()`` followed by re-importing the module on every worker (state is lost).
Medians of 15 edits (3 restarts) after warm-ups.

**Growth with the number of workers.** The same edit with 1, 2, 4 and 8 single-thread worker
processes on this machine (2 CPUs): the batch goes to every worker at once (one
``Client.run`` per worker, all in flight together), so the mark is that 8 workers cost at
most 8x one worker (linear or better), and the row says how far below it is.

    python -m benchmarks.cluster          # prints the table
"""

from __future__ import annotations

import contextlib
import importlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks import run_all as h

EDITS = 15
WARMUP = 3
RESTARTS = 3
GROWTH = (1, 2, 4, 8)
MOD = "bclleaf"


def _source(edit: int) -> str:
    body = [f"def f{i:02d}(x):\n    return x + {i}\n" for i in range(20)]
    body[7] = f"def f07(x):\n    return x + {1000 + edit}\n"
    return "\n\n".join(body)


def _f07() -> int:
    return int(importlib.import_module(MOD).f07(0))


@contextlib.contextmanager
def _cluster(root: Path, n: int) -> Iterator[Any]:
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=n,
        processes=True,
        threads_per_worker=1,
        dashboard_address=None,
        worker_dashboard_address=None,
    )
    client = Client(cluster, set_as_default=False)
    try:
        client.run(_f07)  # imported on every worker
        yield client
    finally:
        client.close()
        cluster.close()


def _ours(root: Path, client: Any, n: int, start: int) -> list[float]:
    import ipython_hotreload as hr

    reloader = hr.HotReloader(roots=[root], formatter=None, graph_cache=False)
    hr.attach_dask(client, reloader=reloader, timeout=60)
    try:

        def edit(i: int) -> None:
            result = reloader.reload(root / f"{MOD}.py", _source(start + i))
            assert result["workers"] == {"ok": n, "failed": []}, result["workers"]

        def check(i: int) -> None:
            assert set(client.run(_f07).values()) == {1000 + start + i}

        return h.time_ms(edit, repeat=EDITS, warmup=WARMUP, after=check)
    finally:
        hr.detach_dask(client)
        reloader.close()


def _upload(root: Path, client: Any, start: int) -> list[float]:
    path = root / f"{MOD}.py"

    def before(i: int) -> None:
        path.write_text(_source(start + i))

    def check(i: int) -> None:
        assert set(client.run(_f07).values()) == {1000 + start + i}

    return h.time_ms(
        lambda i: client.upload_file(str(path)),
        repeat=EDITS,
        warmup=WARMUP,
        before=before,
        after=check,
    )


def _restart(root: Path, client: Any, start: int) -> list[float]:
    path = root / f"{MOD}.py"

    def before(i: int) -> None:
        path.write_text(_source(start + i))

    def restart(i: int) -> None:
        client.restart()
        client.run(_f07)

    def check(i: int) -> None:
        assert set(client.run(_f07).values()) == {1000 + start + i}

    return h.time_ms(restart, repeat=RESTARTS, warmup=1, before=before, after=check)


def run() -> list[h.Row]:
    """The rows: ours vs upload_file vs restart at 2 workers, then 1-8 workers."""
    root = Path(tempfile.mkdtemp(prefix="hr-cluster-bench-"))
    (root / f"{MOD}.py").write_text(_source(0))
    sys.path.insert(0, str(root))
    rows: list[h.Row] = []
    try:
        importlib.import_module(MOD)
        # Restarts on a cluster of their own: upload_file registers a plugin that would give
        # every restarted worker the uploaded (older) copy of the file.
        restart: float | None = None
        restart_note = "a restart loses every worker's state"
        try:
            with _cluster(root, 2) as client:
                restart = h.median(_restart(root, client, 300))
        except TimeoutError as exc:
            # Seen on the shared 2-CPU machine: the second restart in a row never returns.
            restart_note = f"client.restart() failed here: {exc}"
        with _cluster(root, 2) as client:
            ours = h.median(_ours(root, client, 2, 100))
            upload = h.median(_upload(root, client, 200))
        rows.append(
            h.row(
                "edit -> all 2 workers patched",
                2,
                ours,
                upload,
                compared_with="Client.upload_file",
                note="ours also reloads the kernel, in place; upload_file reloads the top-level module only",
            )
        )
        rows.append(
            h.row(
                "edit -> all 2 workers patched",
                2,
                ours,
                restart,
                compared_with="Client.restart() + re-import",
                note=restart_note,
            )
        )
        growth: dict[int, float] = {}
        for n in GROWTH:
            with _cluster(root, n) as client:
                growth[n] = h.median(_ours(root, client, n, 1000 * n))
        for n in GROWTH[1:]:
            rows.append(
                h.row(
                    "edit -> all workers patched, growth",
                    n,
                    growth[n],
                    growth[1],
                    compared_with="the same with 1 worker",
                    mark=f"<= {n}x (linear or better)",
                    met=growth[n] <= n * growth[1],
                    note="one Client.run per worker, all in flight at once; 2 CPUs",
                )
            )
    finally:
        sys.modules.pop(MOD, None)
        sys.path.remove(str(root))
        shutil.rmtree(root, ignore_errors=True)
    return rows


if __name__ == "__main__":
    for r in run():
        print(r)
