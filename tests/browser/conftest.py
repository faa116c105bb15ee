"""Fixtures for the browser tests: Debian's Chromium through Playwright, and one JupyterLab
and one Notebook 7 server for the module (each test opens its own notebook, so its own
kernel; the servers and their kernels stop with the module)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.browser.harness import (
    CHROMIUM,
    CHROMIUM_ARGS,
    TIMEOUT_MS,
    JupyterServer,
    find_chromium,
    launch_server,
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """A headless Chromium; skips when Debian's chromium is not installed.

    Module scope, not session: Playwright's sync API keeps its event loop registered on the
    main thread while it runs, which would confuse asyncio users (nbclient) in later tests.
    """
    chromium = find_chromium()
    if chromium is None:
        pytest.skip(
            f"Chromium is not installed (no {CHROMIUM}, no chromium on PATH): "
            "apt-get install chromium to run the browser tests"
        )
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def jupyter_servers(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[dict[str, JupyterServer]]:
    """A JupyterLab 4 server and a Notebook 7 server (in the dark theme), started at once,
    each serving its own empty directory; stopped with the module's tests."""
    base = tmp_path_factory.mktemp("servers")
    servers: dict[str, JupyterServer] = {}
    try:
        for app, dark in (("lab", False), ("notebook", True)):
            (base / app).mkdir()
            servers[app] = launch_server(app, base / app, base / f"home-{app}", dark=dark)
        for server in servers.values():
            server.wait_ready()
        yield servers
    finally:
        for server in servers.values():
            server.stop()
