"""Naming one definition of a module (SPEC §1.6): by module or by file, and how a bad name
is told."""

from __future__ import annotations

import pytest

from ipython_hotreload.core.edit.targets import Target, is_definition_target, parse_target
from ipython_hotreload.errors import HotReloadError


def test_targets_name_a_module_or_a_file() -> None:
    t = parse_target("pkg.mod:Class.method")
    assert (t.module, t.path, t.qualname, t.name) == ("pkg.mod", None, "Class.method", "method")
    t = parse_target("path/to/mod.py::Class.method")
    assert (t.module, t.path, t.qualname) == (None, "path/to/mod.py", "Class.method")
    assert str(t) == "path/to/mod.py::Class.method"
    assert is_definition_target("pkg.mod:f") and is_definition_target("a b/m.py::f")
    assert not is_definition_target("pkg/mod.py") and not is_definition_target("a.b")
    with pytest.raises(HotReloadError, match=r"x\.py::f \(two colons\)"):
        parse_target("x.py:f")


@pytest.mark.parametrize("bad", ["pkg.mod", "pkg.mod:", ":f", "m.txt::f", "m.py::1x", "p-k:f"])
def test_a_malformed_target_says_how_to_write_one(bad: str) -> None:
    with pytest.raises(HotReloadError, match=r"pkg\.mod:func"):
        parse_target(bad)


def test_a_target_has_its_parts_and_prints_as_it_was_written() -> None:
    t = parse_target("  pkg.mod:Outer.Inner.method  ")
    assert t == Target("Outer.Inner.method", module="pkg.mod")
    assert t.parts == ["Outer", "Inner", "method"] and t.name == "method"
    assert str(t) == "pkg.mod:Outer.Inner.method"
    assert parse_target("my dir/m.py::f") == Target("f", path="my dir/m.py")
    assert parse_target("C:/x/m.py::f").path == "C:/x/m.py"  # the last '::' splits


def test_only_text_in_one_of_the_two_forms_is_a_definition_target() -> None:
    assert is_definition_target("  pkg.mod:f  ")
    assert not is_definition_target("pkg.mod:f:g") and not is_definition_target("m.txt::f")
    assert not is_definition_target("m.py::")
    with pytest.raises(HotReloadError, match="must be a string"):
        parse_target(None)  # type: ignore[arg-type]
    with pytest.raises(HotReloadError, match=r"'m\.txt::f': the part before '::' must be a \.py"):
        parse_target("m.txt::f")
