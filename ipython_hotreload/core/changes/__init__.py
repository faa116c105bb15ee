"""Noticing changes: which loaded modules are the project's and stale, the change feed, the file watcher."""
