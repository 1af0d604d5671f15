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
from collections.abc import Callable
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


def _isolated_env(tmp: Path) -> tuple[dict[str, str], dict[str, Path]]:
    """Environment for a server under ``tmp``: its own Jupyter config/runtime/data/settings dirs,
    the checkout importable in its kernels, one BLAS/torch thread; and those dirs by name."""
    dirs = {d: tmp / d for d in ("root", "config", "runtime", "data", "settings", "workspaces", "ipython")}
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        JUPYTER_CONFIG_DIR=str(dirs["config"]),
        JUPYTER_RUNTIME_DIR=str(dirs["runtime"]),
        JUPYTER_DATA_DIR=str(dirs["data"]),
        JUPYTERLAB_SETTINGS_DIR=str(dirs["settings"]),
        JUPYTERLAB_WORKSPACES_DIR=str(dirs["workspaces"]),
        IPYTHONDIR=str(dirs["ipython"]),
        # The kernel imports the package from the checkout whether or not it is pip-installed.
        PYTHONPATH=os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p),
        # Two cores shared with Chromium: one BLAS/torch thread in the kernel.
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
    )
    return env, dirs


def _wait_until_up(server: JupyterServer, name: str, ready: Callable[[], object], timeout: float) -> JupyterServer:
    """Poll ``ready()`` until it returns; stop the server and fail with its log if it never does."""
    deadline = time.monotonic() + timeout
    while True:
        if server.proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {server.proc.returncode}:\n{server.log.read_text()[-3000:]}")
        try:
            ready()
            return server
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"{name} did not answer in {timeout} s:\n{server.log.read_text()[-3000:]}") from None
            time.sleep(0.3)


def start_server(kind: str, tmp: Path, timeout: float = 90.0) -> JupyterServer:
    """Start ``jupyter lab`` or ``jupyter notebook`` on 127.0.0.1 with a token and wait for /api/status."""
    app = {"lab": "LabApp", "notebook": "JupyterNotebookApp"}[kind]
    env, dirs = _isolated_env(tmp)
    root, runtime, settings, workspaces = dirs["root"], dirs["runtime"], dirs["settings"], dirs["workspaces"]
    for rel, values in _SETTINGS.items():
        target = settings / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))

    port, token = _free_port(), secrets.token_hex(16)
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
    return _wait_until_up(server, f"jupyter {kind}", lambda: server.api("status"), timeout)


def start_voila(tmp: Path, notebook: str, timeout: float = 90.0) -> JupyterServer:
    """Serve ``tmp/root/<notebook>`` with Voila on 127.0.0.1 (a free port, a token); ``url("")``
    is the rendered notebook. Voila runs the notebook in a fresh kernel for each page load."""
    env, dirs = _isolated_env(tmp)
    port, token = _free_port(), secrets.token_hex(16)
    log = tmp / "voila.log"
    cmd = [
        str(JUPYTER.with_name("voila")), notebook, "--no-browser",
        "--Voila.ip=127.0.0.1", f"--Voila.port={port}", "--Voila.port_retries=0", f"--Voila.token={token}",
        # A failing cell shows its traceback in the page (and in the test's failure message).
        "--VoilaConfiguration.show_tracebacks=True",
        f"--Voila.connection_dir_root={dirs['runtime']}",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=dirs["root"], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = JupyterServer("voila", f"http://127.0.0.1:{port}", token, dirs["root"], dirs["runtime"], proc, log)

    def answers() -> None:  # any HTTP answer (Voila redirects unauthenticated requests) means it is up
        try:
            urllib.request.urlopen(f"{server.base_url}/voila/static/extension.js", timeout=5).close()
        except urllib.error.HTTPError:
            pass

    return _wait_until_up(server, "voila", answers, timeout)


def start_marimo(tmp: Path, app: str, timeout: float = 90.0) -> JupyterServer:
    """``marimo run tmp/root/<app>`` on 127.0.0.1 (a free port, an access token); ``url("")`` is the
    app. Each page load gets its own session, which runs the app's cells; HOME is ``tmp`` so marimo
    keeps its state files there."""
    env, dirs = _isolated_env(tmp)
    home = tmp / "home"
    home.mkdir(exist_ok=True)
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), XDG_STATE_HOME=str(home / ".state"),
               XDG_CACHE_HOME=str(home / ".cache"), MARIMO_SKIP_UPDATE_CHECK="1")
    port, token = _free_port(), secrets.token_hex(16)
    log = tmp / "marimo.log"
    cmd = [
        str(JUPYTER.with_name("marimo")), "run", app, "--headless", "--host", "127.0.0.1",
        "--port", str(port), "--token-password", token, "--no-sandbox", "--show-tracebacks",
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=dirs["root"], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = MarimoServer("marimo", f"http://127.0.0.1:{port}", token, dirs["root"], dirs["runtime"], proc, log)

    def healthy() -> None:
        urllib.request.urlopen(f"{server.base_url}/health", timeout=5).close()

    return _wait_until_up(server, "marimo", healthy, timeout)


class MarimoServer(JupyterServer):
    """marimo takes its token as ``access_token``."""

    def url(self, path: str) -> str:
        sep = "&" if "?" in path else "?"
        return f"{self.base_url}/{path.lstrip('/')}{sep}access_token={self.token}"
