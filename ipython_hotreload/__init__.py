"""ipython_hotreload: edit a module in a running kernel and keep every reference live.

>>> import ipython_hotreload as hr, pathlib, sys, tempfile
>>> root = pathlib.Path(tempfile.mkdtemp()); sys.path.insert(0, str(root))
>>> _ = (root / "greet.py").write_text("def hello():\\n    return 'hi'\\n")
>>> import greet; hello = greet.hello            # a reference held the way a notebook holds it
>>> reloader = hr.HotReloader(roots=[root], formatter=None)
>>> kinds = []
>>> sub = hr.subscribe(lambda event: kinds.append(event.kind))
>>> result = reloader.reload(root / "greet.py", "def hello(name='you'):\\n    return 'hi ' + name\\n")
>>> hello(), kinds
('hi you', ['source_written', 'recompiled'])
>>> [(f["name"], f["signature"]) for f in result["recompiled"][0]["functions"]]
[('hello', "(name='you')")]
>>> sub.close()

The module-level functions act on one default :class:`HotReloader`, made on first use with
the working directory of that moment as its root.
"""

from __future__ import annotations

from typing import Any

from ipython_hotreload.core.engine import (
    HotReloader,
    compile_dep_edges,
    default_reloader,
    purge_module,
    reload,
    set_default_reloader,
)
from ipython_hotreload.core.events import ModuleEvent, Subscription, subscribe
from ipython_hotreload.errors import (
    HotReloadError,
    ReloadError,
    SourceWriteError,
    UnsafePathError,
)

__version__ = "0.1.0"

__all__ = [
    "HotReloadError",
    "HotReloader",
    "ModuleEvent",
    "ReloadError",
    "SourceWriteError",
    "Subscription",
    "UnsafePathError",
    "attach_dask",
    "compile_dep_edges",
    "default_reloader",
    "detach_dask",
    "load_ipython_extension",
    "purge_module",
    "reload",
    "set_default_reloader",
    "subscribe",
    "unload_ipython_extension",
]


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext ipython_hotreload``: register the magics, the comm target and the config."""
    from ipython_hotreload.ipython.extension import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext ipython_hotreload``: remove everything :func:`load_ipython_extension` added."""
    from ipython_hotreload.ipython.extension import unload

    unload(ipython)


def attach_dask(client: Any = None, **options: Any) -> None:
    """Apply every successful reload on every worker of a Dask cluster (SPEC 2.4)."""
    from ipython_hotreload.distributed import attach_dask as attach

    attach(client, **options)


def detach_dask(client: Any = None) -> None:
    """Stop applying reloads on the workers of ``client``'s cluster (None: every cluster)."""
    from ipython_hotreload.distributed import detach_dask as detach

    detach(client)
