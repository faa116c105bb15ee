"""``HotReload``: the traitlets configuration of the extension, applied to the default reloader.

Set it in ``ipython_config.py`` (``c.HotReload.formatter = None``) or live with
``%config HotReload.formatter = None``. Only values that were configured or changed are
pushed to the reloader, so a reloader built by hand (``hr.set_default_reloader(...)``) keeps
its own settings until the user configures something.
"""

from __future__ import annotations

import logging
import weakref
from pathlib import Path
from typing import Any, cast

from traitlets import Bool, Enum, Int, List, TraitError, Unicode, observe, validate
from traitlets.config import Configurable

from ipython_hotreload.core.cells import WHILE_RUNNING, Cells, WhileRunning
from ipython_hotreload.core.defaults import default_reloader
from ipython_hotreload.core.engine import HotReloader

__all__ = ["FORMATTERS", "HotReload"]

log = logging.getLogger(__name__)

FORMATTERS = ("ruff", "black")
_SETTINGS = (
    "roots",
    "formatter",
    "persist_bytecode",
    "reexecute",
    "history_limit",
    "while_running",
)


class HotReload(Configurable):
    """Settings of ``ipython_hotreload`` in a running IPython."""

    roots = List(
        Unicode(),
        help="""Directories whose Python files make up the project: the dependency graph covers
        them and only their modules are re-executed as dependents. Relative entries are taken
        from the working directory when applied. Empty means the working directory.""",
    ).tag(config=True)

    formatter = Unicode(
        "ruff",
        allow_none=True,
        help="""Formatter run on the new source before it is written: "ruff", "black", or
        None to write the text exactly as given.""",
    ).tag(config=True)

    persist_bytecode = Bool(
        True,
        help="""Write a .pyc for every re-executed module so a fresh interpreter imports it
        without recompiling.""",
    ).tag(config=True)

    reexecute = Enum(
        ["minimal", "module"],
        "minimal",
        help="""How much a reload re-executes: "minimal" (only the statements that changed or
        read what changed; function bodies are patched) or "module" (the whole module).""",
    ).tag(config=True)

    history_limit = Int(
        100,
        min=0,
        help="""How many reloads %hotreload history keeps (with their files' bytes, for undo).""",
    ).tag(config=True)

    while_running = Enum(
        list(WHILE_RUNNING),
        "patch",
        help="""What a reload that arrives while a cell runs (from the file watcher, a panel
        or client, another thread) does: "patch" (one that only changes function code is
        applied at once, so the running code's next call runs it; one that must run
        statements waits for the cell to end), "all" (every reload is applied at once) or
        "wait" (every reload waits for the cell to end).""",
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        # Names the user has set, from config or later; only these are pushed to the reloader.
        self._explicit: set[str] = set()
        self._applied_to: weakref.ref[HotReloader] | None = None
        #: The shell's running cells (the extension's gate), installed on every reloader.
        self.cells: Cells | None = None
        super().__init__(**kwargs)

    def _load_config(self, cfg: Any, section_names: Any = None, traits: Any = None) -> None:
        # Config (ipython_config.py, %config) counts as explicit even when the value equals the
        # trait's current one, which fires no change: `%config HotReload.formatter = "ruff"`
        # must still reach a reloader that was built with formatter=None.
        try:
            super()._load_config(cfg, section_names, traits)
        except TraitError as exc:
            # IPython's %config would log this on the root logger ("ERROR:root:..."): say it
            # here, in one line, and keep the setting it had.
            log.error("%s; the setting is unchanged", exc)
            return
        configured = [name for name in _SETTINGS if name in self._find_my_config(cfg)]
        if configured:
            self._explicit.update(configured)
            self.apply(self.reloader(), configured)

    @validate("formatter")
    def _check_formatter(self, proposal: dict[str, Any]) -> str | None:
        value = proposal["value"]
        if value is not None and value not in FORMATTERS:
            raise TraitError(
                f"HotReload.formatter must be one of {', '.join(FORMATTERS)} or None, not {value!r}"
            )
        return value  # type: ignore[no-any-return]

    @observe(*_SETTINGS)
    def _setting_changed(self, change: dict[str, Any]) -> None:
        self._explicit.add(change["name"])
        # reloader() applies every configured setting when the default reloader is new to us.
        self.apply(self.reloader(), [change["name"]])

    def explicit(self) -> list[str]:
        """The settings the user configured, in declaration order."""
        return [name for name in _SETTINGS if name in self._explicit]

    def resolved_roots(self) -> list[Path]:
        """``roots`` as absolute directories (the working directory when empty)."""
        if not self.roots:
            return [Path.cwd().resolve()]
        return [Path(r).expanduser().resolve() for r in self.roots]

    def apply(self, reloader: HotReloader, names: list[str] | None = None) -> None:
        """Push the configured settings (or only ``names``) to ``reloader``."""
        for name in self.explicit() if names is None else names:
            if name == "roots":
                reloader.roots = self.resolved_roots()
            elif name == "formatter":
                reloader.formatter = self.formatter
            elif name == "persist_bytecode":
                reloader.persist_bytecode = self.persist_bytecode
            elif name == "reexecute":
                reloader.reexecute = "module" if self.reexecute == "module" else "minimal"
            elif name == "history_limit":
                reloader.history_limit = self.history_limit
            elif name == "while_running":
                reloader.rule.while_running = cast(WhileRunning, self.while_running)
        self._applied_to = weakref.ref(reloader)

    def reloader(self) -> HotReloader:
        """The default reloader, with the configured settings applied to it."""
        current = default_reloader()
        if self._applied_to is None or self._applied_to() is not current:
            self.apply(current)
        if self.cells is not None and current.rule.cells is not self.cells:
            current.rule.cells = self.cells
        return current
