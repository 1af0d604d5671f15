"""Open a notebook in JupyterLab or Notebook 7 and run all its cells through the app's own commands."""

from __future__ import annotations

import time
from collections.abc import Callable

from playwright.sync_api import Locator, Page

from ._lab import forget_workspace
from ._servers import JupyterServer

# NotebookPanel of the current tab, once its kernel is connected and idle (both UIs expose the app
# as window.jupyterapp thanks to expose_app_in_browser).
_KERNEL_IDLE = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const ctx = panel && panel.sessionContext;
  return !!(ctx && ctx.session && ctx.session.kernel && ctx.kernelDisplayStatus === "idle");
}"""


def run_notebook(
    open_page: Callable,
    server: JupyterServer,
    name: str,
    cells: list[str],
    before_run: Callable[[Page], None] | None = None,
) -> tuple:
    """Write ``name`` with ``cells``, open it in the server's UI, run all cells; returns (page, log).

    ``log.errors_before_run`` counts the page errors the app raised while loading (Notebook 7 logs
    one of its own), so tests can check only what happened once the widget's cells ran.
    ``before_run(page)``, if given, runs once the app is loaded and before any cell runs (to
    instrument the page, listen to its console, ...).
    """
    server.write_notebook(name, cells)
    if server.kind == "lab":
        # A fresh workspace: JupyterLab would otherwise reopen every notebook an earlier test
        # module opened, and the "current" notebook (the one run below) could be one of those.
        forget_workspace(server)
    path = f"lab/tree/{name}" if server.kind == "lab" else f"notebooks/{name}"
    page, log = open_page(server.url(path))
    page.wait_for_function(_KERNEL_IDLE, timeout=120_000)
    if before_run is not None:
        before_run(page)
    log.errors_before_run = len(log.page_errors)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    return page, log


def wait_for_output(page: Page, selector: str, timeout: float = 300.0) -> Locator:
    """The first ``selector`` inside a cell output, once visible; fail at once with the traceback
    if a cell raised instead (a timeout would hide why the widget never appeared)."""
    target = page.locator(f".jp-OutputArea-output {selector}").first
    stderr = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
    deadline = time.monotonic() + timeout
    while not target.is_visible():
        for text in stderr.all_inner_texts():
            if "Traceback (most recent call last)" in text:
                raise AssertionError(f"a notebook cell failed:\n{text[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {selector} in the notebook's outputs after {timeout} s")
        time.sleep(0.5)
    return target
