"""``python -m ipython_hotreload demo``: a hot reload end to end, in the terminal."""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import tempfile
import textwrap
from pathlib import Path
from typing import Any

import ipython_hotreload as hr

FILES = {
    "shop/__init__.py": "",
    "shop/prices.py": '''
        """Prices of the shop."""

        TAX = 0.20


        def with_tax(amount: float) -> float:
            """Add the tax to an amount."""
            return round(amount * (1 + TAX), 2)


        def label(amount: float) -> str:
            return f"{amount:.2f} EUR"
        ''',
    "shop/cart.py": """
        from shop.prices import with_tax

        # Used at import time: a *compile* dependency on shop.prices.
        FREE_SHIPPING_FROM = with_tax(50)


        def total(items: list[float]) -> float:
            return with_tax(sum(items))
        """,
    "shop/receipt.py": """
        from shop.prices import label

        # Only used inside a function: an *export* dependency.
        def line(amount: float) -> str:
            return "Total: " + label(amount)
        """,
    "shop/report.py": """
        def summary(items):
            # Imported when called: a *runtime* dependency.
            from shop import cart

            return f"{len(items)} items, {cart.total(items)}"
        """,
}

NEW_PRICES = '''
"""Prices of the shop."""

TAX = 0.10


def with_tax(amount: float) -> float:
    """Add the (reduced) tax to an amount."""
    return round(amount * (1 + TAX), 2)


def label(amount: float) -> str:
    return f"EUR {amount:,.2f}"


def discount(amount: float, pct: int = 10) -> float:
    """A new function, visible at once."""
    return amount * (100 - pct) / 100
'''

BROKEN_PRICES = NEW_PRICES + "\nraise RuntimeError('a typo in module-level code')\n"


def _say(title: str) -> None:
    bold, plain = ("\033[1m", "\033[0m") if sys.stdout.isatty() else ("", "")
    print(f"\n{bold}== {title}{plain}")


def _show_event(event: hr.ModuleEvent) -> None:
    extra = ""
    if event.payload and event.payload.get("reason"):
        reason = event.payload["reason"]
        extra = f"  (followed {reason['after']} over a {reason['label']} edge)"
    if event.error:
        error = event.error
        message = str(error["message"])
        if not message.startswith(str(error["type"])):  # a SyntaxError's is its text alone
            message = f"{error['type']}: {message}"
        where = f"line {error['lineno']}: " if error.get("lineno") else ""
        extra = f"  {where}{message}"
    print(f"  event {event.kind:<15} {event.mod}{extra}")


def demo(keep: bool = False) -> int:
    """Make a small project, import it, hot-reload a module with dependents, show it all."""
    root = Path(tempfile.mkdtemp(prefix="hotreload-demo-"))
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    sys.path.insert(0, str(root))
    reloader = hr.HotReloader(roots=[root], formatter="ruff")
    print(f"example project in {root}")

    _say("dependency graph (changing `to` forces this much work on `from`)")
    for edge in reloader.compile_dep_edges():
        print(f"  {edge['from']:<14} -> {edge['to']:<14} {edge['label']}")

    shop_cart = importlib.import_module("shop.cart")
    shop_prices = importlib.import_module("shop.prices")
    shop_receipt = importlib.import_module("shop.receipt")
    importlib.import_module("shop.report")

    total = shop_cart.total  # references held the way a notebook holds them
    line = shop_receipt.line
    print(
        f"\n  before: cart.total([10, 20]) = {total([10, 20])}, "
        f"FREE_SHIPPING_FROM = {shop_cart.FREE_SHIPPING_FROM}, line(5) = {line(5)!r}"
    )

    _say("hot reload of shop/prices.py (tax 20% -> 10%, new label format, a new function)")
    sub = hr.subscribe(_show_event)
    try:
        result = reloader.reload(root / "shop/prices.py", NEW_PRICES)
        saved = result["recompiled"][0]
        print("\n  saved module payload:")
        shown: dict[str, Any] = {k: saved[k] for k in ("mod", "source_hash", "elapsed_ms")}
        print(textwrap.indent(json.dumps(shown, indent=2), "    "))
        for fn in saved["functions"] or []:
            print(
                f"    {fn['kind']:<9} {fn['qualname']}{fn['signature']}  line {fn['lineno']}  {fn['doc'] or ''}"
            )
        print(
            f"\n  after: cart.total([10, 20]) = {total([10, 20])} (same function object: "
            f"{total is shop_cart.total}), FREE_SHIPPING_FROM = {shop_cart.FREE_SHIPPING_FROM}, "
            f"line(5) = {line(5)!r}, discount(100) = {shop_prices.discount(100)}"
        )

        _say("a broken edit is rolled back: old code keeps running, the text stays on disk")
        try:
            reloader.reload(root / "shop/prices.py", BROKEN_PRICES)
        except hr.ReloadError as exc:
            print(f"  ReloadError: {exc}")
        print(f"  still: cart.total([10, 20]) = {total([10, 20])}, TAX = {shop_prices.TAX}")
    finally:
        sub.close()
        reloader.close()
    if not keep:
        import shutil

        shutil.rmtree(root, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ipython_hotreload")
    sub = parser.add_subparsers(dest="command", required=True)
    p_demo = sub.add_parser("demo", help="hot-reload a small example project in the terminal")
    p_demo.add_argument("--keep", action="store_true", help="keep the example project on disk")
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(keep=args.keep)
    return 2


if __name__ == "__main__":
    sys.exit(main())
