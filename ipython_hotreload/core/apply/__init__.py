"""Putting a change into live objects: a plan's run, the minimal update, the function patcher, class merging, references, the undo journal, what a rollback cannot undo."""
