"""Live notebook panels for ipython_hotreload (ipywidgets 8 + anywidget, no build step).

- :class:`FunctionsPanel` (one module's functions, its last recompile, failures, removal),
- :class:`EventLog` (every event, newest first, bounded),
- :class:`ProjectOverview` / :class:`ProjectPanel` (every loaded project module),
- :func:`show_panel`, behind ``%hotreload panel [MODULE]``.

Each panel subscribes to the process-wide event stream, so it updates whoever caused the
reload (a ``%%hotreload`` cell, a comm, the file watcher); ``close()`` unsubscribes it.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from ipython_hotreload.widgets._panels import (
    EventLog,
    FunctionsPanel,
    ProjectOverview,
    ProjectPanel,
)

if TYPE_CHECKING:
    from ipython_hotreload.core.engine import HotReloader

__all__ = ["EventLog", "FunctionsPanel", "ProjectOverview", "ProjectPanel", "show_panel"]


def show_panel(
    mod: str | ModuleType | None = None, *, reloader: HotReloader | None = None
) -> FunctionsPanel | ProjectPanel:
    """Display a :class:`FunctionsPanel` for ``mod``, or without one a :class:`ProjectPanel`
    (every loaded project module above an :class:`EventLog`); return the displayed widget.

    The widget is already displayed: a caller that returns it from a cell would show it twice.
    """
    from IPython.display import display

    widget: FunctionsPanel | ProjectPanel
    if mod is None or mod == "":
        widget = ProjectPanel(reloader=reloader)
    else:
        widget = FunctionsPanel(mod, reloader=reloader)
    display(widget)  # type: ignore[no-untyped-call]
    return widget
