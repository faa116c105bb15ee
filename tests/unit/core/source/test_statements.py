"""What a module's source is made of, statement by statement: texts, lines, names, reads,
class bodies, function reads and imports, read once per text."""

from __future__ import annotations

import ast
import textwrap

from ipython_hotreload.core.source.reads import ANNOTATIONS_FLAG
from ipython_hotreload.core.source.statements import ModuleIndex, function_texts, import_marker

SOURCE = textwrap.dedent(
    """\
    import os.path
    import numpy as np
    from . import sibling
    from .consts import SIZE, LIMIT as MAX
    from tools import *

    # a comment
    @register
    @wrap(SIZE)
    def load(path=os.path.sep):
        return read(path, MAX)


    DATA = load()


    class Model(Base):
        scale = SIZE

        def fit(self):
            return other()

        @property
        def size(self):
            return 1

        @size.setter
        def size(self, value):
            pass
    """
)


def index(text: str = SOURCE, package: str | None = "pkg", **kw: object) -> ModuleIndex:
    return ModuleIndex(text, ast.parse(text), package, **kw)  # type: ignore[arg-type]


def test_each_statement_has_its_exact_text_lines_name_and_header() -> None:
    idx = index()
    load = idx.statements[5]
    assert (
        load.text
        == "@register\n@wrap(SIZE)\ndef load(path=os.path.sep):\n    return read(path, MAX)\n"
    )
    assert (load.start, load.end, load.name, load.is_def) == (8, 11, "load", True)
    assert load.header == "@register\n@wrap(SIZE)\n"
    data = idx.statements[6]
    assert (data.text, data.start, data.name, data.header) == ("DATA = load()\n", 14, None, "")
    model = idx.statements[7]
    assert model.is_class and model.header == "class Model(Base):\n"
    assert [s.name for s in model.body or ()] == [None, "fit", "size", "size"]
    assert model.body is not None and model.body[3].header == "    @size.setter\n"
    assert idx.lines[13] == "DATA = load()\n"


def test_statements_know_what_they_read_and_call_at_import_time() -> None:
    idx = index()
    load, data, model = idx.statements[5], idx.statements[6], idx.statements[7]
    assert load.loads == {"register", "wrap", "SIZE", "os", "os.path", "os.path.sep"}
    assert load.calls == {"register", "wrap"}
    assert data.loads == {"load"} and data.calls == {"load"}
    assert model.loads == {"Base", "SIZE", "property", "size", "size.setter"}
    # A `from m import` statement reads a marker of its module: rebinding it runs the import.
    assert idx.statements[3].loads == {import_marker("pkg.consts")}
    assert import_marker("pkg.consts") == "<import pkg.consts>"


def test_the_imports_of_a_module_resolved_against_its_package() -> None:
    idx = index()
    assert idx.module_aliases == {"os": "os", "os.path": "os.path", "np": "numpy"}
    assert idx.from_imports == [
        ("pkg", "sibling", "sibling"),
        ("pkg.consts", "SIZE", "SIZE"),
        ("pkg.consts", "LIMIT", "MAX"),
    ]
    assert idx.star_imports == {"tools"}
    guarded = index("if FAST:\n    from fast import f\nelse:\n    from slow import f\n")
    assert guarded.from_imports == [("fast", "f", "f"), ("slow", "f", "f")]


def test_an_import_in_an_except_handler_is_one_of_the_modules_imports() -> None:
    guarded = index("try:\n    from fast import f\nexcept ImportError:\n    from slow import f\n")
    assert guarded.from_imports == [("fast", "f", "f"), ("slow", "f", "f")]


def test_module_level_functions_keep_the_globals_their_bodies_read() -> None:
    assert index().function_reads == {"load": frozenset({"read", "MAX"})}


def test_reads_any_follows_calls_through_module_level_functions() -> None:
    idx = index()
    assert idx.reads_any({"SIZE"}, set())  # Model's body and load's decorator read it
    assert not idx.reads_any({"unrelated"}, set())
    # DATA = load() calls load, whose body reads MAX: a change of MAX's code reaches it.
    assert idx.reads_any(set(), {"MAX"})
    assert idx.reads_any(set(), {"read"})
    assert not idx.reads_any(set(), {"other"})  # only a method's body reads it


def test_a_factory_of_callbacks_leaves_their_method_calls_to_whoever_calls_them() -> None:
    # pygments' `using(...)` shape: class bodies call a factory whose callback calls a
    # method of a lexer. A change of that method reaches the callback when it runs:
    # running the class statements again would gain nothing.
    factory = (
        "def using(other):\n"
        "    def callback(lexer, match):\n"
        "        return other(lexer).get_tokens(match)\n"
        "    return callback\n"
    )
    lazy = index(factory + "class Lexer(Base):\n    tokens = {'root': [('x', using(this))]}\n")
    assert not lazy.reads_any(set(), {".get_tokens"})
    assert not lazy.reads_any(set(), {"other"})  # `other` is the factory's argument
    assert lazy.reads_any({"this"}, set())  # a new `this` is read at import time
    assert lazy.callback_holders({".get_tokens"}) == {"Lexer"}
    # One that calls the method at import time reads it.
    eager = index(factory + "class Eager(Base):\n    tokens = compile_now(L).get_tokens('x')\n")
    assert eager.reads_any(set(), {".get_tokens"})
    # So does one that calls what a call of the factory made (a decorator's wrapper), and
    # the statement that made it does not run again.
    called = index(factory + "@using\ndef load():\n    return 1\nCONFIG = load()\n")
    assert called.reads_any(set(), {".get_tokens"})
    assert called.callback_holders({".get_tokens"}) == {"load"}
    # A factory of another module is named by what changed there (`using.()`).
    other = index("from lexers import using\n@using\ndef load():\n    return 1\nX = load()\n")
    assert other.reads_any(set(), {"using.()"})
    assert not other.reads_any(set(), {".get_tokens"})
    for idx in (lazy, eager, called, other):  # without its tree, the same answers
        for names in ({".get_tokens"}, {"using.()"}):
            assert idx.readings().reads_any(set(), names) == idx.reads_any(set(), names)


def test_readings_answer_as_the_index_does_without_its_tree() -> None:
    idx = index()
    readings = idx.readings()
    for rebound, changed in [
        ({"SIZE"}, set()),
        (set(), {"MAX"}),
        (set(), {"other"}),
        (set(), set()),
    ]:
        assert readings.reads_any(rebound, changed) == idx.reads_any(rebound, changed)
    assert readings.from_imports == idx.from_imports
    assert readings.module_aliases == idx.module_aliases
    assert readings.star_imports == idx.star_imports == {"tools"}


def test_future_annotations_postpone_what_annotations_read() -> None:
    text = "from __future__ import annotations\ndef f(x: Ann) -> Ret:\n    pass\n"
    idx = index(text)
    assert idx.future_flags == ANNOTATIONS_FLAG
    assert idx.statements[1].loads == frozenset()
    eager = index(text.replace("from __future__ import annotations\n", ""))
    assert eager.future_flags == 0 and eager.statements[0].loads == {"Ann", "Ret"}


def test_function_texts_are_by_qualname_with_a_propertys_defs_joined() -> None:
    texts = function_texts(index().statements)
    assert set(texts) == {"load", "Model.fit", "Model.size"}
    assert texts["Model.size"].count("def size") == 2
    assert texts["Model.fit"] == "    def fit(self):\n        return other()\n"


def test_a_moved_statement_keeps_its_text_and_compiles_at_its_new_lines() -> None:
    idx = index("X = 1\n\ndef f():\n    return 1 / 0\n")
    f = idx.statements[1]
    moved = f.moved(10)
    assert (moved.start, moved.end, moved.text) == (13, 14, f.text)
    assert (f.start, f.end) == (3, 4)  # the original is left as it was
    assert f.moved(0) is f
    ns: dict[str, object] = {}
    exec(moved.compiled("m.py", 0), ns)
    code = ns["f"].__code__  # type: ignore[attr-defined]
    assert code.co_firstlineno == 13 and code.co_filename == "m.py"


def test_a_statement_compiled_alone_is_kept_per_file_name_and_flags() -> None:
    [s] = index("X = 1\n").statements
    first = s.compiled("a.py", 0)
    assert s.compiled("a.py", 0) is first
    assert s.compiled("b.py", 0) is not first


def test_an_index_made_from_a_previous_one_equals_a_fresh_one() -> None:
    old = index()
    new_text = SOURCE.replace("scale = SIZE", "scale = SIZE * 2")
    reused = index(new_text, previous=old)
    fresh = index(new_text)
    for a, b in zip(reused.statements, fresh.statements, strict=True):
        assert (a.text, a.start, a.end, a.loads, a.calls) == (
            b.text,
            b.start,
            b.end,
            b.loads,
            b.calls,
        )
    assert reused.function_reads == fresh.function_reads
