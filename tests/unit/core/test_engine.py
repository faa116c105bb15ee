"""The engine through HotReloader (SPEC §1.1): order, payloads, propagation, rollback,
bytecode, and the facade's own contract (content, listeners, hashes, roots, status)."""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from pathlib import Path

import pytest

import ipython_hotreload as hr
from ipython_hotreload.core.edit import bytecode
from ipython_hotreload.core.engine import HotReloader, Status
from tests.conftest import Project


def test_reload_writes_then_recompiles_and_returns_the_saved_payload(project: Project) -> None:
    project.write("pkg/__init__.py")
    project.write("pkg/mod.py", "def f():\n    return 1\n")
    mod = project.import_("pkg.mod")
    old_f = mod.f
    result = project.reload(
        "pkg/mod.py",
        '''
        def f(x: int = 2) -> int:
            """Double it.

            Longer text."""
            return x * 2
        ''',
    )
    assert old_f() == 4 and mod.f is old_f
    [payload] = result["recompiled"]
    on_disk = project.path("pkg/mod.py").read_bytes()
    assert payload["mod"] == "pkg.mod"
    assert payload["source_hash"] == hashlib.sha256(on_disk).hexdigest()
    assert payload["functions"] == [
        {
            "name": "f",
            "qualname": "f",
            "kind": "function",
            "lineno": 2,
            "end_lineno": 6,
            "signature": "(x: int = 2) -> int",
            "doc": "Double it.",
        }
    ]
    json.dumps(result)  # JSON-serialisable
    assert project.kinds() == [("source_written", "pkg.mod"), ("recompiled", "pkg.mod")]
    assert project.events[1].payload == payload


def test_reload_imports_a_module_that_was_not_loaded(project: Project) -> None:
    project.write("fresh.py", "X = 1\n")
    result = project.reload("fresh.py", "X = 2\n")
    assert project.mods(result) == ["fresh"]
    assert sys.modules["fresh"].X == 2


@pytest.mark.parametrize("mode", ["minimal", "module"])
def test_compile_dependent_is_reexecuted_after_with_a_bare_payload_and_reason(
    project: Project, mode: str
) -> None:
    # deco_user calls base.deco at import time, but deco's code did not change: by default
    # only `uses` (which reads SIZE) runs again; reexecute="module" re-executes both.
    project.reloader.reexecute = mode  # type: ignore[assignment]
    project.files(
        {
            "base.py": "SIZE = 1\ndef deco(f):\n    return f\n",
            "uses.py": "from base import SIZE\nTABLE = [0] * SIZE\n",
            "deco_user.py": "import base\n@base.deco\ndef g():\n    return 1\n",
            "runtime_user.py": "import base\ndef h():\n    return base.SIZE\n",
        }
    )
    uses = project.import_("uses")
    runtime_user = project.import_("runtime_user")
    project.import_("deco_user")
    result = project.reload("base.py", "SIZE = 3\ndef deco(f):\n    return f\n")
    mods = project.mods(result)
    assert mods[0] == "base"
    assert set(mods[1:]) == ({"uses", "deco_user"} if mode == "module" else {"uses"})
    assert uses.TABLE == [0, 0, 0]
    assert runtime_user.h() == 3  # runtime: not re-executed, sees the new value on call
    for payload in result["recompiled"][1:]:
        assert payload["source_hash"] is None and payload["functions"] is None
        assert payload["reason"] == {"after": "base", "label": "compile"}
    assert [e.mod for e in project.events if e.kind == "recompiled"] == mods


def test_export_dependent_sees_the_new_constant_without_reexecution(project: Project) -> None:
    project.files(
        {
            "consts.py": "LIMIT = 1\n",
            "user.py": "from consts import LIMIT\nRUNS = []\nRUNS.append(1)\ndef limit():\n    return LIMIT\n",
        }
    )
    user = project.import_("user")
    runs = user.RUNS
    result = project.reload("consts.py", "LIMIT = 5\n")
    assert project.mods(result) == ["consts"]
    assert user.limit() == 5
    assert user.RUNS is runs  # not re-executed


def test_removed_name_that_a_dependent_imports_rolls_everything_back(project: Project) -> None:
    project.files(
        {
            "lib.py": "def f():\n    return 1\ndef g():\n    return 2\n",
            "app.py": "from lib import g\ndef call():\n    return g()\n",
        }
    )
    lib = project.import_("lib")
    app = project.import_("app")
    old_f = lib.f
    with pytest.raises(hr.ReloadError) as info:
        project.reload("lib.py", "def f():\n    return 10\n")
    assert isinstance(info.value.__cause__, ImportError)
    assert info.value.mod == "app"
    assert lib.f is old_f and lib.f() == 1 and lib.g() == 2 and app.call() == 2
    assert "return 10" in project.path("lib.py").read_text()
    assert ("compile_failed", "app") in project.kinds()


@pytest.mark.parametrize(
    ("body", "error_type", "lineno"),
    [
        ("def f(:\n    return 2\n", "SyntaxError", 1),
        ("def f():\n    return 2\nraise RuntimeError('boom')\n", "RuntimeError", 3),
        ("def f():\n    return 2\nraise KeyboardInterrupt\n", "KeyboardInterrupt", 3),
    ],
)
def test_failures_roll_back_and_report(
    project: Project, body: str, error_type: str, lineno: int
) -> None:
    project.write(
        "m.py", "STATE = []\ndef f():\n    return 1\nclass C:\n    def m(self):\n        return 1\n"
    )
    m = project.import_("m")
    f, state, c_cls = m.f, m.STATE, m.C
    instance = m.C()
    project.events.clear()
    with pytest.raises(hr.ReloadError) as info:
        project.reload("m.py", body)
    err = info.value
    assert (err.mod, err.path, err.lineno) == ("m", str(project.path("m.py")), lineno)
    assert type(err.__cause__).__name__ == error_type
    assert m.f is f and f() == 1 and m.STATE is state and m.C is c_cls and instance.m() == 1
    assert sorted(k for k in vars(m) if not k.startswith("__")) == ["C", "STATE", "f"]
    assert project.path("m.py").read_text() == body
    failed = [e for e in project.events if e.kind == "compile_failed"]
    assert len(failed) == 1 and failed[0].error is not None
    assert failed[0].error["type"] == error_type and failed[0].error["lineno"] == lineno
    assert set(failed[0].error) == {"type", "message", "lineno", "offset"}
    # the next reload works
    project.reload("m.py", "def f():\n    return 3\n")
    assert f() == 3


TIMES = """\
def times(n):
    def decorate(fn):
        def wrapper(x):
            return n * fn(x)

        return wrapper

    return decorate


@times(3)
def f(x):
    return x
"""


@pytest.mark.parametrize("mode", ["minimal", "module"])
def test_a_failure_after_a_decorator_argument_changed_puts_the_closure_back(
    project: Project, mode: str
) -> None:
    # "minimal": the changed decorator line runs, and the wrapper kept in place takes the new
    # one's closure (n: 3 -> 5) cell by cell before a later statement fails: the rollback must
    # put every cell back. "module": the module fails before anything is patched.
    project.reloader.reexecute = mode  # type: ignore[assignment]
    project.write("deco.py", TIMES)
    deco = project.import_("deco")
    held = deco.f
    with pytest.raises(hr.ReloadError) as info:
        project.reload("deco.py", TIMES.replace("@times(3)", "@times(5)") + "\nBOOM = 1 / 0\n")
    assert isinstance(info.value.__cause__, ZeroDivisionError)
    assert held(1) == 3 and deco.f is held and deco.f(2) == 6
    project.reload("deco.py", TIMES.replace("@times(3)", "@times(5)"))
    assert held(1) == 5 and deco.f(1) == 5


def test_failure_in_a_dependent_rolls_back_the_saved_module_too(project: Project) -> None:
    project.files(
        {
            "a.py": "N = 1\ndef f():\n    return 'old'\n",
            "b.py": "import a\nassert a.N < 2, 'N too big'\n",
        }
    )
    a = project.import_("a")
    project.import_("b")
    f = a.f
    with pytest.raises(hr.ReloadError) as info:
        project.reload("a.py", "N = 2\ndef f():\n    return 'new'\n")
    assert info.value.mod == "b" and info.value.lineno == 2
    assert a.N == 1 and f() == "old" and a.f is f


def test_runtime_dependent_is_not_reexecuted(project: Project) -> None:
    project.files(
        {
            "low.py": "def v():\n    return 1\n",
            "high.py": "COUNT = []\nCOUNT.append(1)\ndef use():\n    import low\n    return low.v()\n",
        }
    )
    high = project.import_("high")
    project.import_("low")
    result = project.reload("low.py", "def v():\n    return 2\n")
    assert project.mods(result) == ["low"]
    assert high.use() == 2 and high.COUNT == [1]


def test_module_changed_on_disk_behind_our_back_is_reloaded_too(project: Project) -> None:
    project.files({"one.py": "X = 1\n", "two.py": "Y = 1\n"})
    one = project.import_("one")
    two = project.import_("two")
    project.reload("one.py", "X = 2\n")  # first sight of two: taken as current
    project.path("two.py").write_text("Y = 'edited elsewhere, same size? no'\n")
    result = project.reload("one.py", "X = 3\n")
    assert project.mods(result) == ["one", "two"]
    assert result["recompiled"][1]["reason"] == {"after": None, "label": "changed_on_disk"}
    assert one.X == 3 and two.Y.startswith("edited")


def test_removed_names_leave_the_module(project: Project) -> None:
    project.write("gone.py", "def a():\n    pass\nB = 1\n")
    gone = project.import_("gone")
    project.reload("gone.py", "def c():\n    pass\n")
    assert not hasattr(gone, "a") and not hasattr(gone, "B") and hasattr(gone, "c")


def test_package_keeps_its_submodule_attributes(project: Project) -> None:
    project.files({"pkg/__init__.py": "X = 1\n", "pkg/sub.py": "Y = 1\n"})
    pkg = project.import_("pkg")
    project.import_("pkg.sub")
    project.reload("pkg/__init__.py", "X = 2\n")
    assert pkg.X == 2 and pkg.sub.Y == 1


def test_reload_from_the_module_itself_does_not_reexecute_it(project: Project) -> None:
    project.write(
        "selfish.py",
        "import ipython_hotreload as hr\n"
        "RUNS = []\nRUNS.append(1)\n"
        "def save(reloader, path, text):\n    return reloader.reload(path, text)\n",
    )
    selfish = project.import_("selfish")
    new = "import ipython_hotreload as hr\nRUNS = []\nRUNS.append(2)\ndef save(r, p, t):\n    return None\n"
    result = selfish.save(project.reloader, project.path("selfish.py"), new)
    assert selfish.RUNS == [1]
    [payload] = result["recompiled"]
    assert payload["mod"] == "selfish" and payload["executed"] is False
    assert payload["warnings"] == [
        "selfish was not re-executed: its code is running (the call stack or __main__)"
    ]
    assert [f["name"] for f in payload["functions"]] == ["save"]
    assert project.path("selfish.py").read_text() == new


def test_bytecode_respects_dont_write_bytecode_and_the_option(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    project.write("nb.py", "X = 1\n")
    project.import_("nb")
    pyc = Path(importlib.util.cache_from_source(str(project.path("nb.py"))))
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    project.reload("nb.py", "X = 2\n")
    assert bytecode.flush() and not pyc.exists()
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    project.reloader.persist_bytecode = False
    project.reload("nb.py", "X = 3\n")
    assert bytecode.flush() and not pyc.exists()
    project.reloader.persist_bytecode = True
    project.reload("nb.py", "X = 4\n")
    assert bytecode.flush() and pyc.exists()


def test_purge_module_loaded_and_unloaded(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    project.files({"pp/__init__.py": "", "pp/leaf.py": "X = 1\n"})
    pp = project.import_("pp")
    project.import_("pp.leaf")
    project.reload("pp/leaf.py", "X = 2\n")
    pyc = Path(importlib.util.cache_from_source(str(project.path("pp/leaf.py"))))
    assert pyc.exists()
    project.events.clear()
    project.reloader.purge_module("pp.leaf")
    assert "pp.leaf" not in sys.modules and not hasattr(pp, "leaf") and not pyc.exists()
    assert "pp.leaf" not in project.reloader.graph.modules()
    project.reloader.purge_module("never.loaded")
    assert project.kinds() == [("source_removed", "pp.leaf"), ("source_removed", "never.loaded")]


def test_concurrent_reloads_are_serialised(project: Project) -> None:
    project.files({"cc.py": "V = -1\n", "dep.py": "import cc\nSEEN = cc.V\n"})
    cc = project.import_("cc")
    dep = project.import_("dep")
    errors: list[BaseException] = []

    def worker(i: int) -> None:
        try:
            for j in range(5):
                project.reloader.reload(project.path("cc.py"), f"V = {i * 100 + j}\n")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and not any(t.is_alive() for t in threads)
    kinds = [k for k, _ in project.kinds()]
    # each reload's events are contiguous: written, recompiled cc, recompiled dep
    assert kinds == ["source_written", "recompiled", "recompiled"] * 20
    assert dep.SEEN == cc.V
    assert f"V = {cc.V}\n" == project.path("cc.py").read_text()


def test_formatter_callable_and_failure_keep_the_text(project: Project) -> None:
    project.write("fm.py", "X = 1\n")
    project.import_("fm")
    project.reloader.formatter = lambda text: text.replace("1", "2")
    project.reload("fm.py", "X = 1\n")
    assert project.path("fm.py").read_text() == "X = 2\n"
    project.reload("fm.py", "X = 1\n", format=False)
    assert project.path("fm.py").read_text() == "X = 1\n"

    def broken(text: str) -> str:
        raise RuntimeError("formatter exploded")

    project.reloader.formatter = broken
    result = project.reload("fm.py", "X   =   5\n")
    assert project.path("fm.py").read_text() == "X   =   5\n"
    assert "formatter exploded" in result["recompiled"][0]["warnings"][0]


def test_default_formatter_is_ruff() -> None:
    assert hr.HotReloader(roots=[Path.cwd()]).formatter == "ruff"


@pytest.mark.parametrize(
    ("rel", "why"),
    [
        ("notes.txt", ".py"),
        ("a\x00b.py", "NUL"),
        ("adir.py", "directory"),
        ("../outside.py", "outside"),
    ],
)
def test_unsafe_paths_are_refused_before_anything_changes(
    project: Project, rel: str, why: str
) -> None:
    (project.root / "adir.py").mkdir()
    with pytest.raises(hr.UnsafePathError, match=why):
        project.reloader.reload(str(project.root / rel), "X = 1\n")
    assert project.events == []
    assert not (project.root.parent / "outside.py").exists()


def test_symlink_escaping_the_roots_is_refused(project: Project, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "real.py").write_text("X = 1\n")
    (project.root / "link.py").symlink_to(outside / "real.py")
    with pytest.raises(hr.UnsafePathError):
        project.reload("link.py", "X = 2\n")
    assert (outside / "real.py").read_text() == "X = 1\n"


def test_read_only_file_is_a_source_write_error(project: Project) -> None:
    p = project.write("ro.py", "X = 1\n")
    p.chmod(0o444)
    with pytest.raises(hr.SourceWriteError, match=r"ro\.py") as info:
        project.reload("ro.py", "X = 2\n")
    assert isinstance(info.value.__cause__, OSError)
    assert p.read_text() == "X = 1\n" and project.events == []


def test_invalid_utf8_content_is_refused(project: Project) -> None:
    project.write("u.py", "X = 1\n")
    with pytest.raises(hr.HotReloadError, match="UTF-8"):
        project.reloader.reload(project.path("u.py"), b"X = '\xff'\n")
    assert project.path("u.py").read_text() == "X = 1\n"


def test_compile_dep_edges_rejects_unknown_labels(project: Project) -> None:
    with pytest.raises(ValueError, match="unknown edge labels"):
        project.reloader.compile_dep_edges(labels=["strong"])


def test_a_file_with_no_importable_name_is_saved_and_analysed_only(project: Project) -> None:
    result = project.reload("my dir/bad-name.py", "def f():\n    return 1\n")
    [payload] = result["recompiled"]
    assert payload["executed"] is False and payload["mod"] == "my dir.bad-name"
    assert [f["name"] for f in payload["functions"]] == ["f"]
    assert project.path("my dir/bad-name.py").read_text() == "def f():\n    return 1\n"
    assert project.kinds() == [("source_written", "my dir.bad-name")]
    with pytest.raises(hr.ReloadError):
        project.reload("my dir/bad-name.py", "def f(:\n")


def test_saved_module_runs_after_a_dependency_that_changed_on_disk(project: Project) -> None:
    project.files({"base_m.py": "K = 1\n", "top_m.py": "from base_m import K\nY = K * 10\n"})
    base_m = project.import_("base_m")
    top_m = project.import_("top_m")
    project.reload("base_m.py", "K = 1\n")  # both files now seen by the reloader
    project.path("base_m.py").write_text("K = 2  # edited elsewhere\n")
    result = project.reload("top_m.py", "from base_m import K\nY = K * 100\n")
    assert (base_m.K, top_m.Y) == (2, 200)
    assert project.mods(result) == ["top_m", "base_m"]  # the saved module leads the report
    assert [e.mod for e in project.events if e.kind == "recompiled"][-2:] == ["top_m", "base_m"]


def test_a_batch_from_disk_runs_in_dependency_order_whatever_the_order_given(
    project: Project,
) -> None:
    project.files({"z_base.py": "K = 1\n", "a_top.py": "from z_base import K\nY = K * 100\n"})
    project.import_("z_base")
    a_top = project.import_("a_top")
    project.path("z_base.py").write_text("K = 2\n")
    project.path("a_top.py").write_text("from z_base import K\nY = K * 1000\n")
    project.reloader.reload_from_disk([project.path("a_top.py"), project.path("z_base.py")])
    assert a_top.Y == 2000


def test_installed_packages_inside_a_root_are_not_project_modules(project: Project) -> None:
    site = project.root / ".venv" / "lib" / "site-packages"
    site.mkdir(parents=True)
    (site / "vendored.py").write_text("from app_core import K\nCOPY = K\n")
    sys.path.insert(0, str(site))
    project.write("app_core.py", "K = 1\n")
    vendored = project.import_("vendored")
    assert "vendored" not in project.reloader.loaded.project_modules()
    result = project.reload("app_core.py", "K = 2\n")
    assert project.mods(result) == ["app_core"] and vendored.COPY == 1


# -- the facade's own contract ---------------------------------------------------------------


def test_content_is_text_or_utf8_bytes_and_nothing_else(project: Project) -> None:
    project.write("c.py", "X = 1\n")
    project.import_("c")
    project.reloader.reload(project.path("c.py"), "X = 'é'\n".encode())
    assert sys.modules["c"].X == "é"
    with pytest.raises(TypeError, match="content must be str or bytes, not int"):
        project.reloader.reload(project.path("c.py"), 3)  # type: ignore[arg-type]
    with pytest.raises(hr.HotReloadError, match="cannot be encoded as UTF-8"):
        project.reloader.reload(project.path("c.py"), "X = '\udcff'\n")
    assert project.path("c.py").read_text() == "X = 'é'\n"


def test_a_batch_listener_can_be_removed(project: Project) -> None:
    heard: list[str] = []
    remove = project.reloader.add_batch_listener(lambda batch: heard.append(batch.origin))
    project.write("l.py", "X = 1\n")
    project.reload("l.py", "X = 2\n")
    remove()
    remove()  # twice is fine
    project.reload("l.py", "X = 3\n")
    assert heard == ["reload"]


def test_the_reloader_knows_the_hash_of_what_it_wrote(project: Project) -> None:
    project.write("h.py", "X = 1\n")
    assert project.reloader.known_hash(project.path("h.py")) is None
    project.reload("h.py", "X = 2\n")
    digest = hashlib.sha256(b"X = 2\n").hexdigest()
    assert project.reloader.known_hash(project.path("h.py")) == digest
    assert project.reloader.known_hash(str(project.path("h.py"))) == digest


def test_roots_set_are_resolved_and_the_graph_follows(project: Project, tmp_path: Path) -> None:
    other = tmp_path / "other"
    (other / "pkg").mkdir(parents=True)
    (other / "pkg" / "__init__.py").write_text("")
    project.reloader.roots = [str(other / "pkg" / "..")]
    assert project.reloader.roots == [other.resolve()]
    assert project.reloader.graph.modules() == {"pkg"}


def test_functions_are_read_from_a_modules_file(project: Project) -> None:
    project.write("fn.py", "def f(a: int) -> int:\n    return a\n")
    [info] = project.reloader.functions("fn")
    assert (info["qualname"], info["signature"]) == ("f", "(a: int) -> int")
    with pytest.raises(hr.HotReloadError, match="no source file is known for module 'nope'"):
        project.reloader.functions("nope")


def test_status_says_what_the_reloader_is_and_did(project: Project) -> None:
    status: Status = project.reloader.status()
    assert set(status) == set(Status.__annotations__)
    assert status["roots"] == [str(project.root.resolve())] and status["formatter"] is None
    assert status["last_reload"] is None and status["watching"] == []
    project.write("st.py", "X = 1\n")
    project.reload("st.py", "X = 2\n")
    last = project.reloader.status()["last_reload"]
    assert last is not None and last["mod"] == "st" and last["modules"] == ["st"]
    assert project.reloader.compile_dep_edges(labels="compile") == []


def test_the_engine_is_the_one_the_package_hands_out() -> None:
    assert hr.HotReloader is HotReloader
