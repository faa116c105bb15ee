"""The browser-test harness: a JupyterLab 4 / Notebook 7 server in isolated Jupyter
directories, and a driver that runs a notebook's cells in a Playwright page.

The recipe (flags, URLs, readiness checks) follows the checked facts in the project's
browser-testing notes: ``--allow-root`` because CI runs as root, a kernelspec that runs this
interpreter, ``/api/sessions`` as the kernel-ready signal, and a 30 s ``expect`` timeout.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path(os.environ.get("HOTRELOAD_CHROMIUM", "/usr/bin/chromium"))
# Screenshots and server logs land here (CI keeps the directory as the test report).
ARTIFACTS = Path(os.environ.get("HOTRELOAD_ARTIFACTS", REPO / "test-artifacts"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    # The machine's network is closed: background requests only fail, slowly and noisily.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 30_000
#: The kernelspec whose kernel says it has no subshells (kernel_without_subshells.py).
NO_SUBSHELLS_KERNEL = "python3-no-subshells"


def find_chromium() -> Path | None:
    if CHROMIUM.exists():
        return CHROMIUM
    found = shutil.which("chromium")
    return Path(found) if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class JupyterServer:
    """One running ``jupyter lab`` or ``jupyter notebook`` (Notebook 7) server."""

    app: str
    port: int
    token: str
    root: Path
    runtime_dir: Path
    log_path: Path
    proc: subprocess.Popen[bytes]
    launched: float = 0.0
    started_in: float = 0.0
    _log: Any = field(default=None, repr=False)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str) -> Any:
        """GET a server API path as JSON."""
        req = urllib.request.Request(
            self.base + path, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.loads(resp.read())

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Poll ``/api/status`` until the server answers (it exits or times out: raise)."""
        deadline = self.launched + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"jupyter {self.app} exited ({self.proc.returncode}); see {self.log_path}"
                )
            try:
                self.get("/api/status")
                break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"jupyter {self.app} did not answer; see {self.log_path}"
                    ) from None
                time.sleep(0.1)  # polling a server with a deadline
        self.started_in = time.monotonic() - self.launched

    def notebook_url(self, name: str) -> str:
        if self.app == "lab":
            # `reset` skips restoring a saved workspace.
            return f"{self.base}/lab/tree/{name}?token={self.token}&reset"
        return f"{self.base}/notebooks/{name}?token={self.token}"

    def wait_for_kernel(self, name: str, timeout: float = 30.0) -> str:
        """Poll ``/api/sessions`` until the notebook has an idle kernel; return its id."""
        deadline = time.monotonic() + timeout
        seen: Any = None
        while time.monotonic() < deadline:
            seen = self.get("/api/sessions")
            for session in seen:
                kernel = session.get("kernel") or {}
                if session.get("path") == name and kernel.get("execution_state") == "idle":
                    return str(kernel["id"])
            time.sleep(0.1)  # polling a server with a deadline, not synchronising threads
        raise TimeoutError(f"no idle kernel for {name} after {timeout}s; sessions: {seen}")

    def connection_file(self, kernel_id: str) -> Path:
        return self.runtime_dir / f"kernel-{kernel_id}.json"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()


def isolated_env(home: Path, *, dark: bool) -> tuple[dict[str, str], Path]:
    dirs = {
        name: home / name.lower()
        for name in ("JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR", "JUPYTER_RUNTIME_DIR", "IPYTHONDIR")
    }
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    # A python3 kernelspec that runs this interpreter, whatever else is installed, and one
    # whose kernel tells the page it has no subshells (as ipykernel 6 does).
    without_subshells = Path(__file__).with_name("kernel_without_subshells.py")
    for name, program in (
        ("python3", ["-m", "ipykernel_launcher"]),
        (NO_SUBSHELLS_KERNEL, [str(without_subshells)]),
    ):
        spec = dirs["JUPYTER_DATA_DIR"] / "kernels" / name
        spec.mkdir(parents=True)
        (spec / "kernel.json").write_text(
            json.dumps(
                {
                    "argv": [sys.executable, *program, "-f", "{connection_file}"],
                    "display_name": "Python 3 (ipykernel)",
                    "language": "python",
                }
            )
        )
    settings = dirs["JUPYTER_CONFIG_DIR"] / "lab" / "user-settings" / "@jupyterlab"
    # No "get notified about Jupyter news?" toast over the panels (LabApp.news_url=None
    # does not stop JupyterLab 4.6 from asking).
    notification = settings / "apputils-extension" / "notification.jupyterlab-settings"
    notification.parent.mkdir(parents=True)
    notification.write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    if dark:
        themes = settings / "apputils-extension" / "themes.jupyterlab-settings"
        themes.write_text(json.dumps({"theme": "JupyterLab Dark"}))
    env = dict(os.environ)
    env.pop("JUPYTER_PATH", None)
    env.update({k: str(v) for k, v in dirs.items()})
    return env, dirs["JUPYTER_RUNTIME_DIR"]


def launch_server(app: str, root: Path, home: Path, *, dark: bool = False) -> JupyterServer:
    """Start ``jupyter lab`` (``app="lab"``) or Notebook 7 (``"notebook"``) serving ``root``,
    with its Jupyter and IPython directories under ``home``; :meth:`JupyterServer.wait_ready`
    waits for it (so several servers can start at once)."""
    env, runtime = isolated_env(home, dark=dark)
    port, token = free_port(), uuid.uuid4().hex
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log_path = ARTIFACTS / f"server-{app}.log"
    log = log_path.open("wb")
    module = "jupyterlab" if app == "lab" else "notebook"
    cmd = [
        sys.executable,
        "-m",
        module,
        "--allow-root",  # CI runs as root
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={root}",
    ]
    if app == "lab":
        cmd += [
            f"--LabApp.workspaces_dir={home / 'workspaces'}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ]
    proc = subprocess.Popen(cmd, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    return JupyterServer(
        app, port, token, root, runtime, log_path, proc, launched=time.monotonic(), _log=log
    )


def write_notebook(path: Path, cells: list[str], kernel: str = "python3") -> None:
    """A notebook of code cells, with the kernelspec metadata that avoids "Select Kernel"."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {
        "name": kernel,
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    nb.metadata["language_info"] = {"name": "python"}
    nb.cells = [nbformat.v4.new_code_cell(src, id=f"cell-{i}") for i, src in enumerate(cells)]
    nbformat.write(nb, path)


class NotebookDriver:
    """Run a notebook's cells one by one in a page, like a user pressing Shift+Enter."""

    def __init__(self, page: Any, server: JupyterServer, name: str) -> None:
        self.page = page
        self.server = server
        self.name = name
        self.execute_requests = 0
        self.kernel_id = ""
        page.on("websocket", self._watch_socket)

    def _watch_socket(self, ws: Any) -> None:
        def sent(payload: str | bytes) -> None:
            data = payload.encode() if isinstance(payload, str) else payload
            if b'"execute_request"' in data:
                self.execute_requests += 1

        ws.on("framesent", sent)

    def open(self) -> None:
        """Load the notebook and wait until its kernel is ready."""
        from playwright.sync_api import expect

        self.page.goto(self.server.notebook_url(self.name))
        expect(self.cell(0)).to_be_visible()
        self.kernel_id = self.server.wait_for_kernel(self.name)
        dialog = self.page.locator(".jp-Dialog .jp-mod-accept")
        if dialog.is_visible():
            dialog.click()
        expect(
            self.page.locator(".jp-Notebook-ExecutionIndicator[data-status=idle]")
        ).to_be_attached()

    def wait_idle(self) -> None:
        """Wait until the server reports the kernel idle (every cell and message done)."""
        self.server.wait_for_kernel(self.name)

    def cell(self, i: int) -> Any:
        return self.page.locator(".jp-Notebook .jp-Cell").nth(i)

    def prompt(self, i: int) -> Any:
        return self.cell(i).locator(".jp-InputArea-prompt")

    def select_first(self) -> None:
        self.cell(0).locator(".jp-InputArea-prompt").click()

    def run(self, i: int, count: int) -> None:
        """Shift+Enter on the selected cell ``i``; wait until it shows ``[count]``."""
        from playwright.sync_api import expect

        self.page.keyboard.press("Shift+Enter")
        expect(self.prompt(i)).to_have_text(f"[{count}]:")

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        out = ARTIFACTS / name
        self.page.screenshot(path=str(out), full_page=True)
        return out
