"""Faults injected for real or at the OS call: nothing lost, nothing half-applied.

Each test makes one reload of ``pkg.base`` (with ``pkg.dep`` depending on it) meet one fault
and then runs :meth:`Versioned.check_after_fault`: the file holds the old or the new text
completely, the loaded code is entirely old or entirely new, the events and the graph agree,
an error names the file, and the next reload works. OS faults raise the real ``OSError`` with
the real errno from the ``os`` function the code calls.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import ipython_hotreload as hr
from ipython_hotreload.core import pipeline
from ipython_hotreload.core.apply import defpatch, functions, journal, patching
from ipython_hotreload.core.edit import bytecode, formatting
from ipython_hotreload.core.source import compiler
from tests.reliability.conftest import Versioned, WriteDenier, fd_path, os_error

# -- disk and permissions ------------------------------------------------------------------


def test_disk_full_midway_through_the_write_keeps_the_old_file(
    versioned: Versioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    pkg = str(versioned.pkg_dir)
    state = {"chunks": 0}

    def disk_fills_up(fd: int, data: Any) -> int:
        if not fd_path(fd).startswith(pkg + os.sep):
            return real_write(fd, data)
        state["chunks"] += 1
        if state["chunks"] == 1:  # half of the text fits, then the disk is full
            return real_write(fd, bytes(data)[: len(data) // 2])
        raise os_error(errno.ENOSPC)

    monkeypatch.setattr(os, "write", disk_fills_up)
    outcome = versioned.attempt(2)
    monkeypatch.undo()

    assert state["chunks"] == 2, "the fault was never reached"
    assert isinstance(outcome.error, hr.SourceWriteError)
    assert isinstance(outcome.error.__cause__, OSError)
    assert outcome.error.__cause__.errno == errno.ENOSPC
    assert "disk is full" in str(outcome.error)
    assert versioned.check_after_fault(outcome, old=1, new=2) == 1
    assert versioned.disk_version() == 3


def test_read_only_file_is_refused_and_kept(versioned: Versioned) -> None:
    os.chmod(versioned.path, 0o444)
    outcome = versioned.attempt(2)
    assert isinstance(outcome.error, hr.SourceWriteError)
    assert isinstance(outcome.error.__cause__, PermissionError)
    assert outcome.error.__cause__.errno == errno.EACCES
    assert "permission denied" in str(outcome.error)
    assert stat.S_IMODE(os.stat(versioned.path).st_mode) == 0o444, "the mode was changed"
    os.chmod(versioned.path, 0o644)  # the user fixes it; then saving works again
    assert versioned.check_after_fault(outcome, old=1, new=2) == 1


def test_a_saved_file_keeps_its_mode(versioned: Versioned) -> None:
    os.chmod(versioned.path, 0o640)
    assert versioned.attempt(2).error is None
    assert stat.S_IMODE(os.stat(versioned.path).st_mode) == 0o640


def test_read_only_directory_is_refused_and_nothing_is_left_in_it(
    versioned: Versioned, write_denier: WriteDenier
) -> None:
    before = sorted(p.name for p in versioned.pkg_dir.iterdir())
    os.chmod(versioned.pkg_dir, 0o555)
    write_denier.deny(versioned.pkg_dir)
    try:
        outcome = versioned.attempt(2)
    finally:
        os.chmod(versioned.pkg_dir, 0o755)
        write_denier.allow(versioned.pkg_dir)
    assert isinstance(outcome.error, hr.SourceWriteError)
    assert isinstance(outcome.error.__cause__, PermissionError)
    assert outcome.error.__cause__.errno == errno.EACCES
    assert sorted(p.name for p in versioned.pkg_dir.iterdir()) == before
    assert versioned.check_after_fault(outcome, old=1, new=2) == 1


def test_rename_failing_keeps_the_old_file_and_removes_the_temporary(
    versioned: Versioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace
    target = str(versioned.path)
    renames: list[str] = []

    def rename_fails(src: Any, dst: Any, **kw: Any) -> None:
        if os.fsdecode(dst) == target:
            renames.append(os.fsdecode(src))
            raise os_error(errno.EBUSY, os.fsdecode(dst))
        real_replace(src, dst, **kw)

    monkeypatch.setattr(os, "replace", rename_fails)
    outcome = versioned.attempt(2)
    monkeypatch.undo()

    assert len(renames) == 1 and not os.path.exists(renames[0]), "temporary file left behind"
    assert isinstance(outcome.error, hr.SourceWriteError)
    assert outcome.error.__cause__ is not None
    assert outcome.error.__cause__.errno == errno.EBUSY  # type: ignore[attr-defined]
    assert versioned.check_after_fault(outcome, old=1, new=2) == 1


def test_directory_removed_between_the_write_and_the_rename(
    versioned: Versioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_replace = os.replace
    target = str(versioned.path)
    saved = {p.name: p.read_text() for p in versioned.pkg_dir.glob("*.py")}
    stamps = {
        p.name: (p.stat().st_atime_ns, p.stat().st_mtime_ns) for p in versioned.pkg_dir.glob("*.py")
    }

    def directory_vanishes(src: Any, dst: Any, **kw: Any) -> None:
        if os.fsdecode(dst) == target:
            shutil.rmtree(versioned.pkg_dir)  # another program deletes the package
        real_replace(src, dst, **kw)

    monkeypatch.setattr(os, "replace", directory_vanishes)
    outcome = versioned.attempt(2)
    monkeypatch.undo()

    assert isinstance(outcome.error, hr.SourceWriteError)
    assert outcome.error.__cause__ is not None
    assert outcome.error.__cause__.errno == errno.ENOENT  # type: ignore[attr-defined]
    assert str(versioned.path) in str(outcome.error)
    assert versioned.loaded_version() == 1
    assert outcome.events == []
    # The package comes back (the user restores it); the old code ran all along.
    # (as a backup restores it: same bytes, same times, so nothing there looks edited)
    for name, text in saved.items():
        os.utime(versioned.project.write(f"pkg/{name}", text), ns=stamps[name])
    assert versioned.check_after_fault(outcome, old=1, new=2) == 1


def test_directory_removed_before_the_write_is_recreated(versioned: Versioned) -> None:
    def remove_package_then_format(text: str) -> str:
        shutil.rmtree(versioned.pkg_dir)
        return text

    dep_text = versioned.project.path("pkg/dep.py").read_text()
    versioned.project.reloader.formatter = remove_package_then_format
    outcome = versioned.attempt(2)
    versioned.project.reloader.formatter = None

    # The user's text is never lost: the directory is made again and the file written.
    assert versioned.disk_version() == 2
    error = outcome.error
    assert error is None or isinstance(error, hr.HotReloadError), repr(error)
    if error is not None:
        assert str(versioned.project.path("pkg")) in str(error)
    # pkg.dep's file is gone with the directory. It may be dropped (``source_removed``, as a
    # watcher does for a deleted file); if it is still loaded, it must not be left running
    # against a base it was not re-executed after.
    views = versioned.views()
    if ("source_removed", "pkg.dep") in outcome.kinds():
        views = {k: v for k, v in views.items() if not k.startswith(("dep", "D "))}
    assert set(views.values()) == {1 if error is not None else 2}, f"half-applied: {views}"
    assert versioned.leftovers() == []
    versioned.project.write("pkg/__init__.py", "")
    versioned.project.write("pkg/dep.py", dep_text)
    if ("source_removed", "pkg.dep") in outcome.kinds():
        # Purged with its file: the user imports it again, and holds the new objects.
        versioned.dep = versioned.project.import_("pkg.dep")
        versioned.held_d = versioned.dep.D()
    versioned.check_graph()
    versioned.check_next_reload_works(3)


# -- bytecode ------------------------------------------------------------------------------


def _pyc(path: Path) -> Path:
    import importlib.util

    return Path(importlib.util.cache_from_source(str(path)))


def test_read_only_bytecode_directory_reload_succeeds_with_a_warning(
    versioned: Versioned,
    write_denier: WriteDenier,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)  # the CI sets PYTHONDONTWRITEBYTECODE
    pycache = _pyc(versioned.path).parent
    pycache.mkdir(exist_ok=True)
    before = {p.name: p.read_bytes() for p in pycache.iterdir()}
    os.chmod(pycache, 0o555)
    write_denier.deny(pycache)
    try:
        outcome = versioned.attempt(2)
        assert bytecode.flush()  # written behind (SPEC 1.1 step 5): its failure is logged
    finally:
        os.chmod(pycache, 0o755)
        write_denier.allow(pycache)
    assert outcome.error is None, repr(outcome.error)
    assert outcome.result is not None
    logged = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("could not write" in m and "__pycache__" in m for m in logged), logged
    assert {p.name: p.read_bytes() for p in pycache.iterdir()} == before
    assert versioned.check_after_fault(outcome, old=1, new=2) == 2


def test_bytecode_directory_that_is_a_file_reload_succeeds_with_a_warning(
    versioned: Versioned, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    pycache = _pyc(versioned.path).parent
    shutil.rmtree(pycache, ignore_errors=True)
    pycache.write_text("not a directory")  # root cannot write through this either
    outcome = versioned.attempt(2)
    assert bytecode.flush()
    assert outcome.error is None, repr(outcome.error)
    assert outcome.result is not None
    logged = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("could not write" in m and "pyc" in m for m in logged), logged
    assert pycache.read_text() == "not a directory"
    pycache.unlink()
    assert versioned.check_after_fault(outcome, old=1, new=2) == 2


# -- formatters ----------------------------------------------------------------------------


def test_crashing_formatter_writes_the_text_unformatted(versioned: Versioned) -> None:
    def crash(text: str) -> str:
        raise RuntimeError("formatter bug")

    versioned.project.reloader.formatter = crash
    outcome = versioned.attempt(2)
    versioned.project.reloader.formatter = None
    assert outcome.result is not None, repr(outcome.error)
    warnings = outcome.result["recompiled"][0].get("warnings", [])
    assert any("formatter bug" in w and "unformatted" in w for w in warnings), warnings
    assert versioned.check_after_fault(outcome, old=1, new=2) == 2


def _fake_ruff(tmp_path: Path, body: str) -> Path:
    script = tmp_path / "fake-ruff"
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return script


def test_crashing_formatter_process_writes_the_text_unformatted(
    versioned: Versioned, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _fake_ruff(tmp_path, "echo 'ruff: internal error' >&2\nkill -SEGV $$")
    monkeypatch.setattr(formatting, "_ruff_binary", lambda: str(script))
    versioned.project.reloader.formatter = "ruff"
    outcome = versioned.attempt(2)
    versioned.project.reloader.formatter = None
    assert outcome.result is not None, repr(outcome.error)
    warnings = outcome.result["recompiled"][0].get("warnings", [])
    assert any("unformatted" in w for w in warnings), warnings
    assert versioned.check_after_fault(outcome, old=1, new=2) == 2


def test_hanging_formatter_process_is_given_up_on(
    versioned: Versioned, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = _fake_ruff(tmp_path, "exec sleep 60")
    monkeypatch.setattr(formatting, "_ruff_binary", lambda: str(script))
    monkeypatch.setattr(formatting, "FORMAT_TIMEOUT", 0.5)
    versioned.project.reloader.formatter = "ruff"
    outcome = versioned.attempt(2)
    versioned.project.reloader.formatter = None
    assert outcome.result is not None, repr(outcome.error)
    warnings = outcome.result["recompiled"][0].get("warnings", [])
    assert any("longer than" in w and "unformatted" in w for w in warnings), warnings
    assert versioned.check_after_fault(outcome, old=1, new=2) == 2


def test_hanging_formatter_callable_is_given_up_on(
    versioned: Versioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A callable formatter that never returns must not hang the reload (and, with it, every
    other reload: they share one lock): after ``FORMAT_TIMEOUT`` the text is saved as is."""
    monkeypatch.setattr(formatting, "FORMAT_TIMEOUT", 0.5)
    release = threading.Event()

    def hang(text: str) -> str:
        release.wait(30)
        return text.replace(" ", "  ")  # visible if this output were ever used

    versioned.project.reloader.formatter = hang
    box: list[Any] = []
    worker = threading.Thread(target=lambda: box.append(versioned.attempt(2)), daemon=True)
    worker.start()
    worker.join(timeout=5)
    finished_in_time = not worker.is_alive()
    release.set()  # let a hung reload finish, so the project can be torn down
    worker.join(timeout=10)
    versioned.project.reloader.formatter = None
    assert finished_in_time, "the reload hung with its formatter (no time limit on callables)"
    [outcome] = box
    assert outcome.result is not None, repr(outcome.error)
    assert versioned.check_after_fault(outcome, old=1, new=2) == 2


# -- KeyboardInterrupt at each stage -------------------------------------------------------


# Injection points that fired, so a test knows its fault was really reached.
FIRED: list[str] = []


def _interrupt(*args: Any, **kw: Any) -> Any:
    FIRED.append("interrupt")
    raise KeyboardInterrupt


def _stage_write_start(v: Versioned, mp: pytest.MonkeyPatch) -> None:
    mp.setattr(pipeline, "atomic_write", _interrupt)


def _stage_write_midway(v: Versioned, mp: pytest.MonkeyPatch) -> None:
    real_write = os.write
    pkg = str(v.pkg_dir)

    def half_then_interrupt(fd: int, data: Any) -> int:
        if not fd_path(fd).startswith(pkg + os.sep):
            return real_write(fd, data)
        real_write(fd, bytes(data)[: len(data) // 2])
        FIRED.append("write")
        raise KeyboardInterrupt

    mp.setattr(os, "write", half_then_interrupt)


def _stage_format(v: Versioned, mp: pytest.MonkeyPatch) -> None:
    v.project.reloader.formatter = _interrupt


def _stage_compile(v: Versioned, mp: pytest.MonkeyPatch) -> None:
    # The compiler's own ``compile`` (the builtin, looked up in its module globals).
    mp.setattr(compiler, "compile", _interrupt, raising=False)


def _stage_execute_saved(v: Versioned, mp: pytest.MonkeyPatch) -> None:
    pass  # the new text itself raises (see SUFFIX below)


def _stage_execute_dependent(v: Versioned, mp: pytest.MonkeyPatch) -> None:
    # Rewrite the dependent so that its body, re-executed after version 2 of the base,
    # is interrupted half-way (after DEP_VERSION and D were bound).
    from tests.reliability.conftest import DEP

    extra = "\nif VERSION == 2:\n    raise KeyboardInterrupt\n"
    v.project.write("pkg/dep.py", DEP.format(extra=extra))
    v.project.reloader.reload_from_disk([v.project.path("pkg/dep.py")])


def _stage_patching_start(v: Versioned, mp: pytest.MonkeyPatch) -> None:
    # Whole-module re-execution merges through Patcher.merge; a statement-level update
    # patches each changed function through DefPatcher._patch_function.
    mp.setattr(patching.Patcher, "merge", _interrupt)
    mp.setattr(defpatch.DefPatcher, "_patch_function", _interrupt)


def _stage_patching_midway(v: Versioned, mp: pytest.MonkeyPatch) -> None:
    # The one function patcher, as the minimal update and the class merge call it.
    real = functions.adopt
    calls = {"n": 0}

    def adopt_then_interrupt(*args: Any, **kw: Any) -> bool:
        calls["n"] += 1
        if calls["n"] == 2:  # one function was already patched in place
            FIRED.append("adopt")
            raise KeyboardInterrupt
        return real(*args, **kw)

    mp.setattr(defpatch, "adopt", adopt_then_interrupt)
    mp.setattr(patching, "adopt", adopt_then_interrupt)


def _stage_patching_after_a_mutation(v: Versioned, mp: pytest.MonkeyPatch) -> None:
    # A signal arrives between two bytecodes: right after the journal changed a live object,
    # before it recorded how to undo the change.
    calls = {"n": 0}

    def setattr_then_interrupt(obj: Any, name: str, value: Any) -> None:
        setattr(obj, name, value)
        calls["n"] += 1
        if calls["n"] == 1:
            FIRED.append("setattr")
            raise KeyboardInterrupt

    mp.setattr(journal, "setattr", setattr_then_interrupt, raising=False)


def _stage_rollback(v: Versioned, mp: pytest.MonkeyPatch) -> None:
    # The dependent fails (an ordinary error), so the reload rolls back; Ctrl-C arrives while
    # the journal is undoing (a user pressing it twice), right before one undo step.
    from tests.reliability.conftest import DEP

    v.project.write("pkg/dep.py", DEP.format(extra="\nif VERSION == 2:\n    raise RuntimeError\n"))
    v.project.reloader.reload_from_disk([v.project.path("pkg/dep.py")])
    real_rollback = patching.Journal.rollback
    state = {"rolling_back": False, "fired": False}

    def rollback(self: patching.Journal) -> None:
        state["rolling_back"] = True
        real_rollback(self)

    def setattr_interrupted_during_undo(obj: Any, name: str, value: Any) -> None:
        if state["rolling_back"] and not state["fired"]:
            state["fired"] = True
            FIRED.append("undo")
            raise KeyboardInterrupt
        setattr(obj, name, value)

    mp.setattr(patching.Journal, "rollback", rollback)
    mp.setattr(journal, "setattr", setattr_interrupted_during_undo, raising=False)


def _subscriber_interrupts(kind: str) -> Callable[[Versioned, pytest.MonkeyPatch], None]:
    def stage(v: Versioned, mp: pytest.MonkeyPatch) -> None:
        fired = {"done": False}

        def callback(event: hr.ModuleEvent) -> None:
            if event.kind == kind and not fired["done"]:
                fired["done"] = True
                FIRED.append(f"subscriber on {kind}")
                raise KeyboardInterrupt

        _SUBS.append(hr.subscribe(callback))

    return stage


_SUBS: list[hr.Subscription] = []

STAGES: dict[str, Callable[[Versioned, pytest.MonkeyPatch], None]] = {
    "write-start": _stage_write_start,
    "write-midway": _stage_write_midway,
    "format": _stage_format,
    "compile": _stage_compile,
    "execute-saved-module": _stage_execute_saved,
    "execute-dependent": _stage_execute_dependent,
    "patching-start": _stage_patching_start,
    "patching-midway": _stage_patching_midway,
    "patching-after-a-mutation": _stage_patching_after_a_mutation,
    "rollback": _stage_rollback,
    "events-source_written": _subscriber_interrupts("source_written"),
    "events-recompiled": _subscriber_interrupts("recompiled"),
}
SUFFIX = {"execute-saved-module": "\nraise KeyboardInterrupt\n"}


@pytest.mark.parametrize("stage", list(STAGES))
def test_keyboard_interrupt_at_each_stage(
    stage: str, versioned: Versioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C anywhere in the pipeline: one complete text on disk, one version loaded, the
    events and graph agree, any error is a HotReloadError naming the file, and the next
    reload works."""
    FIRED.clear()
    STAGES[stage](versioned, monkeypatch)
    try:
        outcome = versioned.attempt(2, suffix=SUFFIX.get(stage, ""))
    finally:
        monkeypatch.undo()
        versioned.project.reloader.formatter = None
        while _SUBS:
            _SUBS.pop().close()
    if stage in ("execute-dependent", "rollback"):
        from tests.reliability.conftest import DEP

        versioned.project.write("pkg/dep.py", DEP.format(extra=""))
    raised_by_module_code = isinstance(outcome.error, KeyboardInterrupt) or isinstance(
        getattr(outcome.error, "__cause__", None), KeyboardInterrupt
    )
    assert FIRED or raised_by_module_code, f"the interrupt was never delivered: {outcome}"
    versioned.check_after_fault(outcome, old=1, new=2)


def test_interrupt_in_a_subscriber_does_not_stop_the_other_subscribers(
    versioned: Versioned,
) -> None:
    seen: list[tuple[str, str | None]] = []

    def interrupted(event: hr.ModuleEvent) -> None:
        raise KeyboardInterrupt

    first = hr.subscribe(interrupted)
    second = hr.subscribe(lambda e: seen.append((e.kind, e.mod)))
    try:
        outcome = versioned.attempt(2)
    finally:
        first.close()
        second.close()
    assert seen == [
        ("source_written", "pkg.base"),
        ("recompiled", "pkg.base"),
        ("recompiled", "pkg.dep"),
    ]
    assert not isinstance(outcome.error, KeyboardInterrupt), "a subscriber's Ctrl-C escaped raw"
    assert versioned.loaded_version() == 2


# -- the engine's own files ----------------------------------------------------------------


def test_failed_reload_is_retried_by_the_next_reload_of_another_module(
    versioned: Versioned,
) -> None:
    """A module whose new text is on disk but failed to run is picked up again later."""
    outcome = versioned.attempt(2, suffix="\nraise RuntimeError('broken')\n")
    assert isinstance(outcome.error, hr.ReloadError)
    assert versioned.loaded_version() == 1
    versioned.path.write_text(versioned.text(3))
    versioned.texts[3] = versioned.text(3)
    other = versioned.project.reload("pkg/other.py", "X = 1\n")
    assert "pkg.base" in versioned.project.mods(other)
    assert versioned.loaded_version() == 3


def test_bytecode_is_written_and_valid_after_faults_elsewhere(
    versioned: Versioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The control for the two bytecode tests above: here the ``.pyc`` is written."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    pyc = _pyc(versioned.path)
    pyc.unlink(missing_ok=True)
    outcome = versioned.attempt(2)
    assert outcome.result is not None and "warnings" not in outcome.result["recompiled"][0]
    assert bytecode.flush() and pyc.is_file()


def test_an_interrupt_while_bytecode_is_written_behind_stops_nothing(
    versioned: Versioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The .pyc is written after the reload returns (SPEC 1.1 step 5): a Ctrl-C landing in
    the writer loses that one .pyc, and the writer goes on with the next."""
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    pyc = _pyc(versioned.path)
    pyc.unlink(missing_ok=True)
    real = bytecode.write_pyc
    calls: list[int] = []

    def interrupt_once(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(bytecode, "write_pyc", interrupt_once)
    assert versioned.attempt(2).error is None
    assert bytecode.flush() and not pyc.exists() and calls == [1]
    assert versioned.attempt(3).error is None
    assert bytecode.flush() and pyc.is_file() and len(calls) == 2


def test_interpreter_without_bytecode_writing_leaves_no_pyc(
    versioned: Versioned, monkeypatch: pytest.MonkeyPatch
) -> None:
    pyc = _pyc(versioned.path)
    pyc.unlink(missing_ok=True)
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    assert versioned.attempt(2).error is None
    assert not pyc.exists()
