"""``%%hotreload PATH|TARGET`` (write a module, or one definition, from a cell and reload it)
and ``%hotreload ACTION`` (status, edges, purge, panel, watch, history, undo, edit).

The line magic's actions are one table, :data:`ACTIONS`: an action is its usage line, a
summary, its arguments and the function that runs it, so adding one is adding an entry
(``ACTIONS["workers"] = Action(...)``). ``%hotreload --help`` prints the table.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal, NoReturn, TypeVar, cast

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import (
    MagicArgumentParser,
    argument,
    kwds,
    magic_arguments,
)

from ipython_hotreload.core.edit.definitions import changed_line_count
from ipython_hotreload.core.edit.indentation import dedent_definition
from ipython_hotreload.core.edit.targets import is_definition_target
from ipython_hotreload.core.engine import HotReloader, Status
from ipython_hotreload.core.events import subscriber_count
from ipython_hotreload.core.paths import is_within, sys_path_dirs
from ipython_hotreload.core.results import EDGE_LABELS
from ipython_hotreload.errors import HotReloadError
from ipython_hotreload.ipython.report import (
    display_path,
    short_traceback,
    summary_line,
    undo_line,
)

__all__ = [
    "ACTIONS",
    "Action",
    "HotReloadMagics",
    "format_edges",
    "format_history",
    "format_status",
    "usage",
]

Argument = tuple[tuple[str, ...], dict[str, Any]]
_F = TypeVar("_F", bound=Callable[..., Any])


def named_magic(kind: str, name: str) -> Callable[[_F], _F]:
    """IPython's ``line_magic(name)`` / ``cell_magic(name)``, typed."""
    marker = line_magic if kind == "line" else cell_magic
    return cast(Callable[[_F], _F], marker(name))


def declared(usage_line: str, *arguments: Argument) -> Callable[[_F], _F]:
    """IPython's ``@magic_arguments()`` with one ``@argument`` per entry, typed: the magic's
    parser, and its help as its docstring (``%hotreload?``)."""

    def decorate(fn: _F) -> _F:
        for flags, kwargs in reversed(arguments):
            fn = argument(*flags, **kwargs)(fn)  # type: ignore[no-untyped-call]
        # IPython's help puts a "%" before the usage, and argparse %-formats it.
        usage = usage_line.removeprefix("%").replace("%", "%%")
        fn = kwds(usage=usage)(fn)  # type: ignore[no-untyped-call]
        return cast(_F, magic_arguments()(fn))  # type: ignore[no-untyped-call]

    return decorate


def parsed(magic: Callable[..., Any], line: str, *, intermixed: bool = True) -> argparse.Namespace:
    """The arguments of a ``declared`` magic, parsed from its line (``intermixed``: options
    may come after positionals; not with a positional that takes the rest of the line); a
    mistake is a one-line ``UsageError`` that shows the usage."""
    parser: MagicArgumentParser = getattr(magic, "parser")
    argv = _split(line)
    try:
        if not intermixed:
            return parser.parse_args(argv)
        return parser.parse_intermixed_args(argv)
    except UsageError as exc:
        usage_line = "%" + str(parser.usage).replace("%%", "%")
        raise UsageError(f"{exc} (usage: {usage_line})") from None


@dataclass(frozen=True)
class Action:
    """One ``%hotreload`` action: ``run(magics, args)`` with ``args`` parsed from
    ``arguments`` (argparse ``add_argument`` flags and keywords)."""

    usage: str
    summary: str
    run: Callable[[HotReloadMagics, argparse.Namespace], None]
    arguments: tuple[Argument, ...] = ()


class _Parser(MagicArgumentParser):
    """IPython's magic parser (its errors are one-line ``UsageError``s: the cell fails
    instead of the kernel's process exiting), saying which action and its usage."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (usage: {self.format_usage().strip()[7:]})")


def _parser(prog: str, usage_line: str, arguments: tuple[Argument, ...]) -> MagicArgumentParser:
    """An action's parser."""
    # argparse %-formats the usage (for %(prog)s): the magics' own % signs are escaped.
    parser = _Parser(prog=prog, usage=usage_line.replace("%", "%%"))  # type: ignore[no-untyped-call]
    for flags, kwargs in arguments:
        parser.add_argument(*flags, **kwargs)
    return parser


def _split(line: str) -> list[str]:
    try:
        # POSIX splitting, so a quoted path with spaces arrives without its quotes.
        return shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"cannot parse {line!r}: {exc}") from None


def _wants_help(argv: list[str]) -> bool:
    return any(a in ("-h", "--help") for a in argv)


# -- formatting ------------------------------------------------------------------------------


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


def format_status(status: Status) -> str:
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


def format_history(entries: list[dict[str, Any]]) -> str:
    """``HotReloader.history()`` as a table, newest first."""
    if not entries:
        return "no reloads yet"
    rows = [("id", "at", "origin", "modules", "files")]
    for e in entries:
        mark = " (undone)" if e.get("undone") else ""
        files = ", ".join(display_path(f["path"]) for f in e["files"])
        at = datetime.fromtimestamp(e["at"]).strftime("%H:%M:%S")
        rows.append((str(e["id"]), at, e["origin"] + mark, ", ".join(e["mods"]), files))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(r[:4], widths, strict=True)) + "  " + r[4]
        for r in rows
    ).rstrip()


CELL_USAGE = (
    "%%hotreload PATH [--no-format] [--quiet] [--full]     the cell is the new text of PATH\n"
    "%%hotreload TARGET [--no-format] [--quiet]            the cell is one new definition\n"
    "    TARGET: pkg.mod:func, pkg.mod:Class.method or path/to/mod.py::Class.method"
)


def usage() -> str:
    """The help of both magics: every ``%hotreload`` action, then ``%%hotreload``."""
    width = max(len(a.usage) for a in ACTIONS.values()) + 2
    lines = ["usage: %hotreload [ACTION] [--help]", ""]
    lines += [f"  %hotreload {a.usage:<{width}}{a.summary}" for a in ACTIONS.values()]
    lines += ["", *CELL_USAGE.splitlines()]
    return "\n".join(lines)


# -- the actions -------------------------------------------------------------------------------


def _status(magics: HotReloadMagics, args: argparse.Namespace) -> None:
    print(format_status(magics.reloader().status()))


def _edges(magics: HotReloadMagics, args: argparse.Namespace) -> None:
    labels: list[str] | None = args.label
    if labels and set(labels) - set(EDGE_LABELS):
        raise UsageError(f"--label must be one of {', '.join(EDGE_LABELS)}")
    edges = magics.reloader().compile_dep_edges(labels=labels or None)
    if args.module is not None:
        edges = [e for e in edges if args.module in (e["from"], e["to"])]
    print(format_edges(edges))


def _purge(magics: HotReloadMagics, args: argparse.Namespace) -> None:
    mod: str = args.module
    was_loaded = mod in sys.modules
    magics.reloader().purge_module(mod)  # broadcasts either way: panels drop what they hold
    if was_loaded:
        print(f"hotreload: purged {mod}")
    else:
        print(
            f"hotreload: {mod} was not loaded, so nothing was purged (panels were told to drop it)"
        )


def _panel(magics: HotReloadMagics, args: argparse.Namespace) -> None:
    show_panel(args.module)


def _watch(magics: HotReloadMagics, args: argparse.Namespace) -> None:
    paths = [Path(os.path.expanduser(p)) for p in args.paths]
    if args.stop and paths:
        raise UsageError("%hotreload watch --stop takes no paths")
    watch(magics.reloader(), paths, stop=args.stop, shell=magics.shell)


def _workers(magics: HotReloadMagics, args: argparse.Namespace) -> None:
    from ipython_hotreload.ipython.workers import workers_command

    workers_command(magics.reloader(), stop=args.stop)


def _history(magics: HotReloadMagics, args: argparse.Namespace) -> None:
    print(format_history(magics.reloader().history()))


def _undo(magics: HotReloadMagics, args: argparse.Namespace) -> None:
    started = time.perf_counter()
    result = magics.reloader().undo(args.steps, force=args.force)
    print(undo_line(result, (time.perf_counter() - started) * 1000))


def _edit(magics: HotReloadMagics, args: argparse.Namespace) -> None:
    target: str = args.target
    if not is_definition_target(target):
        raise UsageError(
            f"%hotreload edit takes a definition (pkg.mod:func, pkg.mod:Class.method or "
            f"path/to/mod.py::func), not {target!r}"
        )
    found = magics.reloader().source_of(target)
    text = dedent_definition(found["source"])
    shell: Any = magics.shell
    shell.set_next_input(f"%%hotreload {target}\n{text}", replace=False)
    where = f"{display_path(found['path'])}:{found['lineno']}"
    print(f"hotreload: the next cell holds {found['qualname']} ({where}); edit it and run it")


def _module(help_text: str, optional: bool = True) -> Argument:
    return (("module",), {"nargs": "?" if optional else None, "help": help_text})


ACTIONS: dict[str, Action] = {
    "status": Action("status", "roots, formatter, modules, watching, last reload", _status),
    "edges": Action(
        "edges [--label L] [MODULE]",
        "the labelled dependency graph (only MODULE's edges)",
        _edges,
        (
            (("--label",), {"action": "append", "help": "only this label (repeatable)"}),
            _module("only edges from or to this module"),
        ),
    ),
    "purge": Action(
        "purge MODULE",
        "forget a module (its .pyc too) and tell the panels",
        _purge,
        ((("module",), {"help": "the dotted module name"}),),
    ),
    "panel": Action("panel [MODULE]", "show a live panel", _panel, (_module("the module"),)),
    "watch": Action(
        "watch [PATH ...] | watch --stop",
        "follow edits made in other editors (default: the roots)",
        _watch,
        (
            (("paths",), {"nargs": "*", "help": "files or directories inside the roots"}),
            (("--stop",), {"action": "store_true", "help": "stop watching"}),
        ),
    ),
    "workers": Action(
        "workers [--stop]",
        "apply every reload on the current Dask cluster's workers, and show them",
        _workers,
        ((("--stop",), {"action": "store_true", "help": "stop sending reloads to workers"}),),
    ),
    "history": Action("history", "the reloads so far, newest first", _history),
    "undo": Action(
        "undo [N] [--force]",
        "revert the last N reloads (an undo is undone by the next)",
        _undo,
        (
            (("steps",), {"nargs": "?", "type": int, "default": 1, "help": "how many entries"}),
            (("--force",), {"action": "store_true", "help": "even over edits made since"}),
        ),
    ),
    "edit": Action(
        "edit TARGET",
        "fill the next cell with %%hotreload TARGET and its source",
        _edit,
        ((("target",), {"help": "pkg.mod:func, pkg.mod:Class.method or mod.py::func"}),),
    ),
}


# -- the magics --------------------------------------------------------------------------------


@magics_class
class HotReloadMagics(Magics):
    """The ``hotreload`` line and cell magics, acting on the configured default reloader."""

    # What ``%load_ext`` attached (an ``extension.Extension``), so ``%unload_ext`` finds it.
    extension: Any = None

    def __init__(self, shell: Any, get_reloader: Callable[[], HotReloader]) -> None:
        super().__init__(shell)
        self._get_reloader = get_reloader

    def reloader(self) -> HotReloader:
        """The reloader the magics act on (the default one, configured)."""
        return self._get_reloader()

    @named_magic("cell", "hotreload")
    @declared(
        "%%hotreload PATH|TARGET [--no-format] [--quiet] [--full]",
        (("target",), {"metavar": "PATH|TARGET", "help": "a module file or a definition"}),
        (("--no-format",), {"action": "store_true", "help": "write the text as typed"}),
        (("--quiet",), {"action": "store_true", "help": "print nothing on success"}),
        (("--full",), {"action": "store_true", "help": "re-execute the whole module"}),
    )
    def hotreload_cell(self, line: str, cell: str) -> None:
        """%%hotreload PATH|TARGET [--no-format] [--quiet] [--full]: the cell is the new text
        of PATH, or of one definition (pkg.mod:Class.method, path.py::func).

        The file is written (formatted unless --no-format), the module is updated with its
        dependents (--full: the whole module re-executed), and every reference to its
        functions and classes sees the new code. On failure nothing changes, the text of a
        whole file stays on disk, and the cell fails.
        """
        if _wants_help(_split(line)):
            print(CELL_USAGE)
            return
        args = parsed(self.hotreload_cell, line)
        content = cell if not cell or cell.endswith("\n") else cell + "\n"
        started = time.perf_counter()
        reloader = self.reloader()
        fmt = not args.no_format
        try:
            if is_definition_target(args.target):
                if args.full:
                    raise UsageError("--full goes with a file path: %%hotreload PATH --full")
                result = reloader.reload_definition(args.target, content, format=fmt)
                saved = result["recompiled"][0].get("path") if result["recompiled"] else None
                path = Path(saved) if saved else None
                formatted = int(result.get("definition", {}).get("formatted_lines", 0))
            else:
                # A relative path stays relative: the reloader takes it from the working
                # directory and its errors then quote the path as the user typed it.
                path = Path(os.path.expanduser(args.target))
                reexecute: Literal["module"] | None = "module" if args.full else None
                result = reloader.reload(path, content, format=fmt, reexecute=reexecute)
                formatted = _formatted_lines(content, path) if fmt else 0
        except HotReloadError as err:
            raise short_traceback(err) from err.__cause__
        if not args.quiet:
            elapsed = (time.perf_counter() - started) * 1000
            shown = path if path is not None else Path(args.target)
            print(summary_line(shown, result, elapsed, formatted_lines=formatted))

    @named_magic("line", "hotreload")
    @declared(
        "%hotreload [ACTION] [ARGUMENTS ...]",
        (("action",), {"nargs": "?", "default": "status", "help": "what to do (default: status)"}),
        (("rest",), {"nargs": argparse.REMAINDER, "help": "its arguments (ACTION --help)"}),
    )
    def hotreload_line(self, line: str) -> None:
        """%hotreload [ACTION]: status (the default), edges, purge, panel, watch, workers,
        history, undo, edit; %hotreload --help lists them."""
        argv = _split(line)
        if argv and argv[0] in ("-h", "--help", "help"):
            print(usage())
            return
        given = parsed(self.hotreload_line, line, intermixed=False)
        name: str = given.action
        action = ACTIONS.get(name)
        if action is None:
            raise UsageError(
                f"unknown %hotreload action {name!r}; use one of: {', '.join(ACTIONS)} "
                "(%hotreload --help says what each does)"
            )
        parser = _parser(f"%hotreload {name}", f"%hotreload {action.usage}", action.arguments)
        if _wants_help(given.rest):
            print(f"%hotreload {action.usage}: {action.summary}\n{parser.format_help()}".rstrip())
            return
        args = parser.parse_intermixed_args(given.rest)
        try:
            action.run(self, args)
        except HotReloadError as err:
            raise short_traceback(err) from err.__cause__


def _formatted_lines(content: str, path: Path) -> int:
    """How many lines the formatter changed: the cell keeps the text as typed, so its line
    numbers and the file's may differ by that much."""
    try:
        on_disk = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return 0
    return changed_line_count(content, on_disk)


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


def _check_watchable(reloader: HotReloader, path: Path) -> Path:
    """``path`` resolved, if it exists and lies in a root or a ``sys.path`` directory (the
    places ``%%hotreload`` writes to); a one-line ``UsageError`` otherwise."""
    shown = display_path(path)
    try:
        resolved = path.resolve(strict=True)
    except FileNotFoundError:
        raise UsageError(f"cannot watch {shown}: no such file or directory") from None
    except (OSError, RuntimeError) as exc:
        raise UsageError(f"cannot watch {shown}: {exc}") from None
    allowed = [*reloader.roots, *sys_path_dirs()]
    if not any(is_within(resolved, d) for d in allowed):
        raise UsageError(
            f"cannot watch {shown}: it is outside the project roots and sys.path; add it to "
            f'the roots first (%config HotReload.roots = ["{resolved}"])'
        )
    return resolved


def watch(reloader: HotReloader, paths: list[Path], *, stop: bool, shell: Any = None) -> None:
    """``%hotreload watch [PATH ...]`` / ``watch --stop``: start or stop watching files. In a
    kernel, batches run on its main loop between cells (``kernel_scheduler``), and the cell
    shows one line that the watcher updates when an edit does not reload."""
    if stop:
        reloader.stop_watching()
        line = _WATCH_LINES.pop(id(reloader), None)
        if line is not None:
            line.stopped()
        print("hotreload: stopped watching")
        return
    resolved = [_check_watchable(reloader, p) for p in paths]
    from ipython_hotreload.ipython.watch import kernel_scheduler
    from ipython_hotreload.ipython.watchline import WatchLine

    # Outside a kernel (terminal IPython) there is no loop to hand batches to: None makes the
    # watcher run them in its own thread.
    schedule = kernel_scheduler(shell) if shell is not None else None
    if not paths:
        watching = "watching the project roots for changes made by other editors"
    else:
        shown = ", ".join(display_path(p) for p in paths)
        covered = all(any(is_within(root, w) for w in resolved) for root in reloader.roots)
        rest = (
            "" if covered else " (only these; `%hotreload watch` alone watches the whole project)"
        )
        watching = f"watching {shown} for changes made by other editors{rest}"
    line = WatchLine.show(watching, shell) if shell is not None else None
    try:
        reloader.watch(resolved or None, schedule=schedule, report=line)
    except (HotReloadError, OSError, ValueError, RuntimeError) as exc:
        if line is not None:
            line.stopped()
        raise UsageError(f"cannot watch: {exc}") from None
    if line is None:
        print(f"hotreload: {watching}")
    else:
        _WATCH_LINES[id(reloader)] = line


# The line each reloader's watcher writes to, so `watch --stop` can say so there too.
_WATCH_LINES: dict[int, Any] = {}
