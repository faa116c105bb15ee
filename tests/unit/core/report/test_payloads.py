"""What a reload tells the world: one payload per updated module, the saved one first and
full, the others bare with the reason they ran; and the error of a failed reload."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ipython_hotreload.core.apply.minimal import Outcome
from ipython_hotreload.core.apply.planrun import ModuleReport
from ipython_hotreload.core.graph.edges import Step
from ipython_hotreload.core.report.oldcode import OldFrame
from ipython_hotreload.core.report.payloads import build_payloads, describe_failure
from ipython_hotreload.core.source.compiler import Compiler
from ipython_hotreload.core.source.texts import Source

SAVED = b'def f(x):\n    """Doc."""\n    return x\n'


def source(tmp_path: Path, mod: str, data: bytes, *, full: bool) -> Source:
    src = Source(mod, tmp_path / f"{mod}.py", data, full=full)
    Compiler().compile(src)
    return src


def test_the_saved_module_leads_with_a_full_payload_and_the_others_follow_bare(
    tmp_path: Path,
) -> None:
    saved = source(tmp_path, "saved", SAVED, full=True)
    reports = [
        ModuleReport(
            Step("dep", "saved", "compile"),
            None,
            Outcome("partial", rerun=[(3, 4)]),
            True,
            ms=0.5,
            path="/p/dep.py",
        ),
        ModuleReport(
            Step("saved", None, None),
            saved,
            Outcome("patched", patched=1),
            True,
            changes={"added": [], "changed": ["f"], "removed": []},
            ms=1.25,
        ),
        ModuleReport(Step("exp", "saved", "export"), None, None, False),  # nothing ran
        ModuleReport(
            Step("whole", "dep", "compile"),
            None,
            Outcome("full", full_reason="a top-level `del` statement"),
            True,
            replaced=["Gone"],
        ),
    ]
    payloads = build_payloads(reports, 7.5, ["a warning"], "saved")
    assert [p["mod"] for p in payloads] == ["saved", "dep", "whole"]
    first, dep, whole = payloads
    assert first["source_hash"] == hashlib.sha256(SAVED).hexdigest()
    assert [(i["qualname"], i["doc"]) for i in first["functions"] or ()] == [("f", "Doc.")]
    assert first["changes"] == {"added": [], "changed": ["f"], "removed": []}
    assert first["path"] == str(tmp_path / "saved.py") and first["warnings"] == ["a warning"]
    assert (first["mode"], first["rerun"], first["module_ms"]) == ("patched", [], 1.25)
    assert "reason" not in first and "executed" not in first
    assert dep == {
        "mod": "dep",
        "source_hash": None,
        "functions": None,
        "path": "/p/dep.py",
        "elapsed_ms": 7.5,
        "module_ms": 0.5,
        "reason": {"after": "saved", "label": "compile"},
        "mode": "partial",
        "rerun": [{"lineno": 3, "end_lineno": 4}],
    }
    assert whole["mode"] == "full" and whole["full_reason"] == "a top-level `del` statement"
    assert whole["replaced"] == ["Gone"] and "warnings" not in whole


def test_a_saved_module_that_did_not_run_still_reports_and_says_so(tmp_path: Path) -> None:
    saved = source(tmp_path, "selfish", SAVED, full=True)
    [payload] = build_payloads(
        [ModuleReport(Step("selfish", None, None), saved, None, False)], 1.0, [], "selfish"
    )
    assert payload["executed"] is False and payload["mode"] == "unchanged"
    assert payload["rerun"] == [] and payload["changes"] == {
        "added": [],
        "changed": [],
        "removed": [],
    }


def test_a_module_changed_on_disk_says_so_as_its_reason(tmp_path: Path) -> None:
    stale = source(tmp_path, "stale", b"X = 2\n", full=False)
    saved = source(tmp_path, "saved", SAVED, full=True)
    reports = [
        ModuleReport(Step("stale", None, None), stale, Outcome("full", full_reason="first"), True),
        ModuleReport(Step("saved", None, None), saved, Outcome("patched"), True),
    ]
    stale_payload = build_payloads(reports, 1.0, [], "saved")[1]
    assert stale_payload["reason"] == {"after": None, "label": "changed_on_disk"}
    assert stale_payload["source_hash"] is None and stale_payload["functions"] is None
    assert stale_payload["full_reason"] == "first"


def test_a_syntax_error_is_described_by_its_own_position() -> None:
    try:
        compile("x = (\n", "m.py", "exec")
    except SyntaxError as exc:
        error = describe_failure(exc, Path("m.py"))
    assert error == {
        "type": "SyntaxError",
        "message": "'(' was never closed",
        "lineno": 1,
        "offset": 5,
    }


def test_an_exception_is_described_at_its_last_line_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    code = compile(
        "def inner():\n    raise ValueError('bad value')\n\n\ninner()\n", str(path), "exec"
    )
    try:
        exec(code, {})
    except ValueError as exc:
        error = describe_failure(exc, path)
        elsewhere = describe_failure(exc, tmp_path / "other.py")
        unknown = describe_failure(exc, None)
    assert error == {
        "type": "ValueError",
        "message": "ValueError: bad value",
        "lineno": 2,
        "offset": None,
    }
    assert elsewhere["lineno"] is None and unknown["lineno"] is None
    assert describe_failure(KeyboardInterrupt(), None)["message"] == "KeyboardInterrupt"


def test_functions_patched_while_a_thread_ran_them_are_named_in_their_modules_payload() -> None:
    def report(mod: str) -> ModuleReport:
        return ModuleReport(Step(mod, None, None), None, Outcome("patched", patched=1), True)

    frame = OldFrame("busy", "loop", "trainer", 7, report.__code__)
    busy, idle = build_payloads([report("busy"), report("idle")], 1.0, [], "busy", [frame])
    assert busy["running_old"] == [{"qualname": "loop", "thread": "trainer"}]
    assert "running_old" not in idle
    assert "running_old" not in build_payloads([report("busy")], 1.0, [], "busy")[0]
