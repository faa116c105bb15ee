"""Import records of one module and what they mean against the project's modules: relative
imports made absolute, kinds and scopes named, strengths, relative bases, bound names."""

from __future__ import annotations

import ast

import pytest

from ipython_hotreload.core.graph.importscan import (
    FROM,
    IMPORT,
    ImportRecord,
    absolute_base,
    bound_names,
    project_module,
    records_of,
    scan_source,
    scan_tree,
    strengths,
)

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


def ranks(source: str, module: str = "p.m", modules: tuple[str, ...] = ()) -> dict[str, int]:
    known = {"p", "p.m", "p.a", "p.sub", "q", *modules}
    return strengths(scan_source(source, module, False), module, False, known)


def test_strengths_rank_each_target_by_its_strongest_import() -> None:
    assert ranks("from p.a import X\nY = X\n") == {"p.a": 2}  # used at import time
    assert ranks("from p.a import X\n") == {"p.a": 1}  # taken, used later
    assert ranks("import p.a\n") == {"p.a": 0}  # a module object, used later
    assert ranks("import p.a\nY = p.a.X\n") == {"p.a": 2}
    assert ranks("from p.a import *\n") == {"p.a": 2}
    assert ranks("class C:\n    from p.a import X\n") == {"p.a": 2}  # a class attribute
    assert ranks("def f():\n    from p.a import X\n    return X\n") == {"p.a": 0}
    assert ranks("from p import sub\n") == {"p.sub": 0}  # a submodule: survives a reload
    assert ranks("from p import sub\nY = sub.X\n") == {"p.sub": 2}
    assert ranks("import p.a\nfrom p.a import X\nY = X\n") == {"p.a": 2}  # one per target
    assert ranks("import p.m\nimport os\n") == {}  # itself, and modules of no project
    assert ranks("import q.deep.er\n") == {"q": 0}  # the most specific project module


def test_relative_records_are_read_from_their_module_or_package() -> None:
    [record] = scan_tree(ast.parse("from ..a import b\n"), None)
    assert absolute_base(record, "p.sub.m", False) == "p.a"
    assert absolute_base(record, "p.sub", True) == "p.a"  # a package is its own anchor
    assert absolute_base(record, "m", False) is None  # above the top package
    [plain] = scan_tree(ast.parse("import x.y\n"), None)
    assert absolute_base(plain, "anything", False) == "x.y"
    assert project_module("p.a.b.c", {"p", "p.a"}) == "p.a"
    assert project_module("os.path", {"p"}) is None


def test_bound_names_are_the_module_level_from_imports_of_names_not_submodules() -> None:
    source = (
        "from p import sub, CONST\nfrom p.a import X as Y, Z\nfrom p.a import Z\n"
        "class C:\n    from p.a import W\ndef f():\n    from p.a import V\n"
    )
    records = scan_source(source, "q", False)
    modules = {"p", "p.a", "p.sub", "q"}
    assert bound_names(records, "q", False, "p.a", modules) == [("X", "Y"), ("Z", "Z")]
    assert bound_names(records, "q", False, "p", modules) == [("CONST", "CONST")]
    assert bound_names(records, "q", False, "p.sub", modules) == []


def test_records_of_raw_tuples_are_import_records() -> None:
    raw = [(1, 0, "p.a", "X", "X", 0, True)]
    [record] = records_of(raw)
    assert isinstance(record, ImportRecord) and record == raw[0]
    assert (record.kind, record.module, record.name, record.used) == (FROM, "p.a", "X", True)
