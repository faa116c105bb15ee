"""Editing one definition (SPEC §1.6) and undoing reloads (SPEC §1.7), over the pipeline.

:meth:`Editor.source_of` reads a definition's exact text on disk and its ``source_hash``;
:meth:`Editor.reload_definition` checks that text against the hash the caller opened (a
:class:`~ipython_hotreload.errors.ConflictError` otherwise), splices the new definition into
the file (:mod:`.edit.definitions`) and runs the file's reload; :meth:`Editor.undo` writes
back the bytes :mod:`.edit.history` kept. Each is one attempt under the cells' rule
(:mod:`.cells`): from another thread while a cell runs, what must wait says so and waits.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ipython_hotreload.core.batch import Batch
from ipython_hotreload.core.cells import CellRule, Hold, MustWait
from ipython_hotreload.core.edit import bytecode
from ipython_hotreload.core.edit.definitions import (
    definition_text,
    read_module_text,
    splice_definition,
    text_hash,
)
from ipython_hotreload.core.edit.formatting import FormatFn, apply_formatter
from ipython_hotreload.core.edit.history import History
from ipython_hotreload.core.pipeline import RELOAD_LOCK, Pipeline
from ipython_hotreload.core.project import Project
from ipython_hotreload.core.results import Placement, ReloadResult
from ipython_hotreload.errors import ConflictError, HotReloadError

__all__ = ["Editor"]

#: ``make_batch(origin, hold)``: a new batch with the reloader's settings.
MakeBatch = Callable[[str, Hold | None], Batch]


class Editor:
    """One reloader's definitions and undo."""

    def __init__(
        self, project: Project, pipeline: Pipeline, history: History, rule: CellRule
    ) -> None:
        self._project = project
        self._pipeline = pipeline
        self._history = history
        self._rule = rule

    def source_of(self, target: str) -> dict[str, Any]:
        """``{"mod", "path", "qualname", "lineno", "end_lineno", "source", "source_hash"}``."""
        with RELOAD_LOCK:
            parsed, path, mod = self._project.definition_file(target)
            text = read_module_text(path)
            if text is None:
                raise HotReloadError(f"{path} does not exist, so it has no {parsed.qualname}")
            found = definition_text(text, parsed.qualname, str(path))
            if found is None:
                raise HotReloadError(f"there is no definition {parsed.qualname} in {path}")
            where, source = found
            return {
                "mod": mod,
                "path": str(path),
                "qualname": parsed.qualname,
                "lineno": where.start,
                "end_lineno": where.end,
                "source": source,
                "source_hash": text_hash(source),
            }

    def reload_definition(
        self,
        target: str,
        content: str,
        formatter: FormatFn | None,
        expected_hash: str | None,
        make_batch: MakeBatch,
    ) -> ReloadResult:
        """Replace (or add) one definition and reload its file; the result's
        ``"definition"`` says where it now is."""
        return self._rule.apply(
            lambda hold: self._replace(
                target, content, formatter, expected_hash, make_batch("definition", hold)
            )
        )

    def _replace(
        self,
        target: str,
        content: str,
        formatter: FormatFn | None,
        expected_hash: str | None,
        batch: Batch,
    ) -> ReloadResult:
        with RELOAD_LOCK:
            parsed, path, _mod = self._project.definition_file(target)
            text = read_module_text(path)
            if expected_hash is not None:
                found = definition_text(text, parsed.qualname, str(path)) if text else None
                current = found[1] if found is not None else None
                if current is None or text_hash(current) != expected_hash:
                    raise ConflictError(target, str(path), current)
            fmt = (
                None
                if formatter is None
                else (lambda block: apply_formatter(formatter, block, path))
            )
            splice = splice_definition(text, parsed, content, where=str(path), format=fmt)
            batch.warnings += splice.warnings
            placement: Placement = {
                "qualname": splice.qualname,
                "lineno": splice.lineno,
                "end_lineno": splice.end_lineno,
                "added": splice.added,
                "formatted_lines": splice.formatted_lines,
            }

            def placed(result: ReloadResult) -> ReloadResult:
                result["definition"] = placement
                return result

            try:
                return placed(self._pipeline.reload_text(path, splice.text, None, batch))
            except MustWait as wait:
                resume = wait.resume
                assert resume is not None
                wait.resume = lambda: placed(resume())
                raise

    def undo(
        self, steps: int, force: bool, reload_files: Callable[..., ReloadResult]
    ) -> ReloadResult:
        """Write back the files of the newest ``steps`` entries not yet undone and reload
        them (``reload_files(files, origin=...)``, under the lock). From another thread
        while a cell runs, it waits for the cell (unless ``while_running`` is ``"all"``):
        that is decided before anything is written."""

        def now() -> ReloadResult:
            with RELOAD_LOCK:
                bytecode.flush()  # the .pyc writes behind of its files are done first
                return self._history.undo(reload_files, steps, force=force)

        def attempt(hold: Hold | None) -> ReloadResult:
            files = self._files(steps) if hold is not None else []
            if files:  # (none: nothing to undo, which it says at once)
                wait = MustWait("an undo must run statements")
                wait.modules = files
                wait.resume = now
                raise wait
            return now()

        return self._rule.apply(attempt)

    def _files(self, steps: int) -> list[tuple[str, str | None]]:
        """``(mod, path)`` of the files an undo of ``steps`` entries would write."""
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            return []
        chosen = [e for e in self._history.entries() if not e["undone"]][:steps]
        paths = dict.fromkeys(f["path"] for e in chosen for f in e["files"])
        return [(self._project.module_name(Path(p))[0], p) for p in paths]
