"""Naming one definition of a module (SPEC §1.6): by module or by file, and how a bad name
is told."""

from __future__ import annotations

import pytest

from ipython_hotreload.core.edit.targets import is_definition_target, parse_target
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
