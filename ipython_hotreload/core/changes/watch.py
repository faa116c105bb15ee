"""Watch mode: hot-reload project files that another editor changed.

A :class:`Watcher` owns one daemon thread around a ``watchfiles`` ``RustNotify`` (the Rust
``notify`` crate: inotify, FSEvents, ...). The thread only collects paths; it never touches
modules. Design:

- **Debounce.** Editors save in bursts (temp file then rename, several saves in a row) and a
  ``git checkout`` touches hundreds of files. The thread gathers relevant paths until none has
  changed for ``debounce_ms`` (capped, so a tool that never stops writing cannot starve the
  reload), then hands the whole set over as one batch: one ``reload_from_disk`` call, which
  orders the modules and applies them all or nothing.
- **State, not events.** A rename-over save reports the target as "added", a delete and
  recreate within the window reports both; so a batch looks at the files as they are *when
  it runs*: a path that exists changed, one that is gone was deleted.
- **Own writes.** The reloader remembers the sha256 of the text it last wrote or loaded at a
  path (``known_hash``); a changed file holding exactly that text is skipped, so a
  ``reload()`` made while watching is reported once.
- **Where batches run.** ``schedule(fn)`` arranges for ``fn()`` to run where executing user
  code is safe (the kernel's main thread between cells, see ``ipython/watch.py``); without
  one the batch runs in the watcher thread, serialised with every other reload by the
  engine's reload lock. A batch that arrives while another is still queued merges into it.
- **While a cell runs** (SPEC §2.5; the reloader knows through its ``rule.cell_running()``),
  a batch is first tried at once, in the watcher thread, holding back what may not run
  there (``reload_from_disk(..., at_once_only=True)``): one that only patches functions is
  applied now, so the running loop's next call runs the new code; one that must run
  statements changed nothing, was announced (``reload_waiting``) and is scheduled, to run
  after the cell. A batch arriving then whose files the waiting one does not hold is tried
  at once too; one that shares a file joins it (edits of one file apply in order).
- **Failures.** A batch that does not compile or execute is rolled back by the engine (which
  publishes ``compile_failed``); here it is printed once to stderr, never raised into
  someone else's cell, and its files are retried with the next batch. A failure of a batch
  tried at once while a cell runs is printed through ``schedule`` (after the cell), never
  from the watcher thread into the running cell's output. The file that failed is left
  out of later batches until its text changes, so one broken file does not hold up edits
  elsewhere.
- **Cost.** Nothing runs per cell. The thread wakes every few milliseconds inside Rust with
  the GIL released.

Past 400 lines on purpose: one :class:`Watcher`, whose watching thread and batches share its
state (pending paths, the queued flag, the files to retry, the broken ones) under one
condition variable; :class:`Reloads` is all it knows of the engine.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import os
import sys
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from ipython_hotreload.core.cells import CellRule, MustWait
from ipython_hotreload.core.graph.modulegraph import ModuleGraph
from ipython_hotreload.core.paths import SKIP_DIRS, in_skipped_dir, is_within
from ipython_hotreload.errors import HotReloadError, ReloadError

if TYPE_CHECKING:
    from watchfiles._rust_notify import RustNotify

__all__ = ["Batch", "Reloads", "Report", "Schedule", "Watcher", "is_watched_source"]

log = logging.getLogger(__name__)

Schedule = Callable[[Callable[[], None]], object]
"""``schedule(fn)`` arranges for ``fn()`` to run later on the right thread. It may have a
``close()`` method, called once when the watcher stops."""

Report = Callable[[str | None], object]
"""``report(text)``: one line saying why an edit made elsewhere did not reload, or ``None``
once a batch has reloaded again (the line's message is over). Default: printed to stderr."""

# How often the thread wakes while nothing is pending: the delay before a change is first
# seen. It sleeps inside Rust with the GIL released and holds the GIL for microseconds per
# wake-up, which costs a cell nothing measurable (benchmarks/watch.py).
_IDLE_STEP_MS = 10
# Finer steps while a batch is gathering, so the quiet period ends close to ``debounce_ms``.
_GATHER_STEP_MS = 5
# A batch is handed over after this long even if files keep changing (a generator that
# writes forever must not stall reloads), and at least this many multiples of the debounce.
_MAX_BATCH_MS = 2_000
_MAX_BATCH_DEBOUNCES = 10
_HISTORY = 64  # batches kept in Watcher.history, for tests and status displays


class Reloads(Protocol):
    """What a watcher needs of the reloader it feeds (``HotReloader`` is one): the engine
    imports the watcher, so the watcher knows the engine only by this shape."""

    @property
    def graph(self) -> ModuleGraph:
        """The project's module graph: a batch maps paths to modules through it and adds
        new files to it."""
        ...

    @property
    def lock(self) -> threading.RLock:
        """The lock every reload of the process holds; a batch takes it too."""
        ...

    def reload_from_disk(
        self,
        changed: Iterable[str | os.PathLike[str]],
        deleted: Iterable[str | os.PathLike[str]] = (),
        *,
        at_once_only: bool = False,
    ) -> Mapping[str, Any]:
        """Reload files that already hold their new text and purge deleted ones, as one batch
        (``at_once_only``: only what may apply at once from this thread, else raise
        :class:`~..cells.MustWait` having changed nothing)."""
        ...

    @property
    def rule(self) -> CellRule:
        """What a reload does while a cell runs (its ``cell_running()`` says whether one
        runs on another thread)."""
        ...

    def known_hash(self, path: str | os.PathLike[str]) -> str | None:
        """The sha256 of the text the reloader last wrote or ran at ``path``, if any."""
        ...


_live: weakref.WeakSet[Watcher] = weakref.WeakSet()


def is_watched_source(path: Path, base: Path) -> bool:
    """True for a ``.py`` file under ``base`` that an editor would save as source: not in a
    hidden or cache directory, not an editor or reloader temporary file."""
    name = path.name
    if not name.endswith(".py") or name.startswith(".") or name.startswith("flycheck_"):
        return False  # ".#x.py" (Emacs lock), "x.py~", ".x.py.swp", ".x.py.abc123.tmp"
    return not in_skipped_dir(path, base)


@dataclass(frozen=True)
class Batch:
    """What one batch did: the files reloaded, purged, only added to the graph, skipped as
    the reloader's own writes; the modules recompiled; the error, if it failed."""

    changed: tuple[Path, ...] = ()
    deleted: tuple[Path, ...] = ()
    added: tuple[Path, ...] = ()
    skipped: tuple[Path, ...] = ()
    recompiled: tuple[str, ...] = ()
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-serialisable dict of the same fields."""
        return {
            "changed": [str(p) for p in self.changed],
            "deleted": [str(p) for p in self.deleted],
            "added": [str(p) for p in self.added],
            "skipped": [str(p) for p in self.skipped],
            "recompiled": list(self.recompiled),
            "error": self.error,
        }


@dataclass
class _Plan:
    changed: list[Path] = field(default_factory=list)
    deleted: list[Path] = field(default_factory=list)
    added: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    hashes: dict[Path, str] = field(default_factory=dict)


class Watcher:
    """Watch ``paths`` (directories or files) and hot-reload what other editors change.

    >>> import importlib, pathlib, sys, tempfile
    >>> from ipython_hotreload import HotReloader
    >>> root = pathlib.Path(tempfile.mkdtemp()); sys.path.insert(0, str(root))
    >>> _ = (root / "knob.py").write_text("X = 1\\n")
    >>> knob = importlib.import_module("knob")
    >>> w = Watcher(HotReloader(roots=[root], formatter=None), [root], debounce_ms=50)
    >>> seen = w.start().batches
    >>> _ = (root / "knob.py").write_text("X = 2\\n")     # another editor saves
    >>> w.wait_for_batch(seen, timeout=10), knob.X
    (True, 2)
    >>> w.stop()
    """

    def __init__(
        self,
        reloader: Reloads,
        paths: Iterable[str | os.PathLike[str]],
        *,
        schedule: Schedule | None = None,
        debounce_ms: int = 50,
        report: Report | None = None,
    ) -> None:
        if debounce_ms < 0:
            raise ValueError(f"debounce_ms must be >= 0, not {debounce_ms}")
        self.reloader = reloader
        self.paths: list[Path] = []
        for p in paths:
            resolved = Path(p).expanduser().resolve()
            if resolved not in self.paths:
                self.paths.append(resolved)
        self.schedule = schedule
        self.report = report or _print_report
        self.debounce_ms = int(debounce_ms)
        self.batches = 0
        self.last_batch: Batch | None = None
        self.history: deque[Batch] = deque(maxlen=_HISTORY)  # the latest batches, oldest first
        self._cond = threading.Condition()
        self._pending: set[Path] = set()
        self._queued = False  # a batch is scheduled and has not started yet
        self._retry: set[Path] = set()  # files of a failed batch, tried again with the next
        self._broken: dict[Path, str] = {}  # the file a batch failed on -> its text's hash
        self._last_report: tuple[object, ...] | None = None
        #: Set once the watcher has brought the dependency graph up to date and is waiting
        #: for changes (a first scan of a big project takes a moment, in the background).
        self.ready = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._notify: RustNotify | None = None
        self._files: set[Path] = set()  # the watched paths that are files, not directories

    def __repr__(self) -> str:
        state = "alive" if self.alive else "stopped"
        return f"<Watcher {state} paths={[str(p) for p in self.paths]} batches={self.batches}>"

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def alive(self) -> bool:
        """True while the watching thread runs (and has not been asked to stop)."""
        thread = self._thread
        return thread is not None and thread.is_alive() and not self._stop.is_set()

    @property
    def queued(self) -> bool:
        """True while a batch has been handed to ``schedule`` and has not started (it waits
        for the running cell, say)."""
        with self._cond:
            return self._queued

    def start(self) -> Watcher:
        """Start watching; changes made after this returns are seen. Raises
        :class:`HotReloadError` when a path cannot be watched."""
        if self._thread is not None:
            return self
        if not self.paths:
            raise HotReloadError("nothing to watch: give at least one directory or file")
        missing = [str(p) for p in self.paths if not p.exists()]
        if missing:
            raise HotReloadError(f"cannot watch {', '.join(missing)}: no such file or directory")
        self._files = {p for p in self.paths if not p.is_dir()}
        # Imported when watching starts, not with the engine: the package brings anyio.
        from watchfiles._rust_notify import RustNotify

        try:
            # Built here, not in the thread, so the OS watches are in place when start()
            # returns: an edit made right after is never missed.
            # By keyword: a renamed parameter in a later watchfiles fails here, loudly.
            self._notify = RustNotify(
                watch_paths=[str(p) for p in self._watched_dirs()],
                debug=False,
                force_polling=False,
                poll_delay_ms=50,
                recursive=True,
                ignore_permission_denied=True,
            )
        except OSError as exc:
            raise HotReloadError(
                f"cannot watch {', '.join(map(str, self.paths))}: {exc}. On Linux, raise "
                "fs.inotify.max_user_watches or watch fewer directories."
            ) from exc
        self._thread = threading.Thread(
            target=self._main, name=f"hotreload-watch-{id(self):x}", daemon=True
        )
        _register_exit_hook()
        _live.add(self)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5) -> None:
        """Stop watching and wait (up to ``timeout`` seconds) for the thread to end. A batch
        still queued on the scheduler is dropped. Calling it again does nothing."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                log.warning("the hotreload watcher thread did not stop within %ss", timeout)
        close = getattr(self.schedule, "close", None)
        if callable(close):
            self.schedule = None
            try:
                close()
            except Exception:
                log.exception("could not close the watch scheduler %r", close)
        _live.discard(self)
        with self._cond:
            self._cond.notify_all()

    def wait_for_batch(self, after: int, timeout: float | None = None) -> bool:
        """Wait until more than ``after`` batches have run; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self.batches > after, timeout)

    # -- the watching thread ---------------------------------------------------------------

    def _main(self) -> None:
        notify = self._notify
        assert notify is not None
        try:
            # From here on the OS reports every change. Scan the project now, in this thread,
            # so the first batch (on the kernel's main thread) does not have to; afterwards
            # this is one stat per file, picking up files written before watching began.
            self.reloader.graph.refresh()
            self.ready.set()
            for batch in self._gather(notify):
                self._hand_over(batch)
        except Exception as exc:
            # The OS watch broke (a watched root was removed, too many watches): say so once;
            # with the watcher gone the engine goes back to checking files on each reload.
            log.exception("hotreload watcher stopped")
            print(f"hotreload: watching stopped: {exc}", file=sys.stderr)
        finally:
            self._stop.set()
            self._notify = None
            notify.close()

    def _gather(self, notify: RustNotify) -> Iterator[set[Path]]:
        """Yield sets of relevant paths, each once no relevant change came for a debounce."""
        while not self._stop.is_set():
            raw = notify.watch(
                debounce_ms=self._max_batch_ms(),
                step_ms=_IDLE_STEP_MS,
                timeout_ms=0,
                stop_event=self._stop,
            )
            found = self._relevant(raw)
            if not found:
                continue
            # Rust returned once the set of changes held still for one step: count that.
            started = last = time.monotonic() - _IDLE_STEP_MS / 1000
            deadline = started + self._max_batch_ms() / 1000
            while not self._stop.is_set():
                now = time.monotonic()
                remaining_ms = int((last + self.debounce_ms / 1000 - now) * 1000)
                if remaining_ms <= 0 or now >= deadline:
                    break
                step = max(1, min(_GATHER_STEP_MS, remaining_ms))
                raw = notify.watch(
                    debounce_ms=self._max_batch_ms(),
                    step_ms=step,
                    timeout_ms=remaining_ms,
                    stop_event=self._stop,
                )
                more = self._relevant(raw)
                if more:
                    found |= more
                    last = time.monotonic()
            if self._stop.is_set():
                return
            yield found

    def _max_batch_ms(self) -> int:
        return max(_MAX_BATCH_MS, _MAX_BATCH_DEBOUNCES * self.debounce_ms)

    def _relevant(
        self, raw: set[tuple[int, str]] | Literal["signal", "stop", "timeout"]
    ) -> set[Path]:
        if isinstance(raw, str):
            return set()
        out: set[Path] = set()
        for _change, name in raw:
            path = Path(name)
            base = self._base_of(path)
            if base is None:
                continue
            if is_watched_source(path, base):
                out.add(path)
            elif (
                not path.suffix
                and not path.name.startswith(".")
                and path.name not in SKIP_DIRS
                and not in_skipped_dir(path, base)
            ):
                # Perhaps a directory moved in or out: the batch looks inside (or at what
                # the graph knew to be inside) when it runs.
                out.add(path)
        return out

    def _watched_dirs(self) -> list[Path]:
        # A file is watched through its directory: an editor's rename-over save replaces the
        # file's inode, and an OS watch on the old inode would never fire again.
        dirs: list[Path] = []
        for p in self.paths:
            d = p.parent if p in self._files else p
            if d not in dirs:
                dirs.append(d)
        return dirs

    def _base_of(self, path: Path) -> Path | None:
        """The watched directory ``path`` lies in (a watched file's directory, for that file
        only), or None when it is none of ours."""
        for base in self.paths:
            if base in self._files:
                if path == base:
                    return base.parent
                continue
            if is_within(path, base) and path != base:
                return base
        return None

    def _hand_over(self, paths: set[Path]) -> None:
        at_once = self.schedule is not None and self.reloader.rule.cell_running()
        with self._cond:
            if self._queued and (not at_once or not paths.isdisjoint(self._pending)):
                self._pending |= paths
                return  # the queued batch has not started: it will take these too
        if at_once and self._run_at_once(paths):
            return
        with self._cond:
            self._pending |= paths
            if self._queued:
                return
            self._queued = True
        schedule = self.schedule
        if schedule is None:
            self._run_batch()
            return
        try:
            schedule(self._run_batch)
        except Exception:
            log.exception("could not schedule a hotreload batch; running it in the watcher")
            self._run_batch()

    # -- one batch -------------------------------------------------------------------------

    def _run_batch(self) -> None:
        """Reload what changed since the last batch (runs where ``schedule`` put it)."""
        with self._cond:
            paths, self._pending = self._pending, set()
            self._queued = False
        if self._stop.is_set() or not self._acquire():
            return
        try:
            batch = self._apply(paths)
        except Exception as exc:
            log.exception("hotreload watcher batch failed")
            batch = Batch(error=f"{type(exc).__name__}: {exc}")
        finally:
            self.reloader.lock.release()
        self._record(batch)

    def _run_at_once(self, paths: set[Path]) -> bool:
        """While a cell runs: reload ``paths`` now, in the watcher thread, if that runs no
        statement; False (nothing changed) when the batch must wait for the cell."""
        if self._stop.is_set() or not self._acquire():
            return True
        try:
            batch = self._apply(paths, at_once=True)
        except MustWait:
            return False
        except Exception as exc:
            log.exception("hotreload watcher batch failed")
            batch = Batch(error=f"{type(exc).__name__}: {exc}")
        finally:
            self.reloader.lock.release()
        self._record(batch)
        return True

    def _acquire(self) -> bool:
        """Take the reload lock, waiting for a reload running elsewhere; False when asked
        to stop meanwhile (stop() may be called by a thread that holds the lock and waits
        for us)."""
        lock = self.reloader.lock
        while not lock.acquire(timeout=0.05):
            if self._stop.is_set():
                return False
        return True

    def _record(self, batch: Batch) -> None:
        with self._cond:
            self.last_batch = batch
            self.history.append(batch)
            self.batches += 1
            self._cond.notify_all()

    def _apply(self, paths: set[Path], *, at_once: bool = False) -> Batch:
        plan = self._plan(paths | self._retry)
        for path in plan.added:
            self.reloader.graph.update_file(path)
        if not plan.changed and not plan.deleted:
            self._retry.clear()
            return Batch(added=tuple(plan.added), skipped=tuple(plan.skipped))
        try:
            result = self.reloader.reload_from_disk(
                plan.changed, plan.deleted, at_once_only=at_once
            )
        except MustWait:
            raise  # nothing changed: the caller queues the batch for after the cell
        except HotReloadError as err:
            self._retry = set(plan.changed)
            failed = Path(err.path).resolve() if isinstance(err, ReloadError) and err.path else None
            if failed is not None and failed in plan.hashes:
                self._broken[failed] = plan.hashes[failed]
            self._report(err, failed, plan.hashes.get(failed) if failed else None, at_once)
            return Batch(
                changed=tuple(plan.changed),
                deleted=tuple(plan.deleted),
                added=tuple(plan.added),
                skipped=tuple(plan.skipped),
                error=str(err),
            )
        self._retry.clear()
        if self._last_report is not None:
            self._last_report = None
            self._tell(None)
        return Batch(
            changed=tuple(plan.changed),
            deleted=tuple(plan.deleted),
            added=tuple(plan.added),
            skipped=tuple(plan.skipped),
            recompiled=tuple(p["mod"] for p in result.get("recompiled", [])),
        )

    def _plan(self, paths: set[Path]) -> _Plan:
        """Sort paths, by the state of the disk now, into reloads, purges and graph-only."""
        plan = _Plan()
        files: set[Path] = set()
        for path in paths:
            if path.name.endswith(".py"):
                files.add(path)
            elif path.is_dir():
                files.update(self._sources_under(path))
            elif not path.exists():
                plan.deleted.extend(self._known_files_under(path))
        for path in sorted(files):
            self._classify(path, plan)
        plan.deleted = sorted(set(plan.deleted))
        return plan

    def _classify(self, path: Path, plan: _Plan) -> None:
        graph = self.reloader.graph
        resolved = path.resolve()
        mod = graph.module_for_path(resolved)
        if mod is None:
            return
        module = sys.modules.get(mod)
        loaded_here = _module_file(module) == resolved
        try:
            data = resolved.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            self._broken.pop(resolved, None)
            if loaded_here or graph.path_for_module(mod) == resolved:
                plan.deleted.append(resolved)
            return
        except OSError as exc:
            log.warning("hotreload: cannot read %s: %s", resolved, exc)
            return
        digest = hashlib.sha256(data).hexdigest()
        if digest == self.reloader.known_hash(resolved):
            plan.skipped.append(resolved)  # our own write, or text that already runs
        elif self._broken.get(resolved) == digest:
            pass  # still the text that failed; its next edit brings it back
        elif loaded_here:
            self._broken.pop(resolved, None)
            plan.changed.append(resolved)
            plan.hashes[resolved] = digest
        else:
            # New, or not imported by anything yet: keep the graph right, import nothing.
            plan.added.append(resolved)

    def _sources_under(self, directory: Path) -> list[Path]:
        base = self._base_of(directory) or directory
        out: list[Path] = []
        for dirpath, dirnames, filenames in os.walk(directory):
            here = Path(dirpath)
            dirnames[:] = [d for d in dirnames if not d.startswith(".") and d not in SKIP_DIRS]
            out.extend(p for f in filenames if is_watched_source(p := here / f, base))
        return out

    def _known_files_under(self, directory: Path) -> list[Path]:
        """Files of loaded or graph-known modules that lived under a vanished directory."""
        resolved = directory.resolve()
        prefix = str(resolved) + os.sep
        found: set[Path] = set()
        for module in list(sys.modules.values()):
            # A string test first: resolving every loaded module's path would cost thousands
            # of system calls on a big project.
            file = getattr(module, "__file__", None)
            if isinstance(file, str) and os.path.abspath(file).startswith(prefix):
                found.add(Path(os.path.abspath(file)))
        graph = self.reloader.graph
        for name in graph.modules():
            file = graph.path_for_module(name)
            if file is not None and is_within(file, resolved):
                found.add(file)
        return sorted(found)

    def _report(
        self, err: HotReloadError, failed: Path | None, digest: str | None, later: bool
    ) -> None:
        # Once per failing edit: the same error on the same text is not printed again when
        # a later batch retries it.
        key = (type(err).__name__, str(err), str(failed), digest)
        if key == self._last_report:
            return
        self._last_report = key
        text = (
            f"a file changed by another editor did not reload: {err}; "
            "fix the file and save it again"
        )
        schedule = self.schedule
        if later and schedule is not None and self.report is _print_report:
            # Tried at once while a cell runs: printed from this thread, it would land in
            # the running cell's output. It goes where a batch would have run instead (a
            # report that is not a print, the kernel's watch line, goes now).
            try:
                schedule(lambda: self._tell(text))
                return
            except Exception:
                log.exception("could not schedule a hotreload report; reporting it now")
        self._tell(text)

    def _tell(self, text: str | None) -> None:
        try:
            self.report(text)
        except Exception:  # the watcher outlives a broken display
            log.exception("hotreload: the watcher's report failed")


def _print_report(text: str | None) -> None:
    if text is not None:
        print(f"hotreload: {text}", file=sys.stderr, flush=True)


def _module_file(module: object) -> Path | None:
    file = getattr(module, "__file__", None)
    if not isinstance(file, str):
        return None
    try:
        return Path(file).resolve()
    except (OSError, RuntimeError):
        return None


def _stop_live_watchers() -> None:
    """Stop every running watcher at interpreter exit, so none touches a dying interpreter."""
    for watcher in list(_live):
        watcher.stop(timeout=1)


_exit_hook = threading.Lock()
_exit_hook_registered = False


def _register_exit_hook() -> None:
    # Registered when the first watcher starts, not when this module is imported (with the
    # engine, early): exit hooks run last-registered first, so one registered before watching
    # began (the user's, a test's) already finds every watcher stopped.
    global _exit_hook_registered
    with _exit_hook:
        if not _exit_hook_registered:
            atexit.register(_stop_live_watchers)
            _exit_hook_registered = True
