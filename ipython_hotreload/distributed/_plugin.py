"""The worker side: a Dask ``WorkerPlugin`` that applies the kernel's batches with the
worker's own :class:`~ipython_hotreload.core.engine.HotReloader`.

Each worker applies batches one at a time, in order, in one thread of its own, through the
:class:`~._gate.TaskGate` that its task executor is wrapped in (tasks see old code or new
code, not a mix). Where a file goes: if the worker runs the module from the kernel's own file
(or from one already holding the kernel's new bytes: a shared mount), nothing is written twice
and the file is reloaded from where it is; otherwise (another machine, or a checkout or an
installed copy of its own, even beside a visible kernel directory) the worker lays the tree
out under its own directory (``<local_directory>/ipython_hotreload/b<N>``, put first on ``sys.path``). A module
the worker has not imported is only written: its first import reads the new text. Every
path is checked on the worker as the kernel checks it, and must stay inside its directory.
"""

from __future__ import annotations

import asyncio
import importlib.machinery
import logging
import os
import socket
import sys
import threading
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

from distributed import Worker, WorkerPlugin

from ipython_hotreload.core.engine import HotReloader
from ipython_hotreload.core.paths import atomic_write, check_path, is_within, sys_path_dirs
from ipython_hotreload.distributed._gate import GatedThreadPoolExecutor, TaskGate
from ipython_hotreload.distributed._wire import (
    METADATA_KEY,
    PLUGIN_NAME,
    Batch,
    FileEntry,
    checked_batch,
    digest,
)
from ipython_hotreload.errors import HotReloadError, ReloadError, UnsafePathError

__all__ = ["HotReloadPlugin", "apply_batch", "worker_status"]

log = logging.getLogger(__name__)


def _error(exc: BaseException) -> dict[str, Any]:
    error: dict[str, Any] = {"type": type(exc).__name__, "message": str(exc)}
    if isinstance(exc, ReloadError):
        error.update(mod=exc.mod, path=exc.path, lineno=exc.lineno, message=exc.message)
    return error


class WorkerSide:
    """What one worker keeps between batches: its reloader, the files it has applied (by
    batch number), where each shipped directory lives here, and its last outcome."""

    def __init__(self, worker: Worker, token: str, max_bytes: int) -> None:
        self.worker = worker
        self.token = token
        self.max_bytes = max_bytes
        self.gate = TaskGate()
        self.applier = ThreadPoolExecutor(1, thread_name_prefix="hotreload-apply")
        self.applied: dict[str, int] = {}
        self.seq = 0
        self.state = "current"
        self.error: dict[str, Any] | None = None
        self.modes: dict[int, str] = {}
        self.private = Path(worker.local_directory) / "ipython_hotreload"
        self.reloader: HotReloader | None = None
        self._lock = threading.Lock()
        self._wrapped: GatedThreadPoolExecutor | None = None

    # -- installing ------------------------------------------------------------------------

    def install(self) -> None:
        """Put the gate around the worker's default executor."""
        inner = self.worker.executors["default"]
        if isinstance(
            inner, GatedThreadPoolExecutor
        ):  # a previous attachment's: take its inner one
            inner = inner.inner
        self._wrapped = GatedThreadPoolExecutor(inner, self.gate)
        self.worker.executors["default"] = self._wrapped

    def uninstall(self) -> None:
        """Take the gate out again; the code applied so far stays."""
        if self._wrapped is not None and self.worker.executors.get("default") is self._wrapped:
            self.worker.executors["default"] = self._wrapped.inner
        self._wrapped = None
        self.applier.shutdown(wait=False)
        if self.reloader is not None:
            self.reloader.close()

    # -- applying --------------------------------------------------------------------------

    async def apply(self, raw: object, wait: float | None) -> dict[str, Any]:
        """Apply one batch (in order, in the applier thread); answer within ``wait`` seconds
        (None: when done). A batch that skips numbers makes the worker fetch the log first."""
        try:
            batch = checked_batch(raw, self.max_bytes)
        except HotReloadError as exc:
            return {"status": "failed", "seq": self.seq, "error": _error(exc)}
        if not batch["catch_up"] and batch["seq"] > self.seq + 1:
            logged = await self.worker.scheduler.get_metadata(
                keys=[METADATA_KEY, self.token], default=None
            )
            if isinstance(logged, dict):
                known = {f["key"] for f in batch["files"]}
                extra = [f for f in logged.get("files", []) if f.get("key") not in known]
                batch = {**batch, "files": [*extra, *batch["files"]]}
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.applier, self.apply_now, batch)
        if wait is None:
            return await future
        try:
            return await asyncio.wait_for(asyncio.shield(future), wait)
        except TimeoutError:
            busy = self.gate.running
            return {
                "status": "failed",
                "seq": self.seq,
                "error": {
                    "type": "Timeout",
                    "message": f"still applying after {wait:.1f} s ({busy} task(s) running); "
                    "it goes on and the worker reports when asked",
                },
            }

    def apply_now(self, batch: Batch) -> dict[str, Any]:
        """Apply ``batch`` between tasks (the gate), all or nothing on this worker."""
        files = [f for f in batch["files"] if f["seq"] > self.applied.get(f["key"], 0)]
        if tuple(batch.get("origin") or ()) == (socket.gethostname(), os.getpid()):
            # A worker in the kernel's own process (LocalCluster(processes=False)): the
            # kernel's reload already ran here, and it holds the reload lock while it waits.
            for f in files:
                self.applied[f["key"]] = f["seq"]
            self.seq = max(self.seq, batch["seq"])
            return {"status": "ok", "seq": self.seq, "recompiled": [], "files": [], "modes": {}}
        with self._lock, self.gate.reload(batch["drain"]) as still_running:
            self.state = "applying"
            try:
                recompiled = self._apply_files(batch, files)
            except HotReloadError as exc:
                self.state, self.error = "failed", _error(exc)
            except Exception as exc:
                # Not our error type, but the worker must answer and keep running.
                log.exception("hotreload: applying batch %s failed", batch["seq"])
                self.state, self.error = "failed", _error(exc)
            else:
                self.state, self.error = "current", None
            finally:
                # The new text is on this worker's disk either way (as in the kernel): a
                # later reload here re-runs a module whose file no longer matches its code.
                for f in files:
                    self.applied[f["key"]] = f["seq"]
                self.seq = max(self.seq, batch["seq"])
        if self.state == "failed":
            return {"status": "failed", "seq": self.seq, "error": self.error}
        return {
            "status": "ok",
            "seq": self.seq,
            "recompiled": recompiled,
            "files": [f["rel"] for f in files],
            "modes": {batch["bases"][i]: m for i, m in self.modes.items()},
            "tasks_running": still_running,
        }

    def _apply_files(self, batch: Batch, files: list[FileEntry]) -> list[str]:
        reloader = self._reloader(batch)
        allowed = [*reloader.roots, *sys_path_dirs()]
        shared_changed: list[Path] = []
        shared_deleted: list[Path] = []
        private: dict[str | os.PathLike[str], bytes | None] = {}
        plain: list[tuple[Path, bytes | None]] = []
        for f in files:
            if self._mode(batch, f) == "shared":
                path = check_path(Path(batch["bases"][f["base"]]) / f["rel"], allowed)
                if f["mod"] in sys.modules:
                    (shared_changed if f["data"] is not None else shared_deleted).append(path)
                continue
            directory = self._private_dir(f["base"])
            target = (directory / f["rel"]).resolve()
            if not is_within(target, directory):
                raise UnsafePathError(f["rel"], "it would land outside this worker's directory")
            target = check_path(target, [directory])
            module = sys.modules.get(f["mod"])
            if module is None:
                plain.append((target, f["data"]))
            else:
                _adopt(module, f["mod"], target, directory)
                private[target] = f["data"]
        for target, data in plain:  # not imported here: its first import reads the new text
            if data is None:
                target.unlink(missing_ok=True)
            else:
                atomic_write(target, data)
        if plain:
            import importlib

            importlib.invalidate_caches()
        recompiled: list[str] = []
        if private:
            recompiled += _mods(reloader.reload_files(private, origin="reload"))
        if shared_changed or shared_deleted:
            recompiled += _mods(reloader.reload_from_disk(shared_changed, shared_deleted))
        gone = {f["mod"] for f in files if f["data"] is None}
        for name in batch["purged"]:
            if name not in gone and name in sys.modules:
                reloader.purge_module(name)
        return recompiled

    def _mode(self, batch: Batch, f: FileEntry) -> str:
        """``shared`` when this worker runs (or would import) the module from the kernel's
        own file, or from a file already holding the kernel's new bytes (a shared mount);
        else ``private``. Decided by where the worker's module was loaded from, file by
        file: a worker can see the kernel's directory and still import the project from a
        checkout or an installed copy of its own, which must then take the new text."""
        mode = batch["filesystem"]
        if mode == "auto":
            kernel_file = Path(batch["bases"][f["base"]]) / f["rel"]
            mode = "shared" if _runs_file(f, kernel_file) else "private"
        if mode == "private" or f["base"] not in self.modes:
            self.modes[f["base"]] = mode  # (a directory with one private file is private)
        return mode

    def _private_dir(self, base: int) -> Path:
        directory = (self.private / f"b{base}").resolve()
        directory.mkdir(parents=True, exist_ok=True)
        if str(directory) not in sys.path:
            sys.path.insert(0, str(directory))
        if self.reloader is not None and directory not in self.reloader.roots:
            self.reloader.roots = [*self.reloader.roots, directory]
        return directory

    def _reloader(self, batch: Batch) -> HotReloader:
        roots = [Path(r) for r in batch["roots"] if Path(r).is_dir()]
        roots += [self.private / f"b{i}" for i in self.modes if self.modes[i] == "private"]
        if self.reloader is None:
            self.reloader = HotReloader(
                roots=roots,
                formatter=None,  # the kernel formatted the text; workers run it as shipped
                persist_bytecode=False,  # the kernel's .pyc, or a private copy's own import
                graph_cache=False,
                graph_workers=0,  # no process pools inside a Dask worker
                reexecute="module" if batch["reexecute"] == "module" else "minimal",
            )
        else:
            wanted = [r.resolve() for r in roots]
            if any(r not in self.reloader.roots for r in wanted):
                self.reloader.roots = [*self.reloader.roots, *wanted]
        return self.reloader

    def status(self) -> dict[str, Any]:
        """This worker's state, as ``%hotreload workers`` shows it."""
        return {
            "state": self.state,
            "seq": self.seq,
            "error": self.error,
            "files": len(self.applied),
            "tasks_running": self.gate.running,
            "pid": os.getpid(),
        }


def _runs_file(f: FileEntry, kernel_file: Path) -> bool:
    """Does this worker run module ``f["mod"]`` from ``kernel_file`` (or from a file that
    already holds the new bytes), so reloading it where it is gives the new code? A module
    it cannot find (new, or in a directory it does not see) is not: its copy is laid out
    in the worker's directory, where its first import finds it."""
    origin = _origin(f["mod"])
    if origin is None:
        return False
    try:
        if origin.exists() and kernel_file.exists() and os.path.samefile(origin, kernel_file):
            return True
        if f["data"] is None:
            return not origin.exists()
        return origin.is_file() and digest(origin.read_bytes()) == f["sha256"]
    except OSError:
        return False


def _origin(name: str) -> Path | None:
    """The file module ``name`` was loaded from here, or the one its first import would
    read (found along ``sys.path`` without importing anything); None if neither."""
    module = sys.modules.get(name)
    if module is not None:
        file = getattr(module, "__file__", None)
        return Path(file) if isinstance(file, str) else None
    parts = name.split(".")
    search: list[str] | None = None  # None: sys.path
    spec = None
    for depth in range(1, len(parts) + 1):
        prefix = ".".join(parts[:depth])
        loaded = sys.modules.get(prefix)
        if loaded is not None and depth < len(parts):
            paths = getattr(loaded, "__path__", None)
            search = list(paths) if paths is not None else None
            continue
        try:
            spec = importlib.machinery.PathFinder.find_spec(prefix, search)
        except (ImportError, ValueError, OSError):
            return None
        if spec is None:
            return None
        search = list(spec.submodule_search_locations or [])
    if spec is None or not spec.has_location or not isinstance(spec.origin, str):
        return None
    return Path(spec.origin)


def _adopt(module: ModuleType, name: str, target: Path, directory: Path) -> None:
    """A module this worker imported from elsewhere is from now on read from its copy under
    the worker's directory, and so are its package's later submodule imports."""
    module.__file__ = str(target)
    spec = getattr(module, "__spec__", None)
    if spec is not None:
        spec.origin = str(target)
    parts = name.split(".")
    for depth in range(1, len(parts)):
        package = sys.modules.get(".".join(parts[:depth]))
        where = str(directory.joinpath(*parts[:depth]))
        paths = getattr(package, "__path__", None)
        if isinstance(paths, list) and where not in paths:
            paths.insert(0, where)


def _warm_up() -> None:
    import ipython_hotreload.core.report.analysis  # noqa: F401


def _mods(result: Mapping[str, Any]) -> list[str]:
    return [p["mod"] for p in result.get("recompiled", [])]


class HotReloadPlugin(WorkerPlugin):
    """Installed on every worker of an attached cluster, now and when one joins later: it
    gates the worker's tasks and, before the worker runs its first task, applies every file
    the kernel reloaded since attaching (the log kept in the scheduler's metadata)."""

    name = PLUGIN_NAME

    def __init__(self, token: str, max_bytes: int) -> None:
        self.token = token
        self.max_bytes = max_bytes
        self.side: WorkerSide | None = None

    def __getstate__(self) -> dict[str, Any]:
        return {"token": self.token, "max_bytes": self.max_bytes, "side": None}

    async def setup(self, worker: Worker) -> None:
        """Gate the tasks, then catch up (a worker only gets tasks once this returns)."""
        self.side = WorkerSide(worker, self.token, self.max_bytes)
        self.side.install()
        # The first reload would otherwise pay for importing the analysis (astroid): pay it
        # now, in the applier thread, while the worker starts.
        self.side.applier.submit(_warm_up)
        logged = await worker.scheduler.get_metadata(keys=[METADATA_KEY, self.token], default=None)
        if isinstance(logged, dict) and logged.get("files"):
            outcome = await self.side.apply({**logged, "catch_up": True}, None)
            if outcome["status"] != "ok":
                log.warning("hotreload: catching up failed here: %s", outcome.get("error"))

    def teardown(self, worker: Worker) -> None:
        """Detached: stop gating; the code applied so far keeps running."""
        if self.side is not None:
            self.side.uninstall()
            self.side = None


def _side_of(worker: Worker, token: str) -> WorkerSide | None:
    plugin = worker.plugins.get(PLUGIN_NAME)
    side = getattr(plugin, "side", None)
    if not isinstance(side, WorkerSide) or side.token != token:
        return None
    return side


async def apply_batch(batch: Batch, wait: float, dask_worker: Worker) -> dict[str, Any]:
    """Run on a worker by ``Client.run``: apply one batch, answer within ``wait`` seconds."""
    side = _side_of(dask_worker, batch.get("token", "") if isinstance(batch, dict) else "")
    if side is None:
        return {
            "status": "failed",
            "seq": 0,
            "error": {"type": "NotAttached", "message": "this worker has no hot-reload plugin"},
        }
    return await side.apply(batch, wait)


def worker_status(token: str, dask_worker: Worker) -> dict[str, Any]:
    """Run on a worker by ``Client.run``: its hot-reload state."""
    side = _side_of(dask_worker, token)
    if side is None:
        return {"state": "not attached", "seq": 0, "error": None}
    return side.status()
