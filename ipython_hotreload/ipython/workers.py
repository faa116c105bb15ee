"""``%hotreload workers [--stop]``: attach the kernel's reloads to the current Dask cluster,
show its workers' state, or detach."""

from __future__ import annotations

from typing import Any

from ipython_hotreload.core.engine import HotReloader
from ipython_hotreload.errors import HotReloadError

__all__ = ["format_clusters", "workers_command"]


def workers_command(reloader: HotReloader, *, stop: bool, timeout: float | None = None) -> None:
    """Attach (the first time), print the status of the attached clusters, or detach."""
    try:
        from ipython_hotreload import distributed as cluster
    except ImportError as exc:  # pragma: no cover - the package itself needs nothing extra
        print(f"hotreload: the cluster adapter could not be loaded ({exc})")
        return
    if stop:
        names = cluster.attached()
        cluster.detach_dask()
        print(
            f"hotreload: stopped sending reloads to {', '.join(names)}"
            if names
            else "hotreload: no cluster was attached"
        )
        return
    if not cluster.attached():
        options: dict[str, Any] = {"reloader": reloader}
        if timeout is not None:
            options["timeout"] = timeout
        try:
            cluster.attach_dask(None, **options)
        except HotReloadError as exc:
            print(f"hotreload: {exc}")
            return
    print(format_clusters(cluster.cluster_status()))


def format_clusters(clusters: list[dict[str, Any]]) -> str:
    """The attached clusters, one block each: workers current / failed, with the errors."""
    if not clusters:
        return "hotreload: no cluster attached (%hotreload workers attaches the current one)"
    lines: list[str] = []
    for c in clusters:
        workers: dict[str, dict[str, Any]] = c["workers"]
        states = [w.get("state") for w in workers.values()]
        lines.append(
            f"hotreload: cluster {c['scheduler']}: {len(workers)} workers, "
            f"{states.count('current')} current, {states.count('failed')} failed "
            f"(reload {c['seq']}, {c['files']} files since attaching, timeout {c['timeout']:g} s)"
        )
        for address, w in sorted(workers.items()):
            detail = ""
            error = w.get("error")
            if w.get("state") != "current" and isinstance(error, dict):
                detail = f"  {error.get('type', 'Error')}: {error.get('message', '')}"
            lines.append(f"  {address:<28}{w.get('state', '?'):<10}{detail}".rstrip())
        if not c.get("catch_up_complete", True):
            lines.append("  (the catch-up log outgrew max_bytes: workers joining now start stale)")
    return "\n".join(lines)
