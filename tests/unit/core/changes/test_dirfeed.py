"""Exact change notifications for watched directories (inotify): every write completed
before a look is in it, and whatever the feed cannot vouch for it says so."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from ipython_hotreload.core.changes.dirfeed import DirectoryFeed

pytestmark = pytest.mark.skipif(DirectoryFeed.create() is None, reason="needs Linux inotify")


@pytest.fixture
def feed() -> Iterator[DirectoryFeed]:
    made = DirectoryFeed.create()
    assert made is not None
    yield made
    made.close()


def test_writes_creations_and_deletions_are_reported_once(
    feed: DirectoryFeed, tmp_path: Path
) -> None:
    watched = tmp_path / "pkg"
    watched.mkdir()
    (watched / "old.py").write_text("X = 1\n")
    assert feed.watch(str(watched)) and feed.watching(str(watched))
    assert feed.device(str(watched)) == watched.stat().st_dev
    assert feed.changed() == set()
    (watched / "old.py").write_text("X = 2\n")
    (watched / "new.py").write_text("")
    os.unlink(watched / "old.py")
    assert feed.changed() == {str(watched / "old.py"), str(watched / "new.py")}
    assert feed.changed() == set()  # drained
    (tmp_path / "elsewhere.py").write_text("")  # in an ancestor: not a watched file
    assert feed.changed() == set()


def test_a_directory_renamed_or_deleted_is_reported_and_no_longer_watched(
    feed: DirectoryFeed, tmp_path: Path
) -> None:
    moved, deleted = tmp_path / "a" / "moved", tmp_path / "deleted"
    moved.mkdir(parents=True)
    deleted.mkdir()
    assert feed.watch(str(moved)) and feed.watch(str(deleted))
    os.rename(tmp_path / "a", tmp_path / "a2")  # an ancestor of a watched directory
    os.rmdir(deleted)
    changed = feed.changed()
    assert changed is not None and {str(moved), str(deleted)} <= changed
    assert not feed.watching(str(moved)) and not feed.watching(str(deleted))


def test_what_cannot_be_watched_exactly_is_refused(feed: DirectoryFeed, tmp_path: Path) -> None:
    assert not feed.watch("relative/dir")
    assert not feed.watch(str(tmp_path / "missing"))
    assert not feed.watching(str(tmp_path / "missing"))
    assert feed.device(str(tmp_path / "missing")) is None
    assert not feed.watch("/proc/sys/fs")  # not a local file system whose changes it sees


def test_an_overflowing_queue_says_anything_may_have_changed(
    feed: DirectoryFeed, tmp_path: Path
) -> None:
    assert feed.watch(str(tmp_path))
    try:
        limit = int(Path("/proc/sys/fs/inotify/max_queued_events").read_text())
    except OSError:
        limit = 16384
    fds = [os.open(tmp_path / name, os.O_WRONLY | os.O_CREAT) for name in ("a", "b")]
    try:
        for i in range(limit + 100):
            os.write(fds[i % 2], b"x")  # alternating, so the kernel cannot merge them
    finally:
        for fd in fds:
            os.close(fd)
    assert feed.changed() is None
    assert not feed.watching(str(tmp_path))  # every watch dropped: start afresh
    assert feed.watch(str(tmp_path)) and feed.changed() == set()


def test_a_closed_feed_reports_nothing_it_cannot_vouch_for(tmp_path: Path) -> None:
    feed = DirectoryFeed.create()
    assert feed is not None and feed.usable
    assert feed.watch(str(tmp_path))
    feed.close()
    assert not feed.usable and feed.changed() is None
    assert not feed.watching(str(tmp_path)) and not feed.watch(str(tmp_path))
    feed.close()  # twice is fine
