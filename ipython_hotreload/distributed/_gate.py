"""The gate between a worker's tasks and a hot reload applied on that worker.

Dask runs tasks in the threads of the worker's executor. A reload that patched a module
while a task is half-way through it would let that task see old code in one call and new
code in the next. So a worker applies a batch *between tasks*: the reload waits for the
tasks already running to finish (at most ``drain`` seconds) while tasks that would start
wait for it; once the reload has run, the waiting tasks start on the new code. A task that
runs longer than ``drain`` does not hold reloads back for ever: the reload then goes ahead,
and the calls that long task makes from then on run the new code (a frame already running
finishes the code it started with, as in the kernel).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

__all__ = ["GatedThreadPoolExecutor", "TaskGate"]

P = ParamSpec("P")
T = TypeVar("T")


class TaskGate:
    """Tasks enter and leave; a reload waits for the room to empty (bounded) and keeps new
    tasks out while it runs."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._running = 0
        self._reloading = False

    @property
    def running(self) -> int:
        """How many tasks are inside the gate now."""
        return self._running

    @property
    def reloading(self) -> bool:
        """Whether a reload holds the gate (or waits for running tasks to finish)."""
        return self._reloading

    @contextmanager
    def task(self) -> Iterator[None]:
        """Run one task: wait while a reload holds the gate."""
        with self._cond:
            while self._reloading:
                self._cond.wait()
            self._running += 1
        try:
            yield
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify_all()

    @contextmanager
    def reload(self, drain: float) -> Iterator[int]:
        """Hold the gate for one reload; yields how many tasks were still running when the
        ``drain`` seconds for them ran out (0: the reload runs between tasks)."""
        deadline = time.monotonic() + max(drain, 0.0)
        with self._cond:
            while self._reloading:  # one reload at a time (the applier is one thread anyway)
                self._cond.wait()
            self._reloading = True
            while self._running:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            still_running = self._running
        try:
            yield still_running
        finally:
            with self._cond:
                self._reloading = False
                self._cond.notify_all()


class GatedThreadPoolExecutor(Executor):
    # The name matters: a Dask worker runs a task with its context (get_worker(), the task's
    # thread state) only when "ThreadPoolExecutor" is in the name of its executor's type.
    """Wraps a worker's executor so that each task it runs passes through a :class:`TaskGate`;
    everything else (shutdown, the thread pool's own attributes) goes to the wrapped one."""

    def __init__(self, inner: Executor, gate: TaskGate) -> None:
        self.inner = inner
        self.gate = gate

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Submit ``fn`` to the wrapped executor; it runs once the gate lets it in."""
        gate = self.gate

        def gated() -> T:
            with gate.task():
                return fn(*args, **kwargs)

        return self.inner.submit(gated)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Shut the wrapped executor down."""
        self.inner.shutdown(wait=wait, cancel_futures=cancel_futures)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)
