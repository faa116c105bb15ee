"""The dependency labels (SPEC §3): three of them, and the two orders the others rely on."""

from __future__ import annotations

from typing import get_args

from ipython_hotreload.core.graph.importscan import scan_source, strengths
from ipython_hotreload.core.labels import EDGE_LABELS, LABELS_BY_STRENGTH, Label


def test_the_labels_are_the_three_of_the_spec_strongest_first() -> None:
    assert get_args(Label) == ("compile", "export", "runtime")
    assert get_args(Label) == EDGE_LABELS


def test_a_labels_position_in_labels_by_strength_is_the_strength_the_scan_gives_it() -> None:
    assert tuple(reversed(EDGE_LABELS)) == LABELS_BY_STRENGTH
    records = scan_source(
        "from b import X\nY = X\nfrom c import Z\nimport d\ndef f():\n    return Z, d\n",
        "a",
        False,
    )
    ranks = strengths(records, "a", False, {"a", "b", "c", "d"})
    named = {target: LABELS_BY_STRENGTH[rank] for target, rank in ranks.items()}
    assert named == {"b": "compile", "c": "export", "d": "runtime"}
