"""The dependency labels of SPEC §3, shared by the graph, the engine and the adapters."""

from __future__ import annotations

from typing import Literal

__all__ = ["EDGE_LABELS", "LABELS_BY_STRENGTH", "Label"]

#: How strongly importing module A ties it to module B (SPEC §3).
Label = Literal["compile", "export", "runtime"]

#: Strongest first: the order SPEC lists them and ``compile_dep_edges`` validates against.
EDGE_LABELS: tuple[Label, Label, Label] = ("compile", "export", "runtime")

#: Weakest first: a label's index is its strength.
LABELS_BY_STRENGTH: tuple[Label, Label, Label] = ("runtime", "export", "compile")
