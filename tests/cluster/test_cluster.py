"""SPEC 2.4 on a real ``LocalCluster`` with worker processes: 2 workers, then 3.

The tests share one cluster (starting one costs seconds on 2 CPUs) and run in file order:
the late-joining worker and the killed worker come last. Each test edits its own modules.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from pathlib import Path
from typing import Any

import pytest

distributed = pytest.importorskip("distributed")

import ipython_hotreload as hr  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.cluster, pytest.mark.timeout(180)]


def _call(mod: str, attr: str) -> Any:
    module = importlib.import_module(mod)
    return getattr(module, attr)()


def _pids(project: Any) -> dict[str, int]:
    return dict(project.client.run(os.getpid))


def test_new_code_on_every_worker_after_a_reload(attached: Any) -> None:
    attached.write("alpha/__init__.py", "")
    attached.write("alpha/calc.py", "def answer():\n    return 1\n")
    importlib.import_module("alpha.calc")
    assert set(attached.on_workers(_call, "alpha.calc", "answer").values()) == {1}

    result = attached.reload("alpha/calc.py", "def answer():\n    return 2\n")

    assert result["workers"] == {"ok": 2, "failed": []}
    assert set(attached.on_workers(_call, "alpha.calc", "answer").values()) == {2}
    fresh = attached.client.submit(_call, "alpha.calc", "answer", pure=False)
    assert fresh.result() == 2
    kinds = sorted((e.kind, (e.payload or {}).get("worker")) for e in attached.events)
    assert kinds == sorted(("worker_recompiled", a) for a in _pids(attached))
    assert all(e.payload and "alpha.calc" in e.payload["recompiled"] for e in attached.events)


def test_functions_pickled_by_reference_run_the_new_code(attached: Any) -> None:
    attached.write("beta.py", "def scale(x):\n    return x * 2\n")
    beta = importlib.import_module("beta")
    # Warm every worker: each has now unpickled (and cached) beta.scale by reference.
    assert attached.client.gather(attached.client.map(beta.scale, range(8), pure=False)) == [
        x * 2 for x in range(8)
    ]

    result = attached.reload("beta.py", "def scale(x):\n    return x * 10\n")

    assert result["workers"]["ok"] == 2
    futures = attached.client.map(beta.scale, range(8), pure=False)
    assert attached.client.gather(futures) == [x * 10 for x in range(8)]


def test_an_object_made_on_a_worker_keeps_its_identity_and_sees_new_methods(
    attached: Any,
) -> None:
    attached.write(
        "gamma.py",
        """
        class Counter:
            def value(self):
                return 1


        def describe(obj):
            return (type(obj) is Counter, obj.value())
        """,
    )
    gamma = importlib.import_module("gamma")
    held = attached.client.submit(gamma.Counter, pure=False)  # lives in a worker's memory
    where = attached.client.who_has(held)[held.key]
    ident = attached.client.submit(id, held, pure=False, workers=list(where)).result()

    attached.reload(
        "gamma.py",
        """
        class Counter:
            def value(self):
                return 2


        def describe(obj):
            return (type(obj) is Counter, obj.value())
        """,
    )

    seen = attached.client.submit(gamma.describe, held, pure=False, workers=list(where))
    assert seen.result() == (True, 2)
    assert attached.client.submit(id, held, pure=False, workers=list(where)).result() == ident


def test_a_failure_on_one_worker_is_reported_and_the_others_move_on(attached: Any) -> None:
    attached.write("delta.py", "def version():\n    return 1\n")
    importlib.import_module("delta")
    attached.on_workers(_call, "delta", "version")  # imported on every worker
    pids = _pids(attached)
    victim, victim_pid = sorted(pids.items())[0]
    from ipython_hotreload.widgets import ProjectOverview

    panel = ProjectOverview(reloader=attached.reloader)

    result = attached.reload(
        "delta.py",
        f"""
        import os

        if os.getpid() == {victim_pid}:
            raise RuntimeError("not on this worker")


        def version():
            return 2
        """,
    )

    assert result["workers"]["ok"] == 1
    [failed] = result["workers"]["failed"]
    assert failed["worker"] == victim and "not on this worker" in failed["error"]["message"]
    assert sys.modules["delta"].version() == 2  # the kernel keeps the new code
    versions = attached.on_workers(_call, "delta", "version")
    assert versions[victim] == 1  # the failed worker keeps its old code
    assert {v for a, v in versions.items() if a != victim} == {2}
    [event] = [e for e in attached.events if e.kind == "worker_failed"]
    assert event.error is not None and event.error["worker"] == victim
    [status] = hr_status()
    assert status["workers"][victim]["state"] == "failed"
    assert (panel.cluster["current"], panel.cluster["failed"]) == (1, 1)
    assert "not on this worker" in panel.cluster["workers"][victim]["error"]["message"]

    # A later successful reload there clears the mixed state.
    result = attached.reload("delta.py", "def version():\n    return 3\n")
    assert result["workers"] == {"ok": 2, "failed": []}
    assert set(attached.on_workers(_call, "delta", "version").values()) == {3}
    [status] = hr_status()
    assert {w["state"] for w in status["workers"].values()} == {"current"}
    assert (panel.cluster["current"], panel.cluster["failed"]) == (2, 0)
    panel.close()


def hr_status() -> list[dict[str, Any]]:
    from ipython_hotreload.distributed import cluster_status

    return cluster_status()


def test_a_task_running_during_a_reload_finishes_on_the_old_code(attached: Any) -> None:
    attached.write(
        "epsilon.py",
        """
        import distributed


        def step():
            return "old"


        def long_task(name):
            distributed.Event(name, client=distributed.get_client()).wait(60)
            return step()
        """,
    )
    epsilon = importlib.import_module("epsilon")
    [worker, *_] = sorted(_pids(attached))
    release = distributed.Event("epsilon-release", client=attached.client)
    running = attached.client.submit(
        epsilon.long_task, "epsilon-release", pure=False, workers=[worker]
    )

    def busy(dask_worker: Any) -> int:
        return int(dask_worker.plugins["ipython_hotreload"].side.gate.running)

    def reloading(dask_worker: Any) -> bool:
        return bool(dask_worker.plugins["ipython_hotreload"].side.gate.reloading)

    attached.wait_until(
        lambda: attached.client.run(busy, workers=[worker])[worker] == 1, "the task to run"
    )
    outcome: dict[str, Any] = {}
    new_text = epsilon_text = Path(epsilon.__file__).read_text().replace('"old"', '"new"')
    assert epsilon_text.count('"new"') == 1
    reloading_thread = threading.Thread(
        target=lambda: outcome.update(attached.reloader.reload(epsilon.__file__, new_text))
    )
    reloading_thread.start()
    attached.wait_until(
        lambda: attached.client.run(reloading, workers=[worker])[worker],
        "the worker to hold its reload for the running task",
    )
    waiting = attached.client.submit(epsilon.step, pure=False, workers=[worker])
    release.set()

    assert running.result(timeout=60) == "old"  # it ran, start to end, on the old code
    reloading_thread.join(60)
    assert outcome["workers"] == {"ok": 2, "failed": []}
    assert waiting.result(timeout=60) == "new"  # it waited for the reload, then ran the new


def test_detach_stops_propagation(attached: Any) -> None:
    attached.write("zeta.py", "def mark():\n    return 'a'\n")
    importlib.import_module("zeta")
    attached.on_workers(_call, "zeta", "mark")
    hr.detach_dask()

    result = attached.reload("zeta.py", "def mark():\n    return 'b'\n")

    assert "workers" not in result
    assert set(attached.on_workers(_call, "zeta", "mark").values()) == {"a"}
    assert sys.modules["zeta"].mark() == "b"


def test_the_workers_magic_attaches_shows_and_stops(
    cluster_project: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from ipython_hotreload.ipython.workers import workers_command

    workers_command(cluster_project.reloader, stop=False)  # the current client's cluster
    shown = capsys.readouterr().out
    assert f"cluster {cluster_project.client.scheduler.address}: 2 workers, 2 current" in shown
    cluster_project.write("kappa.py", "X = 1\n")
    assert cluster_project.reload("kappa.py", "X = 2\n")["workers"]["ok"] == 2
    workers_command(cluster_project.reloader, stop=True)
    assert "stopped sending reloads" in capsys.readouterr().out
    assert "workers" not in cluster_project.reload("kappa.py", "X = 3\n")


def test_without_distributed_the_magic_says_how_to_install_it(
    cluster_project: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ipython_hotreload.ipython.workers import workers_command

    monkeypatch.setitem(sys.modules, "distributed", None)  # what an absent package looks like
    workers_command(cluster_project.reloader, stop=False)
    assert "pip install 'ipython_hotreload[dask]'" in capsys.readouterr().out


def test_purges_reach_the_workers(attached: Any) -> None:
    attached.write("eta.py", "def here():\n    return True\n")
    importlib.import_module("eta")
    attached.on_workers(_call, "eta", "here")

    result = attached.reloader.reload_files({attached.root / "eta.py": None})

    assert result["workers"]["ok"] == 2
    assert set(attached.on_workers(lambda: "eta" in sys.modules).values()) == {False}


def test_a_worker_that_joins_later_gets_the_code_before_its_first_task(
    cluster_project: Any,
) -> None:
    # Private directories: what a worker on another machine does. The late worker is started
    # without the project on its sys.path, so only the catch-up can give it the module.
    hr.attach_dask(cluster_project.client, reloader=cluster_project.reloader, filesystem="private")
    try:
        cluster_project.write("theta.py", "def which():\n    return 'first'\n")
        importlib.import_module("theta")
        result = cluster_project.reload("theta.py", "def which():\n    return 'second'\n")
        assert result["workers"] == {"ok": 2, "failed": []}
        before = set(_pids(cluster_project))
        sys.path.remove(str(cluster_project.root))
        try:
            cluster_project.cluster.scale(3)
            cluster_project.client.wait_for_workers(3, timeout=90)
        finally:
            sys.path.insert(0, str(cluster_project.root))
        cluster_project.late = set(_pids(cluster_project)) - before
        answers = cluster_project.on_workers(_call, "theta", "which")
        assert len(answers) == 3 and set(answers.values()) == {"second"}
        where = cluster_project.on_workers(lambda: sys.modules["theta"].__file__)
        assert all("ipython_hotreload" in f for f in where.values()), where
    finally:
        hr.detach_dask()
        # From here on the late worker sees the project as the others do.
        root = str(cluster_project.root)
        cluster_project.client.run(lambda: root in sys.path or sys.path.append(root))


def test_the_kernel_survives_a_worker_killed_mid_reload(attached: Any) -> None:
    attached.write("iota.py", "def alive():\n    return 1\n")
    importlib.import_module("iota")
    attached.on_workers(_call, "iota", "alive")
    pids = _pids(attached)
    # Not the late worker: its nanny would start the new process without the project.
    victim, victim_pid = min(i for i in pids.items() if i[0] not in attached.late)
    count = len(pids)

    result = attached.reload(
        "iota.py",
        f"""
        import os

        if os.getpid() == {victim_pid}:
            os._exit(3)


        def alive():
            return 2
        """,
    )

    assert result["workers"]["ok"] == count - 1
    assert [f["worker"] for f in result["workers"]["failed"]] == [victim]
    assert sys.modules["iota"].alive() == 2
    # The nanny starts a new worker process; it joins, catches up, and runs the new code.
    attached.wait_until(
        lambda: len(attached.client.ncores()) == count and victim not in attached.client.ncores(),
        "the nanny to replace the killed worker",
        limit=90,
    )
    assert set(attached.on_workers(_call, "iota", "alive").values()) == {2}
    again = attached.reload("iota.py", "def alive():\n    return 3\n")
    assert again["workers"] == {"ok": count, "failed": []}


def test_workers_in_the_kernels_own_process_are_not_reloaded_twice(tmp_path: Path) -> None:
    # LocalCluster(processes=False): the workers share the kernel's modules, and the kernel's
    # reload (which holds the reload lock while it waits for them) already updated them.
    (tmp_path / "lam.py").write_text("def v():\n    return 1\n")
    sys.path.insert(0, str(tmp_path))
    cluster = distributed.LocalCluster(
        n_workers=2, processes=False, dashboard_address=":0", worker_dashboard_address=":0"
    )
    client = distributed.Client(cluster, set_as_default=False)
    reloader = hr.HotReloader(roots=[tmp_path], formatter=None, graph_cache=False)
    try:
        lam = importlib.import_module("lam")
        hr.attach_dask(client, reloader=reloader, timeout=20)
        result = reloader.reload(tmp_path / "lam.py", "def v():\n    return 2\n")
        assert result["workers"] == {"ok": 2, "failed": []}
        assert client.submit(lam.v, pure=False).result() == 2
    finally:
        hr.detach_dask(client)
        reloader.close()
        client.close()
        cluster.close()
        sys.path.remove(str(tmp_path))
