"""Random edit sequences under minimal re-execution (SPEC §1.5), in the spirit of jurigged's
generated edits: after every edit the module behaves as a fresh import of the same text
would, through references taken before the first edit, and what did not change did not run.
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import Project

PROBE = (
    "HITS = []\nREGISTRY = []\n\n\ndef hit(name):\n    HITS.append(name)\n\n\n"
    "def register(fn):\n    REGISTRY.append(fn)\n    return fn\n"
)
FUNCS = ("f0", "f1", "f2")
_unique = itertools.count()


@dataclass(frozen=True)
class Version:
    """One text of the module, as the values it is made of."""

    a: int
    consts: tuple[int, int, int]
    method: int
    decorated: int
    extra: bool

    def text(self) -> str:
        lines = ["import probe", "", f"A = {self.a}", "B = A * 2", 'probe.hit("plain")', ""]
        for name, c in zip(FUNCS, self.consts, strict=True):
            lines += ["", f"def {name}():", f"    return {c} + A", ""]
        lines += ["", "class K:", "    def m(self):", f"        return {self.method}", ""]
        lines += ["", "@probe.register", "def g():", f"    return {self.decorated}", ""]
        if self.extra:
            lines += ["", "def extra():", "    return 'extra'", ""]
        return "\n".join(lines) + "\n"


EDITS = st.sampled_from(["a", "const", "method", "decorated", "extra", "same"])


def _apply(v: Version, edit: str, value: int) -> Version:
    if edit == "a":
        return replace(v, a=v.a + value)
    if edit == "const":
        consts = list(v.consts)
        consts[value % 3] += value
        return replace(v, consts=(consts[0], consts[1], consts[2]))
    if edit == "method":
        return replace(v, method=v.method + value)
    if edit == "decorated":
        return replace(v, decorated=v.decorated + value)
    if edit == "extra":
        return replace(v, extra=not v.extra)
    return v


def _fresh(text: str) -> dict[str, Any]:
    """What a fresh import of ``text`` computes (the probe module is shared, so its
    registrations are taken back out)."""
    probe = sys.modules["probe"]
    hits, registry = list(probe.HITS), list(probe.REGISTRY)
    ns: dict[str, Any] = {"__name__": f"fresh_{next(_unique)}"}
    exec(compile(text, "<fresh>", "exec"), ns)
    probe.HITS[:], probe.REGISTRY[:] = hits, registry
    return ns


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    edits=st.lists(st.tuples(EDITS, st.integers(min_value=1, max_value=9)), min_size=3, max_size=6)
)
def test_random_edits_behave_as_a_fresh_import_and_rerun_only_what_changed(
    project: Project, edits: list[tuple[str, int]]
) -> None:
    name = f"rand_{next(_unique)}"
    if "probe" not in sys.modules:  # written once: a rewrite would be an edit of its own
        project.write("probe.py", PROBE)
    probe = project.import_("probe")
    probe.HITS.clear()
    probe.REGISTRY.clear()
    version = Version(1, (10, 20, 30), 5, 7, False)
    project.write(f"{name}.py", version.text())
    module = project.import_(name)
    held = {f: getattr(module, f) for f in FUNCS}
    held_g, instance = module.g, module.K()
    for edit, value in edits:
        new = _apply(version, edit, value)
        result = project.reload(f"{name}.py", new.text())
        [payload] = [p for p in result["recompiled"] if p["mod"] == name]
        fresh = _fresh(new.text())
        # (a) the module and the references held before the first edit run the new code
        for f in FUNCS:
            assert held[f]() == fresh[f]() == getattr(module, f)()
        assert instance.m() == fresh["K"]().m() and held_g() == fresh["g"]()
        assert (fresh["A"], fresh["B"]) == (module.A, module.B)
        assert hasattr(module, "extra") == new.extra
        # (b) the statement that reads nothing that changed never ran again
        assert probe.HITS.count("plain") == 1, result["recompiled"]
        # (c) the decorated function is registered once, whatever its edits
        assert [held_g] == probe.REGISTRY
        # (d) the mode says what ran
        if new == version:
            assert payload["mode"] == "unchanged"
        elif new.a != version.a or (new.extra and not version.extra):
            assert payload["mode"] == "partial"
        else:
            assert payload["mode"] == "patched", (edit, payload)
        version = new
