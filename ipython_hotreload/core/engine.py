"""The reload pipeline: the one place that knows its order.

``reload(path, content)``, then :meth:`HotReloader._run`'s stages:

1. check the path (``paths.check_path``);
2. format in memory and write atomically (``formatting``, ``paths.atomic_write``); publish
   ``source_written``;
3. ``_sync_graph``: the loaded project modules, each covered by the graph;
4. ``_stale_sources``: loaded modules whose files changed on disk behind our back;
5. ``_compile_all``: parse and compile once; the graph re-scans each file from that parse;
6. ``_execute``: plan (the changed modules, then those that must follow by the graph's
   labels) and run it under a :class:`~.journal.Journal`: by default statement by statement
   (:mod:`.reload.minimal`: only what changed runs), else whole modules; any exception
   (``KeyboardInterrupt`` included) rolls everything back, then ``compile_failed`` and
   :class:`ReloadError`;
7. ``_commit``: stamps, the texts modules now run, hashes, checked hash ``.pyc`` files;
8. ``_publish``: one ``recompiled`` event per updated module, the saved one first;
9. ``_tell_listeners``: history and cluster workers hear of the committed batch.

All reloads in a process are serialised by one re-entrant lock: they share ``sys.modules``.

This module is past STYLE's ~400 lines because :class:`HotReloader` is the public face of
every capability (reload, a definition, history and undo, watching, warm-up, status) and
each of those is a short method handing over to its own module (``reload/definitions``,
``reload/history``, ``changes/watch``, ``reload/prefetch``); the pipeline itself is the
stage methods above.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import linecache
import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, ModuleType
from typing import Any, Literal, TypedDict

from ipython_hotreload.core.changes.loaded import LoadedModules, Stamp, read_source
from ipython_hotreload.core.changes.watch import Schedule, Watcher
from ipython_hotreload.core.events import ModuleEvent, publish, subscriber_count
from ipython_hotreload.core.formatting import (
    FormatterSpec,
    apply_formatter,
    describe_formatter,
    resolve_formatter,
)
from ipython_hotreload.core.graph.modulegraph import ModuleGraph, Step
from ipython_hotreload.core.graph.scanpool import gc_paused
from ipython_hotreload.core.labels import EDGE_LABELS
from ipython_hotreload.core.paths import atomic_write, check_path, is_within, sys_path_dirs
from ipython_hotreload.core.reload import bytecode
from ipython_hotreload.core.reload.analysis import FunctionInfo, analyse_functions
from ipython_hotreload.core.reload.definitions import (
    Target,
    find_definition,
    parse_target,
    splice_definition,
    split_lines,
)
from ipython_hotreload.core.reload.execution import PlanRun, Source
from ipython_hotreload.core.reload.history import History
from ipython_hotreload.core.reload.payloads import Payload, build_payloads, describe_failure
from ipython_hotreload.core.reload.provenance import import_stamp, record_imports
from ipython_hotreload.core.reload.sources import RunningSources
from ipython_hotreload.errors import ConflictError, HotReloadError, ReloadError

__all__ = [
    "HotReloader",
    "compile_dep_edges",
    "default_reloader",
    "history",
    "peek_default_reloader",
    "purge_module",
    "reload",
    "reload_definition",
    "set_default_reloader",
    "source_of",
    "undo",
]

log = logging.getLogger(__name__)

_RELOAD_LOCK = threading.RLock()

# From now on, note what the import system reads: the source a module was imported from
# can then be vouched for (SPEC §1.5).
record_imports()

#: How much a reload re-executes (SPEC §1.5): only what changed, or whole modules.
Reexecute = Literal["minimal", "module"]

#: What started a reload: SPEC §1.7's history ``origin``.
Origin = Literal["reload", "definition", "watch", "undo"]


class LastReload(TypedDict):
    """The latest successful reload, as :meth:`HotReloader.status` reports it."""

    mod: str
    at: float  # time.time()
    modules: list[str]  # those with a payload, the saved one first
    elapsed_ms: float | None


class Status(TypedDict):
    """:meth:`HotReloader.status`: a JSON-friendly summary for ``%hotreload`` and frontends."""

    roots: list[str]
    formatter: str | None
    persist_bytecode: bool
    modules: int  # in the dependency graph
    parse_errors: dict[str, str]  # path -> message
    subscribers: int
    last_reload: LastReload | None
    watching: list[str]  # empty when no watcher runs


@dataclass(frozen=True)
class CommittedFile:
    """One file of a committed reload: its bytes before (None: it did not exist, or they are
    not known) and after (None: the file was deleted and its module purged)."""

    mod: str
    path: Path
    before: bytes | None
    after: bytes | None


@dataclass(frozen=True)
class CommittedBatch:
    """What one successful reload changed, for listeners (history, cluster workers): the
    files whose new text was run (saved, or changed on disk), in the order they were given,
    and the modules purged on the way."""

    origin: Origin
    files: tuple[CommittedFile, ...]
    purged: tuple[str, ...]
    result: Mapping[str, Any]


#: A listener may return extra keys for the reload's result (``{"workers": ...}``).
BatchListener = Callable[[CommittedBatch], Mapping[str, Any] | None]


class HotReloader:
    """Hot-reloads the modules of a project (its ``roots``) inside this interpreter.

    ``graph_cache`` keeps the import records of the project's files on disk between sessions;
    ``graph_workers`` is how many worker processes may scan files when the graph is built
    with no cache (None: one per spare CPU when the project is big enough; 0: none)."""

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
    ) -> None:
        self._roots = self._resolve_roots(roots)
        self.formatter = formatter
        self.persist_bytecode = persist_bytecode
        self.reexecute = reexecute
        self.history_limit = history_limit
        self.graph = ModuleGraph(self._roots, use_cache=graph_cache, workers=graph_workers)
        self.loaded = LoadedModules(self._roots, first_stamp=import_stamp)
        # module -> (stamp of its file, the code compiled from it): a dependent whose file
        # did not change is re-executed from this, not read, parsed and compiled again.
        self._codes: dict[str, tuple[Stamp, CodeType]] = {}
        self.last_reload: LastReload | None = None
        self.watcher: Watcher | None = None
        self._disk_hashes: dict[Path, str] = {}
        self._batch_listeners: list[BatchListener] = []
        # What each module runs, for statement-level updates (the plan's SourceBook).
        self.sources = RunningSources(self.loaded.path_of, self._code_filename, read_source)
        self._purged_paths: dict[str, Path] = {}  # purged module -> its file
        self._purged: list[str] = []  # modules purged since the current batch began
        self._history = History(lambda: self.history_limit)
        self._prefetch: Any = None  # a prefetch.Prefetch, once warm_up() has started one
        # Files changed before this moment were seen as they are by any graph scan; the
        # margin covers file systems whose timestamps lag the clock.
        self._made_ns = time.time_ns() - 2_000_000_000
        self.add_batch_listener(self._history.record)

    # -- configuration ---------------------------------------------------------------------

    @staticmethod
    def _resolve_roots(roots: Iterable[str | os.PathLike[str]] | None) -> list[Path]:
        if roots is None:
            return [Path.cwd().resolve()]
        if isinstance(roots, str | os.PathLike):
            roots = [roots]
        return [Path(r).expanduser().resolve() for r in roots]

    @property
    def roots(self) -> list[Path]:
        """The project's directories; only their modules are re-executed as dependents."""
        return list(self._roots)

    @roots.setter
    def roots(self, roots: Iterable[str | os.PathLike[str]]) -> None:
        with _RELOAD_LOCK:
            self._roots = self._resolve_roots(roots)
            self.graph.set_roots(self._roots)
            self.loaded.set_roots(self._roots)

    @property
    def lock(self) -> threading.RLock:
        """The re-entrant lock that serialises every reload in this process (all reloaders
        share ``sys.modules``, so they share the lock)."""
        return _RELOAD_LOCK

    @property
    def formatter(self) -> FormatterSpec:
        """``"ruff"``, ``"black"``, ``None`` or a ``str -> str`` callable."""
        return self._formatter_spec

    @formatter.setter
    def formatter(self, spec: FormatterSpec) -> None:
        self._format_fn = resolve_formatter(spec)
        self._formatter_spec = spec

    def add_batch_listener(self, listener: BatchListener) -> Callable[[], None]:
        """Call ``listener`` after every committed reload of this reloader (under the reload
        lock, after the ``recompiled`` events); the mapping it returns is merged into the
        reload's result. Returns a function that removes it. A listener that raises is
        logged and does not fail the reload."""
        self._batch_listeners.append(listener)

        def remove() -> None:
            if listener in self._batch_listeners:
                self._batch_listeners.remove(listener)

        return remove

    # -- public API ------------------------------------------------------------------------

    def reload(
        self,
        path: str | os.PathLike[str],
        content: str | bytes,
        *,
        format: bool = True,
        reexecute: Reexecute | None = None,
    ) -> dict[str, Any]:
        """Write ``content`` to ``path``, format it, and hot-reload the module graph
        (``reexecute`` overrides the reloader's setting for this call: ``%%hotreload --full``)."""
        return self._reload_text(path, content, format=format, origin="reload", reexecute=reexecute)

    def _reload_text(
        self,
        path: str | os.PathLike[str],
        content: str | bytes,
        *,
        format: bool,
        origin: Origin,
        warnings: list[str] | None = None,
        reexecute: Reexecute | None = None,
    ) -> dict[str, Any]:
        started = time.perf_counter()
        text = _as_text(content, path)
        warnings = list(warnings or ())
        with _RELOAD_LOCK:
            self._purged = []
            resolved = check_path(path, self._allowed_dirs())
            mod, importable = self._module_name(resolved)
            before = _read_if_exists(resolved)
            self.sources.expect_write(resolved, before, _stamp_of(resolved))
            try:
                if format:
                    text, why = apply_formatter(self._format_fn, text, resolved)
                    if why:
                        warnings.append(why)
                data = text.encode("utf-8")
                stamp = atomic_write(resolved, data)
            except KeyboardInterrupt as exc:
                raise HotReloadError(
                    f"saving {resolved} was interrupted: the file holds its old text, or the "
                    "new text complete; nothing was reloaded"
                ) from exc
            self._disk_hashes[resolved] = hashlib.sha256(data).hexdigest()
            self._adopt_outside_root(resolved, mod)
            publish(ModuleEvent("source_written", mod, str(resolved)))
            source = Source(mod, resolved, data, full=True, stamp=stamp)
            if not importable:
                return self._analyse_only(source, started, warnings)
            return self._run(
                [source], started, warnings, origin, {resolved: before}, reexecute=reexecute
            )

    def reload_files(
        self,
        files: Mapping[str | os.PathLike[str], bytes | None],
        *,
        origin: Origin = "reload",
    ) -> dict[str, Any]:
        """Write several files' exact bytes (no format; None deletes the file and purges its
        module) and reload them as one all-or-nothing batch. Used by undo and by cluster
        workers. Every path is checked before anything is written."""
        started = time.perf_counter()
        with _RELOAD_LOCK:
            self._purged = []
            checked = [(check_path(p, self._allowed_dirs()), data) for p, data in files.items()]
            before: dict[Path, bytes | None] = {}
            sources: list[Source] = []
            for resolved, data in checked:
                before[resolved] = _read_if_exists(resolved)
                mod, _importable = self._module_name(resolved)
                if data is None:
                    if resolved.exists():
                        resolved.unlink()
                    self.purge_module(mod)
                    continue
                stamp = atomic_write(resolved, data)
                self._disk_hashes[resolved] = hashlib.sha256(data).hexdigest()
                self._adopt_outside_root(resolved, mod)
                publish(ModuleEvent("source_written", mod, str(resolved)))
                mod, importable = self._module_name(resolved)
                if importable:
                    sources.append(Source(mod, resolved, data, full=True, stamp=stamp))
            if not sources:
                return self._commit_purges_only(origin, before)
            return self._run(sources, started, [], origin, before)

    def reload_from_disk(
        self,
        changed: Iterable[str | os.PathLike[str]],
        deleted: Iterable[str | os.PathLike[str]] = (),
    ) -> dict[str, Any]:
        """Run the pipeline on files that already hold their new text (no write, no format):
        ``deleted`` modules are purged, ``changed`` ones re-executed with their dependents,
        all or nothing, as one batch."""
        started = time.perf_counter()
        with _RELOAD_LOCK:
            self._purged = []
            before: dict[Path, bytes | None] = {}
            for p in deleted:
                resolved = Path(p).resolve()
                name = self.graph.module_for_path(resolved)
                if name is not None:
                    before[resolved] = self.sources.text(name)
                    self.purge_module(name)
            sources: list[Source] = []
            for p in changed:
                resolved = Path(p).resolve()
                name = self.graph.module_for_path(resolved)
                if name is None or not resolved.is_file():
                    continue
                data, stamp = read_source(resolved)
                before[resolved] = self.sources.text(name)
                sources.append(Source(name, resolved, data, full=True, stamp=stamp))
            if not sources:
                return self._commit_purges_only("watch", before)
            return self._run(sources, started, [], "watch", before)

    def purge_module(self, mod: str | ModuleType) -> None:
        """Forget a module: ``sys.modules``, its parent's attribute, its ``.pyc``, the graph;
        then broadcast ``source_removed`` (also when it was not loaded)."""
        with _RELOAD_LOCK:
            name = mod.__name__ if isinstance(mod, ModuleType) else str(mod)
            module = sys.modules.pop(name, None)
            path: Path | None = self.graph.path_for_module(name)
            file = getattr(module, "__file__", None)
            if path is None and isinstance(file, str):
                path = Path(file)
            parent_name, _, child = name.rpartition(".")
            parent = sys.modules.get(parent_name) if parent_name else None
            if parent is not None and module is not None and getattr(parent, child, None) is module:
                delattr(parent, child)
            if path is not None and any(is_within(path.resolve(), r) for r in self._roots):
                bytecode.remove_pyc(path)  # never another package's (or the stdlib's) bytecode
            self.graph.remove_module(name)
            self.loaded.forget(name)
            self._codes.pop(name, None)
            self.sources.forget(name)
            self._purged.append(name)
            if path is not None:
                self._purged_paths[name] = path.resolve()
            publish(ModuleEvent("source_removed", name, str(path) if path else None))

    def compile_dep_edges(self, *, labels: Iterable[str] | None = None) -> list[dict[str, str]]:
        """The project's import edges ``{"from", "to", "label"}``, strongest label per pair."""
        wanted: list[str] | None = None
        if labels is not None:
            wanted = [labels] if isinstance(labels, str) else list(labels)
            unknown = sorted(set(wanted) - set(EDGE_LABELS))
            if unknown:
                raise ValueError(f"unknown edge labels {unknown}; use {list(EDGE_LABELS)}")
        with _RELOAD_LOCK:
            return [e.to_json() for e in self.graph.edges(wanted)]

    def source_of(self, target: str) -> dict[str, Any]:
        """The current text on disk of one definition (SPEC §1.6): ``{"mod", "path",
        "qualname", "lineno", "end_lineno", "source"}``, decorators included."""
        with _RELOAD_LOCK:
            parsed, path, mod = self._definition_file(target)
            text = self._read_text(path)
            if text is None:
                raise HotReloadError(f"{path} does not exist, so it has no {parsed.qualname}")
            found = find_definition(text, parsed.qualname, str(path))
            if found is None:
                raise HotReloadError(f"there is no definition {parsed.qualname} in {path}")
            lines = split_lines(text.removeprefix("\ufeff"))
            source = "".join(lines[found.start - 1 : found.end])
            return {
                "mod": mod,
                "path": str(path),
                "qualname": parsed.qualname,
                "lineno": found.start,
                "end_lineno": found.end,
                "source": source,
                "source_hash": _text_hash(source),
            }

    def reload_definition(
        self,
        target: str,
        content: str,
        *,
        format: bool = True,
        expected_hash: str | None = None,
    ) -> dict[str, Any]:
        """Replace one definition's lines in its file (or add it) and hot-reload the file
        (SPEC §1.6); only the new definition is formatted. The result's ``"definition"``
        says where it now is and how many of its lines the formatter changed.
        ``expected_hash``: the ``source_hash`` of the text the caller opened; if the text on
        disk now hashes otherwise, :class:`ConflictError` is raised and nothing is written."""
        with _RELOAD_LOCK:
            parsed, path, _mod = self._definition_file(target)
            text = self._read_text(path)
            if expected_hash is not None:
                _check_unchanged(target, parsed.qualname, path, text, expected_hash)
            fmt = None
            if format and self._format_fn is not None:
                fn = self._format_fn
                fmt = lambda block: apply_formatter(fn, block, path)  # noqa: E731
            splice = splice_definition(text, parsed, content, where=str(path), format=fmt)
            result = self._reload_text(
                path,
                splice.text,
                format=False,
                origin="definition",
                warnings=list(splice.warnings),
            )
            result["definition"] = {
                "qualname": splice.qualname,
                "lineno": splice.lineno,
                "end_lineno": splice.end_lineno,
                "added": splice.added,
                "formatted_lines": splice.formatted_lines,
            }
            return result

    def history(self) -> list[dict[str, Any]]:
        """The committed reloads, newest first (SPEC §1.7), at most ``history_limit``."""
        return self._history.entries()

    def undo(self, steps: int = 1, *, force: bool = False) -> dict[str, Any]:
        """Write back the files of the newest ``steps`` entries not yet undone and reload them,
        all or nothing (SPEC §1.7); the undo is itself an entry, so undoing it redoes."""
        with _RELOAD_LOCK:
            return self._history.undo(self.reload_files, steps, force=force)

    def warm_up(self) -> None:
        """Do ahead of the first reload the work it would otherwise begin with: build the
        dependency graph, look at the loaded modules, import astroid and analyse once, run
        ruff once (when it is the formatter), and have a child process analyse the loaded
        project files (``prefetch``), so a file's first reload analyses only what changed. Meant for a background thread: the graph is built under the
        reload lock, so a reload that comes first waits only for what is not ready yet."""
        # First astroid: importing it adds a hundred modules, which the look at the loaded
        # modules below then has seen already.
        analyse_functions("def warm_up(x: int = 1) -> int:\n    return x\n")
        with _RELOAD_LOCK:
            self.graph.modules()
            loaded = self.loaded.project_modules()
            self._graph_new_imports(loaded)
            # A first look at every loaded file (their stamps, the change feed's watches);
            # what it finds stale stays pending for the reload that needs it.
            self.loaded.changed_on_disk(loaded, set())
            if loaded:  # a plan, thrown away, builds the graph's reverse index
                self.graph.plan([next(iter(loaded))], loaded, self.loaded.import_order())
            paths = [p for name in loaded if (p := self.loaded.path_of(name)) is not None]
        if paths and self._prefetch is None:
            # Imported here, not with the engine: only a warm-up starts the child process.
            from ipython_hotreload.core.reload.prefetch import Prefetch

            self._prefetch = Prefetch(paths)
        if self._formatter_spec == "ruff" and self._roots:
            # ruff runs in its own process: starting it once here costs the kernel nothing.
            # An in-process formatter (black, a callable) is left alone: running user code,
            # or importing a package, unasked in a background thread is no warm-up.
            apply_formatter(self._format_fn, "x = 1\n", self._roots[0] / "__warm_up__.py")

    def wait_for_prefetch(self, timeout: float | None = None) -> bool:
        """Wait until the analysis prefetch started by :meth:`warm_up` has answered (True;
        also when none was started), or ``timeout`` seconds have passed (False)."""
        prefetch = self._prefetch
        return True if prefetch is None else bool(prefetch.done.wait(timeout))

    def _graph_new_imports(self, loaded: dict[str, ModuleType]) -> None:
        """Modules imported since the last look: a file created, or edited, after the
        graph's scan and imported since must still be planned as a dependent (update_file
        rescans a file only when its stat changed since the graph read it)."""
        for name in self.loaded.not_graphed(loaded):
            path = self.loaded.path_of(name)
            if path is None:
                continue
            if self.graph.path_for_module(name) is not None:
                try:
                    changed_ns = os.stat(path).st_mtime_ns
                except OSError:
                    continue  # gone: the stale-file check of the reload deals with it
                if changed_ns < self._made_ns:
                    continue  # last changed before this reloader (so before any graph scan)
            self.graph.update_file(path)

    def describe_module(self, mod: str) -> dict[str, Any]:
        """What is true of module ``mod`` for a panel: ``{"mod", "state", "path", "note"}``,
        ``state`` one of ``"loaded"`` (imported), ``"not_imported"`` (a project file no code
        has imported yet) or ``"unknown"`` (no such module here: misspelt, or outside the
        project and sys.path)."""
        module = sys.modules.get(mod)
        path = self.graph.path_for_module(mod)
        file = getattr(module, "__file__", None)
        if module is not None:
            where = path or (Path(file) if isinstance(file, str) else None)
            return {
                "mod": mod,
                "state": "loaded",
                "path": str(where) if where else None,
                "note": "",
            }
        if path is None:
            path = self._file_of(mod) or _spec_origin(mod)
        if path is not None:
            note = "not imported yet: its functions are read from the file; import it to run them"
            return {"mod": mod, "state": "not_imported", "path": str(path), "note": note}
        note = f"no module named {mod!r} in the project roots or on sys.path: check the spelling"
        return {"mod": mod, "state": "unknown", "path": None, "note": note}

    def _definition_file(self, target: str) -> tuple[Target, Path, str]:
        """The parsed target, its checked file and its module name."""
        parsed = parse_target(target)
        if parsed.path is not None:
            path = check_path(os.path.expanduser(parsed.path), self._allowed_dirs())
            return parsed, path, self._module_name(path)[0]
        assert parsed.module is not None
        found = self.graph.path_for_module(parsed.module) or self._file_of(parsed.module)
        if found is None:
            file = getattr(sys.modules.get(parsed.module), "__file__", None)
            if not isinstance(file, str):
                raise HotReloadError(
                    f"no source file is known for module {parsed.module!r} (is it spelt right, "
                    "and inside the project roots?); name the file instead: path/to/mod.py::"
                    f"{parsed.qualname}"
                )
            found = Path(file)
        return parsed, check_path(found, self._allowed_dirs()), parsed.module

    def _file_of(self, mod: str) -> Path | None:
        """The file of a module no code has imported and the graph has not seen (created
        since its scan), looked up under the roots and sys.path as an import would."""
        if mod in sys.modules:
            return None  # its __file__ says where it is
        rel = Path(*mod.split("."))
        for directory in [*sys_path_dirs(), *self._roots]:
            for candidate in (directory / rel.with_suffix(".py"), directory / rel / "__init__.py"):
                if candidate.is_file():
                    return candidate
        return None

    @staticmethod
    def _read_text(path: Path) -> str | None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise HotReloadError(f"cannot read {path}: {exc}") from exc
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise HotReloadError(
                f"{path} is not valid UTF-8 (byte {exc.start}): edit the whole file instead"
            ) from None

    def functions(self, mod: str) -> list[FunctionInfo]:
        """The payload ``functions`` of a project module, from its file on disk."""
        path = self.graph.path_for_module(mod) or self._file_of(mod)
        if path is None:
            module = sys.modules.get(mod)
            file = getattr(module, "__file__", None)
            if not isinstance(file, str):
                raise HotReloadError(f"no source file is known for module {mod!r}")
            path = Path(file)
        try:
            text = path.read_bytes().decode("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise HotReloadError(f"cannot read the source of {mod!r} at {path}: {exc}") from exc
        return analyse_functions(text)

    def known_hash(self, path: str | os.PathLike[str]) -> str | None:
        """The sha256 of the text this reloader last wrote or loaded at ``path``, so a file
        watcher can tell the reloader's own writes from edits made elsewhere."""
        return self._disk_hashes.get(Path(path).resolve())

    def status(self) -> Status:
        """A JSON-friendly summary for ``%hotreload`` and frontends."""
        alive = getattr(self.watcher, "alive", False)
        watching = (getattr(self.watcher, "paths", None) or []) if alive else []
        return {
            "roots": [str(r) for r in self._roots],
            "formatter": describe_formatter(self._formatter_spec),
            "persist_bytecode": self.persist_bytecode,
            "modules": len(self.graph.modules()),
            "parse_errors": self.graph.parse_errors(),
            "subscribers": subscriber_count(),
            "last_reload": self.last_reload,
            "watching": [str(p) for p in watching],
        }

    def watch(
        self,
        paths: Iterable[str | os.PathLike[str]] | None = None,
        *,
        schedule: Schedule | None = None,
        debounce_ms: int = 50,
    ) -> Watcher:
        """Watch ``paths`` (default: the roots) for edits made elsewhere and hot-reload them;
        ``schedule(fn)`` runs each batch where executing user code is safe (default: in the
        watcher thread, under the reload lock). Returns the running watcher."""
        with _RELOAD_LOCK:
            self.stop_watching()
            targets = [Path(p).resolve() for p in paths] if paths else list(self._roots)
            # An edit the watcher reports has already replaced the file: note now the text
            # each loaded module runs, so that edit is compared with it (only what changed
            # runs) instead of re-executing the module whole.
            for name, module in self.loaded.project_modules().items():
                self.sources.remember(name, module)
            watcher = Watcher(self, targets, schedule=schedule, debounce_ms=debounce_ms)
            self.watcher = watcher
            watcher.start()
            return watcher

    def stop_watching(self) -> None:
        """Stop the watcher, if one runs, and wait for its thread to end."""
        watcher, self.watcher = self.watcher, None
        if watcher is not None:
            watcher.stop()

    def close(self) -> None:
        """Stop background work (a watcher) and release the change feed of this reloader."""
        self.stop_watching()
        self.loaded.close()
        prefetch, self._prefetch = self._prefetch, None
        if prefetch is not None:
            prefetch.close()

    # -- the pipeline ----------------------------------------------------------------------

    def _run(
        self,
        sources: list[Source],
        started: float,
        warnings: list[str],
        origin: Origin = "reload",
        before: Mapping[Path, bytes | None] | None = None,
        *,
        reexecute: Reexecute | None = None,
    ) -> dict[str, Any]:
        """The stages of one batch, in order: sync the graph, find stale sources, compile,
        plan and execute, commit (hashes, stamps, bytecode), publish, tell listeners.

        The cyclic collector is paused meanwhile: a reload allocates (trees, code, payloads)
        and each collection it set off would walk the user's whole heap, so its cost would
        grow with everything the kernel holds rather than with what the edit touches."""
        with gc_paused():
            return self._run_stages(sources, started, warnings, origin, before, reexecute)

    def _run_stages(
        self,
        sources: list[Source],
        started: float,
        warnings: list[str],
        origin: Origin,
        before: Mapping[Path, bytes | None] | None,
        reexecute: Reexecute | None,
    ) -> dict[str, Any]:
        try:
            primary = sources[0]
            loaded = self._sync_graph()
            sources += self._stale_sources(loaded, {s.mod for s in sources})
            self._compile_all(sources, primary)
            run = self._execute(sources, loaded, primary, reexecute or self.reexecute)
            # Committed: the new code runs. What follows must not turn that into a failure.
            prior = {s.mod: self.sources.text(s.mod) for s in sources}
            self._commit(run, warnings)
            payloads = self._publish(run, started, warnings, primary.mod)
            before = before or {}
            committed = tuple(
                CommittedFile(s.mod, s.path, before.get(s.path, prior.get(s.mod)), s.data)
                for s in sources
            )
            return self._tell_listeners(origin, committed, before, {"recompiled": payloads})
        finally:
            self.sources.written()

    def _sync_graph(self) -> dict[str, ModuleType]:
        """The loaded project modules, with the graph covering every one of them."""
        loaded = self.loaded.project_modules()
        self._graph_new_imports(loaded)
        return loaded

    def _stale_sources(self, loaded: dict[str, ModuleType], named: set[str]) -> list[Source]:
        """Loaded modules whose files changed behind the reloader's back (those a running
        watcher covers are its to report); the ones whose file is gone are purged."""
        unwatched = self._unwatched(loaded)
        if not unwatched:
            return []
        stale, vanished = self.loaded.changed_on_disk(unwatched, named)
        for name in vanished:  # its file is gone: a stale copy must not outlive it
            self.purge_module(name)  # (which takes it out of `loaded` too)
        return [self._stale_source(m, loaded[m]) for m in stale]

    def _compile_all(self, sources: list[Source], primary: Source) -> None:
        """Parse and compile every source (nothing has run yet); the graph re-scans each
        from the same parse."""
        try:
            for src in sources:
                same_imports = self._compile(src)  # a SyntaxError raises here
                if same_imports:
                    self.graph.rewritten(src.path)
                else:  # a spliced tree's nodes may not carry their lines: the graph parses
                    self.graph.update_file(src.path, src.data, src.tree if src.code else None)
        except BaseException as exc:
            self._after_failure(sources)
            if isinstance(exc, ReloadError):
                raise
            raise self._failure(primary.mod, exc, path=primary.path) from exc

    def _execute(
        self,
        sources: list[Source],
        loaded: dict[str, ModuleType],
        primary: Source,
        reexecute: Reexecute,
    ) -> PlanRun:
        """Plan the batch and run it, all or nothing."""
        plan = self.graph.plan([s.mod for s in sources], loaded, self.loaded.import_order())
        book = self.sources if reexecute == "minimal" else None
        run = PlanRun(self.graph, loaded, {s.mod: s for s in sources}, self._prepare, book)
        try:
            run.execute(plan)
        except BaseException as exc:
            self._after_failure(sources)
            failed = getattr(exc, "_hotreload_mod", primary.mod)
            raise self._failure(failed, exc, note=run.not_undone()) from exc
        finally:
            for s in sources:
                # checkcache() trusts size and mtime, which a same-size rewrite within one
                # timestamp tick defeats: drop the entry so tracebacks read the new text.
                linecache.cache.pop(self._code_filename(s.mod, s.path), None)
                linecache.cache.pop(str(s.path), None)
        return run

    def _commit(self, run: PlanRun, warnings: list[str]) -> None:
        """Record what each module now runs: stamps, texts, hashes, bytecode."""
        warnings += [
            f"{name} was not re-executed: its code is running (the call stack or __main__)"
            for name in run.skipped
        ]
        write_pyc = self.persist_bytecode and not sys.dont_write_bytecode
        for name in run.executed:
            src = run.sources.get(name)
            if src is None:
                continue  # a dependent that ran some statements: its file is as it was
            self.loaded.executed(name, src.stamp)
            if src.reused:
                continue  # its file, hash and bytecode are as they were
            self.sources.ran(name, src.data, src.stamp)
            self._disk_hashes[src.path] = hashlib.sha256(src.data).hexdigest()
            if write_pyc:
                write_pyc = self._write_pyc(src, warnings)
            if src.code is not None and src.stamp is not None:
                self._codes[name] = (src.stamp, src.code)

    def _write_pyc(self, src: Source, warnings: list[str]) -> bool:
        """Persist one module's bytecode; False when the rest should not be tried."""
        try:
            try:
                code = src.compiled()
            except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
                warnings.append(f"no bytecode saved for {src.mod}: {exc}")
                return True
            warning = bytecode.write_pyc(src.path, src.data, code)
        except KeyboardInterrupt:
            warnings.append("saving bytecode was interrupted; it is only a cache")
            return False
        if warning:
            warnings.append(warning)
        return True

    def _publish(
        self, run: PlanRun, started: float, warnings: list[str], saved: str
    ) -> list[Payload]:
        """The payloads, saved module first, each broadcast as a ``recompiled`` event."""
        payloads = self._payloads(run.plan, run, started, warnings, saved)
        self.last_reload = {
            "mod": saved,
            "at": time.time(),
            "modules": [p["mod"] for p in payloads],
            "elapsed_ms": payloads[0]["elapsed_ms"] if payloads else None,
        }
        listened = subscriber_count() > 0
        for payload in payloads:
            # Each subscriber-visible payload is a copy: a callback that edits it must not
            # change what reload() returns (with no subscriber, nobody can).
            event_payload: dict[str, Any] = _json_copy(payload) if listened else dict(payload)
            publish(ModuleEvent("recompiled", payload["mod"], payload.get("path"), event_payload))
        return payloads

    def _commit_purges_only(
        self, origin: Origin, before: Mapping[Path, bytes | None]
    ) -> dict[str, Any]:
        return self._tell_listeners(origin, (), before, {"recompiled": []})

    def _tell_listeners(
        self,
        origin: Origin,
        files: tuple[CommittedFile, ...],
        before: Mapping[Path, bytes | None],
        result: dict[str, Any],
    ) -> dict[str, Any]:
        """Hand the committed batch to the listeners; merge what they add into the result."""
        purged = tuple(self._purged)
        self._purged = []
        gone = tuple(
            CommittedFile(mod, path, before.get(path), None)
            for mod in purged
            for path in [self._purged_paths.pop(mod, None)]
            if path is not None and path in before
        )
        if not (files or gone or purged) or not self._batch_listeners:
            return result
        batch = CommittedBatch(origin, files + gone, purged, result)
        for listener in list(self._batch_listeners):
            try:
                extra = listener(batch)
            except Exception:
                log.exception("hotreload: a batch listener failed; the reload itself succeeded")
                continue
            if extra:
                result.update(extra)
        return result

    def _analyse_only(self, src: Source, started: float, warnings: list[str]) -> dict[str, Any]:
        """A saved file that cannot be imported: compile it (to report syntax errors) and
        return its payload, executing nothing."""
        self._compile(src)
        self._disk_hashes[src.path] = hashlib.sha256(src.data).hexdigest()
        run = PlanRun(self.graph, {}, {src.mod: src}, self._prepare)
        payload = self._payloads([Step(src.mod, None, None)], run, started, [], src.mod)[0]
        payload["executed"] = False
        payload["warnings"] = [
            *warnings,
            f"{src.path} is not importable under a module name; saved and analysed only",
        ]
        return {"recompiled": [payload]}

    def _compile(self, src: Source) -> bool:
        """Parse and compile ``src``; True when only the statements its edit touched were
        (:mod:`~.reload.splice`: the whole module's code is then compiled when needed) and
        its imports are as they were."""
        filename = src.filename = self._code_filename(src.mod, src.path)
        try:
            src.text = src.data.decode("utf-8")
            spliced = self.sources.splice(src)
            if spliced is not None:
                flags = spliced.index.future_flags
                compile(spliced.chunk, filename, "exec", flags=flags, dont_inherit=True)
                src.index, src.tree = spliced.index, spliced.index.tree
                return spliced.same_imports
            src.tree = ast.parse(src.data, filename)
            src.code = compile(src.tree, filename, "exec", dont_inherit=True)
        except BaseException as exc:  # SyntaxError, but also RecursionError, MemoryError, Ctrl-C
            raise self._failure(src.mod, exc, path=src.path) from exc
        return False

    def _payloads(
        self, plan: Sequence[Step], run: PlanRun, started: float, warnings: list[str], saved: str
    ) -> list[Payload]:
        elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
        return build_payloads(plan, run, elapsed_ms, warnings, self.graph.path_for_module, saved)

    def _failure(
        self, mod: str, exc: BaseException, *, path: Path | None = None, note: str = ""
    ) -> ReloadError:
        """Publish ``compile_failed`` and make the :class:`ReloadError` to raise (``note``:
        what the rollback could not undo)."""
        path = path or self.graph.path_for_module(mod)
        error = describe_failure(exc, path)
        where = str(path) if path else None
        publish(ModuleEvent("compile_failed", mod, where, error=error))
        message = f"{error['message']}; {note}" if note else error["message"]
        return ReloadError(mod, where, error["lineno"], message)

    def _after_failure(self, sources: Sequence[Source]) -> None:
        """The files of a failed reload hold text that does not run: the next reload picks
        them up again, except those holding the very text their module runs (it failed
        on its own text, and must not fail every later reload of something else)."""
        current = [s for s in sources if self.sources.runs_text(s, sys.modules.get(s.mod))]
        for src in current:
            self.sources.ran(src.mod, src.data, src.stamp)
            self.loaded.executed(src.mod, src.stamp)
        self.loaded.unapplied(s.mod for s in sources if s not in current)

    # -- modules and files -----------------------------------------------------------------

    def _allowed_dirs(self) -> list[Path]:
        return [*self._roots, *sys_path_dirs()]

    def _module_name(self, resolved: Path) -> tuple[str, bool]:
        """The module name of a file, and whether it can be imported under it. A file whose
        path is no importable name ("my dir/x.py") is still saved and analysed, under its
        path relative to its root."""
        name = self.graph.module_for_path(resolved)
        if name is not None:
            return name, True
        for root in self._roots:
            if is_within(resolved, root):
                return ".".join(resolved.relative_to(root).with_suffix("").parts), False
        return resolved.stem, False

    def _adopt_outside_root(self, resolved: Path, mod: str) -> None:
        if any(is_within(resolved, r) for r in self._roots):
            return
        top = mod.split(".")[0]
        for entry in sys_path_dirs():
            candidate = entry / top
            if candidate.is_dir() and is_within(resolved, candidate):
                self._roots.append(candidate)
                self.graph.add_root(candidate)
                self.loaded.set_roots(self._roots)
                return

    def _unwatched(self, loaded: dict[str, ModuleType]) -> Collection[str]:
        """The loaded project modules that no running watcher covers (``loaded`` itself when
        none runs: the loaded-module tracker then knows which of them to look at)."""
        watched: list[Path] = list(getattr(self.watcher, "paths", None) or [])
        if not watched or not getattr(self.watcher, "alive", False):
            return loaded
        if all(any(is_within(root, w) for w in watched) for root in self._roots):
            return []
        out = []
        for name in loaded:
            path = self.loaded.path_of(name)
            if path is None or not any(is_within(path, w) for w in watched):
                out.append(name)
        return out

    def _stale_source(self, name: str, module: ModuleType) -> Source:
        """The text on disk of a loaded module that is re-executed without being saved."""
        path = self.loaded.path_of(name) or Path(str(module.__file__))
        data, stamp = read_source(path)
        return Source(name, path, data, full=False, stamp=stamp)

    def _prepare(self, name: str, module: ModuleType) -> Source:
        """A dependent's file as it is on disk, compiled (or its code from the last time it
        ran, when the file has not changed since)."""
        path = self.loaded.path_of(name) or Path(str(module.__file__))
        kept = self._codes.get(name)
        if kept is not None:
            try:
                st = os.stat(path)
            except OSError:
                st = None
            if st is not None and (st.st_mtime_ns, st.st_size) == kept[0]:
                return Source(name, path, b"", full=False, stamp=kept[0], code=kept[1], reused=True)
        src = self._stale_source(name, module)
        self._compile(src)
        return src

    def _code_filename(self, mod: str, path: Path) -> str:
        module = sys.modules.get(mod)
        file = getattr(module, "__file__", None)
        if isinstance(file, str) and os.path.exists(file) and os.path.samefile(file, path):
            return file
        return str(path)


def _stamp_of(path: Path) -> Stamp | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def _spec_origin(mod: str) -> Path | None:
    """The file module ``mod`` would be imported from, found without importing anything
    (a submodule only when its package is imported already), else None."""
    parent = mod.rpartition(".")[0]
    if parent and parent not in sys.modules:
        return None
    try:
        spec = importlib.util.find_spec(mod)
    except (ImportError, ValueError):
        return None
    origin = getattr(spec, "origin", None)
    return Path(origin) if isinstance(origin, str) and origin.endswith(".py") else None


def _text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _check_unchanged(
    target: str, qualname: str, path: Path, text: str | None, expected_hash: str
) -> None:
    """Raise :class:`ConflictError` when the definition's text on disk now does not hash to
    ``expected_hash`` (a change elsewhere in the file is no conflict)."""
    found = find_definition(text, qualname, str(path)) if text is not None else None
    current = None
    if found is not None and text is not None:
        lines = split_lines(text.removeprefix("\ufeff"))
        current = "".join(lines[found.start - 1 : found.end])
    if current is None or _text_hash(current) != expected_hash:
        raise ConflictError(target, str(path), current)


def _read_if_exists(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.debug("hotreload: cannot read %s before writing it: %s", path, exc)
        return None


def _json_copy(value: Any) -> Any:
    """A copy of JSON-shaped data (dicts, lists, scalars): several times cheaper than
    ``copy.deepcopy``, which a reload would otherwise pay per payload."""
    if isinstance(value, dict):
        return {k: _json_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_copy(v) for v in value]
    return value


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


# -- the default reloader ----------------------------------------------------------------

_default: HotReloader | None = None
_default_lock = threading.Lock()


def default_reloader() -> HotReloader:
    """The process's default :class:`HotReloader`, made on first use (roots: the cwd)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = HotReloader()
        return _default


def peek_default_reloader() -> HotReloader | None:
    """The default reloader if one has been made, else None (making none)."""
    with _default_lock:
        return _default


def set_default_reloader(reloader: HotReloader | None) -> None:
    """Replace (or with None, forget) the default reloader."""
    global _default
    with _default_lock:
        if _default is not None and _default is not reloader:
            _default.close()
        _default = reloader


def reload(
    path: str | os.PathLike[str], content: str | bytes, *, format: bool = True
) -> dict[str, Any]:
    """:meth:`HotReloader.reload` on the default reloader."""
    return default_reloader().reload(path, content, format=format)


def purge_module(mod: str | ModuleType) -> None:
    """:meth:`HotReloader.purge_module` on the default reloader."""
    default_reloader().purge_module(mod)


def compile_dep_edges(*, labels: Iterable[str] | None = None) -> list[dict[str, str]]:
    """:meth:`HotReloader.compile_dep_edges` on the default reloader."""
    return default_reloader().compile_dep_edges(labels=labels)


def reload_definition(
    target: str, content: str, *, format: bool = True, expected_hash: str | None = None
) -> dict[str, Any]:
    """:meth:`HotReloader.reload_definition` on the default reloader."""
    return default_reloader().reload_definition(
        target, content, format=format, expected_hash=expected_hash
    )


def source_of(target: str) -> dict[str, Any]:
    """:meth:`HotReloader.source_of` on the default reloader."""
    return default_reloader().source_of(target)


def history() -> list[dict[str, Any]]:
    """:meth:`HotReloader.history` on the default reloader."""
    return default_reloader().history()


def undo(steps: int = 1, *, force: bool = False) -> dict[str, Any]:
    """:meth:`HotReloader.undo` on the default reloader."""
    return default_reloader().undo(steps, force=force)
