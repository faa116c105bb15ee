"""An edge of the module graph, and a step of a reload plan."""

from __future__ import annotations

from dataclasses import dataclass

from ipython_hotreload.core.results import Label

__all__ = ["Edge", "Step"]


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
