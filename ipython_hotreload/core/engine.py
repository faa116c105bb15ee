"""HotReloader: the public face of the engine. Each method hands over in a few lines.

Where each capability lives:

* one reload, stage by stage (write, compile, plan, run, commit, publish):
  :mod:`.pipeline`;
* where modules and files are (roots, module names, a module's file): :mod:`.project`;
* one definition of a file (``source_of``, ``reload_definition``), history and undo:
  :mod:`.editor`, over :mod:`.edit.definitions` and :mod:`.edit.history`;
* watching files edited elsewhere: :mod:`.changes.watch`;
* a reload that arrives while a cell runs on another thread (SPEC §2.5): :mod:`.cells`
  (every reloading method hands its work to :attr:`HotReloader.rule`, whose ``cells`` the
  shell's adapter installs); old versions still running: :mod:`.report.oldcode`;
* the default reloader and the module-level functions: :mod:`.defaults`.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any, TypedDict

from ipython_hotreload.core.batch import Batch, BatchListener, Origin, Reexecute
from ipython_hotreload.core.cells import CellRule, Cells, Hold, WhileRunning
from ipython_hotreload.core.changes.loaded import LoadedModules
from ipython_hotreload.core.changes.watch import Report, Schedule, Watcher
from ipython_hotreload.core.edit.formatting import (
    FormatterSpec,
    apply_formatter,
    describe_formatter,
    resolve_formatter,
)
from ipython_hotreload.core.edit.history import History
from ipython_hotreload.core.editor import Editor
from ipython_hotreload.core.events import subscriber_count
from ipython_hotreload.core.graph.modulegraph import ModuleGraph
from ipython_hotreload.core.pipeline import RELOAD_LOCK, Pipeline
from ipython_hotreload.core.project import Project, resolve_roots
from ipython_hotreload.core.report.analysis import analyse_functions
from ipython_hotreload.core.results import EDGE_LABELS, FunctionInfo, ReloadResult
from ipython_hotreload.core.source.provenance import record_imports
from ipython_hotreload.core.source.running import package_of
from ipython_hotreload.errors import HotReloadError

__all__ = ["HotReloader", "Status"]


class Status(TypedDict):
    """:meth:`HotReloader.status`: a JSON-friendly summary for ``%hotreload`` and frontends."""

    roots: list[str]
    formatter: str | None
    persist_bytecode: bool
    modules: int  # in the dependency graph
    parse_errors: dict[str, str]  # path -> message
    subscribers: int
    last_reload: dict[str, Any] | None  # {"mod", "at", "modules", "elapsed_ms"}
    watching: list[str]  # empty when no watcher runs
    pending: list[dict[str, Any]]  # failed edits still on disk: {"mod", "path", "error", "at"}


class HotReloader:
    """Hot-reloads the modules of a project (its ``roots``) inside this interpreter.

    ``graph_cache`` keeps the import records of the project's files on disk between sessions;
    ``graph_workers`` is how many worker processes may scan files when the graph is built
    with no cache (None: one per spare CPU when the project is big enough; 0: none).
    ``while_running`` says what a reload from another thread does while a cell runs
    (SPEC §2.5): ``"patch"``, ``"all"`` or ``"wait"``."""

    def __init__(
        self,
        roots: Iterable[str | os.PathLike[str]] | None = None,
        formatter: FormatterSpec = "ruff",
        persist_bytecode: bool = True,
        *,
        graph_cache: bool = True,
        graph_workers: int | None = None,
        reexecute: Reexecute = "minimal",
        history_limit: int = 100,
        while_running: WhileRunning = "patch",
    ) -> None:
        # From now on, note what the import system reads: the source a module was imported
        # from can then be vouched for (SPEC §1.5).
        record_imports()
        self._project = Project(
            resolve_roots(roots), graph_cache=graph_cache, graph_workers=graph_workers
        )
        self._pipeline = Pipeline(self._project)
        #: SPEC §2.5's rule: ``rule.while_running`` (``"patch"``, ``"all"``, ``"wait"``), and
        #: ``rule.cells``, what the shell's adapter says of the cells it runs (None: none).
        self.rule = CellRule(RELOAD_LOCK, while_running)
        self.formatter = formatter
        self.persist_bytecode = persist_bytecode
        self.reexecute = reexecute
        self.history_limit = history_limit
        self._history = History(lambda: self.history_limit)
        self._editor = Editor(self._project, self._pipeline, self._history, self.rule)
        self._prefetch: Any = None  # a prefetch.Prefetch, once warm_up() has started one
        self.add_batch_listener(self._history.record)

    # -- configuration ---------------------------------------------------------------------

    @property
    def roots(self) -> list[Path]:
        """The project's directories; only their modules are re-executed as dependents."""
        return self._project.roots

    @roots.setter
    def roots(self, roots: Iterable[str | os.PathLike[str]]) -> None:
        with RELOAD_LOCK:
            self._project.set_roots(resolve_roots(roots))

    @property
    def lock(self) -> threading.RLock:
        """The re-entrant lock that serialises every reload in this process (all reloaders
        share ``sys.modules``, so they share the lock)."""
        return RELOAD_LOCK

    @property
    def formatter(self) -> FormatterSpec:
        """``"ruff"``, ``"black"``, ``None`` or a ``str -> str`` callable."""
        return self._formatter_spec

    @formatter.setter
    def formatter(self, spec: FormatterSpec) -> None:
        self._format_fn = resolve_formatter(spec)
        self._formatter_spec = spec

    @property
    def graph(self) -> ModuleGraph:
        """The project's labelled module graph."""
        return self._project.graph

    @property
    def loaded(self) -> LoadedModules:
        """The project's loaded modules and the state of their files."""
        return self._project.loaded

    def add_batch_listener(self, listener: BatchListener) -> Callable[[], None]:
        """Call ``listener`` after every committed reload of this reloader (under the reload
        lock, after the ``recompiled`` events); the mapping it returns is merged into the
        reload's result. Returns a function that removes it. A listener that raises is
        logged and does not fail the reload."""
        listeners = self._pipeline.listeners
        listeners.append(listener)
        return lambda: listeners.remove(listener) if listener in listeners else None

    def _batch(
        self, origin: Origin, reexecute: Reexecute | None = None, hold: Hold | None = None
    ) -> Batch:
        return Batch(origin, reexecute or self.reexecute, self.persist_bytecode, [], hold=hold)

    # -- reloading -------------------------------------------------------------------------

    def reload(
        self,
        path: str | os.PathLike[str],
        content: str | bytes,
        *,
        format: bool = True,
        reexecute: Reexecute | None = None,
    ) -> ReloadResult:
        """Write ``content`` to ``path``, format it, and hot-reload the module graph
        (``reexecute`` overrides the reloader's setting for this call: ``%%hotreload --full``).
        Called from another thread while a cell runs, a reload that must run statements
        returns once the cell has ended and it was applied (SPEC §2.5)."""
        text = _as_text(content, path)
        formatter = self._format_fn if format else None
        return self.rule.apply(
            lambda hold: self._pipeline.reload_text(
                path, text, formatter, self._batch("reload", reexecute, hold)
            )
        )

    def reload_files(
        self, files: Mapping[str | os.PathLike[str], bytes | None], *, origin: Origin = "reload"
    ) -> ReloadResult:
        """Write several files' exact bytes (no format; None deletes the file and purges its
        module) and reload them as one all-or-nothing batch. Used by undo and by cluster
        workers. Every path is checked before anything is written."""
        return self.rule.apply(
            lambda hold: self._pipeline.reload_files(files, self._batch(origin, hold=hold))
        )

    def reload_from_disk(
        self,
        changed: Iterable[str | os.PathLike[str]],
        deleted: Iterable[str | os.PathLike[str]] = (),
        *,
        at_once_only: bool = False,
    ) -> ReloadResult:
        """Run the pipeline on files that already hold their new text (no write, no format):
        ``deleted`` modules are purged, ``changed`` ones re-executed with their dependents,
        all or nothing, as one batch. ``at_once_only`` (the watcher's first try): apply only
        what may apply at once from this thread, else raise :class:`~.cells.MustWait`
        having changed nothing (see :meth:`.cells.CellRule.at_once`)."""
        changed_paths = [Path(p).resolve() for p in changed]
        deleted_paths = [Path(p).resolve() for p in deleted]

        def attempt(hold: Hold | None) -> ReloadResult:
            batch = self._batch("watch", hold=hold)
            return self._pipeline.reload_from_disk(changed_paths, deleted_paths, batch)

        return self.rule.at_once(attempt) if at_once_only else self.rule.apply(attempt)

    def purge_module(self, mod: str | ModuleType) -> None:
        """Forget a module: ``sys.modules``, its parent's attribute, its ``.pyc``, the graph;
        then broadcast ``source_removed`` (also when it was not loaded)."""
        name = mod.__name__ if isinstance(mod, ModuleType) else str(mod)
        with RELOAD_LOCK:
            self._pipeline.purge(name)

    # -- one definition, history, undo -----------------------------------------------------

    def source_of(self, target: str) -> dict[str, Any]:
        """The current text on disk of one definition (SPEC §1.6): ``{"mod", "path",
        "qualname", "lineno", "end_lineno", "source", "source_hash"}``, decorators included."""
        return self._editor.source_of(target)

    def reload_definition(
        self,
        target: str,
        content: str,
        *,
        format: bool = True,
        expected_hash: str | None = None,
    ) -> ReloadResult:
        """Replace one definition's lines in its file (or add it) and hot-reload the file
        (SPEC §1.6); only the new definition is formatted. The result's ``"definition"``
        says where it now is and how many of its lines the formatter changed.
        ``expected_hash``: the ``source_hash`` of the text the caller opened; if the text on
        disk now hashes otherwise, :class:`ConflictError` is raised and nothing is written."""
        formatter = self._format_fn if format else None
        return self._editor.reload_definition(
            target,
            content,
            formatter,
            expected_hash,
            lambda o, h: self._batch(o, hold=h),  # type: ignore[arg-type]
        )

    def history(self) -> list[dict[str, Any]]:
        """The committed reloads, newest first (SPEC §1.7), at most ``history_limit``."""
        return self._history.entries()

    def undo(self, steps: int = 1, *, force: bool = False) -> ReloadResult:
        """Write back the files of the newest ``steps`` entries not yet undone and reload them,
        all or nothing (SPEC §1.7); the undo is itself an entry, so undoing it redoes. From
        another thread while a cell runs, an undo waits for the cell (unless
        ``while_running`` is ``"all"``): it is decided before anything is written."""

        def reload_files(files: Any, *, origin: Origin = "undo") -> ReloadResult:
            return self._pipeline.reload_files(files, self._batch(origin))

        return self._editor.undo(steps, force, reload_files)

    # -- reading ---------------------------------------------------------------------------

    def still_running(
        self, entries: Iterable[Mapping[str, Any]] | None = None
    ) -> list[dict[str, str]]:
        """The old versions reloads found running (payloads' ``running_old``, SPEC §2.5) whose
        frames have not returned yet, ``{"mod", "qualname", "thread"}``; with ``entries``,
        of those only. Cheap, and callable from any thread (a panel polls it)."""
        return self._pipeline.old_code.still_running(entries)

    def compile_dep_edges(self, *, labels: Iterable[str] | None = None) -> list[dict[str, str]]:
        """The project's import edges ``{"from", "to", "label"}``, strongest label per pair."""
        wanted: list[str] | None = None
        if labels is not None:
            wanted = [labels] if isinstance(labels, str) else list(labels)
            unknown = sorted(set(wanted) - set(EDGE_LABELS))
            if unknown:
                raise ValueError(f"unknown edge labels {unknown}; use {list(EDGE_LABELS)}")
        with RELOAD_LOCK:
            return [e.to_json() for e in self._project.graph.edges(wanted)]

    def functions(self, mod: str) -> list[FunctionInfo]:
        """The payload ``functions`` of a project module, from its file on disk."""
        path = self._project.file_of(mod)
        if path is None:
            raise HotReloadError(f"no source file is known for module {mod!r}")
        try:
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise HotReloadError(f"cannot read the source of {mod!r} at {path}: {exc}") from exc
        return analyse_functions(text)

    def describe_module(self, mod: str) -> dict[str, Any]:
        """What is true of module ``mod`` for a panel (see :meth:`.project.Project.describe_module`)."""
        return self._project.describe_module(mod)

    def known_hash(self, path: str | os.PathLike[str]) -> str | None:
        """The sha256 of the text this reloader last wrote or loaded at ``path``, so a file
        watcher can tell the reloader's own writes from edits made elsewhere."""
        return self._pipeline.disk_hashes.get(Path(path).resolve())

    def status(self) -> Status:
        """A JSON-friendly summary for ``%hotreload`` and frontends."""
        watcher = self._pipeline.watcher
        watching = watcher.paths if watcher is not None and watcher.alive else []
        last = self._pipeline.last_reload
        return {
            "roots": [str(r) for r in self.roots],
            "formatter": describe_formatter(self._formatter_spec),
            "persist_bytecode": self.persist_bytecode,
            "modules": len(self._project.graph.modules()),
            "parse_errors": self._project.graph.parse_errors(),
            "subscribers": subscriber_count(),
            "last_reload": last.to_json() if last is not None else None,
            "watching": [str(p) for p in watching],
            "pending": [p.to_json() for p in self._pipeline.pending.values()],
        }

    # -- background work -------------------------------------------------------------------

    def warm_up(self) -> None:
        """Do ahead of the first reload the work it would otherwise begin with: build the
        dependency graph, look at the loaded modules, import astroid and analyse once, run
        ruff once (when it is the formatter), summarise what each loaded file mentions, and
        have a child process analyse and read the loaded project files (``prefetch``), so a
        first reload analyses only what changed and parses none of its dependents.
        Meant for a background thread: the graph is built under the reload lock, so a
        reload that comes first waits only for what is not ready yet."""
        # First astroid: importing it adds a hundred modules, which the look at the loaded
        # modules below then has seen already.
        analyse_functions("def warm_up(x: int = 1) -> int:\n    return x\n")
        project = self._project
        with RELOAD_LOCK:
            project.graph.modules()
            loaded = project.sync()
            # A first look at every loaded file (their stamps, the change feed's watches);
            # what it finds stale stays pending for the reload that needs it.
            project.loaded.changed_on_disk(loaded, set())
            if loaded:  # a plan, thrown away, builds the graph's reverse index
                project.graph.plan([next(iter(loaded))], loaded, project.loaded.import_order())
            running, files = self._pipeline.compiler.running, []
            for name, module in loaded.items():
                if (p := project.loaded.path_of(name)) is not None:
                    running.mentions(name, p)  # every dependent's first filter
                    files.append((p, package_of(name, module)))
        if files and self._prefetch is None:
            # Imported here, not with the engine: only a warm-up starts the child process.
            from ipython_hotreload.core.report.prefetch import Prefetch

            self._prefetch = Prefetch(files, running.seed)
        if self._formatter_spec == "ruff" and project.roots:
            # ruff runs in its own process: starting it once here costs the kernel nothing.
            # An in-process formatter (black, a callable) is left alone: running user code,
            # or importing a package, unasked in a background thread is no warm-up.
            apply_formatter(self._format_fn, "x = 1\n", project.roots[0] / "__warm_up__.py")

    def wait_for_prefetch(self, timeout: float | None = None) -> bool:
        """Wait until the analysis prefetch started by :meth:`warm_up` has answered (True;
        also when none was started), or ``timeout`` seconds have passed (False)."""
        prefetch = self._prefetch
        return True if prefetch is None else bool(prefetch.done.wait(timeout))

    @property
    def watcher(self) -> Watcher | None:
        """The running file watcher, if any."""
        return self._pipeline.watcher

    def watch(
        self,
        paths: Iterable[str | os.PathLike[str]] | None = None,
        *,
        schedule: Schedule | None = None,
        debounce_ms: int = 50,
        report: Report | None = None,
    ) -> Watcher:
        """Watch ``paths`` (default: the roots) for edits made elsewhere and hot-reload them;
        ``schedule(fn)`` runs each batch where executing user code is safe (default: in the
        watcher thread, under the reload lock; with ``rule.cells`` installed, after the
        running cell if one runs). While a cell runs, a batch that only patches functions is
        applied at once from the watcher thread (SPEC §2.5). ``report(text)`` shows why an
        edit did not reload (default: stderr). Returns the running watcher."""
        with RELOAD_LOCK:
            self.stop_watching()
            targets = [Path(p).resolve() for p in paths] if paths else self.roots
            # An edit the watcher reports has already replaced the file: note now the text
            # each loaded module runs, so that edit is compared with it (only what changed
            # runs) instead of re-executing the module whole.
            loaded = self._project.loaded
            for name, module in loaded.project_modules().items():
                path = loaded.path_of(name)
                if path is not None:
                    self._pipeline.compiler.running.remember(name, module, path)
            cells = self.rule.cells
            if schedule is None and cells is not None:
                # A batch that must wait for a running cell runs on the cell's thread once
                # it ends; one that finds no cell running runs in the watcher thread.
                schedule = _after_cell_or_now(cells)
            watcher = Watcher(
                self, targets, schedule=schedule, debounce_ms=debounce_ms, report=report
            )
            self._pipeline.watcher = watcher
            watcher.start()
            return watcher

    def stop_watching(self) -> None:
        """Stop the watcher, if one runs, and wait for its thread to end."""
        watcher, self._pipeline.watcher = self._pipeline.watcher, None
        if watcher is not None:
            watcher.stop()

    def close(self) -> None:
        """Stop background work (a watcher) and release the change feed of this reloader."""
        self.stop_watching()
        self._project.loaded.close()
        prefetch, self._prefetch = self._prefetch, None
        if prefetch is not None:
            prefetch.close()


def _after_cell_or_now(cells: Cells) -> Schedule:
    """A watcher's ``schedule``: after the cell running on another thread, else at once."""

    def schedule(fn: Callable[[], None]) -> None:
        if not cells.after_cell(fn):
            fn()

    return schedule


def _as_text(content: str | bytes, path: object) -> str:
    if isinstance(content, bytes):
        try:
            content = content.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise HotReloadError(
                f"the new content for {path} is not valid UTF-8 (byte {exc.start}); nothing was written"
            ) from None
    if not isinstance(content, str):
        raise TypeError(f"content must be str or bytes, not {type(content).__name__}")
    try:
        content.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise HotReloadError(
            f"the new content for {path} cannot be encoded as UTF-8 (position {exc.start}); "
            "nothing was written"
        ) from None
    return content
