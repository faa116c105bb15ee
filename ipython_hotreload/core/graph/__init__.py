"""Building the module graph: scanning files, import records, the worker pool, project files, the labelled graph and dependency order."""
