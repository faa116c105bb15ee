"""The kernel side: one :class:`ClusterLink` per attached cluster.

After every committed reload the engine hands the batch to :meth:`ClusterLink.on_batch`
(under the reload lock). The link numbers it, folds it into the catch-up log (the newest
text of every file reloaded since attaching, kept in the scheduler's metadata, where a
worker that joins later reads it before its first task), and sends it to every worker at
once: one ``Client.run`` per worker, all in flight together on the client's event loop, each
bounded by the timeout. A worker that does not answer in time, or whose reload fails, is
reported failed; the kernel keeps its new code either way.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ipython_hotreload.core.batch import CommittedBatch
from ipython_hotreload.core.engine import HotReloader
from ipython_hotreload.core.events import ModuleEvent, publish
from ipython_hotreload.core.paths import is_within, sys_path_dirs
from ipython_hotreload.distributed._plugin import (
    HotReloadPlugin,
    apply_batch,
    worker_status,
)
from ipython_hotreload.distributed._wire import (
    METADATA_KEY,
    PLUGIN_NAME,
    Batch,
    FileEntry,
    Filesystem,
    batch_bytes,
    digest,
)

__all__ = ["ClusterLink"]

log = logging.getLogger(__name__)


class ClusterLink:
    """Ships every committed reload of ``reloader`` to the workers of ``client``'s cluster."""

    def __init__(
        self,
        client: Any,  # a distributed.Client (its methods are untyped)
        reloader: HotReloader,
        *,
        timeout: float,
        filesystem: Filesystem,
        max_bytes: int,
    ) -> None:
        self.client = client
        self.reloader = reloader
        self.timeout = timeout
        self.filesystem: Filesystem = filesystem
        self.max_bytes = max_bytes
        self.token = uuid.uuid4().hex
        self.seq = 0
        self.scheduler = str(client.scheduler.address)
        self.bases: list[str] = []
        self.log: dict[str, FileEntry] = {}
        self.log_complete = True
        self.workers: dict[str, dict[str, Any]] = {}
        self._remove_listener: Any = None

    # -- attaching -------------------------------------------------------------------------

    def start(self) -> None:
        """Register the worker plugin (now and for later workers) and start listening."""
        self.client.set_metadata([METADATA_KEY, self.token], self._log_batch())
        self.client.register_plugin(HotReloadPlugin(self.token, self.max_bytes), name=PLUGIN_NAME)
        for address in self._addresses():
            self.workers[address] = {"state": "current", "seq": 0, "error": None}
        self._remove_listener = self.reloader.add_batch_listener(self.on_batch)

    def stop(self) -> None:
        """Stop listening and take the plugin off the workers (their code stays as it is)."""
        if self._remove_listener is not None:
            self._remove_listener()
            self._remove_listener = None
        if self.client.status not in ("running", "connecting"):
            return  # the client is closed: there is nobody left to tell
        try:
            self.client.unregister_worker_plugin(PLUGIN_NAME)
            self.client.set_metadata([METADATA_KEY, self.token], None)
        except (OSError, ValueError, KeyError) as exc:
            log.warning("hotreload: could not take the plugin off %s: %s", self.scheduler, exc)

    # -- one reload ------------------------------------------------------------------------

    def on_batch(self, batch: CommittedBatch) -> Mapping[str, Any]:
        """Send one committed reload to every worker; the result's ``"workers"`` entry."""
        files = [self._entry(f.mod, f.path, f.after) for f in batch.files]
        size = batch_bytes(files)
        if size > self.max_bytes:
            error = {
                "type": "TooLarge",
                "message": f"this reload carries {size} bytes, more than the {self.max_bytes} "
                "sent to workers; attach with a larger max_bytes",
            }
            answers = {
                a: {"status": "failed", "seq": self.seq, "error": error} for a in self._addresses()
            }
            return {"workers": self._record(answers, batch)}
        self.seq += 1
        for f in files:
            f["seq"] = self.seq
            self.log[f["key"]] = f
        message = self._message(files, list(batch.purged), catch_up=False)
        self._store_log()
        answers = self._send(message)
        return {"workers": self._record(answers, batch)}

    def _entry(self, mod: str, path: Path, data: bytes | None) -> FileEntry:
        base = self._base_of(path)
        rel = path.relative_to(base).as_posix()
        if str(base) not in self.bases:
            self.bases.append(str(base))
        index = self.bases.index(str(base))
        return FileEntry(
            key=f"{index}:{rel}",
            base=index,
            rel=rel,
            mod=mod,
            data=data,
            sha256=digest(data) if data is not None else None,
            seq=0,
        )

    def _base_of(self, path: Path) -> Path:
        """The directory the kernel imports ``path`` from: the longest ``sys.path`` entry
        holding it (that is what gives its module name), else the root holding it."""
        holders = [d for d in sys_path_dirs() if is_within(path, d) and d != path]
        holders += [r for r in self.reloader.roots if is_within(path, r)] if not holders else []
        if not holders:
            return path.parent
        return max(holders, key=lambda d: len(d.parts))

    def _message(self, files: list[FileEntry], purged: list[str], *, catch_up: bool) -> Batch:
        return Batch(
            token=self.token,
            seq=self.seq,
            files=files,
            purged=purged,
            bases=list(self.bases),
            roots=[str(r) for r in self.reloader.roots],
            reexecute=str(getattr(self.reloader, "reexecute", "minimal")),
            filesystem=self.filesystem,
            max_bytes=self.max_bytes,
            drain=self.timeout / 2,
            catch_up=catch_up,
            origin=(socket.gethostname(), os.getpid()),
        )

    def _log_batch(self) -> Batch:
        return self._message(list(self.log.values()), [], catch_up=True)

    def _store_log(self) -> None:
        """Keep the catch-up log on the scheduler (before the batch goes out, so a worker
        that joins in between gets it one way or the other)."""
        logged = self._log_batch()
        if batch_bytes(logged["files"]) > self.max_bytes:
            # Late workers cannot be given a part of it (all or nothing): they get none.
            self.log_complete = False
            logged = {**logged, "files": []}
        try:
            self.client.set_metadata([METADATA_KEY, self.token], logged)
        except (OSError, TimeoutError) as exc:
            log.warning("hotreload: could not store the catch-up log: %s", exc)

    def _addresses(self) -> list[str]:
        try:
            return sorted(self.client.ncores(callback_timeout=self.timeout))
        except (OSError, TimeoutError) as exc:
            log.warning(
                "hotreload: the scheduler %s did not list its workers: %s", self.scheduler, exc
            )
            return []

    def _send(self, message: Batch) -> dict[str, dict[str, Any]]:
        """Every worker's answer (or why there is none), waiting at most ``timeout``."""
        try:
            addresses = self._addresses()
            if not addresses:
                return {}
            got: dict[str, dict[str, Any]] = self.client.sync(
                self._fan_out, addresses, message, callback_timeout=self.timeout + 1
            )
            return got
        except (OSError, TimeoutError) as exc:
            error = {"type": type(exc).__name__, "message": f"the scheduler did not answer: {exc}"}
            return {a: {"status": "failed", "seq": 0, "error": error} for a in self.workers}

    async def _fan_out(self, addresses: list[str], message: Batch) -> dict[str, dict[str, Any]]:
        wait = max(self.timeout - 0.5, self.timeout * 0.8)  # answer before we stop waiting

        async def one(address: str) -> tuple[str, dict[str, Any]]:
            try:
                answers = await asyncio.wait_for(
                    self.client.run(
                        apply_batch,
                        message,
                        wait,
                        workers=[address],
                        on_error="return",
                        asynchronous=True,
                    ),
                    self.timeout,
                )
            except TimeoutError:
                return address, _failed(f"no answer within {self.timeout:g} s")
            except Exception as exc:  # noqa: BLE001 a closed connection, a worker gone mid-reload
                return address, _failed(f"{type(exc).__name__}: {exc}", type(exc).__name__)
            answer = answers.get(address) if isinstance(answers, dict) else None
            if isinstance(answer, BaseException):
                return address, _failed(f"{type(answer).__name__}: {answer}", type(answer).__name__)
            if not isinstance(answer, dict):
                return address, _failed("the worker left before it answered", "WorkerGone")
            return address, answer

        return dict(await asyncio.gather(*(one(a) for a in addresses)))

    def _record(
        self, answers: Mapping[str, dict[str, Any]], batch: CommittedBatch
    ) -> dict[str, Any]:
        """Per-worker state, events, and the ``{"ok", "failed"}`` summary."""
        mod = batch.files[0].mod if batch.files else (batch.purged[0] if batch.purged else None)
        path = str(batch.files[0].path) if batch.files else None
        ok = 0
        failed: list[dict[str, Any]] = []
        for address, answer in sorted(answers.items()):
            if answer.get("status") == "ok":
                ok += 1
                self.workers[address] = {"state": "current", "seq": self.seq, "error": None}
                payload = {
                    "worker": address,
                    "seq": self.seq,
                    "recompiled": list(answer.get("recompiled", [])),
                    "files": list(answer.get("files", [])),
                }
                publish(ModuleEvent("worker_recompiled", mod, path, payload=payload))
            else:
                error = {"worker": address, **dict(answer.get("error") or {})}
                error.setdefault("type", "Error")
                error.setdefault("message", "failed")
                self.workers[address] = {
                    "state": "failed",
                    "seq": answer.get("seq"),
                    "error": error,
                }
                failed.append({"worker": address, "error": error})
                publish(ModuleEvent("worker_failed", mod, path, error=error))
        return {"ok": ok, "failed": failed}

    # -- status ----------------------------------------------------------------------------

    def status(self, *, ask: bool = True) -> dict[str, Any]:
        """The cluster as the kernel knows it; with ``ask``, each worker's own answer too
        (bounded by the timeout: a worker that does not answer shows as such)."""
        workers = {a: dict(s) for a, s in self.workers.items()}
        if ask:
            for address, answer in self._ask_all().items():
                entry = workers.setdefault(address, {"state": "joined", "seq": 0, "error": None})
                entry["reported"] = answer
                current = isinstance(answer, dict) and answer.get("state") == "current"
                if current and answer.get("seq") == self.seq:
                    entry.update(state="current", error=None)
                    self.workers[address] = {"state": "current", "seq": self.seq, "error": None}
        return {
            "scheduler": self.scheduler,
            "seq": self.seq,
            "timeout": self.timeout,
            "filesystem": self.filesystem,
            "files": len(self.log),
            "catch_up_complete": self.log_complete,
            "workers": workers,
        }

    def _ask_all(self) -> dict[str, Any]:
        try:
            got: dict[str, Any] = self.client.run(
                worker_status,
                self.token,
                on_error="return",
                callback_timeout=self.timeout,
            )
        except (OSError, TimeoutError) as exc:
            return {"*": {"state": "unreachable", "error": str(exc)}}
        return {
            a: (v if isinstance(v, dict) else {"state": "error", "error": repr(v)})
            for a, v in got.items()
        }


def _failed(message: str, kind: str = "Timeout") -> dict[str, Any]:
    return {"status": "failed", "seq": None, "error": {"type": kind, "message": message}}
