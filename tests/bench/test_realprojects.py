"""The real-projects benchmark's harness: its edits, its stale counts, its RESULTS block.

The benchmark's figures are never judged here (timings do not belong in pass/fail tests);
what is checked is that the harness tells a contender that updates nothing from one that
updates the module only, and from ours, on a small package of the same shapes.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from benchmarks import run_all
from benchmarks.realprojects import contenders, edits, report
from benchmarks.realprojects.codebases import EditSpec, path_of

CORE = '''\
"""The hub."""

__all__ = ["tally", "Base"]

WORDS = "abc"


class Base:
    """Subclassed elsewhere."""

    def run(self, x):
        """Runs."""
        return x


def tally():
    return 1
'''

SUB = """\
from toy import core


class Sub(core.Base):
    pass


PATTERN = "[" + core.WORDS + "]"
"""

SPECS = {
    "body": EditSpec("body", "toy.core", "Base.run", "body", instance="toy.sub:Sub"),
    "method": EditSpec("method", "toy.core", "Base", "method", instance="toy.sub:Sub"),
    "constant": EditSpec("constant", "toy.core", "WORDS", "constant", readers=("toy.sub:PATTERN",)),
    "export": EditSpec("export", "toy.core", "__all__", "export", packages=("toy",)),
}


@pytest.fixture
def toy(tmp_path: Path, clean_modules: None) -> Path:
    """The package ``toy``: a hub with ``__all__``, a subclass and a reader elsewhere, and
    an ``__init__`` that star-imports the hub; imported."""
    pkg = tmp_path / "toy"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from toy.core import *\n")
    (pkg / "core.py").write_text(CORE)
    (pkg / "sub.py").write_text(SUB)
    sys.path.insert(0, str(tmp_path))
    import toy.sub  # noqa: F401

    return tmp_path


def _edit(
    contender: contenders.Contender, root: Path, kind: str, edit: int, probe: edits.Probe | None
) -> edits.Check:
    """Edit ``edit`` of ``kind`` by ``contender``, checked by ``probe`` (made before the
    first edit, as the worker makes its probes) or by a probe made now."""
    spec = SPECS[kind]
    probe = probe or edits.Probe(spec)
    path = path_of(root, spec.module)
    contender.apply(spec.module, path, edits.edit_text(spec, path.read_text(), edit))
    return probe.check(edit)


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_each_edit_number_gives_another_valid_text(kind: str) -> None:
    texts = {edits.edit_text(SPECS[kind], CORE, e) for e in (1, 2, 257)}
    assert len(texts) == 3 and CORE not in texts
    for text in texts:
        ast.parse(text)


def test_the_body_edit_lands_in_the_named_method() -> None:
    namespace: dict[str, object] = {}
    exec(compile(edits.edit_text(SPECS["body"], CORE, 7), "core.py", "exec"), namespace)
    base = namespace["Base"]
    assert edits.runs(base.run, 7)  # type: ignore[attr-defined]
    assert base.run.__doc__ == "Runs."  # type: ignore[attr-defined]
    assert not edits.runs(namespace["tally"], 7)


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_a_contender_that_only_writes_is_all_stale(toy: Path, kind: str) -> None:
    check = _edit(contenders.Nothing(), toy, kind, 1, None)
    assert not check.applied
    assert all(n == total > 0 for n, total in check.stale.values()), check.stale


def test_the_floor_leaves_old_references_subclasses_readers_and_packages(toy: Path) -> None:
    floor = contenders.Floor()
    probes = {kind: edits.Probe(spec) for kind, spec in SPECS.items()}
    body = _edit(floor, toy, "body", 1, probes["body"])
    assert body.applied
    assert body.stale == {"refs": [2, 2], "subclasses": [1, 1]}
    method = _edit(floor, toy, "method", 2, probes["method"])
    assert method.applied and method.stale == {"refs": [2, 2], "subclasses": [1, 1]}
    constant = _edit(floor, toy, "constant", 3, probes["constant"])
    assert constant.applied and constant.stale == {"dependents": [1, 1]}
    assert constant.names == ["toy.sub:PATTERN"]
    export = _edit(floor, toy, "export", 4, probes["export"])
    assert export.applied and export.stale == {"exports": [1, 1]}


@pytest.mark.parametrize("kind", ["body", "method"])
def test_ours_leaves_nothing_stale(toy: Path, kind: str) -> None:
    ours = contenders.Ours()
    ours.setup(toy, {})
    try:
        check = _edit(ours, toy, kind, 5, None)
    finally:
        ours.reloader.close()
    assert check.applied
    assert all(n == 0 for n, _ in check.stale.values()), check.stale


def test_texts_reads_the_patterns_of_a_compiled_rule_table() -> None:
    table = {"root": [(re.compile("[xyz]+").match, "Name", None)]}
    assert "[xyz]+" in list(edits.texts(table))


def test_the_stale_text_names_what_was_left_and_an_edit_not_applied() -> None:
    replies = [
        {"ms": 1.0, "applied": False, "stale": {"dependents": [1, 2]}, "stale_names": ["m:X"]},
        {"error": "KeyError: boom"},
    ]
    series = report.Series(replies)
    assert series.errors == ["KeyError: boom"]
    text = report.stale_text(series)
    assert "stale 1/2" in text and "dependents 1/2" in text and "(X)" in text
    assert "NOT APPLIED 1/1" in text


def test_a_results_block_is_added_then_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text("# Results\n\n<!-- table:begin -->\nmain\n<!-- table:end -->\n")
    monkeypatch.setattr(run_all, "RESULTS", results)
    run_all.write_results("first", block="realprojects", heading="## Real")
    run_all.write_results("second", block="realprojects", heading="## Real")
    text = results.read_text()
    assert text.count("## Real") == 1 and "second" in text and "first" not in text
    assert "<!-- table:begin -->\nmain\n<!-- table:end -->" in text
