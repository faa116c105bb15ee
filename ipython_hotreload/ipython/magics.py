"""``%%hotreload PATH`` (write a module from a cell and reload it) and ``%hotreload`` (status,
edges, purge, panel, watch)."""

from __future__ import annotations

import os
import shlex
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from IPython.core import magic_arguments as _magic_arguments
from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

from ipython_hotreload.core.engine import HotReloader
from ipython_hotreload.core.events import subscriber_count
from ipython_hotreload.core.labels import EDGE_LABELS
from ipython_hotreload.errors import HotReloadError
from ipython_hotreload.ipython.report import display_path, short_traceback, summary_line

__all__ = ["HotReloadMagics", "format_edges", "format_status"]

_F = TypeVar("_F", bound=Callable[..., Any])


# IPython's magic decorators are untyped or typed as unions; these shims keep the magics typed.
_ipython_args: Any = _magic_arguments


def magic_arguments() -> Callable[[_F], _F]:
    """IPython's ``magic_arguments()``: build a magic's parser from its ``argument`` list."""
    return cast(Callable[[_F], _F], _ipython_args.magic_arguments())


def argument(*args: Any, **kwargs: Any) -> Callable[[_F], _F]:
    """IPython's ``argument(...)``: one argparse argument of a magic."""
    return cast(Callable[[_F], _F], _ipython_args.argument(*args, **kwargs))


def parse_argstring(magic: Callable[..., Any], line: str) -> Any:
    """Parse a magic's argument line with the parser its decorators built. Options may come
    between positionals (``edges --label compile pkg.mod``), hence the intermixed parse."""
    try:
        # POSIX splitting, so a quoted path with spaces arrives without its quotes.
        argv = shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"cannot parse {line!r}: {exc}") from None
    return magic.parser.parse_intermixed_args(argv)  # type: ignore[attr-defined]


def named_magic(kind: str, name: str) -> Callable[[_F], _F]:
    """IPython's ``line_magic(name)`` / ``cell_magic(name)``."""
    marker = line_magic if kind == "line" else cell_magic
    return cast(Callable[[_F], _F], marker(name))


_ACTIONS = ("status", "edges", "purge", "panel", "watch", "workers")


def format_edges(edges: list[dict[str, Any]]) -> str:
    """Edges as an aligned ``from / to / label`` table."""
    if not edges:
        return "no dependency edges"
    rows = [("from", "to", "label"), *((e["from"], e["to"], e["label"]) for e in edges)]
    width_from = max(len(r[0]) for r in rows)
    width_to = max(len(r[1]) for r in rows)
    lines = [f"{a:<{width_from}}  {b:<{width_to}}  {c}".rstrip() for a, b, c in rows]
    lines.insert(1, f"{'-' * width_from}  {'-' * width_to}  -------")
    return "\n".join(lines)


def _describe_last_reload(last: Any) -> str:
    if not last:
        return "none yet"
    if not isinstance(last, dict):
        return str(last)
    parts = [str(last.get("mod") or "?")]
    at = last.get("at")
    if isinstance(at, int | float):
        parts.append(f"at {datetime.fromtimestamp(at):%H:%M:%S}")
    modules = last.get("modules")
    if isinstance(modules, list):
        parts.append(f"{len(modules)} module{'' if len(modules) == 1 else 's'} re-executed")
    elapsed = last.get("elapsed_ms")
    if isinstance(elapsed, int | float):
        parts.append(f"{elapsed:.1f} ms")
    return ", ".join(parts)


def format_status(status: dict[str, Any]) -> str:
    """The ``%hotreload`` status block from ``HotReloader.status()``."""
    subscribers = status.get("subscribers", subscriber_count())
    watching = status.get("watching") or []
    rows = [
        ("roots", ", ".join(str(r) for r in status.get("roots", [])) or "(none)"),
        ("formatter", str(status.get("formatter"))),
        ("modules", f"{status.get('modules', 0)} in the dependency graph"),
        ("subscribers", str(subscribers)),
        ("watching", ", ".join(str(w) for w in watching) if watching else "off"),
        ("last reload", _describe_last_reload(status.get("last_reload"))),
    ]
    return "ipython_hotreload\n" + "\n".join(f"  {k + ':':<13}{v}" for k, v in rows)


@magics_class
class HotReloadMagics(Magics):
    """The ``hotreload`` line and cell magics, acting on the configured default reloader."""

    # What ``%load_ext`` attached (an ``extension.Extension``), so ``%unload_ext`` finds it.
    extension: Any = None

    def __init__(self, shell: Any, get_reloader: Callable[[], HotReloader]) -> None:
        super().__init__(shell)
        self._get_reloader = get_reloader

    @named_magic("cell", "hotreload")
    @magic_arguments()
    @argument("path", help="the module file to write, relative to the working directory")
    @argument("--no-format", action="store_true", help="write the text exactly as typed")
    @argument("--quiet", action="store_true", help="print nothing on success")
    def hotreload_cell(self, line: str, cell: str) -> None:
        """%%hotreload PATH [--no-format] [--quiet]: the cell is the new content of PATH.

        The file is written (formatted unless --no-format), the module is re-executed with
        its dependents, and every reference to its functions and classes sees the new code.
        On failure nothing changes, the text stays on disk, and the cell fails.
        """
        args = parse_argstring(self.hotreload_cell, line)
        # A relative path stays relative: the reloader takes it from the working directory
        # and its errors then quote the path as the user typed it.
        path = Path(os.path.expanduser(args.path))
        content = cell if not cell or cell.endswith("\n") else cell + "\n"
        started = time.perf_counter()
        try:
            result = self._get_reloader().reload(path, content, format=not args.no_format)
        except HotReloadError as err:
            raise short_traceback(err) from err.__cause__
        if not args.quiet:
            print(summary_line(path, result, (time.perf_counter() - started) * 1000))

    @named_magic("line", "hotreload")
    @magic_arguments()
    @argument("action", nargs="?", default="status", help=f"one of: {', '.join(_ACTIONS)}")
    @argument("targets", nargs="*", help="a module (edges, purge, panel) or paths (watch)")
    @argument("--label", action="append", help="edges: only this label (repeatable)")
    @argument("--stop", action="store_true", help="watch: stop watching")
    def hotreload_line(self, line: str) -> None:
        """%hotreload [status | edges [--label L] [MODULE] | purge MODULE | panel [MODULE] |
        watch [PATH ...] | watch --stop]
        """
        args = parse_argstring(self.hotreload_line, line)
        action: str = args.action
        targets: list[str] = args.targets
        if action not in _ACTIONS:
            raise UsageError(f"unknown %hotreload action {action!r}; use one of {_ACTIONS}")
        if action == "workers":  # SPEC 2.4: ipython/workers.py owns it
            return _workers(self._get_reloader(), targets, stop=args.stop)
        if action != "watch" and len(targets) > 1:
            raise UsageError(f"%hotreload {action} takes at most one module")
        if args.label and action != "edges":
            raise UsageError("--label only goes with %hotreload edges")
        if args.stop and action != "watch":
            raise UsageError("--stop only goes with %hotreload watch")
        reloader = self._get_reloader()
        if action == "status":
            print(format_status(reloader.status()))
        elif action == "edges":
            self._edges(reloader, targets[0] if targets else None, args.label)
        elif action == "purge":
            if not targets:
                raise UsageError("%hotreload purge needs a module name")
            reloader.purge_module(targets[0])
            print(f"hotreload: purged {targets[0]}")
        elif action == "panel":
            show_panel(targets[0] if targets else None)
        else:
            paths = [Path(os.path.expanduser(t)) for t in targets]
            watch(reloader, paths, stop=args.stop, shell=self.shell)

    @staticmethod
    def _edges(reloader: HotReloader, module: str | None, labels: list[str] | None) -> None:
        if labels and set(labels) - set(EDGE_LABELS):
            raise UsageError(f"--label must be one of {', '.join(EDGE_LABELS)}")
        edges = reloader.compile_dep_edges(labels=labels or None)
        if module is not None:
            edges = [e for e in edges if module in (e["from"], e["to"])]
        print(format_edges(edges))


def _workers(reloader: HotReloader, targets: list[str], *, stop: bool) -> None:
    from ipython_hotreload.ipython.workers import workers_command

    if targets:
        raise UsageError("%hotreload workers takes no argument but --stop")
    workers_command(reloader, stop=stop)


def show_panel(module: str | None) -> None:
    """``%hotreload panel``: hand over to the widgets package, which displays the panel."""
    try:
        from ipython_hotreload.widgets import show_panel as show
    except ImportError as exc:
        print(
            "hotreload: panels are not available here "
            f"(ipython_hotreload.widgets could not be imported: {exc}); "
            "install ipywidgets and anywidget and restart the kernel."
        )
        return
    show(module)


def watch(reloader: HotReloader, paths: list[Path], *, stop: bool, shell: Any = None) -> None:
    """``%hotreload watch [PATH ...]`` / ``watch --stop``: start or stop watching files. In a
    kernel, batches run on its main loop between cells (``kernel_scheduler``)."""
    method = getattr(reloader, "stop_watching" if stop else "watch", None)
    if method is None:
        print("hotreload: watch mode is not available in this version yet")
        return
    if stop:
        method()
        print("hotreload: stopped watching")
        return
    from ipython_hotreload.ipython.watch import kernel_scheduler

    # Outside a kernel (terminal IPython) there is no loop to hand batches to: None makes the
    # watcher run them in its own thread.
    method(paths or None, schedule=kernel_scheduler(shell) if shell is not None else None)
    shown = ", ".join(display_path(p) for p in paths) if paths else "the project roots"
    print(f"hotreload: watching {shown} for changes made by other editors")
