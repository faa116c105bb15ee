"""The one line ``%hotreload watch`` shows where it was run (SPEC §2.2).

An edit made in another editor reloads between cells, or beside a running one; a failure
printed then would land in the output of whatever cell ran last, possibly far off-screen.
Instead the ``%hotreload watch`` cell shows a small widget line saying what is watched, and
the watcher updates that line in place, from any thread (a widget's state travels on its
own comm, not in a cell's output): why an edit did not reload, until the next batch
reloads. The panels and the event log show the same failure from the ``compile_failed``
event. Outside a kernel (a terminal IPython), the line is printed instead.
"""

from __future__ import annotations

import html
import logging
from typing import Any

__all__ = ["WatchLine"]

log = logging.getLogger(__name__)


class WatchLine:
    """``report(text)`` for a watcher: a widget line under the ``%hotreload watch`` cell."""

    def __init__(self, watching: str, widget: Any) -> None:
        self.watching = watching
        self.widget = widget
        self.failure: str | None = None
        self._render()

    @classmethod
    def show(cls, watching: str, shell: Any) -> WatchLine | None:
        """Display the line in the current cell's output (None outside a kernel, or without
        ipywidgets: the caller prints)."""
        if getattr(shell, "kernel", None) is None:
            return None
        try:
            import ipywidgets
            from IPython.display import display
        except ImportError:
            return None
        line = cls(watching, ipywidgets.HTML())
        display(line.widget)  # type: ignore[no-untyped-call]
        return line

    def __call__(self, text: str | None) -> None:
        """The watcher's report: a failure's text, or None once an edit reloads again."""
        self.failure = text
        self._render()

    def stopped(self) -> None:
        """``%hotreload watch --stop``: the line says so."""
        self.failure = None
        self.widget.value = '<span class="hr-watch">hotreload: stopped watching</span>'

    def _render(self) -> None:
        text = f"hotreload: {html.escape(self.watching)}"
        if self.failure is not None:
            text += (
                '<br><span style="color: var(--jp-error-color1, #c62828)">'
                f"{html.escape(self.failure)}</span>"
            )
        self.widget.value = f'<span class="hr-watch">{text}</span>'
