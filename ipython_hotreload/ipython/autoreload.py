"""Living beside IPython's ``%autoreload``.

``%autoreload`` re-imports a module whose file is newer than the mtime it recorded. A file we
have just written and reloaded in place is newer, so without help autoreload would reload it
again on the next cell, re-running module code and replacing the objects we patched in place.
After each of our writes and reloads we tell its reloader that it has seen the file: the
recorded mtime becomes the file's mtime, and (IPython 9's ``deduperreload``) the source it
diffs against becomes the text now running.
"""

from __future__ import annotations

import logging
import os
import sys
import tokenize
from typing import Any

from ipython_hotreload.core.events import ModuleEvent, Subscription, subscribe

__all__ = ["AutoreloadSync", "autoreload_reloader"]

log = logging.getLogger(__name__)


def autoreload_reloader(shell: Any) -> Any | None:
    """IPython's autoreload ``ModuleReloader`` in ``shell``, or None when it is not loaded."""
    manager = getattr(shell, "magics_manager", None)
    registry = getattr(manager, "registry", None)
    if not isinstance(registry, dict):
        return None
    # dict.get, not []: IPython's registry loads lazily declared magics on a missing key.
    magics = dict.get(registry, "AutoreloadMagics")
    return getattr(magics, "_reloader", None)


class AutoreloadSync:
    """Keep autoreload's bookkeeping in step with the files this package writes and reloads."""

    def __init__(self, shell: Any) -> None:
        self._shell = shell
        self._subscription: Subscription | None = None

    def start(self) -> None:
        """Start listening to events."""
        if self._subscription is None:
            self._subscription = subscribe(
                self._on_event, kinds=["source_written", "recompiled", "compile_failed"]
            )

    def close(self) -> None:
        """Stop listening."""
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None

    def _on_event(self, event: ModuleEvent) -> None:
        reloader = autoreload_reloader(self._shell)
        if reloader is None or not event.mod or not event.path:
            return
        try:
            mtime = os.stat(event.path).st_mtime
        except OSError:
            return
        # A failed compile leaves the new text on disk and the old code running: autoreload
        # must not load that text behind our back either, so every event records the mtime.
        mtimes = getattr(reloader, "modules_mtimes", None)
        if isinstance(mtimes, dict):
            mtimes[event.mod] = max(mtime, mtimes.get(event.mod, 0.0))
        failed = getattr(reloader, "failed", None)
        if isinstance(failed, dict):
            failed.pop(event.path, None)
        if event.kind == "recompiled":
            self._record_running_source(reloader, event.mod, event.path)

    @staticmethod
    def _record_running_source(reloader: Any, mod: str, path: str) -> None:
        # deduperreload diffs a module's file against the source it saw last; after our
        # reload the running code is the file's text, so that is its new baseline.
        deduper = getattr(reloader, "deduper_reloader", None)
        sources = getattr(deduper, "source_by_modname", None)
        if not isinstance(sources, dict) or mod not in sys.modules:
            return
        try:
            with tokenize.open(path) as f:
                sources[mod] = f.read()
        except (OSError, SyntaxError, UnicodeDecodeError) as exc:
            log.debug("could not read %s for autoreload's source record: %s", path, exc)
