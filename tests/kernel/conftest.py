"""Real kernels for the kernel tests, started the way a frontend starts them.

The kernel runs this interpreter (a kernelspec in a temp dir whose ``argv[0]`` is
``sys.executable``, whatever ``python3`` kernelspecs the machine has) with a temp project
directory as its working directory. One kernel is shared by the tests of a module; each test
gets its own kernel clients (as separate frontends would) and its own package names.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from jupyter_client.session import Session

from ipython_hotreload.client import HotReloadClient

KERNEL_NAME = "hotreload-test"
STARTUP_TIMEOUT = 60


@pytest.fixture(scope="session")
def kernel_spec_manager(tmp_path_factory: pytest.TempPathFactory) -> KernelSpecManager:
    """Kernelspecs holding one spec, :data:`KERNEL_NAME`, that runs ``sys.executable``."""
    kernels = tmp_path_factory.mktemp("kernels")
    spec = kernels / KERNEL_NAME
    spec.mkdir()
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(
        json.dumps({"argv": argv, "display_name": "hotreload tests", "language": "python"})
    )
    return KernelSpecManager(kernel_dirs=[str(kernels)], ensure_native_kernel=False)


def kernel_env() -> dict[str, str]:
    """The environment of a test kernel: ours, without coverage or pytest noise."""
    env = dict(os.environ)
    env.pop("PYTEST_CURRENT_TEST", None)
    # Make warnings in the kernel visible, not fatal: the kernel is the code under test, but
    # its third-party dependencies may warn on their own.
    env.pop("PYTHONWARNINGS", None)
    return env


class Kernel:
    """A running kernel, its project directory, and a factory of connected clients."""

    def __init__(self, km: KernelManager, root: Path) -> None:
        self.km = km
        self.root = root
        self._clients: list[BlockingKernelClient] = []

    def write(self, rel: str, text: str) -> Path:
        """Write a project file (dedented) the kernel can import."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    def kernel_client(self) -> BlockingKernelClient:
        """A new client on the kernel's channels (one per simulated frontend)."""
        # Its own session, as a separate frontend has: clients of one KernelManager share its
        # session, whose id is the shell socket's identity, and the kernel's ROUTER socket
        # cannot tell two peers with one identity apart.
        session = Session(
            key=self.km.session.key, signature_scheme=self.km.session.signature_scheme
        )
        kc: BlockingKernelClient = self.km.client(session=session)
        kc.start_channels()
        kc.wait_for_ready(timeout=STARTUP_TIMEOUT)
        self._clients.append(kc)
        return kc

    def hotreload_client(self, **kwargs: Any) -> HotReloadClient:
        """A :class:`HotReloadClient` on a new kernel client, comm not yet open."""
        return HotReloadClient(self.kernel_client(), **kwargs)

    def stop_clients(self) -> None:
        for kc in self._clients:
            kc.stop_channels()
        self._clients.clear()


@pytest.fixture(scope="module")
def kernel(
    kernel_spec_manager: KernelSpecManager, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Kernel]:
    """One kernel per test module, cwd a temp project, ``ipython_hotreload`` loaded with no
    formatter (so tests can compare file contents)."""
    root = tmp_path_factory.mktemp("kernel_project")
    km = KernelManager(kernel_spec_manager=kernel_spec_manager, kernel_name=KERNEL_NAME)
    km.start_kernel(cwd=str(root), env=kernel_env())
    kernel = Kernel(km, root)
    try:
        setup = kernel.hotreload_client()
        reply = setup.execute("%load_ext ipython_hotreload\n%config HotReload.formatter = None")
        assert reply["status"] == "ok", reply
        yield kernel
    finally:
        kernel.stop_clients()
        km.shutdown_kernel(now=True)


@pytest.fixture
def outputs() -> Callable[[], tuple[list[dict[str, Any]], Callable[[dict[str, Any]], None]]]:
    """Make an (outputs list, on_other hook) pair that keeps stream and error messages."""

    def make() -> tuple[list[dict[str, Any]], Callable[[dict[str, Any]], None]]:
        kept: list[dict[str, Any]] = []

        def keep(msg: dict[str, Any]) -> None:
            if msg.get("msg_type") in ("stream", "error", "execute_result", "display_data"):
                kept.append(msg)

        return kept, keep

    return make
