"""Hot reload across a Dask cluster: every reload in the kernel applies on every worker.

>>> from distributed import Client, LocalCluster          # doctest: +SKIP
>>> client = Client(LocalCluster(n_workers=2))           # doctest: +SKIP
>>> import ipython_hotreload as hr                        # doctest: +SKIP
>>> hr.attach_dask(client)                                # doctest: +SKIP
>>> hr.reload("shop/prices.py", new_text)["workers"]     # doctest: +SKIP
{'ok': 2, 'failed': []}

The kernel side (:mod:`._link`) ships each committed batch; the worker side
(:mod:`._plugin`) applies it with the worker's own reloader, between tasks (:mod:`._gate`).
This package imports ``distributed``; the core never does. Without ``distributed``
installed, :func:`attach_dask` raises a :class:`HotReloadError` saying how to get it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ipython_hotreload.errors import HotReloadError

if TYPE_CHECKING:
    from ipython_hotreload.core.engine import HotReloader
    from ipython_hotreload.distributed._link import ClusterLink
    from ipython_hotreload.distributed._wire import Filesystem

__all__ = ["INSTALL_HINT", "attach_dask", "attached", "cluster_status", "detach_dask"]

INSTALL_HINT = "pip install 'ipython_hotreload[dask]'"

_links: dict[str, ClusterLink] = {}
_links_lock = threading.Lock()


def _require_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise HotReloadError(
            f"hot reload on a Dask cluster needs the distributed package ({exc}): {INSTALL_HINT}"
        ) from None
    return distributed


def attach_dask(
    client: Any = None,
    *,
    reloader: HotReloader | None = None,
    timeout: float = 10.0,
    filesystem: Filesystem = "auto",
    max_bytes: int | None = None,
) -> None:
    """Make every successful reload of ``reloader`` (the default one) apply on every worker
    of ``client``'s cluster (the current client by default), now and when workers join.

    ``timeout`` bounds how long a reload waits for the workers; ``filesystem`` is ``"auto"``
    (detect, per directory, whether a worker sees the kernel's files), ``"shared"`` or
    ``"private"``; ``max_bytes`` bounds what one reload ships. Attaching the same cluster
    again replaces the previous attachment's settings.
    """
    distributed = _require_distributed()
    from ipython_hotreload.core.defaults import default_reloader
    from ipython_hotreload.distributed._link import ClusterLink
    from ipython_hotreload.distributed._wire import DEFAULT_MAX_BYTES

    if client is None:
        try:
            client = distributed.get_client()
        except ValueError:
            raise HotReloadError(
                "no Dask client here: make one first (distributed.Client(...)) or pass it"
            ) from None
    if not isinstance(client, distributed.Client):
        raise TypeError(f"attach_dask() needs a distributed.Client, not {type(client).__name__}")
    if not timeout > 0:
        raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
    if filesystem not in ("auto", "shared", "private"):
        raise ValueError(f"filesystem must be 'auto', 'shared' or 'private', not {filesystem!r}")
    link = ClusterLink(
        client,
        reloader or default_reloader(),
        timeout=float(timeout),
        filesystem=filesystem,
        max_bytes=max_bytes or DEFAULT_MAX_BYTES,
    )
    with _links_lock:
        previous = _links.pop(link.scheduler, None)
        if previous is not None:
            previous.stop()
        link.start()
        _links[link.scheduler] = link


def detach_dask(client: Any = None) -> None:
    """Stop shipping reloads to ``client``'s cluster (None: to every attached cluster). The
    workers keep the code they have."""
    with _links_lock:
        if client is None:
            links = list(_links.values())
            _links.clear()
        else:
            address = str(client.scheduler.address)
            link = _links.pop(address, None)
            links = [link] if link is not None else []
    for link in links:
        link.stop()


def attached() -> list[str]:
    """The scheduler addresses of the attached clusters."""
    with _links_lock:
        return sorted(_links)


def cluster_status(*, ask: bool = True) -> list[dict[str, Any]]:
    """Each attached cluster's state and its workers' (asking them when ``ask``)."""
    with _links_lock:
        links = list(_links.values())
    return [link.status(ask=ask) for link in links]
