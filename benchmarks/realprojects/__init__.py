"""Hot reload on real code bases, side by side with the alternatives a user has.

    python -m benchmarks.realprojects            # the full run (about 10 minutes on 2 cores)
    python -m benchmarks.realprojects --quick    # a smoke run (a few rounds)
    python -m benchmarks.realprojects --profile body --codebase pygments

Two pinned releases from PyPI (downloaded once with ``pip download`` into a cache directory)
are copied in as the user's project, a plain directory on ``sys.path``, once per contender:

- **pygments** (hub-shaped): some 250 lexer modules import ``pygments.lexer`` and subclass
  ``RegexLexer``; ``pygments.unistring``'s character classes are read at import time;
- **networkx** (star-shaped): every package ``__init__`` re-exports its modules' ``__all__``
  with ``from .mod import *``, up to ``networkx/__init__``; ``Graph`` is the root of
  ``DiGraph``, ``MultiGraph`` and ``MultiDiGraph`` (and of subclasses in the algorithms).

The edits (``codebases.py`` says which exist where): a body edit of a widely used method in
a big module, a new method on a widely subclassed class, a constant read at import time by
other modules, a new public function exported through ``__all__`` and star imports, and the
first reload of a fresh process. The contenders (``contenders.py``), each on its own copy in
its own process, take turns edit by edit (``driver.py``): ours (``HotReloader``, formatter
None and the default ruff), the floor (write + ``importlib.reload`` of the module alone),
``%autoreload 2`` with deduperreload (its reload work, and its whole triggering cell) and
jurigged. After every edit each process counts what it left stale (``edits.py``).
"""
