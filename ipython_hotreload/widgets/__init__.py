"""Live notebook panels for ipython_hotreload (ipywidgets 8 + anywidget; nothing to build).

- :class:`FunctionsPanel` (one module's functions, its last reload, failures, a reload
  waiting for the running cell, removal; an editor for one definition at a time),
- :class:`EventLog` (every event, newest first, bounded),
- :class:`ProjectOverview` / :class:`ProjectPanel` (every loaded project module),
- :func:`show_panel`, behind ``%hotreload panel [MODULE]``,
- :func:`record_reloads` / :func:`clear_running_old`: the process-wide record of each
  module's last events that panels opened later start from, and the call that takes the
  "running the old version" marks off once the old frames have returned.

Each panel subscribes to the process-wide event stream, so it updates whoever caused the
reload (a ``%%hotreload`` cell, a comm, the file watcher); ``close()`` unsubscribes it.
The widget classes are imported on first use, so taking a record hold (``%load_ext``) does
not import ipywidgets or anywidget.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Any

from ipython_hotreload.widgets._record import RecordHold, clear_running_old, record_reloads

if TYPE_CHECKING:
    from ipython_hotreload.core.engine import HotReloader
    from ipython_hotreload.widgets._panels import (
        EventLog,
        FunctionsPanel,
        ProjectOverview,
        ProjectPanel,
    )

__all__ = [
    "EventLog",
    "FunctionsPanel",
    "ProjectOverview",
    "ProjectPanel",
    "RecordHold",
    "clear_running_old",
    "record_reloads",
    "show_panel",
]

_PANELS = frozenset({"EventLog", "FunctionsPanel", "ProjectOverview", "ProjectPanel"})


def __getattr__(name: str) -> Any:
    if name in _PANELS:
        from ipython_hotreload.widgets import _panels

        return getattr(_panels, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def show_panel(
    mod: str | ModuleType | None = None, *, reloader: HotReloader | None = None
) -> FunctionsPanel | ProjectPanel:
    """Display a :class:`FunctionsPanel` for ``mod``, or without one a :class:`ProjectPanel`
    (every loaded project module above an :class:`EventLog`); return the displayed widget.

    The widget is already displayed: a caller that returns it from a cell would show it twice.
    """
    from IPython.display import display

    from ipython_hotreload.widgets._panels import FunctionsPanel, ProjectPanel

    widget: FunctionsPanel | ProjectPanel
    if mod is None or mod == "":
        widget = ProjectPanel(reloader=reloader)
    else:
        widget = FunctionsPanel(mod, reloader=reloader)
    display(widget)  # type: ignore[no-untyped-call]
    return widget
