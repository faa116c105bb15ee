"""Formatters behind one interface: named ones, callables, and failures that keep the text."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import ipython_hotreload as hr
from ipython_hotreload.core.edit import formatting
from ipython_hotreload.core.edit.formatting import (
    apply_formatter,
    describe_formatter,
    resolve_formatter,
)
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


@pytest.mark.parametrize("spec", [None, "", "none", " Off "])
def test_no_formatter(spec: str | None) -> None:
    assert resolve_formatter(spec) is None
    assert apply_formatter(None, "x  =  1\n", Path("m.py")) == ("x  =  1\n", None)


def test_unknown_formatters_are_refused_with_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown formatter 'yapf': use 'ruff', 'black'"):
        resolve_formatter("yapf")
    with pytest.raises(TypeError, match="not int"):
        resolve_formatter(3)  # type: ignore[arg-type]


def test_ruff_formats_in_its_own_process_and_its_failure_keeps_the_text(tmp_path: Path) -> None:
    ruff = resolve_formatter("ruff")
    assert ruff is not None
    path = tmp_path / "m.py"
    assert apply_formatter(ruff, "x  =  {'a':1}\n", path) == ('x = {"a": 1}\n', None)
    text, why = apply_formatter(ruff, "def f(:\n", path)
    assert text == "def f(:\n" and why is not None
    assert why.startswith("formatter failed (ValueError: ") and why.endswith("saved unformatted")


def test_a_callable_formatter_and_what_it_does_wrong(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    upper = resolve_formatter(str.upper)
    assert upper is not None and apply_formatter(upper, "x = 1\n", path) == ("X = 1\n", None)

    def broken(text: str) -> str:
        raise RuntimeError("no")

    failing = resolve_formatter(broken)
    assert failing is not None
    assert apply_formatter(failing, "x\n", path) == (
        "x\n",
        "formatter failed (RuntimeError: no); saved unformatted",
    )
    silent = resolve_formatter(lambda text: None)  # type: ignore[arg-type,return-value]
    assert silent is not None
    assert apply_formatter(silent, "x\n", path) == (
        "x\n",
        "the formatter did not return text; saved unformatted",
    )


def test_a_hung_formatter_is_given_up_on_after_the_time_limit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(formatting, "FORMAT_TIMEOUT", 0.2)
    release = threading.Event()

    def hangs(text: str) -> str:
        release.wait(30)
        return text.upper()

    fn = resolve_formatter(hangs)
    assert fn is not None
    try:
        text, why = apply_formatter(fn, "x\n", tmp_path / "m.py")
    finally:
        release.set()
    assert text == "x\n" and why == "the formatter took longer than 0.2s; saved unformatted"


def test_ctrl_c_in_a_formatter_reaches_the_caller(tmp_path: Path) -> None:
    def interrupted(text: str) -> str:
        raise KeyboardInterrupt

    fn = resolve_formatter(interrupted)
    assert fn is not None
    with pytest.raises(KeyboardInterrupt):
        apply_formatter(fn, "x\n", tmp_path / "m.py")


def test_formatters_are_described_for_status_displays() -> None:
    def mine(text: str) -> str:
        return text

    class Callable:
        def __call__(self, text: str) -> str:
            return text

    assert describe_formatter(None) is None
    assert describe_formatter("ruff") == "ruff"
    assert describe_formatter(mine).endswith("mine")  # type: ignore[union-attr]
    assert describe_formatter(Callable()) == "Callable"
