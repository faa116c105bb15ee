"""The module dependency graph of a project: which project module imports which, and how.

Each file is parsed once and scanned by :mod:`ipython_hotreload.core.graph.importscan` into import
records that do not depend on the rest of the project; :mod:`ipython_hotreload.core.graph.projectfiles`
finds the files, names them and caches their records (in memory and on disk), so after an
edit only the changed file is read again. Turning records into labelled edges needs the set of
project modules (``from a import b`` is an edge to ``a.b`` only when ``a.b`` is a module), so
that step is redone for every file whenever the set of modules changes, and only for the
edited file otherwise. Labels follow section 3 of the spec: compile > export > runtime.

Reload plans walk a reverse index (who imports a module with a compile or an export edge),
kept beside the per-file edges: an edit that changes one file's records re-indexes that file
alone, so a plan costs in proportion to the modules it reaches, not to the project.

Past 400 lines on purpose: this is one class, whose per-file edges and reverse index are
updated incrementally and read by :meth:`ModuleGraph.plan` under one lock. What does not
need that state already lives beside it (scanning, project files, the worker pool, order).
"""

from __future__ import annotations

import ast
import logging
import os
import sys
import threading
from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ipython_hotreload.core.graph.importscan import (
    ImportRecord,
    bound_names,
    scan_source,
    strengths,
)
from ipython_hotreload.core.graph.ordering import dependency_order
from ipython_hotreload.core.graph.projectfiles import (
    FileEntry,
    Namer,
    cache_file,
    default_cache_dir,
    discover,
    load_cache,
    save_cache,
)
from ipython_hotreload.core.graph.scanpool import gc_paused, scan_files
from ipython_hotreload.core.labels import EDGE_LABELS, LABELS_BY_STRENGTH, Label
from ipython_hotreload.core.paths import is_within, module_name_for, sys_path_dirs

__all__ = ["EDGE_LABELS", "Edge", "ModuleGraph", "Step", "default_cache_dir", "scan_source"]

log = logging.getLogger(__name__)

_LABELS = LABELS_BY_STRENGTH  # index = strength


@dataclass(frozen=True, slots=True)
class Edge:
    """``from_`` imports ``to``; changing ``to`` forces ``label`` work on ``from_``."""

    from_: str
    to: str
    label: Label

    def to_json(self) -> dict[str, str]:
        """The JSON shape of the spec: ``{"from", "to", "label"}``."""
        return {"from": self.from_, "to": self.to, "label": self.label}


@dataclass(frozen=True, slots=True)
class Step:
    """One module of a reload plan: re-execute it (``"compile"``), only rebind the names it
    took from re-executed modules (``"export"``), or it is a changed module (``None``)."""

    mod: str
    after: str | None
    label: Label | None


class _File(FileEntry):
    """A file entry plus its edges, as labelled for one generation of the module set."""

    __slots__ = ("edge_gen", "edges")

    def __init__(
        self, mtime_ns: int, size: int, records: list[ImportRecord], error: str | None
    ) -> None:
        super().__init__(mtime_ns, size, records, error)
        self.edges: list[Edge] | None = None
        self.edge_gen = -1


class ModuleGraph:
    """The import graph of the Python files under ``roots``, kept up to date incrementally."""

    def __init__(
        self,
        roots: Iterable[Path],
        *,
        cache_dir: Path | None = None,
        use_cache: bool = True,
        workers: int | None = None,
    ) -> None:
        """``workers``: worker processes a big build may scan files in (None: one per spare
        CPU, up to 4, when there is enough source to pay for them; 0: scan in this process
        only; see :mod:`~ipython_hotreload.core.graph.scanpool`)."""
        self._lock = threading.RLock()
        self._workers = workers
        self._files: dict[str, _File] = {}
        self._by_module: dict[str, str] = {}
        self._sorted_modules: list[str] = []
        self._generation = 0  # bumped whenever the set of modules (or their names) changes
        self._edges: list[Edge] | None = None  # all edges, sorted; made again when asked for
        # The reverse index for plans: target -> importers by a compile (an export) edge, and
        # the compile and export edges each module put there. Valid for `_index_gen`; the
        # modules in `_reindex` had their records changed since.
        self._compile_in: dict[str, set[str]] = {}
        self._export_in: dict[str, set[str]] = {}
        self._indexed: dict[str, list[Edge]] = {}
        self._index_gen = -1
        self._reindex: set[str] = set()
        # changed modules -> (what the plan read of `loaded` and the import order, its steps)
        self._plans: dict[tuple[str, ...], tuple[list[tuple[str, bool, int | None]], list[Step]]]
        self._plans = {}
        self._cache_dir = cache_dir
        self._use_cache = use_cache
        self._cache_loaded = False
        self._dirty = False
        self._discovered = False
        self._roots: tuple[Path, ...] = ()
        # sys.path and the working directory when the files were last named.
        self._named_with: tuple[object, ...] | None = None
        self.files_scanned = 0  # files parsed and scanned so far (the cache saves the rest)
        self.files_by_workers = 0  # files a worker process scanned (parsed or not)
        self.set_roots(roots)

    # -- roots -----------------------------------------------------------------------------
    @property
    def roots(self) -> tuple[Path, ...]:
        """The project roots, resolved."""
        return self._roots

    def set_roots(self, roots: Iterable[Path]) -> None:
        """Replace the roots; files outside them are forgotten at the next refresh."""
        resolved = tuple(dict.fromkeys(Path(r).resolve() for r in roots))
        with self._lock:
            if resolved != self._roots:
                self._roots = resolved
                self._named_with = None  # names may fall back to the roots
                self._cache_loaded = False  # the new root set has its own cache file
                self._discovered = False
                self._dirty = True

    def add_root(self, root: Path) -> None:
        """Add one root (no-op when already there)."""
        self.set_roots([*self._roots, root])

    # -- naming ----------------------------------------------------------------------------
    def module_for_path(self, path: Path) -> str | None:
        """The module name of ``path`` through sys.path, else relative to the root holding it."""
        known = self._files.get(str(path))
        if (
            known is not None
            and known.module is not None
            and self._named_with == (*sys.path, os.getcwd())
        ):
            return known.module  # named by the last refresh, sys.path unchanged
        p = Path(path).resolve()
        return module_name_for(p) or module_name_for(p, self._roots)

    def path_for_module(self, name: str) -> Path | None:
        """The file of project module ``name``, or None."""
        with self._lock:
            self._ensure()
            path = self._by_module.get(name)
            return Path(path) if path is not None else None

    def modules(self) -> set[str]:
        """The names of the project modules."""
        with self._lock:
            self._ensure()
            return set(self._by_module)

    def parse_errors(self) -> dict[str, str]:
        """Path -> message, for files whose current text does not parse (or cannot be read)."""
        with self._lock:
            return {p: f.error for p, f in self._files.items() if f.error is not None}

    # -- keeping up to date ----------------------------------------------------------------
    def refresh(self) -> None:
        """Discover the files under the roots; rescan changed and new ones; forget deleted ones."""
        with self._lock:
            if self._use_cache and not self._cache_loaded:
                self._cache_loaded = True
                for key, entry in load_cache(self._cache_path(), _File).items():
                    self._files.setdefault(key, entry)
            self._named_with = (*sys.path, os.getcwd())
            files = self._files
            seen = discover(map(str, self._roots), Namer(sys_path_dirs(), self._roots))
            renamed = False
            for path in [p for p in files if p not in seen]:
                del files[path]
                renamed = self._dirty = True
            stale = [
                p
                for p, (_, mtime_ns, size) in seen.items()
                if (f := files.get(p)) is None or f.mtime_ns != mtime_ns or f.size != size
            ]
            scan = scan_files(stale, [seen[p][2] for p in stale], workers=self._workers)
            self.files_by_workers += scan.worker_files
            with gc_paused(bool(stale)):  # many small objects, none in a cycle
                for path, (records, error) in zip(stale, scan.results, strict=True):
                    f = files.get(path)
                    if f is None:
                        f = files[path] = _File(-1, -1, [], None)
                    f.mtime_ns, f.size = seen[path][1:]
                    self._took(f, f.take(records, error))
            for path, (module, _, _) in seen.items():
                f = files[path]
                if f.module != module:
                    f.module, f.is_package = module, path.endswith(os.sep + "__init__.py")
                    renamed = True
            if renamed:
                self._rebuild_modules()
            self._discovered = True
            if self._dirty and self._use_cache:
                self._dirty = not save_cache(self._cache_path(), files)

    def update_file(
        self, path: Path, source: bytes | str | None = None, tree: ast.Module | None = None
    ) -> None:
        """Rescan one file now (adding it if new): its ``source`` (bytes or text; else what is
        on disk), and its syntax ``tree`` parsed from that text when the caller has it. Text
        that does not parse keeps the last good edges and is reported by :meth:`parse_errors`."""
        p = Path(path).resolve()
        key = str(p)
        if not any(is_within(p, r) for r in self._roots):
            log.debug("not scanning %s: outside the roots %s", p, self._roots)
            return
        known = self._files.get(key)
        if (
            known is not None
            and known.module is not None
            and self._named_with == (*sys.path, os.getcwd())
        ):
            module: str | None = known.module  # named by the last refresh, sys.path unchanged
        else:
            module = self.module_for_path(p)
        if module is None:
            return
        try:
            st = os.stat(key)
            mtime_ns, size = st.st_mtime_ns, st.st_size
        except OSError:
            if source is None and tree is None:  # gone, and nothing given: forget it
                self.remove_path(p)
                return
            mtime_ns = size = -1  # unknown: the next refresh looks again
        with self._lock:
            f = self._files.get(key)
            if f is None:
                f = self._files[key] = _File(-1, -1, [], None)
            unchanged = f.mtime_ns == mtime_ns and f.size == size
            f.mtime_ns, f.size = mtime_ns, size
            # With no text given and the same stat, there is nothing to do (a watcher's
            # cheap path); otherwise scan what was given, or what is on disk.
            if source is not None or tree is not None or not unchanged:
                self._scan(key, f, source, tree)
            if f.module != module:
                f.module, f.is_package = module, p.name == "__init__.py"
                self._rebuild_modules()

    def rewritten(self, path: Path) -> None:
        """A known file was rewritten with the same import statements, read the same way at
        import time: its records stand, only its stat is taken (no parse). A file the graph
        does not know yet, or whose last text did not scan, is scanned."""
        key = str(path)
        with self._lock:
            f = self._files.get(key)
            if f is None or f.error is not None or f.module is None:
                self.update_file(path)
                return
            try:
                st = os.stat(key)
                f.mtime_ns, f.size = st.st_mtime_ns, st.st_size
            except OSError:
                f.mtime_ns = f.size = -1  # unknown: the next refresh looks again
            self._dirty = True

    def remove_path(self, path: Path) -> str | None:
        """Forget a file; returns the module name it had (None if it was not known)."""
        with self._lock:
            self._ensure()
            key = str(Path(path).resolve())
            f = self._files.pop(key, None) or self._files.pop(str(path), None)
            if f is None:
                return None
            self._dirty = True
            self._rebuild_modules()
            return f.module

    def remove_module(self, name: str) -> None:
        """Forget the file of module ``name`` (no-op if unknown)."""
        with self._lock:
            self._ensure()
            path = self._by_module.get(name)
            if path is not None:
                self.remove_path(Path(path))

    # -- queries ---------------------------------------------------------------------------
    def edges(self, labels: Iterable[str] | None = None, *, refresh: bool = True) -> list[Edge]:
        """All edges between project modules, one per pair (strongest label), sorted by
        (from, to); ``labels`` keeps only those labels."""
        with self._lock:
            if refresh:
                self.refresh()
            else:
                self._ensure()
            if self._edges is None:
                out: list[Edge] = []
                files, by_module = self._files, self._by_module
                for module in self._sorted_modules:
                    out.extend(self._file_edges(files[by_module[module]]))
                self._edges = out
            if labels is None:
                return list(self._edges)
            wanted = set(labels)
            return [e for e in self._edges if e.label in wanted]

    def bound_names(self, importer: str, target: str) -> list[tuple[str, str]]:
        """``[(name, alias)]`` for each ``from target import name as alias`` run at import
        time at module level of ``importer``, where ``target.name`` is not a submodule."""
        with self._lock:
            self._ensure()
            path = self._by_module.get(importer)
            if path is None:
                return []
            f = self._files[path]
            return bound_names(f.records, importer, f.is_package, target, self._by_module)

    def plan(
        self, changed: Sequence[str], loaded: Collection[str], import_order: Mapping[str, int]
    ) -> list[Step]:
        """The modules to process after ``changed`` change, restricted to ``loaded`` (the
        changed ones always included), in the order to process them (see the spec, section 3):
        the changed modules and every loaded module reaching them through compile edges
        (re-executed), each after the modules of the plan it depends on (a cycle in import
        order), and after each re-executed module, the loaded modules with an export edge onto
        it (one step each: rebind the names taken from it). What takes one of those names from
        such a module follows it: a compile importer runs (after the re-executed module), an
        export importer rebinds (right after it), transitively."""
        changed = list(dict.fromkeys(changed))
        if not changed:
            return []
        with self._lock:
            self._ensure()
            self._update_index()
            # An edit is planned again and again on the same edges: the last plan for the
            # same changed modules stands if what it read of `loaded` and of the import
            # order is as it was.
            cached = self._plans.get(tuple(changed))
            if cached is not None and all(
                (m in loaded) == there and import_order.get(m) == at for m, there, at in cached[0]
            ):
                return list(cached[1])
            compile_in, indexed = self._compile_in, self._indexed
            # `after` holds the changed modules from the start, so a module outside it that
            # is loaded is live; sorting the importers keeps the plan independent of set order.
            after: dict[str, str | None] = dict.fromkeys(changed)
            depends: dict[str, list[str]] = {}
            # exporter -> the modules that take from it a name it passes on (export steps)
            passed_on: dict[str, list[str]] = {}
            read: set[str] = set()
            followed: set[str] = set()  # exporters already followed
            queue = deque(changed)
            while queue:
                mod = queue.popleft()
                read.update(compile_in.get(mod, ()))
                for importer in sorted(compile_in.get(mod, ())):
                    if importer not in after and importer in loaded:
                        after[importer] = mod
                        queue.append(importer)
                # A module with an export edge onto one that runs only rebinds the names it
                # took; the modules taking one of those names from it must follow it as
                # they would the module itself: run (a compile edge) or rebind in turn.
                for x in self._exporters(mod, after, loaded, read):
                    if x not in followed:
                        followed.add(x)
                        queue += self._follow_exporter(
                            x, mod, after, depends, passed_on, loaded, read
                        )
            for m in after:
                depends[m] = [e.to for e in indexed.get(m, ())] + depends.get(m, [])
            exporters_of = {m: self._exporters(m, after, loaded, read) for m in after}
        # Every module, changed ones included, runs after what it depends on: a saved module
        # that imports a module changed on disk must see that module's new objects.
        order = dependency_order(list(after), depends, import_order)
        steps: list[Step] = []

        def exports(target: str, exporters: list[str]) -> None:
            # One export step per (importer, target): the importer rebinds the names it
            # took from that target, right after the target ran (or rebound them).
            for importer in sorted(exporters, key=lambda m: (import_order.get(m, sys.maxsize), m)):
                steps.append(Step(importer, target, "export"))
                exports(importer, passed_on.pop(importer, []))

        for mod in order:
            steps.append(Step(mod, after[mod], None if mod in changed else "compile"))
            exports(mod, exporters_of[mod])
        read |= set(after)
        with self._lock:
            if len(self._plans) > 256:
                self._plans.clear()
            self._plans[tuple(changed)] = (
                [(m, m in loaded, import_order.get(m)) for m in sorted(read)],
                list(steps),
            )
        return steps

    def _exporters(
        self, target: str, after: Mapping[str, object], loaded: Collection[str], read: set[str]
    ) -> list[str]:
        """The loaded modules outside the plan with an export edge onto ``target``."""
        found = self._export_in.get(target, ())
        read.update(found)
        return sorted(x for x in found if x not in after and x in loaded)

    def _follow_exporter(
        self,
        x: str,
        target: str,
        after: dict[str, str | None],
        depends: dict[str, list[str]],
        passed_on: dict[str, list[str]],
        loaded: Collection[str],
        read: set[str],
    ) -> list[str]:
        """``x`` rebinds the names it took from ``target``: the loaded modules taking one of
        those names from ``x`` (or ``x`` itself, as a module) follow it, transitively.
        Returns the modules that now run (through a compile edge)."""
        added: list[str] = []
        work = [(x, target)]
        seen = {x}
        while work:
            exporter, source = work.pop()
            forwarded = {alias for _, alias in self.bound_names(exporter, source)}
            for importer in sorted(self._compile_in.get(exporter, ())):
                read.add(importer)
                if importer in after or importer not in loaded:
                    continue
                if self._takes(importer, exporter, forwarded):
                    after[importer] = exporter
                    depends.setdefault(importer, []).append(target)  # what runs first
                    added.append(importer)
            for importer in sorted(self._export_in.get(exporter, ())):
                read.add(importer)
                if importer in after or importer in seen or importer not in loaded:
                    continue
                if self._takes(importer, exporter, forwarded):
                    seen.add(importer)
                    passed_on.setdefault(exporter, []).append(importer)
                    work.append((importer, exporter))
        return added

    def _takes(self, importer: str, exporter: str, names: set[str]) -> bool:
        """Does ``importer`` take one of ``names`` from ``exporter`` (or the module itself:
        ``import exporter``, a star import)?"""
        taken = self.bound_names(importer, exporter)
        return not taken or any(name in names for name, _ in taken)

    # -- internals -------------------------------------------------------------------------
    def _ensure(self) -> None:
        if not self._discovered:
            self.refresh()

    def _cache_path(self) -> Path:
        return cache_file(self._cache_dir, self._roots)

    def _scan(
        self, path: str, f: _File, source: bytes | str | None, tree: ast.Module | None = None
    ) -> None:
        """Scan ``f`` again; when its records change, drop what was derived from them."""
        self._took(f, f.scan(path, source, tree))

    def _took(self, f: _File, changed: bool) -> None:
        """``f`` was scanned again (its records ``changed`` or not)."""
        self._dirty = True
        if f.error is None:
            self.files_scanned += 1
        if changed:
            f.edges = self._edges = None
            if f.module is not None:
                self._reindex.add(f.module)

    def _rebuild_modules(self) -> None:
        by_module: dict[str, str] = {}
        files = self._files
        for path, f in files.items():
            if f.module is None:
                continue
            other = by_module.get(f.module)
            # `pkg/__init__.py` and `pkg.py` both claim `pkg`: the import system takes the package.
            if other is None or (f.is_package and not files[other].is_package):
                by_module[f.module] = path
        if by_module != self._by_module:
            self._by_module = by_module
            self._sorted_modules = sorted(by_module)
            self._generation += 1
        self._edges = None

    def _update_index(self) -> None:
        """Bring the reverse index up to date: all of it after the module set changed, else
        only the modules whose records changed since."""
        if self._index_gen != self._generation or self._reindex:
            self._plans.clear()  # planned on edges that may have changed
        if self._index_gen != self._generation:
            self._compile_in, self._export_in, self._indexed = {}, {}, {}
            files = self._files
            for module, path in self._by_module.items():
                self._index_module(module, self._file_edges(files[path]))
            self._index_gen = self._generation
        else:
            for module in self._reindex:
                for e in self._indexed.pop(module, ()):
                    importers = self._compile_in if e.label == "compile" else self._export_in
                    importers[e.to].discard(module)
                owner = self._by_module.get(module)
                if owner is not None:
                    self._index_module(module, self._file_edges(self._files[owner]))
        self._reindex.clear()

    def _index_module(self, module: str, edges: list[Edge]) -> None:
        kept = [e for e in edges if e.label != "runtime"]
        if kept:
            self._indexed[module] = kept
            for e in kept:
                importers = self._compile_in if e.label == "compile" else self._export_in
                importers.setdefault(e.to, set()).add(module)

    def _file_edges(self, f: _File) -> list[Edge]:
        if f.edges is None or f.edge_gen != self._generation:
            module = f.module or ""
            best = strengths(f.records, module, f.is_package, self._by_module)
            f.edges = [Edge(module, t, _LABELS[best[t]]) for t in sorted(best)]
            f.edge_gen = self._generation
        return f.edges
