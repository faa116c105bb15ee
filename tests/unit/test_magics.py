"""The magics, the configuration and the autoreload bridge, in a real IPython shell.

IPython keeps one ``InteractiveShell`` per process; every test here loads the extension into
it and the ``shell`` fixture takes everything out again (extension, autoreload hooks, config),
so tests do not see each other's state.
"""

from __future__ import annotations

import gc
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import comm
import pytest
from IPython.core.interactiveshell import ExecutionResult, InteractiveShell

import ipython_hotreload as hr
from ipython_hotreload.core.events import subscriber_count
from ipython_hotreload.ipython import extension
from ipython_hotreload.ipython.magics import ACTIONS
from ipython_hotreload.ipython.protocol import TARGET_NAME
from ipython_hotreload.ipython.report import summary_line
from ipython_hotreload.widgets import FunctionsPanel
from tests.conftest import Project

MOD_V1 = """\
def f():
    return 1


class C:
    def m(self):
        return 1
"""

MOD_V2 = """\
def f():
    return 2


class C:
    def m(self):
        return 2
"""


class Shell:
    """The process's IPython shell, with helpers that run a cell and capture what it prints."""

    def __init__(self, ip: InteractiveShell, capsys: pytest.CaptureFixture[str]) -> None:
        self.ip = ip
        self.capsys = capsys

    def run(self, cell: str) -> tuple[ExecutionResult, str]:
        """Run ``cell`` (dedented); return its result and everything it printed."""
        self.capsys.readouterr()
        result = self.ip.run_cell(textwrap.dedent(cell), store_history=False)
        out = self.capsys.readouterr()
        return result, out.out + out.err

    def ok(self, cell: str) -> str:
        """Run ``cell``, which must succeed; return what it printed."""
        result, out = self.run(cell)
        assert result.success, out
        return out

    def failed(self, cell: str) -> tuple[BaseException, str]:
        """Run ``cell``, which must fail; return its error and what it printed."""
        result, out = self.run(cell)
        assert not result.success, out
        error = result.error_in_exec or result.error_before_exec
        assert error is not None
        return error, out


def _unload_autoreload(ip: InteractiveShell) -> None:
    """IPython's autoreload has no unload hook: take out what its load put in."""
    magics = dict.get(ip.magics_manager.registry, "AutoreloadMagics")
    if magics is None:
        return
    magics._reloader.enabled = False
    for event, hook in (
        ("pre_run_cell", magics.pre_run_cell),
        ("post_execute", magics.post_execute_hook),
    ):
        if hook in ip.events.callbacks[event]:
            ip.events.unregister(event, hook)
    for table in ip.magics_manager.magics.values():
        for name, func in list(table.items()):
            if getattr(func, "__self__", None) is magics:
                del table[name]
    dict.pop(ip.magics_manager.registry, "AutoreloadMagics", None)
    ip.extension_manager.loaded.discard("autoreload")
    ip.extension_manager.loaded.discard("IPython.extensions.autoreload")


@pytest.fixture
def shell(
    project: Project, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Shell]:
    """The IPython shell, working directory the project root, the project's reloader as the
    default one, ``ipython_hotreload`` loaded."""
    ip = InteractiveShell.instance()
    monkeypatch.chdir(project.root)
    hr.set_default_reloader(project.reloader)
    baseline = subscriber_count()
    ip.run_line_magic("load_ext", "ipython_hotreload")
    try:
        yield Shell(ip, capsys)
    finally:
        if "ipython_hotreload" in ip.extension_manager.loaded:
            ip.run_line_magic("unload_ext", "ipython_hotreload")
        extension.unload(ip)
        _unload_autoreload(ip)
        hr.set_default_reloader(None)
        # %config also merges into the shell's own config, where a later load would find it.
        ip.config.pop("HotReload", None)
        for name in ("pkg", "c", "g", "f", "result"):
            ip.user_ns.pop(name, None)
        assert subscriber_count() == baseline


@pytest.fixture
def pkg(project: Project) -> Project:
    """``pkg.mod`` (f, C) and ``pkg.user``, which calls ``f`` at import time."""
    project.files(
        {
            "pkg/__init__.py": "",
            "pkg/mod.py": MOD_V1,
            "pkg/user.py": "from pkg.mod import f\n\nX = f()\n",
        }
    )
    return project


# -- %%hotreload ---------------------------------------------------------------------------


SUMMARY = re.compile(
    r"^hotreload: reloaded pkg\.mod \(patched: f, C\.m\); then pkg\.user "
    r"\(partial: 1 statement\) in \d+\.\d ms$"
)


def test_cell_magic_reloads_in_place_and_prints_one_summary_line(
    shell: Shell, pkg: Project
) -> None:
    shell.ok("import pkg.user, pkg.mod\nf = pkg.mod.f\nc = pkg.mod.C()\nruns = []")
    out = shell.ok("%%hotreload pkg/mod.py\n" + MOD_V2)
    assert SUMMARY.match(out.strip()), out
    assert out.count("\n") == 1
    ns = shell.ip.user_ns
    assert ns["f"]() == 2 and ns["f"] is sys.modules["pkg.mod"].f
    assert ns["c"].m() == 2
    assert sys.modules["pkg.user"].X == 2
    # The cell's own namespace (__main__) was not re-executed: its variables are untouched.
    assert ns["runs"] == []
    assert pkg.path("pkg/mod.py").read_text() == MOD_V2
    assert [k for k, m in pkg.kinds() if m == "pkg.mod"] == ["source_written", "recompiled"]


def test_quiet_prints_nothing(shell: Shell, pkg: Project) -> None:
    shell.ok("import pkg.mod")
    assert shell.ok("%%hotreload pkg/mod.py --quiet\n" + MOD_V2) == ""
    assert sys.modules["pkg.mod"].f() == 2


def test_no_format_writes_the_text_as_typed(shell: Shell, pkg: Project) -> None:
    shell.ok('%config HotReload.formatter = "ruff"')
    shell.ok("%%hotreload pkg/mod.py --quiet --no-format\nx=1\n")
    assert pkg.path("pkg/mod.py").read_text() == "x=1\n"
    shell.ok("%%hotreload pkg/mod.py --quiet\nx=1\n")
    assert pkg.path("pkg/mod.py").read_text() == "x = 1\n"


def test_a_new_module_is_created_and_imported(shell: Shell, pkg: Project) -> None:
    out = shell.ok("%%hotreload pkg/fresh.py\ndef hello():\n    return 'hi'")
    assert out.startswith("hotreload: reloaded pkg.fresh (full: first import) in ")
    assert "dependent" not in out
    # A missing final newline is added: the file is a normal text file.
    assert pkg.path("pkg/fresh.py").read_text() == "def hello():\n    return 'hi'\n"
    assert sys.modules["pkg.fresh"].hello() == "hi"


def _assert_short(out: str) -> list[str]:
    lines = out.strip().splitlines()
    assert "Traceback" not in out, out
    assert len(lines) <= 5, out
    return lines


def test_syntax_error_is_short_with_file_line_and_caret(shell: Shell, pkg: Project) -> None:
    shell.ok("import pkg.mod\nf = pkg.mod.f")
    error, out = shell.failed("%%hotreload pkg/mod.py\ndef f():\n    return (1 +\n\nx = 1\n")
    lines = _assert_short(out)
    assert re.match(r"^pkg/mod\.py:\d+: SyntaxError: ", lines[0]), out
    caret = next(i for i, line in enumerate(lines) if line.strip().startswith("^"))
    assert lines[caret - 1].strip()  # the offending line comes before the caret
    assert lines[-1].startswith("ReloadError: nothing was reloaded")
    assert isinstance(error, hr.ReloadError)
    assert error.mod == "pkg.mod" and error.lineno is not None
    assert isinstance(error.__cause__, SyntaxError)
    # Old code keeps running; the new text is on disk.
    assert shell.ip.user_ns["f"]() == 1
    assert "return (1 +" in pkg.path("pkg/mod.py").read_text()


def test_runtime_error_points_at_the_failing_expression(shell: Shell, pkg: Project) -> None:
    shell.ok("import pkg.mod")
    error, out = shell.failed(
        "%%hotreload pkg/mod.py\ndef f():\n    return 5\n\n\nLIMIT = 1 + undefined_name\n"
    )
    lines = _assert_short(out)
    assert lines[0] == "pkg/mod.py:5: NameError: name 'undefined_name' is not defined"
    assert lines[1] == "    LIMIT = 1 + undefined_name"
    assert lines[2] == "                ^^^^^^^^^^^^^^"
    assert isinstance(error, hr.ReloadError) and isinstance(error.__cause__, NameError)
    assert sys.modules["pkg.mod"].f() == 1


def test_a_failing_dependent_is_named_in_the_error(shell: Shell, pkg: Project) -> None:
    shell.ok("import pkg.user")
    error, out = shell.failed("%%hotreload pkg/mod.py\ndef g():\n    return 1\n")
    lines = _assert_short(out)
    assert lines[0].startswith("pkg/user.py:1: ImportError: cannot import name 'f'"), out
    assert lines[1] == "    from pkg.mod import f"
    assert isinstance(error, hr.ReloadError) and error.mod == "pkg.user"
    assert sys.modules["pkg.mod"].f() == 1


def test_a_refused_path_fails_the_cell_in_one_line(shell: Shell, pkg: Project) -> None:
    error, out = shell.failed("%%hotreload notes.txt\nhello\n")
    assert isinstance(error, hr.UnsafePathError)
    assert _assert_short(out) == [
        "UnsafePathError: refusing 'notes.txt': only .py files can be hot-reloaded"
    ]
    assert not pkg.path("notes.txt").exists()


def test_a_missing_path_is_a_usage_error(shell: Shell, pkg: Project) -> None:
    _, out = shell.failed("%%hotreload\nx = 1\n")
    assert "UsageError" in out and "PATH|TARGET" in out and "%%hotreload PATH" in out


def test_a_quoted_path_arrives_without_its_quotes(shell: Shell, pkg: Project) -> None:
    out = shell.ok("%%hotreload 'pkg/quoted.py' --quiet\nVALUE = 3\n")
    assert out == ""
    assert pkg.path("pkg/quoted.py").read_text() == "VALUE = 3\n"


def test_a_file_that_is_no_module_is_saved_and_the_summary_says_why(
    shell: Shell, pkg: Project
) -> None:
    out = shell.ok('%%hotreload "my dir/spaced.py"\nVALUE = 3\n')
    assert out.startswith("hotreload: saved my dir/spaced.py (not re-executed) in ")
    assert "not importable" in out and out.count("\n") == 1
    assert pkg.path("my dir/spaced.py").read_text() == "VALUE = 3\n"


# -- load / unload --------------------------------------------------------------------------


def _is_loaded(ip: InteractiveShell) -> bool:
    parts = [
        "hotreload" in ip.magics_manager.magics["line"],
        "hotreload" in ip.magics_manager.magics["cell"],
        TARGET_NAME in comm.get_comm_manager().targets,
        any(type(c).__name__ == "HotReload" for c in ip.configurables),
    ]
    assert len(set(parts)) == 1, f"half loaded: {parts}"
    return parts[0]


def test_loading_twice_is_harmless_and_unloading_removes_everything(
    shell: Shell, pkg: Project
) -> None:
    ip = shell.ip
    ip.run_line_magic("unload_ext", "ipython_hotreload")
    assert not _is_loaded(ip)
    before = subscriber_count()
    hr.load_ipython_extension(ip)
    loaded = subscriber_count()
    hr.load_ipython_extension(ip)
    assert subscriber_count() == loaded > before
    assert _is_loaded(ip)
    assert sum(type(c).__name__ == "HotReload" for c in ip.configurables) == 1
    shell.ok("%%hotreload pkg/mod.py --quiet\n" + MOD_V2)
    hr.unload_ipython_extension(ip)
    assert not _is_loaded(ip)
    assert subscriber_count() == before
    hr.unload_ipython_extension(ip)  # a second unload is harmless too
    _, out = shell.run("%hotreload")
    assert "not found" in out


def test_a_hundred_load_unload_cycles_leave_no_subscribers(shell: Shell) -> None:
    ip = shell.ip
    ip.run_line_magic("unload_ext", "ipython_hotreload")
    before = subscriber_count()
    configurables = len(ip.configurables)
    for _ in range(100):
        hr.load_ipython_extension(ip)
        hr.unload_ipython_extension(ip)
    assert subscriber_count() == before
    assert len(ip.configurables) == configurables
    assert not _is_loaded(ip)


# -- configuration ----------------------------------------------------------------------


def test_config_formatter_reaches_the_default_reloader(
    shell: Shell, pkg: Project, caplog: pytest.LogCaptureFixture
) -> None:
    reloader = hr.default_reloader()
    reloader.formatter = "ruff"
    shell.ok("%config HotReload.formatter = None")
    assert reloader.formatter is None
    shell.ok('%config HotReload.formatter = "black"')
    assert reloader.formatter == "black"
    # A formatter that is not supported is refused and nothing changes.
    shell.run('%config HotReload.formatter = "yapf"')
    assert "HotReload.formatter must be one of" in caplog.text
    assert reloader.formatter == "black"


def test_config_roots_and_bytecode_reach_the_default_reloader(shell: Shell, pkg: Project) -> None:
    reloader = hr.default_reloader()
    shell.ok('%config HotReload.roots = ["pkg"]')
    assert reloader.roots == [pkg.root.resolve() / "pkg"]
    shell.ok("%config HotReload.roots = []")
    assert reloader.roots == [pkg.root.resolve()]
    shell.ok("%config HotReload.persist_bytecode = False")
    assert reloader.persist_bytecode is False


def test_config_follows_a_replaced_default_reloader(shell: Shell, pkg: Project) -> None:
    shell.ok("%config HotReload.formatter = None")
    replacement = hr.HotReloader(roots=[pkg.root], formatter="ruff")
    hr.set_default_reloader(replacement)
    shell.ok("import pkg.mod")
    shell.ok("%%hotreload pkg/mod.py --quiet\nx=1\n")
    assert replacement.formatter is None
    assert pkg.path("pkg/mod.py").read_text() == "x=1\n"


def test_config_lists_help_for_every_setting(shell: Shell) -> None:
    out = shell.ok("%config HotReload")
    for name in ("roots", "formatter", "persist_bytecode"):
        assert f"HotReload.{name}" in out


def test_ipython_config_file_configures_the_extension(tmp_path: Path) -> None:
    profile = tmp_path / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_config.py").write_text(
        "c.InteractiveShellApp.extensions = ['ipython_hotreload']\n"
        "c.HotReload.formatter = None\n"
        "c.HotReload.roots = ['src']\n"
        "c.HotReload.persist_bytecode = False\n"
    )
    (tmp_path / "src").mkdir()
    code = (
        "import ipython_hotreload as hr; r = hr.default_reloader(); "
        "print('RESULT', r.formatter, [str(p) for p in r.roots], r.persist_bytecode)"
    )
    env = {**os.environ, "IPYTHONDIR": str(tmp_path / "ipython")}
    proc = subprocess.run(
        [sys.executable, "-m", "IPython", "--no-banner", "--no-autoindent", "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT"))
    assert line == f"RESULT None {[str((tmp_path / 'src').resolve())]} False"


# -- %hotreload ------------------------------------------------------------------------------


@pytest.fixture
def graph(shell: Shell, pkg: Project) -> Shell:
    """``pkg.user`` (compile edge on pkg.mod) and ``pkg.lazy`` (runtime edge), imported."""
    pkg.write("pkg/lazy.py", "def later():\n    import pkg.mod\n    return pkg.mod.f()\n")
    shell.ok("import pkg.user, pkg.lazy")
    return shell


def test_status_shows_roots_formatter_modules_subscribers_and_last_reload(
    graph: Shell, pkg: Project
) -> None:
    out = graph.ok("%hotreload")
    assert f"roots:       {pkg.root.resolve()}" in out
    assert "formatter:   None" in out
    assert re.search(r"modules:\s+\d+ in the dependency graph", out)
    assert f"subscribers: {subscriber_count()}" in out
    assert "last reload: none yet" in out
    graph.ok("%%hotreload pkg/mod.py --quiet\n" + MOD_V2)
    out = graph.ok("%hotreload status")
    assert re.search(r"last reload: pkg\.mod, at \d\d:\d\d:\d\d, 2 modules re-executed", out)


def test_edges_table(graph: Shell) -> None:
    out = graph.ok("%hotreload edges")
    lines = out.strip().splitlines()
    assert lines[0].split() == ["from", "to", "label"]
    assert set(lines[1]) <= {"-", " "}
    rows = [line.split() for line in lines[2:]]
    assert ["pkg.user", "pkg.mod", "compile"] in rows
    assert ["pkg.lazy", "pkg.mod", "runtime"] in rows
    # Columns line up: every "to" starts in the same column.
    assert len({line.index("pkg.mod") for line in lines[2:]}) == 1


def test_edges_filtered_by_label_and_module(graph: Shell) -> None:
    rows = [line.split() for line in graph.ok("%hotreload edges --label runtime").splitlines()[2:]]
    assert rows == [["pkg.lazy", "pkg.mod", "runtime"]]
    out = graph.ok("%hotreload edges --label compile pkg.user")
    assert [line.split() for line in out.splitlines()[2:]] == [["pkg.user", "pkg.mod", "compile"]]
    assert graph.ok("%hotreload edges pkg.nothing").strip() == "no dependency edges"
    _, out = graph.run("%hotreload edges --label sometimes")
    assert "UsageError" in out and "--label must be one of" in out


def test_purge_drops_the_module(graph: Shell, pkg: Project) -> None:
    out = graph.ok("%hotreload purge pkg.lazy")
    assert out.strip() == "hotreload: purged pkg.lazy"
    assert "pkg.lazy" not in sys.modules
    assert ("source_removed", "pkg.lazy") in pkg.kinds()
    _, out = graph.run("%hotreload purge")
    assert "arguments are required: module (usage: %hotreload purge MODULE)" in out


def test_unknown_action_and_misplaced_options_are_usage_errors(graph: Shell) -> None:
    for line, message in [
        (
            "%hotreload frobnicate",
            "unknown %hotreload action 'frobnicate'; use one of: status, edges, purge,",
        ),
        ("%hotreload purge a b", "%hotreload purge: unrecognized arguments: b"),
        ("%hotreload status --label compile", "%hotreload status: unrecognized arguments"),
        ("%hotreload edges --stop", "%hotreload edges: unrecognized arguments: --stop"),
        ("%hotreload undo two", "%hotreload undo: argument steps: invalid int value"),
    ]:
        _, out = graph.run(line)
        assert "UsageError" in out and message in out, (line, out)


def test_panel_shows_the_widget(graph: Shell) -> None:
    before = {id(o) for o in gc.get_objects() if isinstance(o, FunctionsPanel)}
    out = graph.ok("%hotreload panel pkg.mod")
    assert "FunctionsPanel" in out
    # The panel subscribed to events; close it so the shell fixture finds no subscriber left.
    panels = [o for o in gc.get_objects() if isinstance(o, FunctionsPanel) and id(o) not in before]
    assert len(panels) == 1
    panels[0].close()


def test_panel_without_the_widgets_package_says_so(
    graph: Shell, monkeypatch: pytest.MonkeyPatch
) -> None:
    # None in sys.modules makes the import raise ImportError, as a missing package would.
    monkeypatch.setitem(sys.modules, "ipython_hotreload.widgets", None)
    out = graph.ok("%hotreload panel pkg.mod")
    assert out.startswith("hotreload: panels are not available here")


def test_watch_starts_shows_in_status_and_stops(graph: Shell, pkg: Project) -> None:
    out = graph.ok("%hotreload watch")
    assert out.strip() == "hotreload: watching the project roots for changes made by other editors"
    assert f"watching:    {pkg.root.resolve()}" in graph.ok("%hotreload")
    assert graph.ok("%hotreload watch --stop").strip() == "hotreload: stopped watching"
    assert "watching:    off" in graph.ok("%hotreload")


def test_unload_stops_watching(graph: Shell) -> None:
    graph.ok("%hotreload watch pkg")
    assert hr.default_reloader().watcher is not None
    graph.ok("%unload_ext ipython_hotreload")
    assert hr.default_reloader().watcher is None


def test_watch_errors_are_one_line_and_outside_paths_are_refused(
    graph: Shell, pkg: Project, tmp_path: Path
) -> None:
    _, out = graph.failed("%hotreload watch /no/such/dir")
    assert out.strip() == "UsageError: cannot watch /no/such/dir: no such file or directory"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    _, out = graph.failed(f"%hotreload watch {outside}")
    assert "outside the project roots" in out and "%config HotReload.roots" in out
    assert out.count("\n") == 1 and "watching:    off" in graph.ok("%hotreload")
    out = graph.ok("%hotreload watch pkg")
    assert out.strip() == (
        "hotreload: watching pkg for changes made by other editors (only these; "
        "`%hotreload watch` alone watches the whole project)"
    )
    graph.ok("%hotreload watch --stop")


def test_purge_of_a_module_that_is_not_loaded_says_so_and_still_broadcasts(
    graph: Shell, pkg: Project
) -> None:
    out = graph.ok("%hotreload purge no.such.module")
    assert out.strip() == (
        "hotreload: no.such.module was not loaded, so nothing was purged "
        "(panels were told to drop it)"
    )
    assert ("source_removed", "no.such.module") in pkg.kinds()


# -- living beside %autoreload ----------------------------------------------------------------


def test_autoreload_does_not_reload_what_hotreload_just_reloaded(
    shell: Shell, pkg: Project
) -> None:
    pkg.write("pkg/tracker.py", "runs = []\n")
    header = "from pkg import tracker\n\ntracker.runs.append('mod')\nVERSION = {}\n\n\n"
    pkg.write("pkg/mod.py", header.format(1) + MOD_V1)
    shell.ok("%load_ext autoreload")
    shell.ok("%autoreload 2 --print")
    shell.ok("import pkg.mod, pkg.tracker\nf = pkg.mod.f\nc = pkg.mod.C()")
    shell.ok("%%hotreload pkg/mod.py --quiet\n" + header.format(2) + MOD_V2)
    out = shell.ok("result = (f(), c.m(), f is pkg.mod.f, pkg.mod.VERSION, len(pkg.tracker.runs))")
    assert "Reloading" not in out
    # Patched in place once: same function object, new code; only the changed statements
    # ran (SPEC §1.5), so the unchanged tracker line did not append again.
    assert shell.ip.user_ns["result"] == (2, 2, True, 2, 1)
    out = shell.ok("result = (f(), c.m(), f is pkg.mod.f, len(pkg.tracker.runs))")
    assert "Reloading" not in out
    assert shell.ip.user_ns["result"] == (2, 2, True, 1)

    # The check above can fail: autoreload is live and reloads a file changed behind its back.
    path = pkg.path("pkg/mod.py")
    path.write_text(header.format(3) + MOD_V2)
    later = path.stat().st_mtime + 5
    os.utime(path, (later, later))
    out = shell.ok("result = pkg.mod.VERSION")
    assert "Reloading 'pkg.mod'" in out
    assert shell.ip.user_ns["result"] == 3


def test_autoreload_does_not_load_a_failed_hotreload_text(shell: Shell, pkg: Project) -> None:
    shell.ok("%load_ext autoreload")
    shell.ok("%autoreload 2 --print")
    shell.ok("import pkg.mod")
    shell.failed("%%hotreload pkg/mod.py\nraise RuntimeError('not now')\n")
    out = shell.ok("result = pkg.mod.f()")
    assert "Reloading" not in out and "autoreload of" not in out
    assert shell.ip.user_ns["result"] == 1


# -- editing one definition, history, undo (SPEC §2) ------------------------------------------


def test_edit_fills_the_next_cell_with_the_definition(shell: Shell, pkg: Project) -> None:
    shell.ok("import pkg.mod")
    out = shell.ok("%hotreload edit pkg.mod:C.m")
    assert out.strip() == ("hotreload: the next cell holds C.m (pkg/mod.py:6); edit it and run it")
    assert shell.ip.rl_next_input == ("%%hotreload pkg.mod:C.m\ndef m(self):\n    return 1\n")
    _, out = shell.failed("%hotreload edit pkg/mod.py")
    assert "takes a definition" in out
    _, out = shell.failed("%hotreload edit pkg.mod:nothing")
    assert (
        out.strip() == f"HotReloadError: there is no definition nothing in {pkg.path('pkg/mod.py')}"
    )


def test_a_definition_cell_reloads_that_definition_only(shell: Shell, pkg: Project) -> None:
    shell.ok("import pkg.mod\nc = pkg.mod.C()")
    out = shell.ok("%%hotreload pkg.mod:C.m\ndef m(self):\n    return 20\n")
    assert re.match(r"^hotreload: reloaded pkg\.mod \(patched: C\.m\) in \d", out), out
    assert shell.ip.user_ns["c"].m() == 20
    text = pkg.path("pkg/mod.py").read_text()
    assert text == MOD_V1[: MOD_V1.rindex("return 1")] + "return 20\n"
    error, out = shell.failed("%%hotreload pkg.mod:C.m\nx = 1\n")
    assert isinstance(error, hr.HotReloadError) and out.count("\n") == 1
    assert "exactly one def" in out and pkg.path("pkg/mod.py").read_text() == text


def test_a_definition_cell_says_how_many_lines_the_formatter_changed(
    shell: Shell, pkg: Project
) -> None:
    shell.ok('%config HotReload.formatter = "ruff"')
    shell.ok("import pkg.mod")
    out = shell.ok("%%hotreload pkg.mod:f\ndef f( ):\n    return   3\n")
    assert "the formatter changed 2 lines in the file (the cell keeps your text" in out
    out = shell.ok("%%hotreload pkg/mod.py\nx=1\n")
    assert "the formatter changed 1 line in the file" in out
    out = shell.ok("%%hotreload pkg/mod.py\nx = 1\n")
    assert "formatter" not in out
    # The blank lines ruff puts between definitions change no line worth a note.
    out = shell.ok("%%hotreload pkg/mod.py\ndef a():\n    pass\ndef b():\n    pass\n")
    assert "formatter" not in out


def test_full_reexecutes_the_whole_module(shell: Shell, pkg: Project) -> None:
    shell.ok("import pkg.mod")
    pkg.reloader.reexecute = "minimal"
    shell.ok(
        "%%hotreload pkg/mod.py --quiet\nRUNS = []\nRUNS.append(1)\n\ndef f():\n    return 1\n"
    )
    shell.ok(
        "%%hotreload pkg/mod.py --quiet --full\nRUNS = []\nRUNS.append(1)\n\ndef f():\n    return 2\n"
    )
    assert sys.modules["pkg.mod"].RUNS == [1] and sys.modules["pkg.mod"].f() == 2
    _, out = shell.failed("%%hotreload pkg.mod:f --full\ndef f():\n    pass\n")
    assert "--full goes with a file path" in out


def test_history_and_undo(shell: Shell, pkg: Project) -> None:
    shell.ok("import pkg.mod")
    assert shell.ok("%hotreload history").strip() == "no reloads yet"
    shell.ok("%%hotreload pkg/mod.py --quiet\n" + MOD_V2)
    shell.ok("%%hotreload pkg.mod:f --quiet\ndef f():\n    return 3\n")
    lines = shell.ok("%hotreload history").strip().splitlines()
    assert lines[0].split() == ["id", "at", "origin", "modules", "files"]
    assert [line.split()[2] for line in lines[1:]] == ["definition", "reload"]
    assert lines[1].endswith("pkg/mod.py")
    out = shell.ok("%hotreload undo")
    assert re.match(r"^hotreload: undid entry \d+: reloaded pkg\.mod in \d", out), out
    assert sys.modules["pkg.mod"].f() == 2
    shell.ok("%hotreload undo")
    assert sys.modules["pkg.mod"].f() == 3
    pkg.path("pkg/mod.py").write_text("def f():\n    return 4\n")
    _, out = shell.failed("%hotreload undo")
    assert "changed on disk" in out and out.count("\n") == 1
    shell.ok("%hotreload undo --force")
    assert sys.modules["pkg.mod"].f() == 2
    _, out = shell.failed("%hotreload undo 0")
    assert "positive number of steps" in out


def test_help_prints_the_usage_naming_the_magics(shell: Shell) -> None:
    out = shell.ok("%hotreload --help")
    assert out.startswith("usage: %hotreload [ACTION] [--help]")
    for name, action in ACTIONS.items():
        assert f"%hotreload {action.usage}" in out, name
    assert "%%hotreload PATH [--no-format] [--quiet] [--full]" in out
    assert "hotreload_line" not in out
    out = shell.ok("%hotreload undo --help")
    assert out.startswith("%hotreload undo [N] [--force]: revert")
    assert "%%hotreload TARGET" in shell.ok("%%hotreload --help\n# the body is not used\n")


def test_reexecute_and_history_limit_are_configurable(shell: Shell, pkg: Project) -> None:
    shell.ok('%config HotReload.reexecute = "module"')
    shell.ok("%config HotReload.history_limit = 1")
    assert pkg.reloader.reexecute == "module" and pkg.reloader.history_limit == 1
    shell.ok("%%hotreload pkg/mod.py --quiet\n" + MOD_V2)
    shell.ok("%%hotreload pkg/mod.py --quiet\n" + MOD_V1)
    assert len(pkg.reloader.history()) == 1


def test_an_invalid_setting_is_one_line_on_the_projects_logger(
    shell: Shell, pkg: Project, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("ERROR"):
        shell.ok('%config HotReload.formatter = "blak"')
    [record] = [r for r in caplog.records if "HotReload.formatter" in r.getMessage()]
    assert record.name == "ipython_hotreload.ipython.config"
    assert "\n" not in record.getMessage() and "unchanged" in record.getMessage()
    assert not [r for r in caplog.records if r.name == "root"]
    assert pkg.reloader.formatter is None


def test_an_unsafe_path_error_says_how_to_allow_the_place(
    shell: Shell, pkg: Project, tmp_path: Path
) -> None:
    error, out = shell.failed(f"%%hotreload {tmp_path / 'outside.py'}\nx = 1\n")
    assert isinstance(error, hr.UnsafePathError)
    assert "%config HotReload.roots" in out and out.count("\n") == 1


def test_unload_then_load_in_another_directory_starts_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_modules: None
) -> None:
    ip = InteractiveShell.instance()
    first, second = tmp_path / "one", tmp_path / "two"
    first.mkdir()
    second.mkdir()
    hr.set_default_reloader(None)
    try:
        monkeypatch.chdir(first)
        ip.run_line_magic("load_ext", "ipython_hotreload")
        assert hr.default_reloader().roots == [first.resolve()]
        ip.run_line_magic("unload_ext", "ipython_hotreload")
        monkeypatch.chdir(second)
        ip.run_line_magic("load_ext", "ipython_hotreload")
        assert hr.default_reloader().roots == [second.resolve()]
    finally:
        ip.run_line_magic("unload_ext", "ipython_hotreload")
        extension.unload(ip)
        hr.set_default_reloader(None)


# -- the summary line says what ran ------------------------------------------------------------


def _saved(**keys: Any) -> dict[str, Any]:
    return {"mod": "pkg.mod", "source_hash": "x", "functions": [], **keys}


def test_the_summary_line_says_what_ran_from_the_payloads_mode() -> None:
    changes = {"added": [], "changed": ["f"], "removed": []}
    cases = [
        (_saved(mode="patched", changes=changes), "reloaded pkg.mod (patched: f) in 1.0 ms"),
        (
            _saved(mode="partial", rerun=[{"lineno": 1, "end_lineno": 1}] * 2),
            "(partial: 2 statements)",
        ),
        (_saved(mode="full", full_reason="a top-level del"), "(full: a top-level del)"),
        (_saved(mode="unchanged"), "(unchanged)"),
        (_saved(), "hotreload: reloaded pkg.mod in 1.0 ms"),
    ]
    for payload, expected in cases:
        line = summary_line(Path("pkg/mod.py"), {"recompiled": [payload]}, 1.0)
        assert expected in line, line
    line = summary_line(Path("pkg/mod.py"), {"recompiled": [_saved()]}, 1.0, formatted_lines=3)
    assert line.endswith(
        "; the formatter changed 3 lines in the file (the cell keeps your text: "
        "line numbers may differ)"
    )
    # The reload's own time (what the panels show), and the modules still failing.
    payload = _saved(mode="unchanged", elapsed_ms=4.25)
    pending = [{"mod": "shop.prices", "path": "p.py", "lineno": 2, "message": "boom"}]
    line = summary_line(Path("pkg/mod.py"), {"recompiled": [payload], "pending": pending}, 90.0)
    assert line == (
        "hotreload: reloaded pkg.mod (unchanged) in 4.2 ms; "
        "shop.prices still has a failed edit (line 2)"
    )
    dependent = {"mod": "pkg.user", "source_hash": None, "functions": None, "mode": "partial"}
    dependent["rerun"] = [{"lineno": 3, "end_lineno": 3}]
    line = summary_line(Path("pkg/mod.py"), {"recompiled": [_saved(), dependent]}, 1.0)
    assert line == "hotreload: reloaded pkg.mod; then pkg.user (partial: 1 statement) in 1.0 ms"


def test_a_module_is_described_as_loaded_not_imported_or_unknown(pkg: Project) -> None:
    reloader = pkg.reloader
    pkg.import_("pkg.mod")
    assert reloader.describe_module("pkg.mod")["state"] == "loaded"
    described = reloader.describe_module("pkg.user")
    assert described["state"] == "not_imported" and described["path"].endswith("user.py")
    reloader.warm_up()  # the graph is scanned: a module written after it is still found
    pkg.write("pkg/later.py", "def g():\n    return 1\n")
    assert reloader.describe_module("pkg.later")["state"] == "not_imported"
    assert [f["qualname"] for f in reloader.functions("pkg.later")] == ["g"]
    unknown = reloader.describe_module("pkg.usr")
    assert unknown["state"] == "unknown" and "check the spelling" in unknown["note"]


def test_a_failed_cell_leaves_its_module_pending_and_the_next_cells_say_so(
    shell: Shell, pkg: Project
) -> None:
    shell.ok("import pkg.mod")
    pkg.write("pkg/other.py", "Z = 1\n")
    shell.ok("import pkg.other")
    error, out = shell.failed("%%hotreload pkg/mod.py\n" + MOD_V1 + "1 / 0\n")
    assert isinstance(error, hr.ReloadError) and "ZeroDivisionError" in out
    # Another module reloads (the failed edit does not block it), and the line says so.
    out = shell.ok("%%hotreload pkg/other.py\nZ = 2\n")
    assert out.startswith("hotreload: reloaded pkg.other (partial: 1 statement) in ")
    assert out.rstrip().endswith("; pkg.mod still has a failed edit (line 8)"), out
    out = shell.ok("%%hotreload pkg/mod.py\n" + MOD_V1)
    assert "reloaded pkg.mod (unchanged)" in out and "failed edit" not in out
