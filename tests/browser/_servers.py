"""A throwaway Jupyter server (JupyterLab or Notebook 7) per test session, isolated from the user's setup."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[2]
# The server runs from the same venv as pytest, so its default `python3` kernelspec is this venv's.
JUPYTER = Path(sys.executable).with_name("jupyter")

# User settings that keep the page quiet and every cell attached: no news toast, no update check,
# no virtualized (detached) outputs while we click them.
_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
}


@dataclass
class JupyterServer:
    """A running server: where to reach it and where its kernels write their connection files."""

    kind: str  # "lab" or "notebook"
    base_url: str
    token: str
    root: Path
    runtime_dir: Path
    proc: subprocess.Popen
    log: Path

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}/{path.lstrip('/')}{sep}token={self.token}"

    def api(self, path: str) -> object:
        req = urllib.request.Request(f"{self.base_url}/api/{path}", headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read())

    def write_notebook(self, name: str, cells: list[str]) -> Path:
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        path = self.root / name
        nbformat.write(nb, path)
        return path

    def stop(self) -> None:
        if self.proc.poll() is None:
            # The server's own process group: kernels it spawned go with it.
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(kind: str, tmp: Path, timeout: float = 90.0) -> JupyterServer:
    """Start ``jupyter lab`` or ``jupyter notebook`` on 127.0.0.1 with a token and wait for /api/status."""
    app = {"lab": "LabApp", "notebook": "JupyterNotebookApp"}[kind]
    root, config, runtime, data, settings, workspaces, ipython = (
        tmp / d for d in ("root", "config", "runtime", "data", "settings", "workspaces", "ipython")
    )
    for d in (root, config, runtime, data, settings, workspaces, ipython):
        d.mkdir(parents=True, exist_ok=True)
    for rel, values in _SETTINGS.items():
        target = settings / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))

    port, token = _free_port(), secrets.token_hex(16)
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(config),
        JUPYTER_RUNTIME_DIR=str(runtime),
        JUPYTER_DATA_DIR=str(data),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(workspaces),
        IPYTHONDIR=str(ipython),
        # The kernel imports the package from the checkout whether or not it is pip-installed.
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
        # Two cores shared with Chromium: one BLAS/torch thread in the kernel.
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
    )
    log = tmp / "server.log"
    cmd = [
        str(JUPYTER), kind, "--allow-root", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        "--ServerApp.open_browser=False", f"--{app}.expose_app_in_browser=True",
        f"--{app}.user_settings_dir={settings}", f"--{app}.workspaces_dir={workspaces}",
    ]
    if kind == "lab":
        cmd += ["--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = JupyterServer(kind, f"http://127.0.0.1:{port}", token, root, runtime, proc, log)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"jupyter {kind} exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            server.api("status")
            return server
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"jupyter {kind} did not answer /api/status in {timeout} s:\n{log.read_text()[-3000:]}") from None
            time.sleep(0.3)
