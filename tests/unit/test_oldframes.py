"""The panels' "running the old version" marks come off once those calls return."""

from __future__ import annotations

import threading
import time

from ipython_hotreload.ipython.oldframes import OldFrames
from tests.conftest import Project


def test_a_mark_comes_off_once_the_old_frame_returns_and_not_before(project: Project) -> None:
    project.files({"pkg/__init__.py": "", "pkg/w.py": "def hold(e):\n    e.wait()\n"})
    w = project.import_("pkg.w")
    cleared: list[tuple[str, str | None, str | None]] = []
    done = threading.Event()

    def clear(mod: str, qualname: str | None = None, *, thread: str | None = None) -> None:
        cleared.append((mod, qualname, thread))
        done.set()

    frames = OldFrames(project.reloader.still_running, clear)
    release = threading.Event()
    holder = threading.Thread(target=w.hold, args=(release,), name="holder")
    holder.start()
    try:
        result = project.reload("pkg/w.py", "def hold(e):\n    return e.wait()\n")
        assert result["recompiled"][0]["running_old"] == [{"qualname": "hold", "thread": "holder"}]
        # While the old frame runs, the watcher checks and leaves the mark on.
        assert not done.wait(0.6) and cleared == []
        release.set()
        holder.join(30)
        assert done.wait(30)  # (a deadline, not a delay: it is polled a few times a second)
        assert cleared == [("pkg.w", "hold", "holder")]
    finally:
        release.set()
        holder.join(30)
        frames.close()


def test_nothing_runs_while_no_mark_is_up(project: Project) -> None:
    project.files({"pkg/__init__.py": "", "pkg/v.py": "def f():\n    return 1\n"})
    project.import_("pkg.v")
    asked: list[float] = []

    def still_running() -> list[dict[str, str]]:
        asked.append(time.monotonic())
        return []

    frames = OldFrames(still_running, lambda *a, **k: None)
    try:
        project.reload("pkg/v.py", "def f():\n    return 2\n")  # no frame runs the old code
        assert not [t for t in threading.enumerate() if t.name == "hotreload-old-frames"]
        assert asked == []
    finally:
        frames.close()
