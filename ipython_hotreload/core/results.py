r"""The shapes of what a reload returns and publishes (SPEC §1.1, §1.4, §1.5, §1.6, §2.4, §2.5).

:class:`Payload` is the one description of a payload's keys; every producer (the pipeline)
and reader (the IPython report, the panels' state, the cluster adapter) annotates with it.
Payloads travel as plain JSON dicts, so these are ``TypedDict``\ s, not classes with
behaviour. With them, the dependency labels of SPEC §3 (shared by the graph, the engine
and the adapters). A leaf: every layer may read these shapes.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

__all__ = [
    "EDGE_LABELS",
    "LABELS_BY_STRENGTH",
    "Changes",
    "Failure",
    "FunctionInfo",
    "Label",
    "Mode",
    "Payload",
    "PendingBrief",
    "Placement",
    "Reason",
    "ReloadResult",
    "Rerun",
    "RunningOld",
    "WorkerFailure",
    "Workers",
]

#: How strongly importing module A ties it to module B (SPEC §3).
Label = Literal["compile", "export", "runtime"]

#: Strongest first: the order SPEC lists them and ``compile_dep_edges`` validates against.
EDGE_LABELS: tuple[Label, Label, Label] = ("compile", "export", "runtime")

#: Weakest first: a label's index is its strength.
LABELS_BY_STRENGTH: tuple[Label, Label, Label] = ("runtime", "export", "compile")

#: What a reload did to a module (SPEC §1.5).
Mode = Literal["patched", "partial", "full", "unchanged"]


class FunctionInfo(TypedDict):
    """One entry of a payload's ``functions`` (SPEC §1.1)."""

    name: str
    qualname: str
    kind: str
    lineno: int
    end_lineno: int
    signature: str
    doc: str | None


class Failure(TypedDict):
    """The ``error`` of a ``compile_failed`` event (SPEC §1.4)."""

    type: str
    message: str
    lineno: int | None
    offset: int | None


class Reason(TypedDict):
    """Why a module that was not saved ran: it follows ``after`` by an edge of ``label``,
    or (``after`` None) its file changed on disk behind the reloader's back."""

    after: str | None
    label: Label | Literal["changed_on_disk"]


class Rerun(TypedDict):
    """One top-level statement that ran, by its lines."""

    lineno: int
    end_lineno: int


class Changes(TypedDict):
    """The saved module's functions, by qualname, against the text it ran before."""

    added: list[str]
    changed: list[str]
    removed: list[str]


class RunningOld(TypedDict):
    """A patched function whose previous code was executing in a thread (SPEC §2.5)."""

    qualname: str
    thread: str  # the thread's name, e.g. "MainThread"


class WorkerFailure(TypedDict):
    """A cluster worker on which a reload failed, and why."""

    worker: str
    error: dict[str, Any]


class Workers(TypedDict):
    """How a reload fared on a cluster's workers (SPEC §2.4)."""

    ok: int
    failed: list[WorkerFailure]


# The keys every payload has, in a base class rather than marked ``Required``: with
# postponed annotations Python 3.11 cannot see ``Required`` at run time, and tests and
# readers ask ``Payload.__required_keys__``.
class _PayloadKeys(TypedDict):
    mod: str
    source_hash: str | None  # sha256 hex of the bytes on disk (saved module only)
    functions: list[FunctionInfo] | None  # saved module only


class Payload(_PayloadKeys, total=False):
    """One ``recompiled`` payload. ``mod``, ``source_hash`` and ``functions`` are always
    there (the last two None in a bare payload); the rest only when they say something."""

    path: str | None
    elapsed_ms: float  # the whole reload's, the same in each payload of it
    reason: Reason  # modules that were not saved
    replaced: list[str]  # qualnames that could not be patched in place
    executed: bool  # present (False) only when the module was not re-executed
    warnings: list[str]  # on the first payload
    mode: Mode
    rerun: list[Rerun]
    full_reason: str  # when ``mode`` is "full"
    changes: Changes  # the saved module's
    workers: Workers
    module_ms: float  # this module's own share of ``elapsed_ms``
    running_old: list[RunningOld]  # patched functions whose old code runs (when any)


class Placement(TypedDict):
    """Where ``reload_definition`` put the definition, and how many of its lines the
    formatter changed."""

    qualname: str
    lineno: int
    end_lineno: int
    added: bool
    formatted_lines: int


class PendingBrief(TypedDict):
    """A module whose last reload failed and whose file still holds that text (SPEC §1.8):
    a reload result names each one."""

    mod: str
    path: str
    lineno: int | None
    message: str


class _ResultKeys(TypedDict):
    recompiled: list[Payload]


class ReloadResult(_ResultKeys, total=False):
    """What a reload returns: the payloads, saved module first; with a cluster attached,
    how its workers fared; for one definition, where it now is; for an undo, the history
    entries it undid."""

    workers: Workers
    definition: Placement
    undone: list[int]
    pending: list[PendingBrief]
