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

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Each public name and the module that defines it. Nothing is imported until a name is
# first used, so ``import ipython_hotreload`` (and the client, an editor plugin's import)
# loads neither the engine nor astroid. A new public name is one line here, and its import
# under TYPE_CHECKING below for type checkers (a test keeps the two the same).
_EXPORTS: dict[str, str] = {
    "ConflictError": "ipython_hotreload.errors",
    "HotReloadError": "ipython_hotreload.errors",
    "HotReloader": "ipython_hotreload.core.engine",
    "ModuleEvent": "ipython_hotreload.core.events",
    "ReloadError": "ipython_hotreload.errors",
    "SourceWriteError": "ipython_hotreload.errors",
    "Subscription": "ipython_hotreload.core.events",
    "UnsafePathError": "ipython_hotreload.errors",
    "compile_dep_edges": "ipython_hotreload.core.defaults",
    "attach_dask": "ipython_hotreload.distributed",
    "default_reloader": "ipython_hotreload.core.defaults",
    "detach_dask": "ipython_hotreload.distributed",
    "history": "ipython_hotreload.core.defaults",
    "reload_definition": "ipython_hotreload.core.defaults",
    "source_of": "ipython_hotreload.core.defaults",
    "undo": "ipython_hotreload.core.defaults",
    "purge_module": "ipython_hotreload.core.defaults",
    "reload": "ipython_hotreload.core.defaults",
    "set_default_reloader": "ipython_hotreload.core.defaults",
    "subscribe": "ipython_hotreload.core.events",
}

if TYPE_CHECKING:
    from ipython_hotreload.core.defaults import compile_dep_edges as compile_dep_edges
    from ipython_hotreload.core.defaults import default_reloader as default_reloader
    from ipython_hotreload.core.defaults import history as history
    from ipython_hotreload.core.defaults import purge_module as purge_module
    from ipython_hotreload.core.defaults import reload as reload
    from ipython_hotreload.core.defaults import reload_definition as reload_definition
    from ipython_hotreload.core.defaults import set_default_reloader as set_default_reloader
    from ipython_hotreload.core.defaults import source_of as source_of
    from ipython_hotreload.core.defaults import undo as undo
    from ipython_hotreload.core.engine import HotReloader as HotReloader
    from ipython_hotreload.core.events import ModuleEvent as ModuleEvent
    from ipython_hotreload.core.events import Subscription as Subscription
    from ipython_hotreload.core.events import subscribe as subscribe
    from ipython_hotreload.distributed import attach_dask as attach_dask
    from ipython_hotreload.distributed import detach_dask as detach_dask
    from ipython_hotreload.errors import ConflictError as ConflictError
    from ipython_hotreload.errors import HotReloadError as HotReloadError
    from ipython_hotreload.errors import ReloadError as ReloadError
    from ipython_hotreload.errors import SourceWriteError as SourceWriteError
    from ipython_hotreload.errors import UnsafePathError as UnsafePathError

__all__ = sorted([*_EXPORTS, "load_ipython_extension", "unload_ipython_extension"])


def __getattr__(name: str) -> Any:
    """Resolve a public name on first use (PEP 562) and keep it, so the next use is direct."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names too, though they are not imported yet."""
    return sorted({*globals(), *_EXPORTS})


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext ipython_hotreload``: register the magics, the comm target and the config."""
    from ipython_hotreload.ipython.extension import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext ipython_hotreload``: remove everything :func:`load_ipython_extension` added."""
    from ipython_hotreload.ipython.extension import unload

    unload(ipython)
