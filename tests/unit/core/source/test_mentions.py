"""What a module's text mentions: a Bloom filter whose "no" is certain."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ipython_hotreload.core.source import statements
from ipython_hotreload.core.source.mentions import Mentions, Probe, mentions_of
from tests.conftest import Project

TEXT = b"""\
from hub import RegexLexer, bygroups
import hub as h

class PyLexer(RegexLexer):
    tokens = {"root": [(r"x", bygroups(1))]}

def helper():
    return h.CONSTANT
"""


def test_every_identifier_of_the_text_may_be_mentioned_and_dotted_names_need_each_part() -> None:
    found = mentions_of(TEXT)
    for name in ("RegexLexer", "bygroups", "hub", "h", "PyLexer", "tokens", "helper"):
        assert found.may_mention(name), name
    assert found.may_mention("h.CONSTANT") and found.may_mention("RegexLexer.tokens")
    assert not found.star


def test_a_name_the_text_does_not_spell_is_never_read() -> None:
    found = mentions_of(TEXT)
    # 200 names the text does not spell: a Bloom filter may say "maybe" for a few, but a
    # name it rules out is certainly absent.
    absent = [f"absent_name_{i}" for i in range(200)]
    maybes = [n for n in absent if found.may_mention(n)]
    assert len(maybes) < 20, maybes
    assert not found.may_read_any(n for n in absent if n not in maybes)
    # A dotted name whose last part is not spelt is not read, whatever its first part.
    misses = [n for n in absent if not found.may_mention(n)]
    assert not found.may_mention(f"RegexLexer.{misses[0]}")


def test_a_big_text_rules_out_as_many_absent_names_as_a_small_one() -> None:
    # Two big modules' text (2,000+ identifiers, long docstrings): the filter grows with
    # them, so the identifiers of a third module that they do not spell still pass for
    # "maybe" seldom (a filter of fixed size let more than one in four through).
    import ast as first
    import inspect as third
    import typing as second

    big = Path(first.__file__).read_bytes() + Path(second.__file__).read_bytes()
    found = mentions_of(big)
    spelt = set(re.findall(rb"[A-Za-z_][A-Za-z0-9_]*", big))
    assert all(found.may_mention(w.decode()) for w in spelt)
    absent = [
        w.decode()
        for w in set(re.findall(rb"[A-Za-z_][A-Za-z0-9_]*", Path(third.__file__).read_bytes()))
        if w not in spelt and not (w.startswith(b"__") and w.endswith(b"__"))
    ]
    assert len(absent) > 300
    maybes = [n for n in absent if found.may_mention(n)]
    assert len(maybes) < len(absent) // 50, len(maybes)


def test_a_star_import_or_an_unreadable_text_may_read_anything() -> None:
    assert mentions_of(b"from hub import *\n").may_read_any(["anything"])
    assert Mentions(b"", True, 0).may_read_any(["x"])
    # Markers of the engine's own (``<import m>``) are not names a text spells.
    assert not mentions_of(b"x = 1\n").may_read_any(["<import hub>"])


def test_a_dependent_that_does_not_mention_what_changed_is_not_parsed(
    project: Project,
) -> None:
    project.files(
        {
            "hub.py": "SCALE = 2\n\ndef unit():\n    return 1\n",
            "reader.py": "import hub\nDOUBLE = hub.SCALE * 2\n",
            "bystander.py": "import hub\nUNIT = hub.unit()\n",
        }
    )
    project.import_("hub")
    reader, bystander = project.import_("reader"), project.import_("bystander")
    parsed: list[str] = []
    real_init = statements.ModuleIndex.__init__

    def counting(self: statements.ModuleIndex, text: str, *args: object, **kw: object) -> None:
        parsed.append(text)
        real_init(self, text, *args, **kw)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(statements.ModuleIndex, "__init__", counting)
        result = project.reload("hub.py", "SCALE = 5\n\ndef unit():\n    return 1\n")
    assert reader.DOUBLE == 10 and bystander.UNIT == 1
    assert [p["mod"] for p in result["recompiled"]] == ["hub", "reader"]
    # bystander spells `unit`, not `SCALE`: never parsed; reader was.
    assert not any("UNIT = hub.unit()" in t for t in parsed)
    assert any("DOUBLE = hub.SCALE" in t for t in parsed)
    assert sys.modules["bystander"] is bystander


def test_dunder_parts_need_not_be_spelt_python_calls_them_implicitly() -> None:
    subclass = mentions_of(b"from hub import Base\n\nclass CSV(Base):\n    pass\n")
    assert subclass.may_mention("Base.__init_subclass__")
    assert subclass.may_mention("Base.__class__") and subclass.may_mention("Base.__init__")
    assert not mentions_of(b"x = 1\n").may_mention("Base.__init_subclass__")


def test_a_non_ascii_identifier_may_be_mentioned_under_its_normalised_name() -> None:
    found = mentions_of("AREA = π * 2\nx = café\nﬁle = 1\n".encode())
    for name in ("π", "café", "file", "AREA"):
        assert found.may_mention(name), name


def test_a_dependent_reading_a_non_ascii_name_runs_again(project: Project) -> None:
    project.files({"consts.py": "π = 3\n", "area.py": "from consts import π\n\nAREA = π * 2\n"})
    area = project.import_("area")
    project.reload("consts.py", "π = 4\n")
    assert area.AREA == 8


PARTS = ["RegexLexer", "bygroups", "hub", "h", "tokens", "helper", "CONSTANT", "absent", "other"]
NAME_PART = st.sampled_from([*PARTS, "__init__", "()", ""])


@given(
    names=st.lists(
        st.lists(NAME_PART, min_size=1, max_size=3).map(".".join)
        | st.sampled_from(["<import hub>", ".tokens", ".missing", "helper.()"]),
        max_size=4,
    )
)
def test_a_probe_answers_as_the_names_do(names: list[str]) -> None:
    found = mentions_of(TEXT)
    assert found.may_read_any(Probe(names)) == found.may_read_any(names)
    assert found.may_read_any(Probe(names)) == any(
        found.may_mention(n) for n in names if not n.startswith("<")
    )
