"""The calls Python makes implicitly, as the names a changed member makes code-changed
(SPEC 1.5 rule 3)."""

from __future__ import annotations

import dataclasses
from typing import Any

from ipython_hotreload.core.apply.implicit import (
    changed_names,
    codes_before,
    implicit_callers,
    member_changed,
    resolve,
)


class Base:
    def __init_subclass__(cls, **kw: Any) -> None:
        super().__init_subclass__(**kw)

    def run(self) -> int:
        return 1


class Sub(Base):
    pass


class Meta(type):
    pass


class Made(metaclass=Meta):
    pass


NS: dict[str, Any] = {"Base": Base, "Sub": Sub, "Meta": Meta, "Made": Made, "N": 1}


def test_an_ordinary_method_is_called_by_name_only_and_init_by_instantiation() -> None:
    assert member_changed(("Base",), "run", Base) == {"Base.run", ".run"}
    assert member_changed(("Base",), "__init__", Base) == {"Base.__init__", ".__init__", "Base"}
    # A metaclass's __init__ runs when a class is made with it.
    assert "Meta" in member_changed(("Meta",), "__init__", Meta)
    assert "Meta" not in member_changed(("Meta",), "helper", Meta)


def test_the_subclasses_and_the_classes_a_metaclass_made_follow() -> None:
    assert implicit_callers(NS, {"Base"}) == {"Sub"}  # instantiation hooks, inherited
    assert implicit_callers(NS, {"Base.__init_subclass__"}) == {"Sub.__init_subclass__"}
    assert implicit_callers(NS, {"Meta.__call__"}) == {"Made"}
    assert implicit_callers(NS, {"Meta"}) == {"Made.__class__"}
    assert implicit_callers(NS, {"Base.run", ".run", "N"}) == set()  # nothing to scan


def test_resolve_reads_attributes_and_gives_none_for_what_is_missing() -> None:
    assert resolve(NS, "Base.run") is Base.run
    assert resolve(NS, "Nope.x") is None and resolve(NS, "Base.nope") is None


def test_a_module_run_whole_names_only_the_members_whose_code_changed() -> None:
    def f() -> int:
        return 1

    def g() -> int:
        return 2

    @dataclasses.dataclass
    class D:
        x: int = 0

        def __post_init__(self) -> None:
            pass

        def show(self) -> int:
            return self.x

    ns = {"__name__": __name__, "f": f, "D": D}
    before = codes_before(__name__, ns)
    assert changed_names("f", f, before.get("f")) == set()
    f.__code__ = g.__code__
    assert changed_names("f", f, before.get("f")) == {"f"}
    assert changed_names("D", D, before.get("D")) == set()
    D.show.__code__ = g.__code__
    assert changed_names("D", D, before.get("D")) >= {"D.show"}
    assert "D" not in changed_names("D", D, before.get("D"))
