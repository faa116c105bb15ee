"""Hostile and malformed reload content: random text, mutated real modules, invalid UTF-8,
NUL bytes, a 10 MB file, nesting deep enough to break the parser.

Whatever the content, ``reload`` returns or raises a ``HotReloadError`` (``TypeError`` for a
content of the wrong type); a ``ReloadError`` leaves the module's namespace exactly as it was
(same names, same objects); text that was written is on disk exactly as given; text that was
refused left the file untouched.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ipython_hotreload as hr
from tests.conftest import Project

# Bounded and reproducible: the suite must stay fast and fail the same way every run.
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

TARGET = "fuzz_target.py"
START = "MARK = 'start'\n\n\ndef keep():\n    return 'start'\n\n\nclass Kept:\n    def m(self):\n        return 'start'\n"


class Target:
    """One module reloaded over and over with hostile content."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.path = project.write(TARGET, START)
        self.module: ModuleType = project.import_("fuzz_target")

    def attempt(self, content: Any) -> BaseException | None:
        """Reload; check the outcome against the promises above; return the error."""
        before_ns = dict(self.module.__dict__)
        before_disk = self.path.read_bytes()
        start = len(self.project.events)
        try:
            self.project.reloader.reload(self.path, content, format=False)
        except (hr.HotReloadError, TypeError) as exc:
            error: BaseException | None = exc
        except BaseException as exc:  # anything else is a bug: report it, do not crash pytest
            raise AssertionError(
                f"reload raised {type(exc).__name__} (not a HotReloadError) on "
                f"{_show(content)}: {exc!r}"
            ) from exc
        else:
            error = None
        events = [(e.kind, e.mod) for e in self.project.events[start:]]
        assert sys.modules.get("fuzz_target") is self.module, "the module object was replaced"
        after_disk = self.path.read_bytes()
        if error is None or isinstance(error, hr.ReloadError):
            # Written: the exact text is on disk (never lost, never truncated).
            assert isinstance(content, str | bytes)
            expected = content if isinstance(content, bytes) else content.encode("utf-8")
            assert after_disk == expected
            assert events[0] == ("source_written", "fuzz_target")
        else:
            assert after_disk == before_disk, "refused content changed the file"
            assert events == [], "refused content was broadcast"
        if isinstance(error, hr.ReloadError):
            assert events[-1] == ("compile_failed", "fuzz_target"), events
            assert error.path == str(self.path) and error.mod == "fuzz_target"
            after_ns = self.module.__dict__
            assert after_ns.keys() == before_ns.keys(), "rollback changed the module's names"
            changed = [k for k in before_ns if after_ns[k] is not before_ns[k]]
            assert changed == [], f"rollback left other objects under {changed}"
        return error


def _show(content: Any) -> str:
    text = repr(content)
    return text if len(text) < 200 else f"{text[:200]}... ({len(text)} chars)"


@pytest.fixture
def target(project: Project) -> Iterator[Target]:
    yield Target(project)


# -- random text ---------------------------------------------------------------------------


@FUZZ
@given(text=st.text(max_size=300))
def test_random_text(target: Target, text: str) -> None:
    target.attempt(text)


PYTHONISH = st.lists(
    st.sampled_from(
        [
            "x = 1",
            "def f():",
            "    return x",
            "class C:",
            "    pass",
            "    def m(self):",
            "        return 1",
            "import os",
            "from os import path",
            "from . import nothing",
            "raise ValueError('boom')",
            "raise KeyboardInterrupt",
            "raise SystemExit(3)",
            "import sys; sys.exit(0)",
            "del x",
            "@staticmethod",
            "if x:",
            "    f = 2",
            "keep = 3",
            "Kept = None",
            "async def g():",
            "    await x",
            "lambda: (yield)",
            "global x",
            "from __future__ import annotations",
            "from __future__ import braces",
            "__name__ = 'other'",
            "__file__ = None",
            "    ",
            "\\",
            "'''",
        ]
    ),
    max_size=12,
).map("\n".join)


@FUZZ
@given(text=PYTHONISH)
def test_random_python_like_lines(target: Target, text: str) -> None:
    target.attempt(text)


# -- mutated real modules -----------------------------------------------------------------

# Small pure modules of the standard library: running their bodies only defines things.
REAL_MODULES = ["colorsys", "bisect", "heapq", "keyword", "fnmatch", "textwrap", "string"]


def _real_text(name: str) -> str:
    import importlib.util

    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).read_text(encoding="utf-8")


@st.composite
def mutated_module(draw: st.DrawFn) -> str:
    lines = _real_text(draw(st.sampled_from(REAL_MODULES))).splitlines(keepends=True)
    for _ in range(draw(st.integers(0, 6))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        if draw(st.booleans()):
            del lines[i]
        else:
            lines.insert(i, lines[i])
    return "".join(lines)


@FUZZ
@given(text=mutated_module())
def test_mutated_real_modules(target: Target, text: str) -> None:
    target.attempt(text)


def test_unmutated_real_modules_reload_over_each_other(target: Target) -> None:
    """The control for the mutation test: real modules, one after the other, all load."""
    for name in REAL_MODULES:
        assert target.attempt(_real_text(name)) is None, name


# -- encodings and bytes ------------------------------------------------------------------


@FUZZ
@given(data=st.binary(max_size=200))
def test_random_bytes(target: Target, data: bytes) -> None:
    error = target.attempt(data)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        assert isinstance(error, hr.HotReloadError) and not isinstance(error, hr.ReloadError)
        assert "UTF-8" in str(error) and TARGET in str(error)


@pytest.mark.parametrize(
    "content",
    [
        b"x = '\xff'\n",
        b"\xef\xbb\xbfx = 1\n\xc3",  # a BOM, then a truncated sequence
        b"\xed\xa0\x80 = 1\n",  # an encoded surrogate
        "x = '\ud800'\n",  # a lone surrogate in a str: no file can hold it as UTF-8
    ],
)
def test_content_that_cannot_be_utf8_is_refused_before_writing(
    target: Target, content: str | bytes
) -> None:
    error = target.attempt(content)
    assert isinstance(error, hr.HotReloadError) and not isinstance(error, hr.ReloadError)
    assert "nothing was written" in str(error)


@pytest.mark.parametrize("content", ["x = 1\x00\n", "\x00", "def f():\n    return '\x00'\n"])
def test_nul_bytes_in_content_fail_to_compile_and_stay_on_disk(
    target: Target, content: str
) -> None:
    error = target.attempt(content)
    assert isinstance(error, hr.ReloadError), repr(error)
    assert "null" in str(error).lower()


@pytest.mark.parametrize("content", [None, 42, ["x = 1"], object()])
def test_content_of_the_wrong_type_is_a_type_error(target: Target, content: Any) -> None:
    assert isinstance(target.attempt(content), TypeError)


# -- size and depth ----------------------------------------------------------------------


def test_ten_megabyte_file(target: Target) -> None:
    line = "# " + "x" * 97 + "\n"
    text = "def keep():\n    return 'big'\n\n" + line * (10 * 1024 * 1024 // len(line))
    assert len(text) >= 10 * 1024 * 1024 - len(line)
    old_keep = target.module.keep
    assert target.attempt(text) is None
    assert target.path.stat().st_size == len(text)
    assert old_keep() == "big"
    assert target.attempt(START) is None
    assert old_keep() == "start"


DEEP = {
    "201 nested parentheses": "x = " + "(" * 201 + "1" + ")" * 201 + "\n",
    "200 nested parentheses in a default": "def f(x="
    + "(" * 200
    + "1"
    + ")" * 200
    + "):\n    return x\n",
    "100 nested blocks": "".join("    " * i + "if x:\n" for i in range(100)) + " " * 400 + "pass\n",
    "100,000 chained additions": "x = 1" + " + 1" * 100_000 + "\n",
    "100,000 chained attributes": "x = a" + ".b" * 100_000 + "\n",
    "50,000 chained calls": "x = f" + "()" * 50_000 + "\n",
    "100,000 unary minus signs": "x = " + "-" * 100_000 + "1\n",
    "100,000 nots": "x = " + "not " * 100_000 + "1\n",
    "5,000 nested lambdas": "x = " + "lambda: " * 5_000 + "1\n",
}


@pytest.mark.parametrize("case", list(DEEP))
def test_nesting_that_breaks_the_parser_is_a_compile_failure(target: Target, case: str) -> None:
    """Deep nesting makes the parser or compiler raise SyntaxError, RecursionError or
    MemoryError: each is a compile failure, reported as ReloadError, old code kept."""
    error = target.attempt(DEEP[case])
    assert isinstance(error, hr.ReloadError), repr(error)
    assert target.module.keep() == "start"
    assert target.attempt(START.replace("'start'", "'after'")) is None
    assert target.module.keep() == "after"


DEEP_BUT_VALID = {
    "99 nested functions": "".join("    " * i + f"def f{i}():\n" for i in range(99))
    + "    " * 99
    + "pass\n",
    "97 nested classes and a method": "".join("    " * i + f"class C{i}:\n" for i in range(97))
    + "    " * 97
    + "def m(self):\n"
    + "    " * 98
    + "return 1\n",
    "200 nested dicts": "x = " + "{1: " * 199 + "1" + "}" * 199 + "\n",
    "900 chained additions in a default": "def f(x=1" + " + 1" * 900 + "):\n    return x\n",
}


@pytest.mark.parametrize("case", list(DEEP_BUT_VALID))
def test_deep_but_valid_code_reloads(target: Target, case: str) -> None:
    """Nesting the parser accepts must get through every later stage too (the graph's import
    scan, the astroid analysis of the payload, patching)."""
    text = DEEP_BUT_VALID[case] + "\n\ndef keep():\n    return 'deep'\n"
    error = target.attempt(text)
    assert error is None, repr(error)
    assert target.module.keep() == "deep"


# -- a long random session ---------------------------------------------------------------


def test_random_edit_session_never_corrupts_the_module(target: Target) -> None:
    """Valid and broken versions, interleaved: after each good one, every reference held
    since the start runs it; after each broken one, the previous good one still runs."""
    rng = random.Random(7)
    keep, kept = target.module.keep, target.module.Kept()
    good = "start"
    for i in range(60):
        body = f"MARK = {i}\n\n\ndef keep():\n    return {i}\n\n\nclass Kept:\n    def m(self):\n        return {i}\n"
        broken = rng.random() < 0.4
        if broken:
            body += rng.choice(["raise RuntimeError\n", "def (:\n", "import no_such_module\n"])
        error = target.attempt(body)
        if broken:
            assert isinstance(error, hr.ReloadError)
        else:
            assert error is None, repr(error)
            good = i  # type: ignore[assignment]
        assert keep() == good and kept.m() == good and target.module.keep() == good
