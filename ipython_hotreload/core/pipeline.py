"""One reload, stage by stage, over one :class:`Batch`.

Read :meth:`Pipeline.run` top to bottom; each stage is a short method that takes what it
needs and returns what it adds:

1. (before a batch exists) the path is checked, the text formatted and written atomically
   (:meth:`Pipeline.write`), ``source_written`` published;
2. :meth:`~.project.Project.sync`: the loaded project modules, each covered by the graph;
3. :meth:`Pipeline.stale_sources`: loaded modules whose files changed behind our back;
4. :meth:`Pipeline.compile_all`: each source parsed and compiled once
   (:class:`~.source.compiler.Compiler`); the graph re-scans each file from that parse;
5. :meth:`Pipeline.execute`: the graph plans the batch (the changed modules, then those that
   must follow), and :class:`~.apply.planrun.PlanRun` runs it under one undo journal: only
   what changed runs (:mod:`.apply.minimal`), or whole modules; any exception rolls it all
   back, then ``compile_failed`` and :class:`~ipython_hotreload.errors.ReloadError`;
6. :meth:`Pipeline.commit`: the texts modules now run, stamps, hashes, ``.pyc`` files;
7. :meth:`Pipeline.publish`: one ``recompiled`` event per updated module, the saved first;
8. :meth:`Pipeline.tell_listeners`: history and cluster workers hear of the batch.

All reloads in a process are serialised by one re-entrant lock (:data:`RELOAD_LOCK`): they
share ``sys.modules``. A batch may hold back its statements, or everything, for a cell
running on another thread (SPEC §2.5, :mod:`.cells`): it then raises
:class:`~.cells.MustWait`, having changed nothing, which says how to run it in full later.
"""

from __future__ import annotations

import hashlib
import linecache
import logging
import os
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Any, cast

from ipython_hotreload.core.apply.planrun import Applied, ModuleReport, PlanRun
from ipython_hotreload.core.batch import (
    Batch,
    BatchListener,
    CommittedBatch,
    CommittedFile,
    LastReload,
    Reexecute,
)
from ipython_hotreload.core.cells import Hold, MustWait
from ipython_hotreload.core.changes.pending import PendingEdits
from ipython_hotreload.core.changes.watch import Watcher
from ipython_hotreload.core.edit import bytecode
from ipython_hotreload.core.edit.formatting import FormatFn, apply_formatter
from ipython_hotreload.core.events import ModuleEvent, publish, subscriber_count
from ipython_hotreload.core.graph.modulegraph import Step
from ipython_hotreload.core.graph.scanpool import gc_paused
from ipython_hotreload.core.paths import (
    atomic_write,
    check_path,
    is_within,
    read_if_exists,
    read_source,
    stamp_of,
)
from ipython_hotreload.core.project import Project
from ipython_hotreload.core.report.oldcode import OldCode, OldFrame, find_running_old
from ipython_hotreload.core.report.payloads import build_payloads, describe_failure, json_copy
from ipython_hotreload.core.results import Payload, PendingBrief, ReloadResult
from ipython_hotreload.core.source.compiler import Compiler
from ipython_hotreload.core.source.texts import Source, code_filename
from ipython_hotreload.errors import HotReloadError, ModuleFailed, ReloadError

__all__ = ["RELOAD_LOCK", "Pipeline"]

log = logging.getLogger(__name__)

#: Every reload of the process holds this lock: all reloaders share ``sys.modules``.
RELOAD_LOCK = threading.RLock()


class Pipeline:
    """The stages of a reload, over the long-lived state of one reloader: its project, what
    its modules run, the hashes of the texts it wrote or loaded, and who listens."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.compiler = Compiler(project.readings_cache)
        self.listeners: list[BatchListener] = []
        self.disk_hashes: dict[Path, str] = {}  # the sha256 of what we last wrote or loaded
        self.last_reload: LastReload | None = None
        self.watcher: Watcher | None = None  # its files are its to report, not stale
        # Modules whose last reload failed while their file keeps that text (SPEC §1.8).
        self.pending = PendingEdits(self.compiler.running, project.loaded, self.disk_hashes)
        self.old_code = OldCode()  # old versions found running, until they return

    # -- entry points ----------------------------------------------------------------------

    def reload_text(
        self, path: str | os.PathLike[str], text: str, formatter: FormatFn | None, batch: Batch
    ) -> ReloadResult:
        """Check ``path``, write ``text`` to it (formatted by ``formatter``, if any) and run
        the batch on it (a file that is no importable module is only analysed)."""
        resolved = check_path(path, self.project.allowed_dirs())
        mod, importable = self.project.module_name(resolved)
        before = read_if_exists(resolved)
        self.compiler.running.expect_write(resolved, before, stamp_of(resolved))
        try:
            src = self.write(resolved, mod, text, formatter, batch.warnings)
            batch.before[resolved] = before
            batch.sources.append(src)
            if not importable:
                return self.analyse_only(src, batch)
            return self.run(batch)
        finally:
            self.compiler.running.written()

    def reload_files(
        self, given: Mapping[str | os.PathLike[str], bytes | None], batch: Batch
    ) -> ReloadResult:
        """Write each file's exact bytes (None deletes it and purges its module) and run the
        batch on them; every path is checked before anything is written."""
        allowed = self.project.allowed_dirs()
        files = {check_path(p, allowed): data for p, data in given.items()}
        for resolved in files:
            batch.before[resolved] = read_if_exists(resolved)
        for resolved, data in files.items():
            mod, _ = self.project.module_name(resolved)
            if data is None:
                resolved.unlink(missing_ok=True)
                self.purge(mod, batch)
                continue
            src = self._written(resolved, mod, data)
            mod, importable = self.project.module_name(resolved)
            if importable:
                batch.sources.append(Source(mod, resolved, data, full=True, stamp=src.stamp))
        return self.run(batch) if batch.sources else self.tell_listeners(batch, (), [])

    def reload_from_disk(
        self, changed: Iterable[Path], deleted: Iterable[Path], batch: Batch
    ) -> ReloadResult:
        """Run the batch on files that already hold their new text: ``deleted`` modules are
        purged, ``changed`` ones run with their dependents."""
        graph = self.project.graph
        for resolved in deleted:
            name = graph.module_for_path(resolved)
            if name is not None:
                batch.before[resolved] = self.compiler.running.text(name)
                self.purge(name, batch)
        for resolved in changed:
            name = graph.module_for_path(resolved)
            if name is None or not resolved.is_file():
                continue
            data, stamp = read_source(resolved)
            batch.before[resolved] = self.compiler.running.text(name)
            batch.sources.append(Source(name, resolved, data, full=True, stamp=stamp))
        return self.run(batch) if batch.sources else self.tell_listeners(batch, (), [])

    def purge(self, name: str, batch: Batch | None = None) -> None:
        """Forget a module: ``sys.modules``, its parent's attribute, its ``.pyc``, the graph;
        then broadcast ``source_removed`` (also when it was not loaded)."""
        module = sys.modules.pop(name, None)
        project = self.project
        path = project.graph.path_for_module(name)
        file = getattr(module, "__file__", None)
        if path is None and isinstance(file, str):
            path = Path(file)
        parent_name, _, child = name.rpartition(".")
        parent = sys.modules.get(parent_name) if parent_name else None
        if parent is not None and module is not None and getattr(parent, child, None) is module:
            delattr(parent, child)
        if path is not None and any(is_within(path.resolve(), r) for r in project.roots):
            bytecode.flush([path.resolve(), path])  # a write behind must not bring it back
            bytecode.remove_pyc(path)  # never another package's (or the stdlib's) bytecode
        project.graph.remove_module(name)
        project.loaded.forget(name)
        self.compiler.forget(name)
        self.pending.resolved(name)
        if batch is not None:
            batch.purged[name] = path.resolve() if path is not None else None
        publish(ModuleEvent("source_removed", name, str(path) if path else None))

    # -- the stages ------------------------------------------------------------------------

    def write(
        self, resolved: Path, mod: str, text: str, formatter: FormatFn | None, warnings: list[str]
    ) -> Source:
        """Format ``text`` in memory and write it atomically; publish ``source_written``. A
        formatter that fails leaves the text as typed (its reason joins ``warnings``)."""
        try:
            if formatter is not None:
                text, why = apply_formatter(formatter, text, resolved)
                if why:
                    warnings.append(why)
            return self._written(resolved, mod, text.encode("utf-8"))
        except KeyboardInterrupt as exc:
            raise HotReloadError(
                f"saving {resolved} was interrupted: the file holds its old text, or the "
                "new text complete; nothing was reloaded"
            ) from exc

    def _written(self, resolved: Path, mod: str, data: bytes) -> Source:
        stamp = atomic_write(resolved, data)
        self.disk_hashes[resolved] = hashlib.sha256(data).hexdigest()
        self.project.adopt_outside_root(resolved, mod)
        publish(ModuleEvent("source_written", mod, str(resolved)))
        mod, _ = self.project.module_name(resolved)
        return Source(mod, resolved, data, full=True, stamp=stamp)

    def run(self, batch: Batch) -> ReloadResult:
        """The stages of one batch, in order.

        The cyclic collector is paused meanwhile: a reload allocates (trees, code, payloads)
        and each collection it set off would walk the user's whole heap, so its cost would
        grow with everything the kernel holds rather than with what the edit touches."""
        try:
            return self._run(batch)
        except MustWait as wait:
            self._held_back(batch, wait)
            raise

    def _run(self, batch: Batch) -> ReloadResult:
        with gc_paused():
            loaded = self.project.sync()
            sources = [*batch.sources, *self.stale_sources(loaded, batch)]
            self.compile_all(sources)
            if batch.hold == "everything":
                raise MustWait("while_running is 'wait'")
            applied = self.execute(sources, loaded, batch.reexecute, batch.hold)
            running_old = find_running_old(applied.code_swaps)
            self.old_code.add(running_old)
            # Committed: the new code runs. What follows must not turn that into a failure.
            prior = {s.mod: self.compiler.running.text(s.mod) for s in sources}
            warnings = [*batch.warnings, *self.commit(applied, batch.persist_bytecode)]
            payloads = self.publish(applied, batch, warnings, running_old)
            committed = tuple(
                CommittedFile(s.mod, s.path, batch.before.get(s.path, prior.get(s.mod)), s.data)
                for s in sources
            )
            return self.tell_listeners(batch, committed, payloads)

    def stale_sources(self, loaded: dict[str, ModuleType], batch: Batch) -> list[Source]:
        """Loaded modules whose files changed behind the reloader's back (those a running
        watcher covers are its to report); the ones whose file is gone are purged."""
        watcher = self.watcher
        watched = list(watcher.paths) if watcher is not None and watcher.alive else []
        unwatched = self.project.unwatched(loaded, watched)
        if not unwatched:
            return []
        named = {s.mod for s in batch.sources}
        stale, vanished = self.project.loaded.changed_on_disk(unwatched, named)
        for name in vanished:  # its file is gone: a stale copy must not outlive it
            self.purge(name, batch)  # (which takes it out of `loaded` too)
        path_of = self.project.loaded.path_of
        return [self.compiler.read(m, path_of(m) or Path(str(loaded[m].__file__))) for m in stale]

    def compile_all(self, sources: list[Source]) -> None:
        """Parse and compile every source (nothing has run yet); the graph re-scans each
        from the same parse."""
        graph = self.project.graph
        try:
            for src in sources:
                if self.compiler.compile(src):  # a SyntaxError raises here
                    graph.rewritten(src.path)  # the same imports: its records stand
                else:  # a spliced tree's nodes may not carry their lines: the graph parses
                    graph.update_file(src.path, src.data, src.tree if src.code else None)
        except BaseException as exc:  # noqa: BLE001 - any failure (Ctrl-C too) fails the batch
            failed = exc if isinstance(exc, ModuleFailed) else None
            mod, path = (failed.mod, failed.path) if failed else (sources[0].mod, None)
            cause = exc.__cause__ if failed and exc.__cause__ is not None else exc
            raise self.failure(sources, mod, cause, path or str(sources[0].path)) from cause

    def execute(
        self,
        sources: list[Source],
        loaded: dict[str, ModuleType],
        reexecute: Reexecute,
        hold: Hold | None = None,
    ) -> Applied:
        """Plan the batch and run it, all or nothing (holding back statements if asked)."""
        project = self.project
        plan = project.graph.plan([s.mod for s in sources], loaded, project.loaded.import_order())
        run = PlanRun(
            project.graph,
            loaded,
            {s.mod: s for s in sources},
            self.compiler,
            project.loaded.path_of,
            minimal=reexecute == "minimal",
            pending=self.pending.keys() - {s.mod for s in sources},
            hold_statements=hold == "statements",
        )
        try:
            return run.execute(plan)
        except ModuleFailed as failed:
            cause = failed.__cause__ or failed
            note, left = run.not_undone(), tuple(run.not_restored)
            raise self.failure(sources, failed.mod, cause, failed.path, note, left) from cause
        finally:
            for s in sources:
                # checkcache() trusts size and mtime, which a same-size rewrite within one
                # timestamp tick defeats: drop the entry so tracebacks read the new text.
                linecache.cache.pop(code_filename(s.mod, s.path), None)
                linecache.cache.pop(str(s.path), None)

    def commit(self, applied: Applied, persist_bytecode: bool) -> list[str]:
        """Record what each module now runs: stamps, texts, hashes; its bytecode is written
        behind (SPEC §1.1 step 5). Returns the warnings on the way."""
        warnings = [
            f"{name} was not re-executed: its code is running (the call stack or __main__)"
            for name in applied.skipped
        ]
        write_pyc = persist_bytecode and not sys.dont_write_bytecode
        for name in applied.executed:
            src = applied.sources.get(name)
            if src is None or src.kept:
                continue  # a dependent that ran the text it runs: its file is as it was
            self.pending.resolved(name)
            self.project.loaded.executed(name, src.stamp)
            if src.reused:
                continue  # its file, hash and bytecode are as they were
            self.disk_hashes[src.path] = hashlib.sha256(src.data).hexdigest()
            if write_pyc:
                flags = src.index.future_flags if src.index is not None else 0
                writer = bytecode.writer()
                writer.submit(src.path, src.data, src.filename, flags, src.code, after=RELOAD_LOCK)
            self.compiler.ran(src)
        self.compiler.running.save_cache_behind()  # the dependents' readings, for next time
        return warnings

    def publish(
        self, applied: Applied, batch: Batch, warnings: list[str], running_old: list[OldFrame]
    ) -> list[Payload]:
        """The payloads, saved module first, each broadcast as a ``recompiled`` event
        (``running_old``: the functions patched while a thread ran their old code)."""
        payloads = self._payloads(applied.reports, batch, warnings, running_old)
        self.last_reload = LastReload(
            mod=batch.sources[0].mod,
            at=time.time(),
            modules=[p["mod"] for p in payloads],
            elapsed_ms=payloads[0]["elapsed_ms"] if payloads else None,
        )
        listened = subscriber_count() > 0
        for payload in payloads:
            # Each subscriber-visible payload is a copy: a callback that edits it must not
            # change what reload() returns (with no subscriber, nobody can).
            event_payload: dict[str, Any] = json_copy(payload) if listened else dict(payload)
            publish(ModuleEvent("recompiled", payload["mod"], payload.get("path"), event_payload))
        return payloads

    def tell_listeners(
        self, batch: Batch, files: tuple[CommittedFile, ...], payloads: list[Payload]
    ) -> ReloadResult:
        """Hand the committed batch to the listeners; merge what they add into the result,
        which names the modules still holding a failed edit."""
        result: ReloadResult = {"recompiled": payloads}
        if self.pending:
            result["pending"] = [cast(PendingBrief, p.brief()) for p in self.pending.values()]
        gone = tuple(
            CommittedFile(mod, path, batch.before.get(path), None)
            for mod, path in batch.purged.items()
            if path is not None and path in batch.before
        )
        if not (files or gone or batch.purged) or not self.listeners:
            return result
        committed = CommittedBatch(batch.origin, files + gone, tuple(batch.purged), result)
        for listener in list(self.listeners):
            try:
                extra = listener(committed)
            except Exception:
                log.exception("hotreload: a batch listener failed; the reload itself succeeded")
                continue
            if extra:
                result.update(extra)  # type: ignore[typeddict-item]
        return result

    def analyse_only(self, src: Source, batch: Batch) -> ReloadResult:
        """A saved file that cannot be imported: compile it (to report syntax errors) and
        return its payload, executing nothing."""
        try:
            self.compiler.compile(src)
        except ModuleFailed as failed:
            cause = failed.__cause__ or failed
            raise self.failure([], src.mod, cause, str(src.path)) from cause
        report = ModuleReport(Step(src.mod, None, None), src, None, executed=False)
        [payload] = self._payloads([report], batch, [])
        payload["warnings"] = [
            *batch.warnings,
            f"{src.path} is not importable under a module name; saved and analysed only",
        ]
        return {"recompiled": [payload]}

    def _held_back(self, batch: Batch, wait: MustWait) -> None:
        """A batch held back for a running cell changed nothing: say which files it was
        given and how to run it in full later (its files are written, their texts kept)."""
        running = self.compiler.running
        for src in batch.sources:
            module = sys.modules.get(src.mod)
            if module is not None:
                # The text it runs is the one before the write: the later run compares
                # the new text with it, as this one did (only what changed runs).
                running.remember(src.mod, module, src.path)
        wait.modules = [(s.mod, str(s.path)) for s in batch.sources]
        later = replace(batch, hold=None)

        def resume() -> ReloadResult:
            later.started = time.perf_counter()  # the wait is not the reload's time
            return self.run(later)

        wait.resume = resume

    # -- failures --------------------------------------------------------------------------

    def failure(
        self,
        sources: list[Source],
        mod: str,
        exc: BaseException,
        path: str | None = None,
        note: str = "",
        not_restored: tuple[str, ...] = (),
    ) -> ReloadError:
        """The batch of ``sources`` failed in module ``mod``: its files keep their new text
        and their modules are pending (:class:`~.changes.pending.PendingEdits`); publish
        ``compile_failed`` and make the :class:`ReloadError` to raise (``note``: what the
        rollback could not undo; ``not_restored``: the objects it left changed)."""
        where = Path(path) if path else self.project.graph.path_for_module(mod)
        error = describe_failure(exc, where)
        self.pending.failed(sources, mod, dict(error))
        shown = str(where) if where else None
        publish(ModuleEvent("compile_failed", mod, shown, error=dict(error)))
        message = f"{error['message']}; {note}" if note else error["message"]
        return ReloadError(mod, shown, error["lineno"], message, not_restored)

    def _payloads(
        self,
        reports: list[ModuleReport],
        batch: Batch,
        warnings: list[str],
        running_old: list[OldFrame] | None = None,
    ) -> list[Payload]:
        elapsed_ms = round((time.perf_counter() - batch.started) * 1000, 3)
        return build_payloads(reports, elapsed_ms, warnings, batch.sources[0].mod, running_old)
