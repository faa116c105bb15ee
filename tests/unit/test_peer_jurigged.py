"""jurigged's scenarios, run through ``HotReloader.reload``.

jurigged (``tests/`` of breuleux/jurigged) merges a new version of a file into the running
module definition by definition, keeps line numbers right, and writes the file only on
"commit". Its snippets (one module in several versions) are mirrored by the cases under
``tests/assets/peer_jurigged/``. Differences in semantics are deliberate and written down
where they show: we always write the file (every reload is a commit), we re-execute the whole
module (unchanged statements run again), and a failing statement fails the whole reload
instead of being skipped. Its random edit sequences are mirrored at the end, checking held
references, line numbers and the ``functions`` payload after every edit.
"""

from __future__ import annotations

import hashlib
import importlib.util
import inspect
import marshal
import math
import random
import subprocess
import sys
import textwrap
import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import pytest

import ipython_hotreload as hr
from ipython_hotreload.core.edit import bytecode

if TYPE_CHECKING:
    from conftest import Project

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "peer_jurigged"


def asset(case: str, variant: str = "main") -> str:
    """The text of one version of a case module."""
    return (ASSETS / case / f"{variant}.py").read_text(encoding="utf-8")


def start(project: Project, case: str) -> ModuleType:
    """Write the case's ``main`` version as module ``case`` and import it."""
    project.write(f"{case}.py", asset(case))
    return project.import_(case)


def apply(project: Project, case: str, variant: str) -> dict[str, Any]:
    """Reload module ``case`` with another version of it."""
    return project.reload(f"{case}.py", asset(case, variant))


def payload_of(result: dict[str, Any], mod: str) -> dict[str, Any]:
    """The payload of ``mod`` in a reload result (fails the test when it is missing)."""
    for payload in result["recompiled"]:
        if payload["mod"] == mod:
            return dict(payload)
    raise AssertionError(f"{mod} not in {[p['mod'] for p in result['recompiled']]}")


def line_of(text: str, needle: str) -> int:
    """1-based number of the first line of ``text`` that contains ``needle``."""
    for number, line in enumerate(text.splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in the text")


# ---------------------------------------------------------------------------------------------
# test_codetools.py: collecting definitions
# ---------------------------------------------------------------------------------------------

ORCHARD_EXPECTED = [
    # (qualname, kind, signature, doc)
    ("stamp", "function", "(fn)", None),
    ("breakfast", "function", "()", "Serve apples."),
    ("Orchard.count", "staticmethod", "()", None),
    ("Orchard.combine", "classmethod", "(cls, a, b)", None),
    ("Orchard.harvest", "method", "(self, x)", None),
    ("Orchard.Shed.store", "method", "(self, item)", None),
    ("juggle", "async_function", "(a, b)", None),
    ("pomme", "function", "()", None),
    ("grafted", "function", "(fn)", None),
    ("tree", "function", "(z)", None),
    ("FakeApple.color", "property", "(self)", None),
]


def expected_orchard_entries(text: str) -> list[dict[str, Any]]:
    """ORCHARD_EXPECTED with lines read off ``text`` (first ``def name(``, end of its body)."""
    lines = text.splitlines()
    out = []
    for qualname, kind, signature, doc in ORCHARD_EXPECTED:
        name = qualname.rsplit(".", 1)[-1]
        lineno = next(i for i, line in enumerate(lines, 1) if f"def {name}(" in line)
        indent = len(lines[lineno - 1]) - len(lines[lineno - 1].lstrip())
        end = lineno
        for i in range(lineno, len(lines)):
            line = lines[i]
            if line.strip() and len(line) - len(line.lstrip()) <= indent:
                break
            if line.strip():
                end = i + 1
        out.append(
            {
                "name": name,
                "qualname": qualname,
                "kind": kind,
                "lineno": lineno,
                "end_lineno": end,
                "signature": signature,
                "doc": doc,
            }
        )
    return out


def test_collect_definitions_into_functions_payload(project: Project) -> None:
    # jurigged: test_codetools.py::test_collect (the apple snippet's catalogue of definitions)
    orchard = start(project, "orchard")
    held_harvest = orchard.Orchard.harvest
    text = asset("orchard")

    result = project.reload("orchard.py", text)
    keys = ("name", "qualname", "kind", "lineno", "end_lineno", "signature", "doc")
    got = [{k: e.get(k) for k in keys} for e in payload_of(result, "orchard")["functions"]]
    assert got == expected_orchard_entries(text)

    shifted = "# one\n# two\n# three\n" + text
    result = project.reload("orchard.py", shifted)
    got = [{k: e.get(k) for k in keys} for e in payload_of(result, "orchard")["functions"]]
    assert got == expected_orchard_entries(shifted)
    assert held_harvest.__code__.co_firstlineno == line_of(shifted, "def harvest(")
    assert orchard.Orchard().harvest(1) == 6
    assert not hasattr(orchard, "temporary")


# ---------------------------------------------------------------------------------------------
# test_codetools.py: merging a new version (ballon, chips)
# ---------------------------------------------------------------------------------------------


def test_merge_new_version(project: Project) -> None:
    # jurigged: test_codetools.py::test_merge
    kite = start(project, "kite")
    sail = kite.Sail(10)
    lift, drag = kite.lift, sail.drag
    frame_cls, frame = kite.Frame, kite.Frame(1)
    assert (lift(5), drag(), sail.flutter(), kite.idle()) == (10, -1, "flap", None)
    with pytest.raises(AttributeError):
        sail.perimeter()

    apply(project, "kite", "v2")

    assert kite.lift(5) == 15
    assert lift(5) == 15
    assert kite.descend(15) == 5
    assert sail.drag() == 0
    assert drag() == 0
    with pytest.raises(AttributeError):
        sail.flutter()
    assert sail.perimeter() == 2 * math.pi * 10
    assert not hasattr(kite, "idle")
    assert kite.Frame is frame_cls
    assert frame.area() == math.pi
    assert lift.__code__.co_firstlineno == line_of(asset("kite", "v2"), "def lift(")


def test_merge_back_and_forth(project: Project) -> None:
    # jurigged: test_codetools.py::test_merge_back_and_forth
    kite = start(project, "kite")
    sail = kite.Sail(10)
    lift, drag = kite.lift, sail.drag

    def check_main() -> None:
        assert (kite.lift(5), lift(5), sail.drag(), drag()) == (10, 10, -1, -1)
        assert sail.flutter() == "flap"
        assert kite.idle() is None
        assert not hasattr(sail, "perimeter")
        assert not hasattr(kite, "descend")
        assert lift.__code__.co_firstlineno == line_of(asset("kite"), "def lift(")

    def check_v2() -> None:
        assert (kite.lift(5), lift(5), sail.drag(), drag()) == (15, 15, 0, 0)
        assert kite.descend(15) == 5
        assert sail.perimeter() == 2 * math.pi * 10
        assert not hasattr(sail, "flutter")
        assert not hasattr(kite, "idle")
        assert lift.__code__.co_firstlineno == line_of(asset("kite", "v2"), "def lift(")

    check_main()
    for _ in range(3):
        apply(project, "kite", "v2")
        check_v2()
        apply(project, "kite", "main")
        check_main()


def test_decorated_function_signature_change(project: Project) -> None:
    # jurigged: test_codetools.py::test_merge_decorators
    pretzel = start(project, "pretzel")
    held = pretzel.bake
    assert held(4) == 6

    apply(project, "pretzel", "sig")

    assert pretzel.bake(4, 2) == 8
    assert held(4, 2) == 8


def test_decorator_stack_deepened(project: Project) -> None:
    # jurigged: test_codetools.py::test_merge_decorators_change
    pretzel = start(project, "pretzel")
    held = pretzel.bake

    apply(project, "pretzel", "tri")

    assert pretzel.bake(4) == 17
    assert held(4) == 17


@pytest.mark.parametrize(
    ("variants", "expected"),
    [
        (["salt2"], 8),  # jurigged: test_change_decorator
        (["salt2", "salt3"], 10),  # jurigged: test_change_decorator_multiple
        (["salt2", "salt2_body"], 404),  # jurigged: test_change_decorator_then_fn
        (["body", "salt2_body"], 404),  # jurigged: test_change_fn_then_decorator
    ],
    ids=["decorator", "decorator_twice", "decorator_then_fn", "fn_then_decorator"],
)
def test_change_decorator(project: Project, variants: list[str], expected: int) -> None:
    # jurigged: test_codetools.py::test_change_decorator* (a decorator body changes)
    pretzel = start(project, "pretzel")
    held = pretzel.bake
    assert held(4) == 6

    for variant in variants:
        apply(project, "pretzel", variant)

    assert pretzel.bake(4) == expected
    assert held(4) == expected


# ---------------------------------------------------------------------------------------------
# test_codetools.py: committing (dandelion); every reload of ours is a commit
# ---------------------------------------------------------------------------------------------


def check_pyc(source: Path) -> None:
    """The ``.pyc`` next to ``source`` is valid for the bytes now on disk (once the writes
    behind the reload are done, SPEC 1.1 step 5)."""
    assert bytecode.flush()
    pyc = Path(importlib.util.cache_from_source(str(source)))
    data = pyc.read_bytes()
    assert data[:4] == importlib.util.MAGIC_NUMBER
    flags = int.from_bytes(data[4:8], "little")
    src = source.read_bytes()
    if flags & 0b1:
        assert data[8:16] == importlib.util.source_hash(src)
    else:
        stat = source.stat()
        assert int.from_bytes(data[8:12], "little") == int(stat.st_mtime) & 0xFFFFFFFF
        assert int.from_bytes(data[12:16], "little") == len(src) & 0xFFFFFFFF
    code = marshal.loads(data[16:])
    assert Path(code.co_filename).resolve() == source.resolve()


def test_commit_noop(project: Project) -> None:
    # jurigged: test_codetools.py::test_commit_noop
    meadow = start(project, "meadow")
    path = project.path("meadow.py")
    before = path.read_bytes()

    result = apply(project, "meadow", "main")

    assert path.read_bytes() == before
    assert payload_of(result, "meadow")["source_hash"] == hashlib.sha256(before).hexdigest()
    assert meadow.pluck(5) == 4


def test_commit_writes_new_version(project: Project, monkeypatch: pytest.MonkeyPatch) -> None:
    # jurigged: test_codetools.py::test_commit (and test_regen_statements: the file holds the
    # merged text; ours is the text handed in, unformatted as the formatter is off)
    # The environment may set PYTHONDONTWRITEBYTECODE, which rightly turns the .pyc off.
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    meadow = start(project, "meadow")
    held_pluck = meadow.pluck
    held_cls = meadow.Flower
    path = project.path("meadow.py")

    result = apply(project, "meadow", "v2")

    assert path.read_text(encoding="utf-8") == asset("meadow", "v2")
    payload = payload_of(result, "meadow")
    assert payload["source_hash"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert [e["qualname"] for e in payload["functions"]] == [
        "Bee.__init__",
        "Flower.__init__",
        "Flower.pluck",
        "Flower.sing",
        "color",
        "pluck",
    ]
    assert next(e for e in payload["functions"] if e["qualname"] == "pluck")["doc"] == (
        "Pluck twice."
    )
    assert held_pluck(5) == 3
    flower = held_cls("rose", 3)
    flower.pluck()
    assert flower.sing() == "rose sways with 2 petals"
    assert not hasattr(meadow, "plack")
    assert "check" not in held_cls.__dict__
    assert meadow.Bee(2).buzz == "bzz"
    check_pyc(path)
    fresh = subprocess.run(
        [sys.executable, "-c", "import meadow; print(meadow.pluck(5), meadow.color())"],
        cwd=project.root,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert fresh.stdout.split() == ["3", "yellow"]


def test_file_edited_elsewhere_is_reexecuted_with_next_reload(project: Project) -> None:
    # jurigged: test_codetools.py::test_commit_stale (the file changed under the editor);
    # SPEC 1.1 step 4: a loaded module whose file no longer matches its code is re-executed
    start(project, "meadow")
    warp = start(project, "warp")
    held_beta = warp.beta
    apply(project, "meadow", "main")
    project.write("warp.py", asset("warp", "recoded"))

    result = apply(project, "meadow", "v2")

    assert result["recompiled"][0]["mod"] == "meadow"
    bare = payload_of(result, "warp")
    assert (bare["source_hash"], bare["functions"]) == (None, None)
    assert held_beta() == 200


# ---------------------------------------------------------------------------------------------
# test_codetools.py: functions registered by a decorator (elephant), statements (firmament)
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "variant", "expected"),
    [
        # jurigged: test_functions_interface (a body edit: patched in place, registered once)
        ("minimal", "mod", ["Paint 7 walls", "Sing 14 songs", "Dance for 7 hours"]),
        ("module", "mod", ["Paint 7 walls", "Sing 14 songs", "Dance for 7 hours"]),
        # jurigged: test_functions_interface_add. By default the new definitions run and
        # register after the kept ones (SPEC §1.5 rule 2); a whole re-execution rebuilds the
        # registry in source order, as jurigged's expectation has it.
        (
            "minimal",
            "more",
            [
                *("Paint 7 walls", "Sing 7 songs", "Dance for 7 hours"),
                *("Greet the 7 moons", "Do 7 squats"),
            ],
        ),
        (
            "module",
            "more",
            [
                *("Paint 7 walls", "Sing 7 songs", "Greet the 7 moons"),
                *("Dance for 7 hours", "Do 7 squats"),
            ],
        ),
        # jurigged: test_functions_interface_rm. The one `do` left pairs with the first old
        # one (same decorator: its body is patched); what the removed ones registered stays
        # (SPEC §1.5 rule 4). A whole re-execution starts the registry afresh.
        ("minimal", "less", ["Eat 7 plums", "Sing 7 songs", "Dance for 7 hours"]),
        ("module", "less", ["Eat 7 plums"]),
    ],
)
def test_registry_of_same_named_functions(
    project: Project, mode: str, variant: str, expected: list[str]
) -> None:
    # jurigged: test_codetools.py::test_functions_interface*
    project.reloader.reexecute = mode  # type: ignore[assignment]
    parade = start(project, "parade")
    held_cls = parade.Rememberer
    assert parade.do(7) == ["Paint 7 walls", "Sing 7 songs", "Dance for 7 hours"]

    apply(project, "parade", variant)

    assert parade.do(7) == expected
    assert parade.activities is parade.do
    assert len(parade.activities.funcs) == len(expected)
    assert parade.Rememberer is held_cls
    assert isinstance(parade.activities, held_cls)


@pytest.mark.parametrize("mode", ["minimal", "module"])
def test_module_statements_run_again(project: Project, mode: str) -> None:
    # jurigged: test_codetools.py::test_update_statements: unchanged statements are skipped
    # and the appended 888 stays (SPEC §1.5, the default); reexecute="module" rebuilds it.
    project.reloader.reexecute = mode  # type: ignore[assignment]
    sky = start(project, "sky")
    held_vega = sky.vega
    sky.dipper.append(888)
    assert sky.polaris == 1000

    apply(project, "sky", "mod")

    assert held_vega(5) == 3
    assert sky.dipper == ([1, 2, 3] if mode == "module" else [1, 2, 3, 888])
    assert sky.polaris == 41
    assert (sky.east, sky.west) == (11, 22)
    assert not hasattr(sky, "north")
    assert not hasattr(sky, "south")
    assert sky.math is math


# ---------------------------------------------------------------------------------------------
# test_codetools.py: super and class statements (glamour), a bad statement (iguana)
# ---------------------------------------------------------------------------------------------


def test_change_supermethod(project: Project) -> None:
    # jurigged: test_codetools.py::test_change_supermethod
    outfit = start(project, "outfit")
    hat = outfit.Hat(5)
    assert hat.swagger() == 10

    apply(project, "outfit", "mod")

    assert hat.swagger() == 15
    assert outfit.Hat(5).swagger() == 15


def test_remove_super_call(project: Project) -> None:
    # jurigged: test_codetools.py::test_remove_super
    outfit = start(project, "outfit")
    hat = outfit.Hat(5)

    apply(project, "outfit", "mod2")

    assert hat.swagger() == 777


def test_add_class_statements(project: Project) -> None:
    # jurigged: test_codetools.py::test_add_class_statement
    outfit = start(project, "outfit")
    hat = outfit.Hat(5)

    apply(project, "outfit", "mod3")

    assert hat.swagger() == 50
    assert hat.also_swagger() == 50
    assert hat.hello() == "hello!"
    project.reload("outfit.py", asset("outfit", "mod3").replace("* 10", "* 20"))
    assert (hat.swagger(), hat.also_swagger()) == (100, 100)
    # Aliases stay aliases, and the aliased module function keeps its own code.
    assert outfit.Hat.__dict__["also_swagger"] is outfit.Hat.__dict__["swagger"]
    assert outfit.Hat.__dict__["hello"] is outfit.greet
    assert outfit.greet.__code__.co_name == "greet"


def test_bad_statement_fails_the_whole_reload(project: Project) -> None:
    # jurigged: test_codetools.py::test_bad_statement (jurigged applies the other changes; our
    # contract is all or nothing)
    lizard = start(project, "lizard")
    held = lizard.hiss

    with pytest.raises(hr.ReloadError) as failure:
        apply(project, "lizard", "bad")

    assert isinstance(failure.value.__cause__, NameError)
    assert failure.value.lineno == 1
    assert held(3) == "sss"
    assert lizard.hiss is held
    assert not hasattr(lizard, "x")
    assert project.path("lizard.py").read_text(encoding="utf-8") == asset("lizard", "bad")


def test_function_built_from_another_functions_code(project: Project) -> None:
    # jurigged: test_codetools.py::test_custom_conform (jack2 shares jack1's code, renamed)
    text = """
        import types


        def jack1(x, y):
            return x {op} y


        jack2 = types.FunctionType(jack1.__code__.replace(co_name="jack2"), globals())
    """
    project.write("jack.py", text.format(op="*"))
    jack = project.import_("jack")
    held_jack1 = jack.jack1
    assert (jack.jack1(3, 4), jack.jack2(3, 4)) == (12, 12)

    project.reload("jack.py", text.format(op="+"))

    assert (jack.jack1(3, 4), jack.jack2(3, 4)) == (7, 7)
    assert held_jack1(3, 4) == 7
    assert held_jack1.__code__.co_name == "jack1"
    assert jack.jack2.__code__.co_name == "jack2"


@pytest.mark.parametrize("variant", ["new", "collision"])
def test_future_annotations_respected(project: Project, variant: str) -> None:
    # jurigged: test_codetools.py::test_respect_future_flags_succeeds,
    # test_future_flag_name_collisions_dont_cause_issues
    sapling = start(project, "sapling")
    assert not hasattr(sapling, "echo")

    apply(project, "sapling", variant)

    assert sapling.echo("jeb") == "jeb"
    assert sapling.echo.__annotations__ == {"a": "NotDefinedAnywhere", "return": "str"}


# ---------------------------------------------------------------------------------------------
# test_recoder.py: patching, reverting, adding, deleting
# ---------------------------------------------------------------------------------------------


def test_recoder_patch_and_commit(project: Project) -> None:
    # jurigged: test_recoder.py::test_recoder
    warp = start(project, "warp")
    held = warp.beta
    assert held() == 2

    apply(project, "warp", "recoded")

    assert held() == 200
    assert project.path("warp.py").read_text(encoding="utf-8") == asset("warp", "recoded")


def test_recoder_patch_revert_repatch_and_add_on_top(project: Project) -> None:
    # jurigged: test_recoder.py::test_recoder_2
    kite = start(project, "kite")
    held = kite.lift
    main = asset("kite")
    patched = main.replace("wind * 2", "wind * 10")

    project.reload("kite.py", patched)
    assert held(4) == 40
    project.reload("kite.py", main)
    assert held(4) == 8
    project.reload("kite.py", patched)
    assert held(4) == 40
    assert not hasattr(kite, "gust")

    recoded = asset("kite", "recoded")
    project.reload("kite.py", recoded)
    assert kite.gust() == 0
    assert held(4) == 40
    assert held.__code__.co_firstlineno == line_of(recoded, "def lift(")
    assert project.path("kite.py").read_text(encoding="utf-8") == recoded


def test_recoder_rename_in_module(project: Project) -> None:
    # jurigged: test_recoder.py::test_function_recoder (patch_module with a renamed function)
    kite = start(project, "kite")
    text = asset("kite").replace(
        "def lift(wind):\n    return wind * 2", "def hoist(wind):\n    return wind * 100"
    )

    project.reload("kite.py", text + "\n\nx = 10\n")

    assert kite.hoist(4) == 400
    assert kite.x == 10
    assert not hasattr(kite, "lift")


def test_recoder_delete_then_reinsert(project: Project) -> None:
    # jurigged: test_recoder.py::test_function_recoder_delete
    kite = start(project, "kite")
    main = asset("kite")
    without = main.replace("def lift(wind):\n    return wind * 2\n\n\n", "")
    assert without != main

    project.reload("kite.py", without)
    assert not hasattr(kite, "lift")

    project.reload("kite.py", main.replace("wind * 2", "wind * 10"))
    assert kite.lift(4) == 40


def test_recoder_class_and_method(project: Project) -> None:
    # jurigged: test_recoder.py::test_class_recoder, test_method_recoder
    kite = start(project, "kite")
    sail = kite.Sail(10)
    held = kite.Sail.drag

    project.reload("kite.py", asset("kite").replace("return -1", "return self.span"))

    assert sail.drag() == 10
    assert held(sail) == 10
    assert kite.Sail(3).drag() == 3


# ---------------------------------------------------------------------------------------------
# test_live.py: files changed by another editor (the pipeline minus write and format)
# ---------------------------------------------------------------------------------------------


def test_changed_on_disk_bad_then_good(project: Project) -> None:
    # jurigged: test_live.py::test_watch (a syntax error does not kill anything, then a good
    # version loads), test_debounce (only the final text matters)
    path = project.write("words.py", 'word = "tyrant"\n')
    words = project.import_("words")

    project.write("words.py", 'word = "pirate\n')
    with pytest.raises(hr.ReloadError):
        project.reloader.reload_from_disk([path])
    assert words.word == "tyrant"

    project.write("words.py", 'word = "pirate"\n')
    result = project.reloader.reload_from_disk([path])
    assert words.word == "pirate"
    assert payload_of(result, "words")["mod"] == "words"

    project.write("words.py", "")
    project.write("words.py", 'word = "tyrant"\nxxx = "xxx"\n')
    project.reloader.reload_from_disk([path])
    assert (words.word, words.xxx) == ("tyrant", "xxx")


# ---------------------------------------------------------------------------------------------
# Line numbers (jurigged keeps them right; autoreload and deduperreload leave them stale)
# ---------------------------------------------------------------------------------------------

EXPLODE_V1 = """def explode(n):
    if n > 0:
        raise ValueError("boom")
    return n
"""

EXPLODE_V2 = '''"""A module that grew above its function."""

import os

PADDING = 1


def helper():
    return os.sep


def explode(n):
    if n > 0:
        raise ValueError("boom")
    return n
'''


def test_function_moved_down_reports_new_lines(project: Project) -> None:
    # jurigged: test_codetools.py (definitions tracked by line), test_generated.py
    project.write("lines_down.py", EXPLODE_V1)
    mod = project.import_("lines_down")
    held = mod.explode
    assert inspect.getsourcelines(held)[1] == 1  # prime linecache with the old text

    result = project.reload("lines_down.py", EXPLODE_V2)

    def_line = line_of(EXPLODE_V2, "def explode")
    assert held.__code__.co_firstlineno == def_line
    with pytest.raises(ValueError, match="boom") as info:
        held(1)
    frame = traceback.extract_tb(info.value.__traceback__)[-1]
    assert (frame.name, frame.lineno) == ("explode", line_of(EXPLODE_V2, "raise ValueError"))
    assert frame.line == 'raise ValueError("boom")'
    lines, start_line = inspect.getsourcelines(held)
    assert start_line == def_line
    assert "".join(lines) == EXPLODE_V1
    entry = next(e for e in payload_of(result, "lines_down")["functions"] if e["name"] == "explode")
    assert (entry["lineno"], entry["end_lineno"]) == (def_line, def_line + 3)


def test_method_moved_up_reports_new_lines(project: Project) -> None:
    # jurigged: test_codetools.py (definitions tracked by line), test_generated.py
    v1 = textwrap.dedent(
        """
        def one():
            return 1


        def two():
            return 2


        class Engine:
            def start(self, fuel):
                if fuel < 0:
                    raise RuntimeError("no fuel")
                return "vroom"
        """
    )
    v2 = textwrap.dedent(
        """
        class Engine:
            def start(self, fuel):
                if fuel < 0:
                    raise RuntimeError("no fuel at all")
                return "VROOM"
        """
    )
    project.write("lines_up.py", v1)
    mod = project.import_("lines_up")
    engine = mod.Engine()
    bound = engine.start
    assert inspect.getsource(mod.Engine.start).strip().startswith("def start")

    project.reload("lines_up.py", v2)

    assert bound(1) == "VROOM"
    assert mod.Engine.start.__code__.co_firstlineno == line_of(v2, "def start")
    with pytest.raises(RuntimeError, match="no fuel at all") as info:
        bound(-1)
    frame = traceback.extract_tb(info.value.__traceback__)[-1]
    assert frame.lineno == line_of(v2, "raise RuntimeError")
    assert frame.line == 'raise RuntimeError("no fuel at all")'
    assert inspect.getsourcelines(bound)[1] == line_of(v2, "def start")
    assert "VROOM" in inspect.getsource(mod.Engine)


def test_decorated_definitions_moved_report_new_lines(project: Project) -> None:
    # jurigged: test_codetools.py::test_collect (decorated definitions of the apple snippet are
    # found by line: staticmethod, classmethod, wraps, property getter and setter)
    orchard = start(project, "orchard")
    count = orchard.Orchard.__dict__["count"].__func__
    combine = orchard.Orchard.__dict__["combine"].__func__
    color = orchard.FakeApple.__dict__["color"]
    tree = orchard.tree
    apple = orchard.FakeApple()
    shifted = "# pushed\n# down\n# by\n# four\n" + asset("orchard")

    project.reload("orchard.py", shifted)

    def decorator_line(name: str, decorator: str) -> int:
        # A decorated function's code starts at its first decorator.
        def_line = line_of(shifted, f"def {name}(")
        return max(
            i for i in range(1, def_line) if shifted.splitlines()[i - 1].strip() == decorator
        )

    assert count.__code__.co_firstlineno == decorator_line("count", "@staticmethod")
    assert combine.__code__.co_firstlineno == decorator_line("combine", "@classmethod")
    assert tree.__wrapped__.__code__.co_firstlineno == decorator_line("tree", "@grafted")
    assert color.fget.__code__.co_firstlineno == decorator_line("color", "@property")
    apple.color = "red"
    assert apple.color == "red"
    with pytest.raises(AttributeError) as info:
        orchard.FakeApple().color  # the getter raises: no _color yet
    frame = traceback.extract_tb(info.value.__traceback__)[-1]
    assert frame.lineno == line_of(shifted, "return self._color")
    assert frame.line == "return self._color"


# ---------------------------------------------------------------------------------------------
# test_generated.py: random edit sequences
# ---------------------------------------------------------------------------------------------

SYLLABLES = [c + v for c in "bdfgjklmnprstvz" for v in "aeiou"]


@dataclass(frozen=True)
class FnPlan:
    """A generated function: ``acc = a + b ...; acc += 0; acc += 1 ...; return acc``."""

    name: str
    acc: str
    nargs: int
    nlines: int
    blank_after: int
    active: bool

    def body(self) -> list[str]:
        total = " + ".join(chr(ord("a") + i) for i in range(self.nargs)) or "0"
        if self.nlines <= 1:
            return [f"return {total}"]
        steps = [f"{self.acc} += {i}" for i in range(self.nlines - 2)]
        return [f"{self.acc} = {total}", *steps, f"return {self.acc}"]

    def render(self, method: bool) -> list[str]:
        params = (["self"] if method else []) + [chr(ord("a") + i) for i in range(self.nargs)]
        head = f"def {self.name}({', '.join(params)}):"
        return [head, *("    " + line for line in self.body()), *([""] * self.blank_after)]

    def args(self) -> tuple[int, ...]:
        return tuple(range(self.nargs))

    def expected(self) -> int:
        return sum(range(self.nargs)) + sum(range(self.nlines - 2))


@dataclass(frozen=True)
class ClassPlan:
    """A generated class holding generated methods; it exists while one method does."""

    name: str
    methods: tuple[FnPlan, ...]
    blank_after: int

    @property
    def active(self) -> bool:
        return any(m.active for m in self.methods)


class EditGenerator:
    """Random modules and random edits of them, reproducible from a seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.used: set[str] = set()

    def longname(self) -> str:
        while True:
            name = "".join(self.rng.choice(SYLLABLES) for _ in range(4))
            if name not in self.used:
                self.used.add(name)
                return name

    def function(self, name: str, active: bool) -> FnPlan:
        return FnPlan(
            name=name,
            acc=self.rng.choice(SYLLABLES),
            nargs=self.rng.randint(0, 3),
            nlines=self.rng.randint(1, 7),
            blank_after=self.rng.randint(0, 2),
            active=active,
        )

    def module(self, size: int = 5) -> list[FnPlan | ClassPlan]:
        plans: list[FnPlan | ClassPlan] = []
        for _ in range(size):
            if self.rng.random() < 0.2:
                methods = tuple(
                    self.function(self.longname(), active=self.rng.random() < 0.7)
                    for _ in range(self.rng.randint(1, 3))
                )
                plans.append(ClassPlan(self.longname(), methods, self.rng.randint(0, 2)))
            else:
                plans.append(self.function(self.longname(), active=self.rng.random() < 0.6))
        return plans

    def change_function(self, plan: FnPlan) -> FnPlan:
        if self.rng.random() >= 0.3:
            return plan
        active = not plan.active if self.rng.random() < 0.2 else plan.active
        return self.function(plan.name, active)

    def change(self, plans: list[FnPlan | ClassPlan]) -> list[FnPlan | ClassPlan]:
        plans = list(plans)
        self.rng.shuffle(plans)
        out: list[FnPlan | ClassPlan] = []
        for plan in plans:
            if isinstance(plan, FnPlan):
                out.append(self.change_function(plan))
            else:
                methods = list(plan.methods)
                self.rng.shuffle(methods)
                out.append(replace(plan, methods=tuple(self.change_function(m) for m in methods)))
        return out


def render_module(plans: list[FnPlan | ClassPlan]) -> tuple[str, dict[str, tuple[int, int]]]:
    """Source text and, per active function qualname in source order, (lineno, end_lineno)."""
    lines: list[str] = []
    where: dict[str, tuple[int, int]] = {}
    for plan in plans:
        if not plan.active:
            continue
        if isinstance(plan, FnPlan):
            where[plan.name] = (len(lines) + 1, len(lines) + 1 + len(plan.body()))
            lines += plan.render(method=False)
        else:
            lines.append(f"class {plan.name}:")
            for method in plan.methods:
                if method.active:
                    start_line = len(lines) + 1
                    where[f"{plan.name}.{method.name}"] = (
                        start_line,
                        start_line + len(method.body()),
                    )
                    lines += [f"    {line}" if line else "" for line in method.render(method=True)]
            lines += [""] * plan.blank_after
        lines.append("")
    return "\n".join(lines) + "\n", where


class HeldReferences:
    """References taken the first time a definition appears and kept while it stays."""

    def __init__(self) -> None:
        self.functions: dict[str, Any] = {}
        self.classes: dict[str, tuple[type, object]] = {}
        self.methods: dict[tuple[str, str], Any] = {}

    def check(
        self,
        mod: ModuleType,
        plans: list[FnPlan | ClassPlan],
        where: dict[str, tuple[int, int]],
        ctx: str,
    ) -> None:
        for plan in plans:
            if isinstance(plan, FnPlan):
                self.check_function(mod, plan, where, ctx)
            else:
                self.check_class(mod, plan, where, ctx)

    def check_function(
        self, mod: ModuleType, plan: FnPlan, where: dict[str, tuple[int, int]], ctx: str
    ) -> None:
        if not plan.active:
            self.functions.pop(plan.name, None)
            assert not hasattr(mod, plan.name), f"{ctx}: removed {plan.name} still there"
            return
        fn = self.functions.setdefault(plan.name, getattr(mod, plan.name))
        assert getattr(mod, plan.name) is fn, f"{ctx}: {plan.name} lost its identity"
        assert fn(*plan.args()) == plan.expected(), f"{ctx}: {plan.name} runs stale code"
        assert fn.__code__.co_firstlineno == where[plan.name][0], f"{ctx}: {plan.name} line"
        assert inspect.getsourcelines(fn)[1] == where[plan.name][0], f"{ctx}: {plan.name} source"

    def check_class(
        self, mod: ModuleType, plan: ClassPlan, where: dict[str, tuple[int, int]], ctx: str
    ) -> None:
        if not plan.active:
            self.classes.pop(plan.name, None)
            for key in [k for k in self.methods if k[0] == plan.name]:
                del self.methods[key]
            assert not hasattr(mod, plan.name), f"{ctx}: removed class {plan.name} still there"
            return
        current = getattr(mod, plan.name)
        cls, instance = self.classes.setdefault(plan.name, (current, current()))
        assert current is cls, f"{ctx}: class {plan.name} lost its identity"
        for method in plan.methods:
            key = (plan.name, method.name)
            qualname = f"{plan.name}.{method.name}"
            if not method.active:
                self.methods.pop(key, None)
                assert method.name not in cls.__dict__, f"{ctx}: removed {qualname} still there"
                assert not hasattr(instance, method.name), f"{ctx}: old instance has {qualname}"
                continue
            fn = self.methods.setdefault(key, cls.__dict__[method.name])
            assert cls.__dict__[method.name] is fn, f"{ctx}: {qualname} lost its identity"
            assert fn(instance, *method.args()) == method.expected(), f"{ctx}: {qualname} stale"
            bound = getattr(instance, method.name)
            assert bound(*method.args()) == method.expected(), f"{ctx}: {qualname} via instance"
            assert fn.__code__.co_firstlineno == where[qualname][0], f"{ctx}: {qualname} line"


@pytest.mark.parametrize("seed", range(20))
def test_generated_edit_sequence(project: Project, seed: int) -> None:
    # jurigged: test_generated.py::test_edit_sequence (random edits merged one after another,
    # checked through the module and through a "shadow" of references taken earlier)
    gen = EditGenerator(seed)
    plans = gen.module()
    name = f"generated_{seed}"
    text, where = render_module(plans)
    project.write(f"{name}.py", text)
    mod = project.import_(name)
    held = HeldReferences()
    held.check(mod, plans, where, f"seed={seed} initial")

    for step in range(8):
        plans = gen.change(plans)
        text, where = render_module(plans)
        ctx = f"seed={seed} step={step}"
        result = project.reload(f"{name}.py", text)
        # Every reload is a commit: the file holds exactly the generated text.
        assert project.path(f"{name}.py").read_text(encoding="utf-8") == text, ctx
        held.check(mod, plans, where, ctx)
        functions = payload_of(result, name)["functions"]
        got = [(e["qualname"], e["lineno"], e["end_lineno"]) for e in functions]
        assert got == [(q, lo, hi) for q, (lo, hi) in where.items()], ctx
