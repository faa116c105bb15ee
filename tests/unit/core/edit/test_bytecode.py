"""Checked hash-based .pyc files (PEP 552): written, loaded, removed."""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ipython_hotreload.core.edit import bytecode
from ipython_hotreload.core.edit.bytecode import checked_hash_pyc, flush, remove_pyc, write_pyc
from tests.conftest import Project


def test_bytecode_is_a_checked_hash_pyc_that_a_fresh_interpreter_loads(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    project.write("bc.py", "X = 1\n")
    project.import_("bc")
    project.reload("bc.py", "X = 2\n")
    assert flush()  # written behind (SPEC 1.1 step 5)
    import importlib.util

    pyc = Path(importlib.util.cache_from_source(str(project.path("bc.py"))))
    flags = int.from_bytes(pyc.read_bytes()[4:8], "little")
    assert flags == 0b11  # hash-based, checked
    probe = textwrap.dedent(
        """
        import importlib.machinery as m, sys
        def refuse(self, data, path, *, _optimize=-1):
            raise SystemExit("recompiled from source")
        m.SourceFileLoader.source_to_code = refuse
        import bc
        print(bc.X)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(project.root)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, env=env, check=False
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2"


def test_a_checked_hash_pyc_is_the_pep_552_layout_of_the_code() -> None:
    source = b"X = 41 + 1\n"
    code = compile(source, "m.py", "exec")
    data = checked_hash_pyc(source, code)
    assert data[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(data[4:8], "little") == 0b11  # hash-based, checked
    assert data[8:16] == importlib.util.source_hash(source)
    ns: dict[str, object] = {}
    exec(marshal.loads(data[16:]), ns)
    assert ns["X"] == 42


def test_write_and_remove_the_pyc_beside_a_source(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_bytes(b"X = 1\n")
    code = compile(b"X = 1\n", str(path), "exec")
    assert write_pyc(path, b"X = 1\n", code) is None
    pyc = Path(importlib.util.cache_from_source(str(path)))
    assert pyc.read_bytes() == checked_hash_pyc(b"X = 1\n", code)
    assert os.listdir(pyc.parent) == [pyc.name]  # no temporary left
    remove_pyc(path)
    assert not pyc.exists()
    remove_pyc(path)  # nothing to remove: fine


def test_a_pyc_that_cannot_be_written_is_a_warning(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    (tmp_path / "__pycache__").write_text("a file where the directory should be")
    warning = write_pyc(path, b"X = 1\n", compile("X = 1\n", str(path), "exec"))
    assert warning is not None and warning.startswith("bytecode not saved to ")


def test_an_import_never_runs_a_pyc_whose_source_changed_at_the_same_size_and_time(
    tmp_path: Path, clean_modules: None
) -> None:
    path = tmp_path / "same_stat.py"
    path.write_bytes(b"X = 1\n")
    assert write_pyc(path, b"X = 1\n", compile(b"X = 1\n", str(path), "exec")) is None
    st = path.stat()
    path.write_bytes(b"X = 2\n")  # what an editor saving within one timestamp tick does
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    sys.path.insert(0, str(tmp_path))
    importlib.invalidate_caches()
    assert importlib.import_module("same_stat").X == 2


# -- bytecode behind ------------------------------------------------------------


def pyc_of(path: Path) -> Path:
    return Path(importlib.util.cache_from_source(str(path)))


def source_hash_in(pyc: Path) -> bytes:
    return pyc.read_bytes()[8:16]


def test_a_pyc_is_written_only_for_the_bytes_on_disk_and_the_last_job_wins(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.py"
    first, second = b"X = 1\n", b"X = 2\n"
    path.write_bytes(second)  # the file already holds the later text
    writer = bytecode.BytecodeWriter()
    writer.submit(path, first, str(path), 0, None)  # superseded, or skipped: not on disk
    writer.submit(path, second, str(path), 0, None)
    assert writer.flush(timeout=30)
    assert source_hash_in(pyc_of(path)) == importlib.util.source_hash(second)
    assert writer.written == 1
    # A job for bytes the file no longer holds writes nothing.
    path.write_bytes(b"X = 3\n")
    writer.submit(path, second, str(path), 0, None)
    assert writer.flush(timeout=30) and writer.written == 1


def test_a_reload_returns_before_its_pyc_and_the_pyc_follows(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    project.write("behind.py", "X = 1\n\ndef f():\n    return X\n")
    project.import_("behind")
    new = "X = 1\n\ndef f():\n    return X + 1\n"
    project.reload("behind.py", new)
    assert bytecode.flush(timeout=30)
    pyc = pyc_of(project.path("behind.py"))
    assert source_hash_in(pyc) == importlib.util.source_hash(new.encode())


def test_purge_and_undo_finish_the_pending_writes_of_their_files_first(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    order: list[tuple[str, object]] = []
    real_flush, real_remove = bytecode.flush, bytecode.remove_pyc

    def flush(paths: object = None, timeout: float | None = 30.0) -> bool:
        order.append(("flush", None if paths is None else sorted(map(str, paths))))  # type: ignore[call-overload]
        return real_flush(paths, timeout)  # type: ignore[arg-type]

    def remove(path: Path) -> None:
        order.append(("remove", str(path)))
        real_remove(path)

    monkeypatch.setattr(bytecode, "flush", flush)
    monkeypatch.setattr(bytecode, "remove_pyc", remove)
    project.write("gone.py", "X = 1\n")
    project.import_("gone")
    project.reload("gone.py", "X = 2\n")
    order.clear()
    project.reloader.undo()
    assert order[0] == ("flush", None)  # everything, before the files go back
    order.clear()
    project.reloader.purge_module("gone")
    path = str(project.path("gone.py").resolve())
    assert order[0][0] == "flush" and path in order[0][1]  # type: ignore[operator]
    assert order[1] == ("remove", str(project.path("gone.py")))
    assert real_flush() and not pyc_of(project.path("gone.py")).exists()


def test_pending_writes_are_finished_at_interpreter_exit(tmp_path: Path) -> None:
    # A slow disk: the write takes longer than the rest of the program. Without the flush
    # at exit, the daemon writer would be killed before it wrote.
    (tmp_path / "atexit_mod.py").write_text("X = 1\n")
    program = textwrap.dedent(
        f"""
        import sys, threading
        sys.path.insert(0, {str(tmp_path)!r})
        sys.dont_write_bytecode = False
        from ipython_hotreload.core.edit import bytecode
        real = bytecode.write_pyc
        def slow(*args):
            threading.Event().wait(0.5)
            return real(*args)
        bytecode.write_pyc = slow
        import atexit_mod
        from ipython_hotreload.core.engine import HotReloader
        HotReloader(roots=[{str(tmp_path)!r}], formatter=None).reload(
            {str(tmp_path / "atexit_mod.py")!r}, "X = 2\\n"
        )
        """
    )
    env = {**os.environ}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-c", program], check=True, env=env, timeout=120)
    pyc = pyc_of(tmp_path / "atexit_mod.py")
    assert source_hash_in(pyc) == importlib.util.source_hash(b"X = 2\n")
    assert hashlib.sha256(pyc.read_bytes()).hexdigest()  # a whole file, read back
