"""Where a project's modules are: its roots, the module name of a file, the file of a module.

:class:`Project` is the one place that answers "which module is this path?" and "which file
is this module?": through the dependency graph (the project's files), the loaded modules,
``sys.path`` and the roots, in that order. It also owns the roots themselves (a file of an
importable package outside them, once reloaded, adds that package's directory) and keeps
the graph covering every loaded project module.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from types import ModuleType
from typing import Any

from ipython_hotreload.core.changes.loaded import LoadedModules
from ipython_hotreload.core.edit.targets import Target, parse_target
from ipython_hotreload.core.graph.modulegraph import ModuleGraph, default_cache_dir
from ipython_hotreload.core.paths import check_path, is_within, sys_path_dirs
from ipython_hotreload.core.source.provenance import import_stamp
from ipython_hotreload.errors import HotReloadError

__all__ = ["Project", "resolve_roots"]


def resolve_roots(
    roots: Iterable[str | os.PathLike[str]] | str | os.PathLike[str] | None,
) -> list[Path]:
    """The roots as resolved directories (None: the working directory)."""
    if roots is None:
        return [Path.cwd().resolve()]
    if isinstance(roots, str | os.PathLike):
        roots = [roots]
    return [Path(r).expanduser().resolve() for r in roots]


class Project:
    """The roots of a project, its module graph and its loaded modules."""

    def __init__(
        self, roots: list[Path], *, graph_cache: bool = True, graph_workers: int | None = None
    ) -> None:
        self._roots = roots
        self.graph = ModuleGraph(roots, use_cache=graph_cache, workers=graph_workers)
        #: Where the dependents' readings are kept between sessions (with the graph's cache).
        self.readings_cache = default_cache_dir() / "readings.marshal" if graph_cache else None
        self.loaded = LoadedModules(roots, first_stamp=import_stamp)
        # Files changed before this moment were seen as they are by any graph scan; the
        # margin covers file systems whose timestamps lag the clock.
        self._made_ns = time.time_ns() - 2_000_000_000

    @property
    def roots(self) -> list[Path]:
        """The project's directories, resolved."""
        return list(self._roots)

    def set_roots(self, roots: list[Path]) -> None:
        """Replace the roots: the graph and the loaded modules follow."""
        self._roots = roots
        self.graph.set_roots(roots)
        self.loaded.set_roots(roots)

    def allowed_dirs(self) -> list[Path]:
        """Where a reload may write: the roots and the directories on ``sys.path``."""
        return [*self._roots, *sys_path_dirs()]

    # -- files to modules ------------------------------------------------------------------

    def module_name(self, resolved: Path) -> tuple[str, bool]:
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

    def adopt_outside_root(self, resolved: Path, mod: str) -> None:
        """A file of an importable package outside the roots was reloaded: that package's
        top-level directory is a root for the rest of the session (SPEC §1)."""
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

    # -- modules to files ------------------------------------------------------------------

    def file_of(self, mod: str) -> Path | None:
        """The file of module ``mod``: the graph's, else the loaded module's ``__file__``,
        else where an import would find it (None: no file is known)."""
        found = self.graph.path_for_module(mod) or self._unseen_file(mod)
        if found is not None:
            return found
        file = getattr(sys.modules.get(mod), "__file__", None)
        return Path(file) if isinstance(file, str) else None

    def definition_file(self, target: str) -> tuple[Target, Path, str]:
        """The parsed definition target, its checked file and its module name."""
        parsed = parse_target(target)
        if parsed.path is not None:
            path = check_path(os.path.expanduser(parsed.path), self.allowed_dirs())
            return parsed, path, self.module_name(path)[0]
        assert parsed.module is not None
        found = self.file_of(parsed.module)
        if found is None:
            raise HotReloadError(
                f"no source file is known for module {parsed.module!r} (is it spelt right, "
                "and inside the project roots?); name the file instead: path/to/mod.py::"
                f"{parsed.qualname}"
            )
        return parsed, check_path(found, self.allowed_dirs()), parsed.module

    def describe_module(self, mod: str) -> dict[str, Any]:
        """What is true of module ``mod`` for a panel: ``{"mod", "state", "path", "note"}``,
        ``state`` one of ``"loaded"`` (imported), ``"not_imported"`` (a project file no code
        has imported yet) or ``"unknown"`` (no such module here: misspelt, or outside the
        project and sys.path)."""
        module = sys.modules.get(mod)
        path = self.graph.path_for_module(mod)
        if module is not None:
            file = getattr(module, "__file__", None)
            where = path or (Path(file) if isinstance(file, str) else None)
            return {
                "mod": mod,
                "state": "loaded",
                "path": str(where) if where else None,
                "note": "",
            }
        if path is None:
            path = self._unseen_file(mod) or _spec_origin(mod)
        if path is not None:
            note = "not imported yet: its functions are read from the file; import it to run them"
            return {"mod": mod, "state": "not_imported", "path": str(path), "note": note}
        note = f"no module named {mod!r} in the project roots or on sys.path: check the spelling"
        return {"mod": mod, "state": "unknown", "path": None, "note": note}

    def _unseen_file(self, mod: str) -> Path | None:
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

    # -- the loaded modules ----------------------------------------------------------------

    def sync(self) -> dict[str, ModuleType]:
        """The loaded project modules, with the graph covering every one of them: a file
        created, or edited, after the graph's scan and imported since must still be planned
        as a dependent (``update_file`` rescans a file only when its stat changed since the
        graph read it)."""
        loaded = self.loaded.project_modules()
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
        return loaded

    def unwatched(self, loaded: dict[str, ModuleType], watched: list[Path]) -> Iterable[str]:
        """The loaded project modules that no running watcher of ``watched`` paths covers
        (``loaded`` itself when none runs: the loaded-module tracker then knows which of them
        to look at)."""
        if not watched:
            return loaded
        if all(any(is_within(root, w) for w in watched) for root in self._roots):
            return []
        out = []
        for name in loaded:
            path = self.loaded.path_of(name)
            if path is None or not any(is_within(path, w) for w in watched):
                out.append(name)
        return out


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
