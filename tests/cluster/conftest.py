"""A real ``distributed.LocalCluster`` (worker processes) shared by the cluster tests, and a
project directory on ``sys.path`` that the workers inherit, as a notebook's would be."""

from __future__ import annotations

import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

distributed = pytest.importorskip("distributed")

import ipython_hotreload as hr  # noqa: E402


class ClusterProject:
    """The project directory, the kernel's reloader on it, and the cluster's client."""

    def __init__(self, root: Path, client: Any, cluster: Any) -> None:
        self.root = root
        self.client = client
        self.cluster = cluster
        self.reloader = hr.HotReloader(roots=[root], formatter=None, graph_cache=False)
        self.events: list[hr.ModuleEvent] = []
        self.late: set[str] = set()  # workers started without the project on sys.path

    def write(self, rel: str, text: str) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def reload(self, rel: str, text: str) -> dict[str, Any]:
        return self.reloader.reload(self.root / rel, textwrap.dedent(text))

    def on_workers(self, fn: Callable[..., Any], *args: Any) -> dict[str, Any]:
        return dict(self.client.run(fn, *args))

    def wait_until(self, condition: Callable[[], bool], what: str, limit: float = 60) -> None:
        """Poll ``condition`` (a cluster state change has no event to wait on here)."""
        deadline = time.monotonic() + limit
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            time.sleep(0.05)


@pytest.fixture(scope="module")
def cluster_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterProject]:
    root = tmp_path_factory.mktemp("cluster_project")
    # Before the cluster starts: worker processes are spawned with this sys.path.
    sys.path.insert(0, str(root))
    cluster = distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=2,
        dashboard_address=None,
        worker_dashboard_address=None,
    )
    client = distributed.Client(cluster)
    project = ClusterProject(root, client, cluster)
    try:
        yield project
    finally:
        hr.detach_dask()
        project.reloader.close()
        client.close()
        cluster.close()
        sys.path.remove(str(root))


@pytest.fixture
def attached(cluster_project: ClusterProject) -> Iterator[ClusterProject]:
    """The kernel's reloader attached to the cluster for one test, and the events heard."""
    events: list[hr.ModuleEvent] = []
    sub = hr.subscribe(events.append, kinds=["worker_recompiled", "worker_failed"])
    hr.attach_dask(cluster_project.client, reloader=cluster_project.reloader, timeout=30)
    cluster_project.events = events
    try:
        yield cluster_project
    finally:
        sub.close()
        hr.detach_dask()
