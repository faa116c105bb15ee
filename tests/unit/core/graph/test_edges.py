"""An edge of the module graph and a step of a plan: small frozen values."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from ipython_hotreload.core.graph.edges import Edge, Step
from ipython_hotreload.core.graph.modulegraph import ModuleGraph


def test_an_edge_is_a_frozen_value_with_the_json_shape_of_the_spec() -> None:
    edge = Edge("a", "b", "compile")
    assert edge.to_json() == {"from": "a", "to": "b", "label": "compile"}
    assert edge == Edge("a", "b", "compile") and len({edge, Edge("a", "b", "compile")}) == 1
    assert edge != Edge("a", "b", "export")
    with pytest.raises(dataclasses.FrozenInstanceError):
        edge.label = "runtime"  # type: ignore[misc]
    assert not hasattr(edge, "__dict__")  # slots: a graph holds many of them


def test_a_step_says_what_it_follows_and_how() -> None:
    changed, dependent = Step("a", None, None), Step("b", "a", "compile")
    assert (changed.mod, changed.after, changed.label) == ("a", None, None)
    assert dependent == Step("b", "a", "compile") and dependent != Step("b", "a", "export")
    with pytest.raises(dataclasses.FrozenInstanceError):
        dependent.after = "c"  # type: ignore[misc]


def test_the_graph_hands_out_its_edges_as_these_values(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("from b import X\nY = X\n")
    (tmp_path / "b.py").write_text("X = 1\n")
    edges = ModuleGraph([tmp_path], use_cache=False).edges()
    assert edges == [Edge("a", "b", "compile")]
    assert json.loads(json.dumps([e.to_json() for e in edges])) == [
        {"from": "a", "to": "b", "label": "compile"}
    ]
