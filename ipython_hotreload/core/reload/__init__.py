"""Running a reload: the statement diff, running a plan, patching with its undo journal, payloads, analysis, bytecode, history."""
