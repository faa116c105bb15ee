"""Run watcher batches on the kernel's main thread, between cells.

A batch that runs statements of user modules must not run beside a cell (in another
thread) nor in the middle of one. (While a cell runs, the watcher first tries a batch in
its own thread holding statements back, SPEC §2.5: one that only patches functions is
applied there at once; the others come here, and wait for the cell.) The kernel's main thread runs a tornado/asyncio loop; a callback put
on it with ``add_callback`` (thread-safe) runs when the loop is free, which is never during a
synchronous cell. A cell with top-level ``await`` does yield to the loop, so the callback
also waits for the lock ipykernel (7+) holds around each shell message; with an older
ipykernel, which has no such lock, a callback that finds a cell running is put off until
the cell has finished (IPython's ``post_run_cell``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

__all__ = ["KernelScheduler", "kernel_scheduler"]

log = logging.getLogger(__name__)


class KernelScheduler:
    """``schedule(fn)`` for a :class:`~ipython_hotreload.core.changes.watch.Watcher`: run ``fn()`` on
    the kernel's main loop, never while a cell runs."""

    def __init__(self, io_loop: Any, *, lock: asyncio.Lock | None = None, shell: Any = None):
        self._io_loop = io_loop
        self._lock = lock
        self._shell = shell
        self._closed = False
        self._busy = False  # a cell is running (only tracked when there is no lock)
        self._deferred: list[Callable[[], None]] = []
        self._hooked = False
        if lock is None and shell is not None and hasattr(shell, "events"):
            shell.events.register("pre_run_cell", self._pre_run_cell)
            shell.events.register("post_run_cell", self._post_run_cell)
            self._hooked = True

    def __call__(self, fn: Callable[[], None]) -> None:
        """Queue ``fn`` on the main loop (callable from any thread)."""
        if not self._closed:
            self._io_loop.add_callback(self._run, fn)

    def close(self) -> None:
        """Drop queued work and take the cell hooks out of the shell."""
        self._closed = True
        self._deferred.clear()
        if self._hooked:
            self._hooked = False
            for name, hook in (
                ("pre_run_cell", self._pre_run_cell),
                ("post_run_cell", self._post_run_cell),
            ):
                try:
                    self._shell.events.unregister(name, hook)
                except ValueError:
                    log.debug("the %s hook was already gone", name)

    async def _run(self, fn: Callable[[], None]) -> None:
        if self._closed:
            return
        if self._lock is not None:
            async with self._lock:
                if not self._closed:
                    fn()
            return
        if self._busy:
            self._deferred.append(fn)
            return
        fn()

    def _pre_run_cell(self, info: object = None) -> None:
        self._busy = True

    def _post_run_cell(self, result: object = None) -> None:
        self._busy = False
        deferred, self._deferred = self._deferred, []
        for fn in deferred:
            # Through the loop, not here: post_run_cell still runs inside the cell.
            self(fn)


def kernel_scheduler(ip: Any) -> KernelScheduler | None:
    """A scheduler onto the main loop of the kernel running shell ``ip``; None outside a
    kernel (a terminal IPython), where batches run in the watcher thread."""
    kernel = getattr(ip, "kernel", None)
    io_loop = getattr(kernel, "io_loop", None)
    if io_loop is None or not callable(getattr(io_loop, "add_callback", None)):
        return None
    lock = getattr(kernel, "_main_asyncio_lock", None)  # ipykernel >= 7
    return KernelScheduler(io_loop, lock=lock if isinstance(lock, asyncio.Lock) else None, shell=ip)
