"""``%load_ext ipython_hotreload``: wire the magics, the comm target, the ``HotReload``
configuration, the ``%autoreload`` bridge and the cell gate into a shell, and take all of
it out again.

The cell gate (:class:`~ipython_hotreload.core.cells.CellGate`) is how the reloader knows
that a cell is running (SPEC §2.5): the shell's ``pre_run_cell`` and ``post_run_cell``
events feed it (a few microseconds a cell); reloads from other threads read it.

What a load creates hangs off the registered :class:`~.magics.HotReloadMagics` instance, so
the shell itself records whether the extension is loaded: loading twice finds it there and
does nothing, and unloading finds everything it has to close.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Any

from ipython_hotreload.core.cells import CellGate
from ipython_hotreload.core.defaults import (
    default_made_on_first_use,
    peek_default_reloader,
    set_default_reloader,
)
from ipython_hotreload.core.engine import HotReloader
from ipython_hotreload.ipython.autoreload import AutoreloadSync
from ipython_hotreload.ipython.comm import CommChannel
from ipython_hotreload.ipython.config import HotReload
from ipython_hotreload.ipython.magics import HotReloadMagics
from ipython_hotreload.ipython.oldframes import OldFrames
from ipython_hotreload.widgets import RecordHold, clear_running_old, record_reloads

__all__ = ["Extension", "load", "loaded", "unload"]

log = logging.getLogger(__name__)

_WARM_UP_WAIT = 60.0  # seconds an unload waits for the warm-up (a graph build) to finish


@dataclass
class Extension:
    """Everything one ``%load_ext`` put into a shell."""

    magics: HotReloadMagics
    settings: HotReload
    channel: CommChannel
    autoreload_sync: AutoreloadSync
    gate: CellGate
    #: The default reloader this load uses, when no one set it by hand (made by this load,
    #: or on first use of the module-level API): unload forgets it, so a later load in
    #: another directory starts afresh there (its roots, graph and pending state).
    owned: HotReloader | None = None
    #: Set once the warm-up thread has finished (the first reload then costs what any costs).
    warmed_up: threading.Event = field(default_factory=threading.Event)
    #: Keeps each module's last events for panels opened later (released on unload).
    panel_record: RecordHold | None = None
    #: Takes the panels' "running the old version" marks off once those calls return.
    old_frames: OldFrames | None = None


def loaded(shell: Any) -> Extension | None:
    """The extension loaded in ``shell``, or None."""
    # dict.get, not []: IPython's registry loads lazily declared magics on a missing key.
    magics = dict.get(shell.magics_manager.registry, HotReloadMagics.__name__)
    extension = getattr(magics, "extension", None)
    return extension if isinstance(extension, Extension) else None


def load(shell: Any) -> None:
    """Register the magics, the comm target and the configuration (idempotent), and warm the
    reloader up in a background thread."""
    if loaded(shell) is not None:
        return
    # A default reloader set by hand is the user's; one made on first use (by the module
    # API, say `hr.reload`, before this load) only stood for the working directory then.
    by_hand = peek_default_reloader() is not None and not default_made_on_first_use()
    settings = HotReload(parent=shell)
    reloader = settings.reloader()  # apply ipython_config.py settings now, not on first use
    gate = settings.cells = CellGate(reloader.lock)
    settings.reloader()  # installs the gate
    magics = HotReloadMagics(shell, settings.reloader)
    channel = CommChannel(settings.reloader)
    extension = Extension(magics, settings, channel, AutoreloadSync(shell), gate)
    magics.extension = extension
    shell.configurables.append(settings)
    shell.events.register("pre_run_cell", gate.cell_started)
    shell.events.register("post_run_cell", gate.cell_ended)
    extension.owned = None if by_hand else reloader
    extension.channel.open()
    extension.autoreload_sync.start()
    extension.panel_record = record_reloads()
    extension.old_frames = OldFrames(lambda: settings.reloader().still_running(), clear_running_old)
    shell.register_magics(magics)
    _start_warm_up(reloader, extension.warmed_up)


def _start_warm_up(reloader: HotReloader, done: threading.Event) -> None:
    """Build the graph, import astroid and analyse once, off the main thread: the load
    returns at once, and the first ``%%hotreload`` waits only for what is not ready."""

    def run() -> None:
        try:
            reloader.warm_up()
        except Exception:
            # The first reload will do the same work, and say what fails, in its own cell.
            log.debug("hotreload: warming up failed", exc_info=True)
        finally:
            done.set()

    threading.Thread(target=run, name="hotreload-warm-up", daemon=True).start()


def unload(shell: Any) -> None:
    """Remove the magics, the comm target, the configuration and every subscription, and
    stop watching files."""
    extension = loaded(shell)
    if extension is None:
        return
    # The warm-up works on the reloader (and imports astroid): let it finish first, so no
    # thread of this extension outlives it.
    if not extension.warmed_up.wait(_WARM_UP_WAIT):
        log.warning("hotreload: the warm-up thread is still running after %s s", _WARM_UP_WAIT)
    # A watcher would go on reloading (and hooking cells) with no magic left to stop it.
    reloader = extension.settings.reloader()
    reloader.stop_watching()
    for event, hook in (
        ("pre_run_cell", extension.gate.cell_started),
        ("post_run_cell", extension.gate.cell_ended),
    ):
        if hook in shell.events.callbacks[event]:
            shell.events.unregister(event, hook)
    if reloader.rule.cells is extension.gate:
        reloader.rule.cells = None
    extension.settings.cells = None
    extension.gate.close()  # what waited for this very cell runs now
    manager = shell.magics_manager
    for table in manager.magics.values():
        for name, func in list(table.items()):
            if getattr(func, "__self__", None) is extension.magics:
                del table[name]
    dict.pop(manager.registry, HotReloadMagics.__name__, None)
    extension.channel.close()
    extension.autoreload_sync.close()
    if extension.panel_record is not None:
        extension.panel_record.release()
    if extension.old_frames is not None:
        extension.old_frames.close()
    # Magics() appends itself to shell.configurables, as HotReload was appended by load().
    for configurable in (extension.settings, extension.magics):
        if configurable in shell.configurables:
            shell.configurables.remove(configurable)
    extension.magics.extension = None
    if extension.owned is not None and peek_default_reloader() is extension.owned:
        set_default_reloader(None)  # closes it; the next load makes one for its directory
