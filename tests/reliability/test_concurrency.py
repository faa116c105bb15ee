"""Reloads from many threads at once, and an outside editor racing them.

Reloads are serialised (one lock), so: each reload's events arrive as one contiguous run, in
the order the reloads took effect; nothing deadlocks (every thread is joined with a timeout);
no reload is lost (at the end, each module runs, and its dependent copies, exactly the text
last written to its file).
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import ipython_hotreload as hr
from tests.conftest import Project

MODULES = 4
JOIN_TIMEOUT = 60.0


def base_text(tag: str) -> str:
    return f'VALUE = "{tag}"\n\n\ndef get():\n    return "{tag}"\n'


def dep_text(k: int) -> str:
    # VALUE read at import time: a compile edge, so the dependent runs after every reload.
    return f"from b{k} import VALUE, get\n\nCOPY = VALUE\n\n\ndef through():\n    return get()\n"


class Race:
    """``b0..b3`` each with a compile-dependent ``d0..d3``; a log of every event with the
    thread that published it; per-thread lists of what each call returned."""

    def __init__(self, project: Project) -> None:
        self.project = project
        for k in range(MODULES):
            project.write(f"b{k}.py", base_text("initial"))
            project.write(f"d{k}.py", dep_text(k))
        for k in range(MODULES):
            project.import_(f"d{k}")
        self.log: list[tuple[str, str, str | None]] = []
        self.expected: dict[str, list[list[tuple[str, str | None]]]] = {}
        self.errors: list[tuple[str, BaseException]] = []
        self.hashes: list[tuple[str | None, str | None]] = []  # (mod, source_hash) per event
        self._sub = hr.subscribe(self._on_event)

    def _on_event(self, event: hr.ModuleEvent) -> None:
        self.log.append((threading.current_thread().name, event.kind, event.mod))
        self.hashes.append((event.mod, (event.payload or {}).get("source_hash")))

    def close(self) -> None:
        self._sub.close()

    def path(self, k: int) -> Path:
        return self.project.path(f"b{k}.py")

    def record(self, name: str, events: list[tuple[str, str | None]]) -> None:
        self.expected.setdefault(name, []).append(events)

    def run(self, workers: dict[str, Callable[[], None]]) -> None:
        """Start every worker at once; join each with a timeout (a deadlock fails here)."""
        start = threading.Barrier(len(workers))

        def wrap(name: str, fn: Callable[[], None]) -> Callable[[], None]:
            def body() -> None:
                try:
                    start.wait(timeout=JOIN_TIMEOUT)
                    fn()
                except BaseException as exc:  # reported by the test, never lost in a thread
                    self.errors.append((name, exc))

            return body

        threads = [threading.Thread(target=wrap(n, f), name=n) for n, f in workers.items()]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=JOIN_TIMEOUT)
        stuck = [t.name for t in threads if t.is_alive()]
        assert stuck == [], f"threads still running after {JOIN_TIMEOUT}s (deadlock?): {stuck}"
        assert self.errors == [], self.errors

    def check_contiguous(self) -> None:
        """Every call's events form one unbroken run of the global log, in call order."""
        queues = {name: list(calls) for name, calls in self.expected.items()}
        i = 0
        while i < len(self.log):
            thread = self.log[i][0]
            pending = queues.get(thread)
            assert pending, f"unexpected event {self.log[i]} (nothing left for {thread})"
            run = pending.pop(0)
            got = [(kind, mod) for _, kind, mod in self.log[i : i + len(run)]]
            who = {t for t, _, _ in self.log[i : i + len(run)]}
            assert got == run and who == {thread}, (
                f"events of one reload by {thread} interleaved with another's: "
                f"expected {run}, got {self.log[i : i + len(run)]}"
            )
            i += len(run)
        leftover = {name: q for name, q in queues.items() if q}
        assert leftover == {}, f"reloads whose events never arrived: {leftover}"

    def check_final_state(self) -> None:
        """Each module runs the text on its disk, and so do its dependent's copies."""
        for k in range(MODULES):
            text = self.path(k).read_text()
            tag = text.split('"')[1]
            assert text == base_text(tag), f"b{k}.py is not a complete text: {text!r}"
            b, d = sys.modules[f"b{k}"], sys.modules[f"d{k}"]
            seen = {"b.VALUE": b.VALUE, "b.get()": b.get(), "d.COPY": d.COPY}
            seen["d.through()"] = d.through()
            assert set(seen.values()) == {tag}, f"b{k}: disk has {tag!r}, loaded {seen}"


def events_of(result: dict[str, Any], saved: str | None) -> list[tuple[str, str | None]]:
    written: list[tuple[str, str | None]] = [("source_written", saved)] if saved else []
    return written + [("recompiled", p["mod"]) for p in result["recompiled"]]


@pytest.fixture
def race(project: Project) -> Any:
    r = Race(project)
    yield r
    r.close()


def test_eight_threads_reloading_at_once(race: Race) -> None:
    written: dict[int, list[str]] = {k: [] for k in range(MODULES)}

    def worker(t: int) -> Callable[[], None]:
        def body() -> None:
            for i in range(10):
                k = (t + i) % MODULES
                tag = f"t{t}-i{i}"
                result = race.project.reloader.reload(race.path(k), base_text(tag))
                assert [p["mod"] for p in result["recompiled"]][:2] == [f"b{k}", f"d{k}"]
                race.record(f"w{t}", events_of(result, f"b{k}"))
                written[k].append(tag)

        return body

    race.run({f"w{t}": worker(t) for t in range(8)})
    assert sum(len(v) for v in race.expected.values()) == 80
    race.check_contiguous()
    race.check_final_state()
    # The last reload of each file to take effect (by the event order) is what is on disk.
    last = {mod: h for mod, h in race.hashes if h is not None}
    for k in range(MODULES):
        data = race.path(k).read_bytes()
        assert last[f"b{k}"] == hashlib.sha256(data).hexdigest()
        assert sys.modules[f"b{k}"].VALUE in written[k]


def _editor_write(path: Path, text: str) -> None:
    """Save as editors do: a temporary file, then a rename over the old one."""
    tmp = path.with_name(f".{path.name}.editor")
    tmp.write_text(text)
    os.replace(tmp, path)


def test_watcher_reload_from_disk_racing_reload(race: Race) -> None:
    """An editor saves files behind the reloader's back and a watcher reloads them from disk,
    while three threads save through ``reload``: nothing deadlocks, nothing is lost."""
    reloader = race.project.reloader

    def saver(t: int) -> Callable[[], None]:
        def body() -> None:
            for i in range(10):
                k = (t + i) % MODULES
                result = reloader.reload(race.path(k), base_text(f"s{t}-{i}"))
                race.record(f"s{t}", events_of(result, f"b{k}"))

        return body

    def watcher() -> None:
        for i in range(20):
            k = i % MODULES
            _editor_write(race.path(k), base_text(f"editor-{i}"))
            result = reloader.reload_from_disk([race.path(k)])
            race.record("watcher", events_of(result, None))

    race.run({"s0": saver(0), "s1": saver(1), "s2": saver(2), "watcher": watcher})
    race.check_contiguous()
    race.check_final_state()


def test_an_edit_landing_mid_reload_is_not_lost(race: Race) -> None:
    """An editor saves ``b0`` while a reload of ``b0`` is still running (here: while its
    dependent executes). With no watcher running, the next reload must notice that the file
    on disk is not the text that runs, and run it."""
    editor_text = base_text("saved-by-the-editor")
    hook = race.project.write(
        "d0.py",
        "import os\nfrom b0 import VALUE, get\n\nCOPY = VALUE\n\n\ndef through():\n"
        "    return get()\n\n\n"
        "if VALUE == 'mid-reload':\n"
        f"    _tmp = {str(race.path(0))!r} + '.editor'\n"
        "    with open(_tmp, 'w') as fh:\n"
        f"        fh.write({editor_text!r})\n"
        f"    os.replace(_tmp, {str(race.path(0))!r})\n",
    )
    race.project.reloader.reload_from_disk([hook])
    race.project.reloader.reload(race.path(0), base_text("mid-reload"))
    assert race.path(0).read_text() == editor_text
    # Any later reload picks up files changed on disk behind the reloader's back.
    race.project.reload("other.py", "X = 1\n")
    b0 = sys.modules["b0"]
    assert b0.VALUE == "saved-by-the-editor", "the editor's save was lost"


def test_reloads_of_different_reloaders_are_serialised_too(
    project: Project, tmp_path: Path
) -> None:
    """Two HotReloader objects share sys.modules, so they share the lock as well."""
    other_root = tmp_path / "other"
    other_root.mkdir()
    sys.path.insert(0, str(other_root))
    second = hr.HotReloader(roots=[other_root], formatter=None)
    (other_root / "o.py").write_text(base_text("0"))
    project.write("p.py", base_text("0"))
    project.import_("o")
    project.import_("p")
    log: list[tuple[str, str, str | None]] = []
    expected: dict[str, list[list[tuple[str, str | None]]]] = {"a": [], "b": []}
    errors: list[BaseException] = []

    with hr.subscribe(lambda e: log.append((threading.current_thread().name, e.kind, e.mod))):

        def body(name: str, reloader: hr.HotReloader, path: Path, mod: str) -> None:
            try:
                for i in range(15):
                    result = reloader.reload(path, base_text(f"{name}{i}"))
                    expected[name].append(events_of(result, mod))
            except BaseException as exc:
                errors.append(exc)

        threads = [
            threading.Thread(
                target=body, args=("a", project.reloader, project.path("p.py"), "p"), name="a"
            ),
            threading.Thread(target=body, args=("b", second, other_root / "o.py", "o"), name="b"),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=JOIN_TIMEOUT)
    second.close()
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    i = 0
    while i < len(log):
        run = expected[log[i][0]].pop(0)
        assert [(k, m) for _, k, m in log[i : i + len(run)]] == run
        assert {t for t, _, _ in log[i : i + len(run)]} == {log[i][0]}
        i += len(run)
    assert sys.modules["p"].VALUE == "a14" and sys.modules["o"].VALUE == "b14"
