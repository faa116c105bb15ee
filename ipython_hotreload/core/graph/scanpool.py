"""Scanning many files at once: the files of a cold build shared between this process and
worker processes, one per spare CPU, each running :mod:`~ipython_hotreload.core.graph.treescan` as a
script.

Parsing holds the GIL, so threads cannot share it out; processes can. The files go out in
chunks of a few dozen from one queue, and whoever is free takes the next one: this process
scans too, a worker that starts late or runs on a busy CPU takes fewer chunks, and a worker
that cannot start, dies, stalls, or answers from another interpreter or another version of
the scanner leaves its chunks to this process. Each worker has a thread here that keeps two
requests in its pipe (so it never waits for this process, which holds the GIL while it
parses) and keeps the answers as bytes until the end. Builds under :data:`MIN_BYTES` start no
worker: starting one costs about as much as parsing a few hundred kilobytes.

The results do not depend on who scanned a file: the same code in the same interpreter, and a
worker leaves to this process every file it cannot read or whose parse warns (whether a
warning is an error is for this process's warnings filters to say).
"""

from __future__ import annotations

import contextlib
import gc
import logging
import marshal
import os
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ipython_hotreload.core.graph import treescan
from ipython_hotreload.core.graph.treescan import (
    ASK_AGAIN,
    PROTOCOL,
    Result,
    frame,
    read_message,
    scan_chunk,
    scan_file,
)

__all__ = [
    "MIN_BYTES",
    "ScanReport",
    "available_workers",
    "chunks",
    "gc_paused",
    "scan_files",
]

log = logging.getLogger(__name__)

MIN_BYTES = 384 << 10  # below this much source, one process is faster
BYTES_PER_WORKER = 256 << 10  # and another worker only pays off for this much more
MAX_WORKERS = 4
CHUNK_FILES = 32
CHUNK_BYTES = 64 << 10
IN_FLIGHT = 2  # requests waiting in each worker's pipe
# Once this process has run out of chunks, the workers have this long, together, to answer
# the ones they hold (a few hundred kilobytes: well under a second) before they are dropped.
STALL_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class ScanReport:
    """What :func:`scan_files` found, and who did the work."""

    results: list[Result]  # one per path, in order
    workers: int = 0  # worker processes whose answers were used
    worker_files: int = 0  # files they scanned (the rest were scanned here)


@contextlib.contextmanager
def gc_paused(pause: bool = True) -> Iterator[None]:
    """Pause the cyclic garbage collector while parsing many files: syntax trees hold no
    cycles (reference counting frees them), yet their allocations would set off collections
    that walk the whole heap of the kernel again and again."""
    if not pause or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def python() -> str | None:
    """The interpreter a worker runs in: ``sys.executable``, unless it is not a Python (an
    application that embeds one names itself there) or the scanner on disk is no longer
    the one this process imported (an upgrade or an edit since)."""
    exe = sys.executable or ""
    if not os.path.basename(exe).lower().startswith(("python", "pypy")):
        return None
    if not treescan.on_disk_as_loaded():
        return None
    return exe


def cpu_quota(cpu_max: str) -> int | None:
    """The CPUs a cgroup v2 ``cpu.max`` line allows (``"200000 100000"`` -> 2), rounded up;
    None for no limit (``"max ..."``) or a line that is not one."""
    parts = cpu_max.split()
    if len(parts) != 2 or not all(p.isdigit() for p in parts) or not int(parts[1]):
        return None
    return max(1, -(-int(parts[0]) // int(parts[1])))


def available_workers() -> int:
    """How many worker processes a big build may start: the CPUs this process may run on
    (its affinity, and a container's CPU quota), less its own, at most :data:`MAX_WORKERS`;
    0 when :func:`python` says there is no interpreter to start."""
    if python() is None:
        return 0
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    try:
        with open("/sys/fs/cgroup/cpu.max") as fh:
            quota = cpu_quota(fh.read())
    except OSError:
        quota = None
    if quota is not None:
        cpus = min(cpus, quota)
    return max(0, min(cpus - 1, MAX_WORKERS))


def chunks(sizes: Sequence[int]) -> list[tuple[int, int]]:
    """Index ranges ``[start, end)`` over files of these sizes: at most :data:`CHUNK_FILES`
    files each, and a chunk ends with the file that brings it to :data:`CHUNK_BYTES`."""
    out: list[tuple[int, int]] = []
    start = 0
    while start < len(sizes):
        end, budget = start, 0
        while (
            end < len(sizes)
            and end - start < CHUNK_FILES
            and (budget < CHUNK_BYTES or end == start)
        ):
            budget += max(sizes[end], 0)
            end += 1
        out.append((start, end))
        start = end
    return out


def scan_files(
    paths: Sequence[str], sizes: Sequence[int], *, workers: int | None = None
) -> ScanReport:
    """:func:`~ipython_hotreload.core.graph.treescan.scan_file` of every path (``sizes``: their last
    stat), in that order, with at most ``workers`` worker processes (None: as many as
    :func:`available_workers` allows and the amount of source pays for; 0: none). Workers
    start only where :func:`python` finds an interpreter for them."""
    total = sum(max(s, 0) for s in sizes)
    if workers is None:
        workers = min(available_workers(), total // BYTES_PER_WORKER) if total >= MIN_BYTES else 0
    elif python() is None:
        workers = 0
    queue = _Queue(chunks(sizes))
    results: list[Result | None] = [None] * len(paths)
    pool = [_Worker(queue, paths, sizes) for _ in range(min(workers, len(queue.chunks) - 1))]
    used = worker_files = 0
    try:
        for w in pool:
            w.start()
        with gc_paused():
            while (chunk := queue.take()) is not None:
                _scan_here(paths, sizes, chunk, results)
            deadline = time.monotonic() + STALL_SECONDS
            for w in pool:
                w.finish(deadline)
            for w in pool:  # what workers answered, then what they left
                answered = 0
                for chunk, answer in w.answers:
                    found = _decode(answer, chunk[1] - chunk[0])
                    if found is None:
                        _scan_here(paths, sizes, chunk, results)
                        continue
                    for k, result in enumerate(found, chunk[0]):
                        if result == ASK_AGAIN:
                            result = scan_file(paths[k], None, sizes[k])
                        else:
                            answered += 1
                        results[k] = result
                for chunk in w.undone:
                    _scan_here(paths, sizes, chunk, results)
                used += bool(answered)
                worker_files += answered
    finally:
        for w in pool:
            w.close()
    assert all(r is not None for r in results)
    return ScanReport(results, used, worker_files)  # type: ignore[arg-type]  # all filled


def _scan_here(
    paths: Sequence[str], sizes: Sequence[int], chunk: tuple[int, int], results: list[Result | None]
) -> None:
    start, end = chunk
    results[start:end] = scan_chunk([(paths[k], sizes[k]) for k in range(start, end)])


def _decode(answer: bytes, files: int) -> list[Result] | None:
    """A worker's answer for a chunk of ``files`` files (None: not one)."""
    try:
        found = marshal.loads(answer)
    except (ValueError, EOFError, TypeError):
        found = None
    if (
        isinstance(found, list)
        and len(found) == files
        and all(type(r) is tuple and len(r) == 2 for r in found)
    ):
        return found
    log.debug("a scan worker answered %d files with %.80r", files, found)
    return None


class _Queue:
    """The chunks not yet taken, for this process and the workers' threads."""

    def __init__(self, chunks: list[tuple[int, int]]) -> None:
        self.chunks = chunks
        self._next = 0
        self._lock = threading.Lock()

    def take(self) -> tuple[int, int] | None:
        with self._lock:
            if self._next == len(self.chunks):
                return None
            self._next += 1
            return self.chunks[self._next - 1]


class _Worker:
    """One worker process and the thread here that feeds it."""

    def __init__(self, queue: _Queue, paths: Sequence[str], sizes: Sequence[int]) -> None:
        self._queue, self._paths, self._sizes = queue, paths, sizes
        self.answers: list[tuple[tuple[int, int], bytes]] = []  # chunk -> marshalled results
        self.undone: list[tuple[int, int]] = []  # chunks taken but not answered
        self._proc: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        exe = python()
        if exe is None:
            return
        cmd = [exe, "-I", "-S", "-B", os.path.abspath(treescan.__file__)]
        try:
            self._proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                # Not in the kernel's process group: an interrupt meant for a cell must not
                # kill the workers of a build the watcher thread runs (this process ends its
                # own workers when it is interrupted). No console window on Windows.
                start_new_session=os.name == "posix",
                creationflags=getattr(subprocess, "CREATE_NO_WINDOW", 0),
            )
        except (OSError, ValueError) as exc:
            log.debug("no scan worker: %s", exc)
            return
        self._thread = threading.Thread(target=self._feed, name="hotreload-scan", daemon=True)
        self._thread.start()

    def _feed(self) -> None:
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        waiting: deque[tuple[int, int]] = deque()
        try:
            files = [(os.fsencode(p), s) for p, s in zip(self._paths, self._sizes, strict=True)]
            proc.stdin.write(frame(marshal.dumps(files)))
            for _ in range(IN_FLIGHT):
                self._send(proc, waiting)
            hello = read_message(proc.stdout)
            if hello is None:
                raise RuntimeError(f"the worker stopped at its start (exit code {proc.poll()})")
            if marshal.loads(hello) != (sys.hexversion, PROTOCOL):
                raise RuntimeError(f"the worker is another version ({marshal.loads(hello)})")
            while waiting:
                answer = read_message(proc.stdout)
                if answer is None:
                    raise RuntimeError(f"the worker stopped (exit code {proc.poll()})")
                self.answers.append((waiting.popleft(), answer))
                self._send(proc, waiting)
            proc.stdin.write(frame(marshal.dumps(None)))
            proc.stdin.close()
        except (OSError, ValueError, EOFError, TypeError, RuntimeError) as exc:
            # it could not start, died or answered nonsense: this process scans what is left
            log.debug("scan worker dropped: %s", exc)
        finally:
            self.undone.extend(waiting)

    def _send(self, proc: subprocess.Popen[bytes], waiting: deque[tuple[int, int]]) -> None:
        chunk = self._queue.take()
        if chunk is None:
            return
        waiting.append(chunk)  # before the write: a failed one is undone
        assert proc.stdin is not None
        proc.stdin.write(frame(marshal.dumps(chunk)))
        proc.stdin.flush()

    def finish(self, deadline: float) -> None:
        """Wait until ``deadline`` (a ``time.monotonic()``) for the chunks the worker holds,
        then kill it if it has not answered them."""
        if self._thread is None:
            return
        self._thread.join(max(0.0, deadline - time.monotonic()))
        if self._thread.is_alive():
            log.warning("a scan worker stalled; scanning its files here")
            self.close()
            self._thread.join()

    def close(self) -> None:
        """End the worker: it has its stop message, or it is killed."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            told = proc.stdin is None or proc.stdin.closed
            try:
                proc.wait(0.5 if told else 0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if self._thread is not None:
            self._thread.join(5.0)  # it reads the end of the worker's output and stops
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
