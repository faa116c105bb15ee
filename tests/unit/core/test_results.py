"""The declared shapes (``Payload``, ``ReloadResult``, ``Status``) match what reloads really
produce: every key a payload carries is declared, with a value of the declared type, and
every required key is there. A key added by the engine without its type fails here. And the
dependency labels (SPEC §3): three of them, and the two orders the others rely on."""

from __future__ import annotations

import json
import types
import typing
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import pytest

from ipython_hotreload.core.engine import Status
from ipython_hotreload.core.graph.importscan import scan_source, strengths
from ipython_hotreload.core.results import (
    EDGE_LABELS,
    LABELS_BY_STRENGTH,
    Label,
    Payload,
    ReloadResult,
)
from tests.conftest import Project


def _is_typeddict(tp: object) -> bool:
    return isinstance(tp, type) and issubclass(tp, dict) and hasattr(tp, "__required_keys__")


def problems(value: object, tp: Any, where: str = "$") -> list[str]:
    """Where ``value`` does not fit type ``tp`` (TypedDicts, lists, dicts, unions, Literal,
    scalars: the shapes JSON data takes); empty when it fits."""
    origin = get_origin(tp)
    if tp is Any:
        return []
    if tp is None or tp is type(None):
        return [] if value is None else [f"{where}: {value!r} is not None"]
    if origin is Literal:
        return [] if value in get_args(tp) else [f"{where}: {value!r} not in {get_args(tp)}"]
    if origin in (Union, types.UnionType):
        options = [problems(value, arg, where) for arg in get_args(tp)]
        return [] if any(not p for p in options) else [f"{where}: {value!r} fits no part of {tp}"]
    if _is_typeddict(tp):
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__} is not a {tp.__name__}"]
        hints = get_type_hints(tp)
        out = [f"{where}: missing {k!r}" for k in sorted(tp.__required_keys__ - set(value))]
        out += [f"{where}: undeclared key {k!r}" for k in sorted(set(value) - set(hints))]
        for key in set(value) & set(hints):
            out += problems(value[key], hints[key], f"{where}.{key}")
        return out
    if origin is list:
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__} is not a list"]
        (item,) = get_args(tp)
        return [p for i, v in enumerate(value) for p in problems(v, item, f"{where}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__} is not a dict"]
        key_tp, value_tp = get_args(tp)
        return [
            p
            for k, v in value.items()
            for p in [*problems(k, key_tp, f"{where}<key>"), *problems(v, value_tp, f"{where}.{k}")]
        ]
    if tp is float:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return [] if ok else [f"{where}: {value!r} is not a float"]
    if isinstance(tp, type):
        ok = isinstance(value, tp) and (tp is bool or not isinstance(value, bool))
        return [] if ok else [f"{where}: {value!r} is not a {tp.__name__}"]
    raise TypeError(f"no check for {tp!r} at {where}")


def test_the_checker_sees_a_wrong_shape() -> None:
    good: dict[str, Any] = {"mod": "a", "source_hash": None, "functions": None}
    assert problems(good, Payload) == []
    assert problems({**good, "nonsense": 1}, Payload) == ["$: undeclared key 'nonsense'"]
    assert problems({"mod": "a", "functions": None}, Payload) == ["$: missing 'source_hash'"]
    assert problems({**good, "reason": {"after": "b", "label": "import"}}, Payload) != []
    assert problems({**good, "executed": 0}, Payload) == ["$.executed: 0 is not a bool"]


def broken_formatter(text: str) -> str:
    raise RuntimeError("this formatter is broken")


@pytest.fixture
def reloaded(project: Project) -> tuple[Project, list[dict[str, Any]]]:
    """A saved module with compile and export dependents, one module changed on disk, one
    replaced function and a formatter warning: most optional keys show up."""
    project.files(
        {
            "base.py": "SIZE = 1\ndef make():\n    def inner():\n        return 1\n    return inner\n"
            "f = make()\n",
            "uses.py": "from base import SIZE\nTABLE = [0] * SIZE\n",
            "names.py": "from base import make\ndef g():\n    return make()\n",
            "other.py": "Y = 1\n",
        }
    )
    for name in ("uses", "names", "other"):
        project.import_(name)
    project.reload("base.py", project.path("base.py").read_text())  # first sight: current
    project.path("other.py").write_text("Y = 'changed behind the reloader'\n")
    project.reloader.formatter = broken_formatter  # the text is saved unformatted, a warning
    result = project.reload(
        "base.py",
        "SIZE = 3\nimport sys\ndef make():\n    x = 1\n    def inner():\n        return x\n"
        "    return inner\nf = make()\n",
    )
    return project, [result, *[e.to_json() for e in project.events]]


def test_real_payloads_and_results_fit_their_types(
    reloaded: tuple[Project, list[dict[str, Any]]],
) -> None:
    _project, (result, *events) = reloaded
    assert problems(result, ReloadResult) == []
    seen = {key for payload in result["recompiled"] for key in payload}
    # The run reached the optional keys that a reload of today sets.
    assert {"path", "elapsed_ms", "reason", "replaced", "warnings"} <= seen
    labels = {p["reason"]["label"] for p in result["recompiled"] if "reason" in p}
    assert labels >= {"compile", "changed_on_disk"}
    for event in events:
        if event["payload"] is not None:
            assert problems(json.loads(json.dumps(event["payload"])), Payload) == []


def test_status_fits_its_type(reloaded: tuple[Project, list[dict[str, Any]]]) -> None:
    project, _ = reloaded
    status = project.reloader.status()
    assert problems(status, Status) == []
    assert status["last_reload"] is not None and status["last_reload"]["mod"] == "base"
    assert set(status) == set(typing.get_type_hints(Status))


# -- the dependency labels ----------------------------------------------------------------------


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
