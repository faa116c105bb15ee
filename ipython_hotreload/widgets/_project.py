"""What the project panel lists: the loaded project modules, and the cluster's workers."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ipython_hotreload.core.events import ModuleEvent
from ipython_hotreload.core.paths import in_skipped_dir, is_within

__all__ = ["WORKER_KINDS", "cluster_after", "project_modules"]


def project_modules(roots: Iterable[Path]) -> list[str]:
    """Names of the loaded modules whose file lies under one of ``roots``, sorted."""
    resolved = [Path(r).resolve() for r in roots]
    names: list[str] = []
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if name == "__main__" or not isinstance(file, str) or not file.endswith(".py"):
            continue
        try:
            path = Path(file).resolve()
        except (OSError, RuntimeError):
            continue
        for root in resolved:
            # A root that holds a virtualenv (a home directory, say) must not list the
            # installed packages as the project.
            if is_within(path, root) and not in_skipped_dir(path, root):
                names.append(name)
                break
    return sorted(names)


# -- the cluster (SPEC 2.4): one entry per worker, from worker_recompiled / worker_failed ----

WORKER_KINDS = ("worker_recompiled", "worker_failed")


def cluster_after(cluster: dict[str, Any], event: ModuleEvent) -> dict[str, Any]:
    """The cluster as the project panel shows it once ``event`` happened (a new dict):
    ``{"workers": {address: {"state", "error", "at"}}, "current": n, "failed": m}``."""
    source = event.payload if event.kind == "worker_recompiled" else event.error
    worker = (source or {}).get("worker")
    if event.kind not in WORKER_KINDS or not isinstance(worker, str):
        return cluster
    workers = dict(cluster.get("workers") or {})
    if event.kind == "worker_recompiled":
        workers[worker] = {"state": "current", "error": None, "at": event.at}
    else:
        workers[worker] = {"state": "failed", "error": dict(event.error or {}), "at": event.at}
    states = [w["state"] for w in workers.values()]
    return {
        "workers": workers,
        "current": states.count("current"),
        "failed": states.count("failed"),
    }
