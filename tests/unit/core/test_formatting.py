"""Formatters behind one interface: named ones, callables, and failures that keep the text."""

from __future__ import annotations

import pytest

import ipython_hotreload as hr
from tests.conftest import Project


@pytest.mark.parametrize("name", ["ruff", "black"])
def test_named_formatters(project: Project, name: str) -> None:
    project.write("nf.py", "X = 1\n")
    project.import_("nf")
    project.reloader.formatter = name
    project.reload("nf.py", "def  f( a,b ):\n  return {'a':a}\n")
    assert project.path("nf.py").read_text() == 'def f(a, b):\n    return {"a": a}\n'
    # unparsable text is written unformatted, then fails to compile
    with pytest.raises(hr.ReloadError):
        project.reload("nf.py", "def  f( :\n")
    assert project.path("nf.py").read_text() == "def  f( :\n"
