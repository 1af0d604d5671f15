"""JupyterLab chores beyond running cells: user settings through the REST API, saving the notebook
with widget state, shutting kernels down, reading the widget state a saved notebook holds."""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from playwright.sync_api import Page

from ._servers import JupyterServer

WIDGETS_PLUGIN = "@jupyter-widgets/jupyterlab-manager:plugin"
WIDGET_STATE_MIME = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"


def _request(server: JupyterServer, method: str, path: str, body: object | None = None) -> object:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        f"{server.base_url}/{path.lstrip('/')}", data=data, method=method,
        headers={"Authorization": f"token {server.token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=15) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


@contextmanager
def lab_setting(server: JupyterServer, plugin: str, values: dict) -> Iterator[None]:
    """Set a JupyterLab plugin's user settings for the pages opened inside; put the old ones back."""
    old = _request(server, "GET", f"lab/api/settings/{plugin}")
    _request(server, "PUT", f"lab/api/settings/{plugin}", {"raw": json.dumps(values)})
    try:
        yield
    finally:
        _request(server, "PUT", f"lab/api/settings/{plugin}", {"raw": old.get("raw") or "{}"})  # type: ignore[union-attr]


def save_notebook(page: Page, path: Path, until: object, timeout: float = 60.0) -> dict:
    """Save the current notebook through JupyterLab's own command; return the file as JSON once
    ``until(nb)`` holds for what is on disk (JupyterLab writes asynchronously)."""
    page.evaluate("window.jupyterapp.commands.execute('docmanager:save')")
    deadline = time.monotonic() + timeout
    while True:
        nb = json.loads(path.read_text())
        if until(nb):  # type: ignore[operator]
            return nb
        if time.monotonic() > deadline:
            raise AssertionError(f"{path.name} was not saved as expected in {timeout} s; metadata: {list(nb['metadata'])}")
        time.sleep(0.3)


def shutdown_kernel(page: Page, server: JupyterServer, notebook: str, timeout: float = 30.0) -> None:
    """Shut the current notebook's kernel down from the page (JupyterLab then shows "No Kernel")
    and wait until the server runs no session for ``notebook``."""
    page.evaluate("window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
    page.wait_for_function(
        "() => { const c = window.jupyterapp.shell.currentWidget.sessionContext;"
        " return !c.session && c.kernelDisplayName === 'No Kernel'; }",
        timeout=timeout * 1000,
    )
    deadline = time.monotonic() + timeout
    while any(s.get("path", "").endswith(notebook) for s in server.api("sessions")):  # type: ignore[union-attr]
        if time.monotonic() > deadline:
            raise AssertionError(f"the server still runs a kernel for {notebook} after {timeout} s")
        time.sleep(0.3)


def forget_workspace(server: JupyterServer) -> None:
    """Drop JupyterLab's saved workspace: the next page would reopen every notebook opened before."""
    request = urllib.request.Request(
        f"{server.base_url}/lab/api/workspaces/default", method="DELETE", headers={"Authorization": f"token {server.token}"}
    )
    try:
        urllib.request.urlopen(request, timeout=10).close()
    except urllib.error.HTTPError as err:
        if err.code != 404:  # 404: nothing saved yet
            raise


def shutdown_sessions(server: JupyterServer, notebook: str) -> None:
    """Delete the server's sessions (and kernels) for ``notebook``, whoever started them."""
    for s in server.api("sessions"):  # type: ignore[union-attr]
        if s.get("path", "").endswith(notebook):
            _request(server, "DELETE", f"api/sessions/{s['id']}")


def saved_widget_models(nb: dict) -> dict[str, dict]:
    """The widget models a notebook saved (model id -> its saved entry), or {} when none."""
    state = nb.get("metadata", {}).get("widgets", {}).get(WIDGET_STATE_MIME, {})
    return dict(state.get("state", {}))


def saved_buffer(model: dict, name: str) -> bytes:
    """The bytes of the binary trait ``name`` in a saved model (base64 in the notebook)."""
    for buf in model.get("buffers", []):
        if buf["path"] == [name]:
            assert buf.get("encoding") == "base64", f"{name} saved with encoding {buf.get('encoding')!r}"
            return base64.b64decode(buf["data"])
    raise AssertionError(f"no {name!r} buffer in the saved model; buffers: {[b['path'] for b in model.get('buffers', [])]}")


def widget_views(nb: dict) -> list[str]:
    """Model ids of the widget views in the notebook's outputs, in cell order."""
    ids = []
    for cell in nb["cells"]:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get(WIDGET_VIEW_MIME)
            if view:
                ids.append(view["model_id"])
    return ids
