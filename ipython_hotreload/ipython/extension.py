"""``%load_ext ipython_hotreload``: wire the magics, the comm target, the ``HotReload``
configuration and the ``%autoreload`` bridge into a shell, and take all of it out again.

What a load creates hangs off the registered :class:`~.magics.HotReloadMagics` instance, so
the shell itself records whether the extension is loaded: loading twice finds it there and
does nothing, and unloading finds everything it has to close.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ipython_hotreload.ipython.autoreload import AutoreloadSync
from ipython_hotreload.ipython.comm import CommChannel
from ipython_hotreload.ipython.config import HotReload
from ipython_hotreload.ipython.magics import HotReloadMagics

__all__ = ["Extension", "load", "loaded", "unload"]


@dataclass
class Extension:
    """Everything one ``%load_ext`` put into a shell."""

    magics: HotReloadMagics
    settings: HotReload
    channel: CommChannel
    autoreload_sync: AutoreloadSync


def loaded(shell: Any) -> Extension | None:
    """The extension loaded in ``shell``, or None."""
    # dict.get, not []: IPython's registry loads lazily declared magics on a missing key.
    magics = dict.get(shell.magics_manager.registry, HotReloadMagics.__name__)
    extension = getattr(magics, "extension", None)
    return extension if isinstance(extension, Extension) else None


def load(shell: Any) -> None:
    """Register the magics, the comm target and the configuration (idempotent)."""
    if loaded(shell) is not None:
        return
    settings = HotReload(parent=shell)
    magics = HotReloadMagics(shell, settings.reloader)
    extension = Extension(magics, settings, CommChannel(settings.reloader), AutoreloadSync(shell))
    magics.extension = extension
    shell.configurables.append(settings)
    settings.reloader()  # apply ipython_config.py settings now, not on first use
    extension.channel.open()
    extension.autoreload_sync.start()
    shell.register_magics(magics)


def unload(shell: Any) -> None:
    """Remove the magics, the comm target, the configuration and every subscription, and
    stop watching files."""
    extension = loaded(shell)
    if extension is None:
        return
    # A watcher would go on reloading (and hooking cells) with no magic left to stop it.
    extension.settings.reloader().stop_watching()
    manager = shell.magics_manager
    for table in manager.magics.values():
        for name, func in list(table.items()):
            if getattr(func, "__self__", None) is extension.magics:
                del table[name]
    dict.pop(manager.registry, HotReloadMagics.__name__, None)
    extension.channel.close()
    extension.autoreload_sync.close()
    # Magics() appends itself to shell.configurables, as HotReload was appended by load().
    for configurable in (extension.settings, extension.magics):
        if configurable in shell.configurables:
            shell.configurables.remove(configurable)
    extension.magics.extension = None
