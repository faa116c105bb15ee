"""One reload's stages over a Batch, and what its listeners hear."""

from __future__ import annotations

import ipython_hotreload as hr
from tests.conftest import Project


def test_a_subscriber_editing_its_payload_does_not_change_the_result(project: Project) -> None:
    project.write("mut.py", "def f():\n    pass\n")
    project.import_("mut")

    def vandal(event: hr.ModuleEvent) -> None:
        assert event.payload is not None
        event.payload["functions"].clear()
        event.payload["mod"] = "vandalised"

    with hr.subscribe(vandal, kinds=["recompiled"]):
        result = project.reload("mut.py", "def f():\n    pass\ndef g():\n    pass\n")
    [payload] = result["recompiled"]
    assert payload["mod"] == "mut" and [f["name"] for f in payload["functions"]] == ["f", "g"]
