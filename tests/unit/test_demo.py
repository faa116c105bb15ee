"""The README's main job: ``python -m ipython_hotreload demo`` shows a hot reload end to end."""

from __future__ import annotations

import subprocess
import sys


def test_demo_shows_the_graph_the_reload_and_the_rollback() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "ipython_hotreload", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "shop.cart      -> shop.prices    compile" in text
    assert "shop.receipt   -> shop.prices    export" in text
    assert "event recompiled      shop.cart  (followed shop.prices over a compile edge)" in text
    assert "same function object: True" in text and "FREE_SHIPPING_FROM = 55.0" in text
    assert "function  discount(amount: float, pct: int = 10) -> float" in text
    assert "event compile_failed  shop.prices  line 20: RuntimeError: a typo in" in text
    assert "still: cart.total([10, 20]) = 33.0, TAX = 0.1" in text
    assert "\033[" not in text  # not a terminal: no colour codes
