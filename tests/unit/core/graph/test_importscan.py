"""Import records of one module: relative imports made absolute, kinds and scopes named."""

from __future__ import annotations

import pytest

from ipython_hotreload.core.graph.importscan import FROM, IMPORT, scan_source

# -- the scanner on its own ----------------------------------------------------------------


def test_scan_source_makes_relative_imports_absolute() -> None:
    records = scan_source("from ..a import b as c\nimport x.y\nZ = c\n", "p.q.m", False)
    assert [(r.kind, r.level, r.module, r.name, r.bound, r.used) for r in records] == [
        (FROM, 0, "p.a", "b", "c", True),
        (IMPORT, 0, "x.y", "", "x", False),
    ]
    [pkg_record] = scan_source("from . import m\n", "p.q", True)
    assert pkg_record.module == "p.q"
    with pytest.raises(SyntaxError):
        scan_source("def (:", "m", False)


def test_record_kinds_and_scopes_are_named_by_the_enums() -> None:
    from ipython_hotreload.core.graph.importscan import ImportKind, Scope

    records = scan_source(
        "import a\nfrom b import c\nfrom d import *\nclass K:\n    from e import f\n"
        "def g():\n    import h\n",
        "m",
        False,
    )
    named = [(ImportKind(r.kind).name, Scope(r.scope).name, r.module) for r in records]
    assert named == [
        ("IMPORT", "MODULE", "a"),
        ("FROM", "MODULE", "b"),
        ("STAR", "MODULE", "d"),
        ("FROM", "CLASS", "e"),
        ("IMPORT", "FUNCTION", "h"),
    ]
