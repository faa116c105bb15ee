"""Editing files: one definition of a file, history and undo, bytecode."""
