"""What a rollback cannot undo, named (``core/source/effects.py``, issue 15 item 8)."""

from __future__ import annotations

import ast
import textwrap

from ipython_hotreload.core.source.effects import (
    describe_outside_calls,
    imported_names,
    outside_calls,
)

SOURCE = textwrap.dedent(
    """
    import hub
    import pkg.registry as reg
    from flask_app import app
    from metrics import Counter
    try:
        from fast import speedups
    except ImportError:
        speedups = None

    local = {}
    local.setdefault("x", 1)
    hub.add_rule("/a")
    REQUESTS = Counter("requests")
    reg.plugins.append(3)

    @app.route("/", methods=hub.methods())
    def index(flag=speedups.enable()):
        hub.inside_a_body_never_ran()
        return "v1"

    class View:
        hub.register_view("View")

        def get(self):
            hub.also_inside_a_body()

    raise RuntimeError("late")
    hub.after_the_failure()
    """
)


def test_names_the_calls_into_imported_objects_among_those_that_ran() -> None:
    tree = ast.parse(SOURCE)
    imported = imported_names(tree)
    assert imported == {"hub", "reg", "app", "Counter", "speedups"}
    failed_at = next(n.lineno for n in tree.body if isinstance(n, ast.Raise))
    ran = [n for n in tree.body if n.lineno <= failed_at]
    calls = [str(c) for c in outside_calls(ran, imported)]
    assert calls == [
        "hub.add_rule (line 13)",
        "reg.plugins.append (line 15)",
        "app.route (line 17)",
        "hub.methods (line 17)",
        "speedups.enable (line 18)",
        "hub.register_view (line 23)",
    ]


def test_the_message_is_short_and_empty_when_nothing_ran_outside() -> None:
    tree = ast.parse(SOURCE)
    calls = outside_calls(tree.body, imported_names(tree))
    message = describe_outside_calls(calls, limit=2)
    assert message.startswith("not undone: ")
    assert "hub.add_rule (line 13), reg.plugins.append (line 15) and 5 more" in message
    assert describe_outside_calls([]) == ""
    assert outside_calls(ast.parse("x = 1\nx.bit_length()\n").body, set()) == []
