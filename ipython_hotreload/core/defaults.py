"""The default :class:`~.engine.HotReloader` and the module-level functions acting on it.

The default reloader is made on first use, with the working directory of that moment as
its root (SPEC §1); the extension may replace it (``%load_ext`` in another directory).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from ipython_hotreload.core.engine import HotReloader
from ipython_hotreload.core.results import ReloadResult

__all__ = [
    "compile_dep_edges",
    "default_made_on_first_use",
    "default_reloader",
    "history",
    "peek_default_reloader",
    "purge_module",
    "reload",
    "reload_definition",
    "set_default_reloader",
    "source_of",
    "undo",
]

_default: HotReloader | None = None
_made_on_first_use = False  # the default was made by default_reloader(), not set by hand
_default_lock = threading.Lock()


def default_reloader() -> HotReloader:
    """The process's default :class:`HotReloader`, made on first use (roots: the cwd)."""
    global _default, _made_on_first_use
    with _default_lock:
        if _default is None:
            _default = HotReloader()
            _made_on_first_use = True
        return _default


def default_made_on_first_use() -> bool:
    """Was the default reloader (if any) made on first use, rather than set by hand with
    :func:`set_default_reloader`?"""
    with _default_lock:
        return _default is not None and _made_on_first_use


def peek_default_reloader() -> HotReloader | None:
    """The default reloader if one has been made, else None (making none)."""
    with _default_lock:
        return _default


def set_default_reloader(reloader: HotReloader | None) -> None:
    """Replace (or with None, forget) the default reloader."""
    global _default, _made_on_first_use
    with _default_lock:
        if _default is not None and _default is not reloader:
            _default.close()
            _made_on_first_use = False
        _default = reloader


def reload(
    path: str | os.PathLike[str], content: str | bytes, *, format: bool = True
) -> ReloadResult:
    """:meth:`HotReloader.reload` on the default reloader."""
    return default_reloader().reload(path, content, format=format)


def purge_module(mod: str | ModuleType) -> None:
    """:meth:`HotReloader.purge_module` on the default reloader."""
    default_reloader().purge_module(mod)


def compile_dep_edges(*, labels: Iterable[str] | None = None) -> list[dict[str, str]]:
    """:meth:`HotReloader.compile_dep_edges` on the default reloader."""
    return default_reloader().compile_dep_edges(labels=labels)


def reload_definition(
    target: str, content: str, *, format: bool = True, expected_hash: str | None = None
) -> ReloadResult:
    """:meth:`HotReloader.reload_definition` on the default reloader."""
    return default_reloader().reload_definition(
        target, content, format=format, expected_hash=expected_hash
    )


def source_of(target: str) -> dict[str, Any]:
    """:meth:`HotReloader.source_of` on the default reloader."""
    return default_reloader().source_of(target)


def history() -> list[dict[str, Any]]:
    """:meth:`HotReloader.history` on the default reloader."""
    return default_reloader().history()


def undo(steps: int = 1, *, force: bool = False) -> ReloadResult:
    """:meth:`HotReloader.undo` on the default reloader."""
    return default_reloader().undo(steps, force=force)
