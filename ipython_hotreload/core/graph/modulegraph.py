"""The module dependency graph of a project: which project module imports which, and how.

Each file is parsed once and scanned by :mod:`ipython_hotreload.core.graph.importscan` into import
records that do not depend on the rest of the project; :mod:`ipython_hotreload.core.graph.projectfiles`
finds the files, names them and caches their records (in memory and on disk), so after an
edit only the changed file is read again. Turning records into labelled edges needs the set of
project modules (``from a import b`` is an edge to ``a.b`` only when ``a.b`` is a module), so
that step is redone for every file whenever the set of modules changes, and only for the
edited file otherwise. Labels follow section 3 of the spec: compile > export > runtime.

The graph keeps the reverse index its reload plans walk up to date beside the per-file
edges (:mod:`.planning`: an edit that changes one file's records re-indexes that file
alone).
"""

from __future__ import annotations

import ast
import logging
import os
import sys
import threading
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path

from ipython_hotreload.core.graph.edges import Edge, Step
from ipython_hotreload.core.graph.importscan import (
    ImportRecord,
    bound_names,
    scan_source,
    strengths,
)
from ipython_hotreload.core.graph.planning import Planner, ReverseIndex
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
from ipython_hotreload.core.paths import is_within, module_name_for, sys_path_dirs
from ipython_hotreload.core.results import EDGE_LABELS, LABELS_BY_STRENGTH

__all__ = ["EDGE_LABELS", "Edge", "ModuleGraph", "Step", "default_cache_dir", "scan_source"]

log = logging.getLogger(__name__)

_LABELS = LABELS_BY_STRENGTH  # index = strength


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
        # The reverse index for plans, valid for `_index_gen`; the modules in `_reindex` had
        # their records changed since.
        self._index = ReverseIndex()
        self._index_gen = -1
        self._reindex: set[str] = set()
        self._planner = Planner(self._index, self.bound_names)
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
    def plan(
        self, changed: Sequence[str], loaded: Collection[str], import_order: Mapping[str, int]
    ) -> list[Step]:
        """The modules to process after ``changed`` change, restricted to ``loaded``, in
        the order to process them (see :meth:`.planning.Planner.plan`)."""
        with self._lock:
            self._ensure()
            self._update_index()
            return self._planner.plan(changed, loaded, import_order)

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

    def imports_of(self, importer: str) -> list[str]:
        """The project modules ``importer`` imports (its edges' ``to``, whatever the label)."""
        with self._lock:
            self._ensure()
            path = self._by_module.get(importer)
            if path is None:
                return []
            return [edge.to for edge in self._file_edges(self._files[path])]

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
            self._planner.forget_plans()  # planned on edges that may have changed
        if self._index_gen != self._generation:
            self._index.clear()
            files = self._files
            for module, path in self._by_module.items():
                self._index.add(module, self._file_edges(files[path]))
            self._index_gen = self._generation
        else:
            for module in self._reindex:
                self._index.drop(module)
                owner = self._by_module.get(module)
                if owner is not None:
                    self._index.add(module, self._file_edges(self._files[owner]))
        self._reindex.clear()

    def _file_edges(self, f: _File) -> list[Edge]:
        if f.edges is None or f.edge_gen != self._generation:
            module = f.module or ""
            best = strengths(f.records, module, f.is_package, self._by_module)
            f.edges = [Edge(module, t, _LABELS[best[t]]) for t in sorted(best)]
            f.edge_gen = self._generation
        return f.edges
