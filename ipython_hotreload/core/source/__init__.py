"""What a module runs and what changed: its statements, a new text read from the last one's index, the text each loaded module runs, compiling a module's new source."""
