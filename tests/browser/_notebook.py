"""Open a notebook in JupyterLab or Notebook 7 and run all its cells through the app's own commands."""

from __future__ import annotations

from collections.abc import Callable

from ._servers import JupyterServer

# NotebookPanel of the current tab, once its kernel is connected and idle (both UIs expose the app
# as window.jupyterapp thanks to expose_app_in_browser).
_KERNEL_IDLE = """() => {
  const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  const ctx = panel && panel.sessionContext;
  return !!(ctx && ctx.session && ctx.session.kernel && ctx.kernelDisplayStatus === "idle");
}"""


def run_notebook(open_page: Callable, server: JupyterServer, name: str, cells: list[str]) -> tuple:
    """Write ``name`` with ``cells``, open it in the server's UI, run all cells; returns (page, log).

    ``log.errors_before_run`` counts the page errors the app raised while loading (Notebook 7 logs
    one of its own), so tests can check only what happened once the widget's cells ran.
    """
    server.write_notebook(name, cells)
    path = f"lab/tree/{name}" if server.kind == "lab" else f"notebooks/{name}"
    page, log = open_page(server.url(path))
    page.wait_for_function(_KERNEL_IDLE, timeout=120_000)
    log.errors_before_run = len(log.page_errors)
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    return page, log
