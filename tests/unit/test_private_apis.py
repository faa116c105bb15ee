"""The private APIs of other packages that the project still uses (README, "Private APIs"),
each checked against the installed version, so an upgrade that removes or changes one
fails here, by name, instead of quietly degrading a feature. The kernel's lock is checked
in a real kernel (``tests/kernel/test_watch_kernel.py``), and so is ipykernel's comm routing
(``tests/kernel/test_beside_cells.py``)."""

from __future__ import annotations

import importlib.util
import inspect
import marshal
import py_compile
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config, Configurable
from traitlets.traitlets import Int

from ipython_hotreload.core.edit.bytecode import checked_hash_pyc
from ipython_hotreload.ipython.autoreload import autoreload_reloader
from ipython_hotreload.subshells import serve_beside_cells


def test_our_pyc_is_byte_for_byte_what_py_compile_writes(tmp_path: Path) -> None:
    # The public replacement of importlib._bootstrap_external._code_to_hash_pyc: the same
    # bytes as the standard library's own checked-hash compile of the same file.
    source = tmp_path / "m.py"
    data = b"import os\n\ndef f(x=1):\n    return os.sep * x\n"
    source.write_bytes(data)
    cfile = tmp_path / "m.pyc"
    py_compile.compile(
        str(source),
        cfile=str(cfile),
        doraise=True,
        invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
    )
    code = compile(data, str(source), "exec", dont_inherit=True)
    ours = checked_hash_pyc(data, code)
    assert ours == cfile.read_bytes()
    assert ours[:4] == importlib.util.MAGIC_NUMBER
    assert marshal.loads(ours[16:]).co_filename == str(source)


def test_watchfiles_rust_notify_takes_the_named_arguments_the_watcher_passes(
    tmp_path: Path,
) -> None:
    from watchfiles._rust_notify import RustNotify

    stop = threading.Event()
    notify = RustNotify(
        watch_paths=[str(tmp_path)],
        debug=False,
        force_polling=False,
        poll_delay_ms=50,
        recursive=True,
        ignore_permission_denied=True,
    )
    try:
        quiet = notify.watch(debounce_ms=50, step_ms=5, timeout_ms=20, stop_event=stop)
        assert quiet == "timeout"
        (tmp_path / "new.py").write_text("X = 1\n")
        seen = notify.watch(debounce_ms=2000, step_ms=5, timeout_ms=10_000, stop_event=stop)
        assert isinstance(seen, set)
        assert any(path == str(tmp_path / "new.py") for _change, path in seen), seen
    finally:
        notify.close()


def test_traitlets_still_loads_config_through_the_method_we_override() -> None:
    # ipython/config.py overrides Configurable._load_config to learn which names config set
    # (even to their current value, which fires no change) and reads _find_my_config.
    params = list(inspect.signature(Configurable._load_config).parameters)
    assert params == ["self", "cfg", "section_names", "traits"]
    assert callable(getattr(Configurable, "_find_my_config", None))
    loaded: list[Any] = []

    class Probe(Configurable):
        knob = Int(1).tag(config=True)

        def _load_config(self, cfg: Any, section_names: Any = None, traits: Any = None) -> None:
            super()._load_config(cfg, section_names, traits)
            loaded.append(dict(self._find_my_config(cfg)))

    probe = Probe()
    loaded.clear()
    config = Config()
    config.Probe.knob = 1  # the value it already has: no change event, still config
    probe.update_config(config)
    assert loaded == [{"knob": 1}]


@pytest.fixture
def shell() -> Any:
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    config.HistoryManager.enabled = False
    ip = InteractiveShell.instance(config=config)
    yield ip
    InteractiveShell.clear_instance()


def test_autoreload_keeps_the_bookkeeping_we_update(shell: Any) -> None:
    # ipython/autoreload.py marks our writes as seen in autoreload's own records; each is
    # looked up leniently there, so its absence would only show as double reloads.
    shell.run_line_magic("load_ext", "autoreload")
    shell.run_line_magic("autoreload", "2")
    reloader = autoreload_reloader(shell)
    assert reloader is not None, "AutoreloadMagics._reloader is gone"
    assert isinstance(reloader.modules_mtimes, dict)
    assert isinstance(reloader.failed, dict)
    deduper = getattr(reloader, "deduper_reloader", None)
    assert deduper is not None, "IPython's deduperreload is gone"
    assert isinstance(deduper.source_by_modname, dict)


def test_abc_dump_lists_the_registered_virtual_subclasses_and_caches_clear() -> None:
    # apply/registrations.py: a kept ABC takes the virtual subclasses its new text registers.
    import abc

    class Base(abc.ABC):  # noqa: B024 - an ABC used only for register()
        pass

    class Other:
        pass

    Base.register(Other)
    registered = abc._get_dump(Base)[0]  # type: ignore[attr-defined]
    assert [ref() for ref in registered] == [Other]
    assert callable(Base._abc_caches_clear)  # type: ignore[attr-defined]
    assert issubclass(Other, Base)


def test_singledispatch_keeps_its_registry_dict_in_the_register_closure() -> None:
    # apply/registrations.py: the registry behind the read-only `registry` mapping is the dict
    # `register` closes over; registrations made at run time are merged through it.
    import functools

    from ipython_hotreload.core.apply.registrations import _dispatch_registry

    @functools.singledispatch
    def show(x: object) -> str:
        return "object"

    registry = _dispatch_registry(show)  # type: ignore[arg-type]
    assert registry is not None and registry.keys() == show.registry.keys()
    registry[int] = lambda x: "int"
    show._clear_cache()  # type: ignore[attr-defined]
    assert show(1) == "int" and show.registry[int] is registry[int]


def test_getframe_shows_the_import_system_three_frames_above_an_audit_hook(
    tmp_path: Path,
) -> None:
    # source/provenance.py: the audit hook asks sys._getframe(3) whether the frozen import
    # machinery opened a file; if CPython adds or removes a frame there, this fails.
    import sys

    from ipython_hotreload.core.source import provenance

    provenance.record_imports()
    (tmp_path / "framed_import.py").write_text("X = 1\n")
    sys.path.insert(0, str(tmp_path))
    try:
        import framed_import  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("framed_import", None)
    assert provenance.import_stamp(framed_import.__file__) is not None


def test_ipykernel_still_asks_each_comm_where_its_messages_go(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # ipykernel 7.4's shell channel thread hands a comm_msg to the subshell its comm last
    # published from (BaseComm._reply_subshell_for), whatever subshell the frontend named;
    # subshells.serve_beside_cells overrides that per comm. If the hook goes, the panel's
    # requests wait for the running cell again, with no error anywhere.
    from ipykernel.comm.comm import Comm
    from ipykernel.kernelbase import Kernel

    assert "_reply_subshell_for" in inspect.getsource(Kernel.shell_channel_thread_main)
    params = list(inspect.signature(Comm._reply_subshell_for).parameters)
    assert params == ["self", "data", "default"]
    comm = Comm(primary=False, show_warning=False)
    comm._reply_subshell_id = None  # what a publish from the main shell records
    assert comm._reply_subshell_for({"other": 1}, "sub-1") is None  # the kernel's choice

    handled: list[object] = []
    assert serve_beside_cells(comm, lambda data: data == {"ours": 1}, handled.append) is True
    assert comm._reply_subshell_for({"ours": 1}, "sub-1") == "sub-1"  # the sender's
    assert comm._reply_subshell_for({"other": 1}, "sub-1") is None

    def broken(data: object) -> bool:
        raise ValueError("no")

    fresh = Comm(primary=False, show_warning=False)
    fresh._reply_subshell_id = None
    serve_beside_cells(fresh, broken, handled.append)  # on the shell channel thread: no raise
    assert fresh._reply_subshell_for({"ours": 1}, "sub-1") is None
    assert "could not tell where a comm message goes" in caplog.text


def test_astroids_tree_rebuilder_builds_a_function_without_the_builtins_bootstrap() -> None:
    # core/report/analysis.py reads a unit that is one function through astroid's
    # TreeRebuilder, skipping AstroidBuilder's bootstrap of the builtins module. In a fresh
    # interpreter: the rebuilder still takes (manager, data=...) and visit_module(tree,
    # modname, path, package), gives the nodes the entries read, and bootstraps nothing.
    script = (
        "import astroid.raw_building as rb\n"
        "from ipython_hotreload.core.report.analysis import analyse_functions\n"
        "src = 'class K:\\n    @classmethod\\n    def make(cls, x: int = 1) -> K:\\n'"
        ' \'        """Doc."""\\n        return cls()\\n\\ndef f(*a, **k):\\n    return 1\\n\'\n'
        "print(analyse_functions(src))\n"
        "print(rb.InspectBuilder.bootstrapped)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    entries = [
        {
            "name": "make",
            "qualname": "K.make",
            "kind": "classmethod",
            "lineno": 3,
            "end_lineno": 5,
            "signature": "(cls, x: int = 1) -> K",
            "doc": "Doc.",
        },
        {
            "name": "f",
            "qualname": "f",
            "kind": "function",
            "lineno": 7,
            "end_lineno": 8,
            "signature": "(*a, **k)",
            "doc": None,
        },
    ]
    assert out == [repr(entries), "False"]
