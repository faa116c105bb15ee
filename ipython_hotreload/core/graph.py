"""The module dependency graph of a project: which project module imports which, and how.

Each file is parsed once and scanned by :mod:`ipython_hotreload.core.importscan` into import
records that do not depend on the rest of the project; the records are cached per file (in
memory and on disk, keyed by path, ``mtime_ns`` and size), so after an edit only the changed
file is read again. Turning records into labelled edges needs the set of project modules
(``from a import b`` is an edge to ``a.b`` only when ``a.b`` is a module), so that step is
redone for every file whenever the set of modules changes, and only for the edited file
otherwise. Labels follow section 3 of the spec: compile > export > runtime.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import hashlib
import heapq
import logging
import marshal
import os
import sys
import tempfile
import threading
from collections import deque
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ipython_hotreload.core.importscan import (
    CLASS_SCOPE,
    FROM,
    FUNCTION_SCOPE,
    MODULE_SCOPE,
    STAR,
    ImportRecord,
    absolute_base,
    scan_source,
    scan_tree,
)
from ipython_hotreload.core.paths import is_within, module_name_for, sys_path_dirs

__all__ = ["Edge", "ModuleGraph", "Step", "default_cache_dir", "scan_source"]

log = logging.getLogger(__name__)

Label = Literal["compile", "export", "runtime"]
_LABELS: tuple[Label, Label, Label] = ("runtime", "export", "compile")  # index = strength
# Bump when the records or the cache layout change, so old caches are ignored.
_CACHE_VERSION = 1
_CACHE_FILES_KEPT = 32
_SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages", "dist-packages"})


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
    label: str | None


def default_cache_dir() -> Path:
    """``$XDG_CACHE_HOME/ipython_hotreload`` or ``~/.cache/ipython_hotreload``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ipython_hotreload"


class _File:
    """What the graph knows about one file."""

    __slots__ = (
        "edge_gen",
        "edges",
        "error",
        "is_package",
        "module",
        "mtime_ns",
        "records",
        "size",
    )

    def __init__(
        self, mtime_ns: int, size: int, records: list[ImportRecord], error: str | None
    ) -> None:
        self.mtime_ns = mtime_ns
        self.size = size
        self.records = records
        self.error = error
        self.module: str | None = None
        self.is_package = False
        self.edges: list[Edge] | None = None
        self.edge_gen = -1


class _Namer:
    """Module names for every file of a directory at once, equal to
    :func:`module_name_for` (sys.path first, then the roots) but without per-file path maths."""

    def __init__(self, search: Sequence[Path], roots: Sequence[Path]) -> None:
        self._groups = [
            sorted({str(p) for p in group}, key=len, reverse=True) for group in (search, roots)
        ]
        self._bases: dict[str, list[list[tuple[str, ...]]]] = {}

    def _dir_bases(self, d: str) -> list[list[tuple[str, ...]]]:
        bases = self._bases.get(d)
        if bases is None:
            bases = []
            for group in self._groups:
                found: list[tuple[str, ...]] = []
                for entry in group:  # deepest first: the longest entry wins
                    prefix = entry if entry.endswith(os.sep) else entry + os.sep
                    if d == entry:
                        found.append(())
                    elif d.startswith(prefix):
                        rel = tuple(d[len(prefix) :].split(os.sep))
                        if all(p.isidentifier() for p in rel):
                            found.append(rel)
                bases.append(found)
            self._bases[d] = bases
        return bases

    def name(self, directory: str, stem: str) -> str | None:
        """The module name of ``directory/stem.py``."""
        if stem != "__init__" and not stem.isidentifier():
            return None
        for found in self._dir_bases(directory):
            for rel in found:
                parts = rel if stem == "__init__" else (*rel, stem)
                if parts:
                    return ".".join(parts)
        return None


def _read(path: str, size_hint: int) -> bytes:
    """The bytes of a file, read with ``os.read`` sized by the last stat (half the cost of
    ``open().read()``, which matters over thousands of small files)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        want = (size_hint if size_hint >= 0 else os.fstat(fd).st_size) + 1
        data = os.read(fd, want)
        if len(data) < want:  # a short read of a regular file is its end
            return data
        chunks = [data]  # it grew since the stat
        while chunk := os.read(fd, 1 << 16):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _gc_paused(pause: bool) -> Iterator[None]:
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


def _project_module(name: str, modules: Mapping[str, Any]) -> str | None:
    """The most specific project module that ``name`` or one of its parents names."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


class ModuleGraph:
    """The import graph of the Python files under ``roots``, kept up to date incrementally."""

    def __init__(
        self, roots: Iterable[Path], *, cache_dir: Path | None = None, use_cache: bool = True
    ) -> None:
        self._lock = threading.RLock()
        self._files: dict[str, _File] = {}
        self._by_module: dict[str, str] = {}
        self._sorted_modules: list[str] = []
        self._generation = 0  # bumped whenever the set of modules (or their names) changes
        self._edges: list[Edge] | None = None
        self._cache_dir = cache_dir
        self._use_cache = use_cache
        self._cache_loaded = False
        self._dirty = False
        self._discovered = False
        self._roots: tuple[Path, ...] = ()
        # sys.path and the working directory when the files were last named.
        self._named_with: tuple[object, ...] | None = None
        self.files_scanned = 0  # files parsed and scanned so far (the cache saves the rest)
        self.set_roots(roots)

    # -- roots -----------------------------------------------------------------------------
    @property
    def roots(self) -> tuple[Path, ...]:
        """The project roots, resolved."""
        return self._roots

    def set_roots(self, roots: Iterable[Path]) -> None:
        """Replace the roots; files outside them are forgotten at the next refresh."""
        resolved: list[Path] = []
        for r in roots:
            p = Path(r).resolve()
            if p not in resolved:
                resolved.append(p)
        with self._lock:
            if tuple(resolved) != self._roots:
                self._roots = tuple(resolved)
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
                self._load_cache()
            self._named_with = (*sys.path, os.getcwd())
            namer = _Namer(sys_path_dirs(), self._roots)
            seen: dict[str, tuple[str, int, int]] = {}
            for root in self._roots:
                self._discover(str(root), namer, seen)
            renamed = False
            for path in [p for p in self._files if p not in seen]:
                del self._files[path]
                renamed = self._dirty = True
            stale = [
                p
                for p, (_, mtime_ns, size) in seen.items()
                if (f := self._files.get(p)) is None or f.mtime_ns != mtime_ns or f.size != size
            ]
            with _gc_paused(len(stale) > 20):
                for path in stale:
                    f = self._files.setdefault(path, _File(-1, -1, [], None))
                    f.mtime_ns, f.size = seen[path][1:]
                    if self._scan_file(path, f, None, None):
                        self._edges = None
            for path, (module, _, _) in seen.items():
                f = self._files[path]
                if f.module != module:
                    f.module, f.is_package = module, os.path.basename(path) == "__init__.py"
                    renamed = True
            if renamed:
                self._rebuild_modules()
            self._discovered = True
            if self._dirty and self._use_cache:
                self._save_cache()

    def update_file(
        self, path: Path, source: bytes | None = None, tree: ast.Module | None = None
    ) -> None:
        """Rescan one file now (adding it if new); text that does not parse keeps the last
        good edges and is reported by :meth:`parse_errors`."""
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
            if (source is not None or tree is not None or not unchanged) and self._scan_file(
                key, f, source, tree
            ):
                self._edges = None
            if f.module != module:
                f.module, f.is_package = module, p.name == "__init__.py"
                self._rebuild_modules()

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
                for module in self._sorted_modules:
                    out.extend(self._file_edges(self._files[self._by_module[module]]))
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
            out: list[tuple[str, str]] = []
            for r in f.records:
                if r.kind != FROM or r.scope != MODULE_SCOPE:
                    continue
                base = absolute_base(r, importer, f.is_package)
                if base is None or f"{base}.{r.name}" in self._by_module:
                    continue
                if (
                    _project_module(base, self._by_module) == target
                    and (r.name, r.bound) not in out
                ):
                    out.append((r.name, r.bound))
            return out

    def plan(
        self, changed: Sequence[str], loaded: Collection[str], import_order: Mapping[str, int]
    ) -> list[Step]:
        """The modules to process after ``changed`` change, restricted to ``loaded`` (the
        changed ones always included), in the order to process them (see the spec, section 3):
        changed modules, then every loaded module reaching them through compile edges
        (re-executed), and after each re-executed module, the loaded modules with an export edge
        onto it (one step each: rebind the names taken from it)."""
        changed = list(dict.fromkeys(changed))
        if not changed:
            return []
        compile_in: dict[str, list[str]] = {}
        export_in: dict[str, list[str]] = {}
        depends: dict[str, list[str]] = {}
        for e in self.edges(("compile", "export"), refresh=False):
            (compile_in if e.label == "compile" else export_in).setdefault(e.to, []).append(e.from_)
            depends.setdefault(e.from_, []).append(e.to)
        live = set(loaded).union(changed)
        after: dict[str, str | None] = dict.fromkeys(changed)
        queue = deque(changed)
        while queue:
            mod = queue.popleft()
            for importer in compile_in.get(mod, ()):
                if importer in live and importer not in after:
                    after[importer] = mod
                    queue.append(importer)
        first = changed[0]
        order = [first, *_dependency_order([m for m in after if m != first], depends, import_order)]
        steps: list[Step] = []
        for mod in order:
            steps.append(Step(mod, after[mod], None if mod in changed else "compile"))
            # One export step per (importer, re-executed target): the importer rebinds the
            # names it took from that target, right after the target ran.
            exporters = {x for x in export_in.get(mod, ()) if x in live and x not in after}
            for importer in sorted(exporters, key=lambda m: (import_order.get(m, sys.maxsize), m)):
                steps.append(Step(importer, mod, "export"))
        return steps

    # -- internals -------------------------------------------------------------------------
    def _ensure(self) -> None:
        if not self._discovered:
            self.refresh()

    def _discover(self, root: str, namer: _Namer, seen: dict[str, tuple[str, int, int]]) -> None:
        stack = [root]
        while stack:
            directory = stack.pop()
            try:
                with os.scandir(directory) as it:
                    entries = list(it)
            except OSError:
                continue
            if directory != root and any(e.name == "pyvenv.cfg" for e in entries):
                continue  # a virtual environment: other people's code
            for e in entries:
                name = e.name
                if name.startswith("."):
                    continue
                try:
                    if e.is_dir(follow_symlinks=False):
                        if name not in _SKIP_DIRS:
                            stack.append(e.path)
                    elif name.endswith(".py") and e.path not in seen and e.is_file():
                        module = namer.name(directory, name[:-3])
                        if module is not None:
                            st = e.stat()
                            seen[e.path] = (module, st.st_mtime_ns, st.st_size)
                except OSError:
                    continue

    def _scan_file(
        self, path: str, f: _File, source: bytes | None, tree: ast.Module | None
    ) -> bool:
        """Parse and scan into ``f``; on failure keep the old records and note the error.
        Returns whether the records changed."""
        self._dirty = True
        try:
            if tree is None:
                source = _read(path, f.size) if source is None else source
                tree = ast.parse(source, filename=path)
            elif source is None:
                try:
                    source = _read(path, f.size)
                except OSError:
                    source = None  # then every function body is walked for imports
            records = scan_tree(tree, source)
        except SyntaxError as exc:
            f.error = f"{type(exc).__name__}: {exc.msg} (line {exc.lineno})"
            return False
        except (OSError, ValueError, RecursionError, MemoryError) as exc:
            f.error = f"{type(exc).__name__}: {exc}"
            return False
        self.files_scanned += 1
        f.error = None
        if records == f.records:
            return False
        f.records = records
        f.edges = None
        return True

    def _rebuild_modules(self) -> None:
        by_module: dict[str, str] = {}
        for path, f in self._files.items():
            if f.module is None:
                continue
            other = by_module.get(f.module)
            # `pkg/__init__.py` and `pkg.py` both claim `pkg`: the import system takes the package.
            if other is None or (f.is_package and not self._files[other].is_package):
                by_module[f.module] = path
        if by_module != self._by_module:
            self._by_module = by_module
            self._sorted_modules = sorted(by_module)
            self._generation += 1
        self._edges = None

    def _file_edges(self, f: _File) -> list[Edge]:
        if f.edges is not None and f.edge_gen == self._generation:
            return f.edges
        module, modules = f.module or "", self._by_module
        best: dict[str, int] = {}
        for r in f.records:
            base = absolute_base(r, module, f.is_package)
            if base is None:
                continue
            target: str | None = None
            if r.kind == FROM and f"{base}.{r.name}" in modules:
                target = f"{base}.{r.name}"  # a module object: survives a reload
                rank = 2 if r.used else 0
            else:
                target = _project_module(base, modules)
                if r.kind == STAR:
                    rank = 2
                elif r.kind == FROM:
                    rank = 2 if r.used or r.scope == CLASS_SCOPE else 1
                else:
                    rank = 2 if r.used else 0
            if r.scope == FUNCTION_SCOPE:
                rank = 0
            if target is not None and target != module and best.get(target, -1) < rank:
                best[target] = rank
        f.edges = [Edge(module, t, _LABELS[best[t]]) for t in sorted(best)]
        f.edge_gen = self._generation
        return f.edges

    # -- on-disk cache ---------------------------------------------------------------------
    def _cache_path(self) -> Path:
        key = "\0".join(sorted(str(r) for r in self._roots)).encode()
        name = f"graph-{hashlib.blake2b(key, digest_size=8).hexdigest()}.marshal"
        return (self._cache_dir or default_cache_dir()) / name

    def _cache_stamp(self) -> tuple[int, int, int]:
        return (_CACHE_VERSION, *sys.version_info[:2])

    def _load_cache(self) -> None:
        self._cache_loaded = True
        path = self._cache_path()
        try:
            data = marshal.loads(path.read_bytes())
            if data[0] != self._cache_stamp():
                return
            for key, (mtime_ns, size, records, error) in data[1].items():
                if key not in self._files:
                    self._files[key] = _File(
                        mtime_ns, size, [ImportRecord(*r) for r in records], error
                    )
        except FileNotFoundError:
            return
        except (OSError, EOFError, ValueError, TypeError, IndexError, KeyError) as exc:
            log.warning("ignoring the unreadable graph cache %s: %s", path, exc)

    def _save_cache(self) -> None:
        path = self._cache_path()
        files = {
            k: (f.mtime_ns, f.size, [tuple(r) for r in f.records], f.error)
            for k, f in self._files.items()
        }
        tmp: str | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".graph-", suffix=".tmp", dir=path.parent)
            with os.fdopen(fd, "wb") as fh:
                fh.write(marshal.dumps((self._cache_stamp(), files)))
            os.replace(tmp, path)
            tmp = None
            self._dirty = False
            _prune_cache_dir(path.parent)
        except OSError as exc:
            log.warning("could not save the graph cache %s: %s", path, exc)
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)


def _prune_cache_dir(directory: Path, keep: int = _CACHE_FILES_KEPT) -> None:
    """One cache file per root set adds up (every temporary project makes one): keep the
    ``keep`` most recently written."""
    caches = list(directory.glob("graph-*.marshal"))
    if len(caches) <= keep:
        return
    dated: list[tuple[int, Path]] = []
    for c in caches:
        with contextlib.suppress(OSError):
            dated.append((c.stat().st_mtime_ns, c))
    for _, old in sorted(dated, reverse=True)[keep:]:
        with contextlib.suppress(OSError):
            old.unlink()


def _dependency_order(
    mods: Sequence[str], depends: Mapping[str, Sequence[str]], import_order: Mapping[str, int]
) -> list[str]:
    """``mods`` with each module after the modules of ``mods`` it depends on; the modules of a
    cycle, and modules free to go in any order, go in ``import_order`` (missing = last)."""

    def key(m: str) -> tuple[int, str]:
        return (import_order.get(m, sys.maxsize), m)

    members = set(mods)
    deps = {m: [d for d in depends.get(m, ()) if d in members and d != m] for m in mods}
    components = _strongly_connected(sorted(mods, key=key), deps)
    component_of = {m: i for i, comp in enumerate(components) for m in comp}
    waiting_on = [0] * len(components)
    needed_by: list[set[int]] = [set() for _ in components]
    for m, ds in deps.items():
        for d in ds:
            a, b = component_of[m], component_of[d]
            if a != b and a not in needed_by[b]:
                needed_by[b].add(a)
                waiting_on[a] += 1
    ready = [(min(map(key, comp)), i) for i, comp in enumerate(components) if not waiting_on[i]]
    heapq.heapify(ready)
    out: list[str] = []
    while ready:
        _, i = heapq.heappop(ready)
        out.extend(sorted(components[i], key=key))
        for j in needed_by[i]:
            waiting_on[j] -= 1
            if not waiting_on[j]:
                heapq.heappush(ready, (min(map(key, components[j])), j))
    return out


def _strongly_connected(nodes: Sequence[str], deps: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative (import chains can be deeper than the recursion limit)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    for start in nodes:
        if start in index:
            continue
        work = [(start, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            children = deps[node]
            if i < len(children):
                work.append((node, i + 1))
                child = children[i]
                if child not in index:
                    work.append((child, 0))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            if low[node] == index[node]:
                comp: list[str] = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    comp.append(m)
                    if m == node:
                        break
                out.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return out
