"""Size of the notebook JupyterLab writes with "Save Widget State Automatically" on.

Not a test: prints a table. The widget's results are widget state (the binary ``payload`` trait,
base64 in the notebook's widget-state metadata, docs/wire-format.md), so a saved notebook carries
them, and with them the widget's ES module and CSS (anywidget state). This measures, per result
size, the file after running the widget cell once, then after re-running that cell three more
times: an earlier run's widget that stays open in the kernel is saved again (re-running a cell
should close it; see ncut_widget/widget/cells.py).

Each size is a synthetic-but-structured result (``benchmarks/widget.py: synthetic_widget``: no
model runs) built in the notebook's kernel with ``NcutWidget.from_results``; JupyterLab runs in a
throwaway server and headless Chromium (the browser tests' helpers in tests/browser/) and saves.

Run: .venv/bin/python benchmarks/notebook_size.py [--sizes 10240 25600] [--reruns 3] [--keep-earlier]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

# node count -> (n_images, grid per resolution): 4 * (16² + 48²) = 10,240; 10 * (16² + 48²) = 25,600
LAYOUTS = {
    10_240: (4, [(16, 16), (48, 48)]),
    25_600: (10, [(16, 16), (48, 48)]),
}
NOTEBOOK = "size.ipynb"


def _open_page(browser):
    from tests.browser.conftest import VIEWPORT, PageLog

    pages = []

    def open_(url: str, viewport: dict | None = None, timeout_ms: int = 120_000):
        page = browser.new_page(viewport=viewport or VIEWPORT)
        page.set_default_timeout(timeout_ms)
        log = PageLog()
        page.on("pageerror", lambda err: log.page_errors.append(str(err)))
        page.goto(url)
        pages.append(page)
        return page, log

    return open_, pages


def _wait_new_widget(page, probe, version_before: int | None, timeout: float = 300.0) -> dict:
    """The meta of the widget the cell just made, once its display in the page is drawn."""
    from tests.browser._widget_dom import WidgetDom

    deadline = time.monotonic() + timeout
    while True:
        try:
            meta = probe.eval("w.meta")
        except AssertionError:  # `w` not assigned yet
            meta = {}
        if meta.get("version") not in (None, version_before):
            break
        if time.monotonic() > deadline:
            raise RuntimeError(f"no new widget after {timeout} s")
        time.sleep(0.5)
    root = page.locator(".jp-OutputArea-output .ncut:not([data-bench-old])").first
    root.wait_for(timeout=timeout * 1000)
    WidgetDom(root, meta).wait_drawn(timeout=timeout)
    return meta


def _saved_breakdown(nb: dict) -> dict:
    """Bytes of the saved widget state, by kind."""
    from tests.browser._lab import saved_widget_models

    models = [m for m in saved_widget_models(nb).values() if m.get("model_name") == "AnyModel"]
    payload = sum(len(b["data"]) for m in models for b in m.get("buffers", []) if b["path"] == ["payload"])
    esm = sum(len(m["state"].get("_esm", "")) for m in models)
    css = sum(len(m["state"].get("_css", "")) for m in models)
    state = len(json.dumps(nb["metadata"].get("widgets", {})))
    return {"widgets": len(models), "payload_b64": payload, "esm": esm, "css": css, "state": state}


# --keep-earlier: what a notebook holds when a re-run leaves the earlier widget open (as before
# ncut_widget/widget/cells.py): the cell's run bookkeeping is switched off in the kernel.
_KEEP_EARLIER = """
try:
    import ncut_widget.widget.cells as _cells
    _cells.close_earlier_run = lambda: None
except ImportError:
    pass
"""


def measure(server, browser, n_target: int, reruns: int, keep_earlier: bool = False) -> list[dict]:
    from tests.browser._kernel import KernelProbe
    from tests.browser._lab import save_notebook, shutdown_sessions
    from tests.browser._notebook import run_notebook, wait_for_output

    n_images, grids = LAYOUTS[n_target]
    cells = [
        "from benchmarks.widget import synthetic_widget" + (_KEEP_EARLIER if keep_earlier else ""),
        f"w = synthetic_widget({n_images}, {grids!r})\nw",
    ]
    open_page, pages = _open_page(browser)
    rows = []
    try:
        page, log = run_notebook(open_page, server, NOTEBOOK, cells)
        wait_for_output(page, ".ncut", timeout=300)
        probe = KernelProbe(server, NOTEBOOK)
        try:
            meta = _wait_new_widget(page, probe, None)
            payload = probe.eval("len(w.payload)")
            for run in range(1, reruns + 2):
                if run > 1:
                    page.evaluate("document.querySelectorAll('.ncut').forEach(e => e.setAttribute('data-bench-old', ''))")
                    page.evaluate(
                        "() => { const p = window.jupyterapp.shell.currentWidget; p.content.activeCellIndex = 1;"
                        " return window.jupyterapp.commands.execute('notebook:run-cell'); }"
                    )
                    meta = _wait_new_widget(page, probe, meta["version"])
                open_widgets = probe.eval(
                    "sum(1 for x in list(__import__('ipywidgets.widgets.widget', fromlist=['_'])._instances"
                    ".values()) if type(x).__name__ == 'NcutWidget')"
                )
                version = meta["version"]
                path = server.root / NOTEBOOK

                def saved(nb: dict, version: int = version) -> bool:
                    state = nb["metadata"].get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
                    return any(m["state"].get("meta", {}).get("version") == version for m in state.get("state", {}).values())

                nb = save_notebook(page, path, saved, timeout=120)
                rows.append({
                    "earlier": "kept open" if keep_earlier else "as the package does",
                    "nodes": meta["n_nodes"], "run": run, "payload": payload, "file": path.stat().st_size,
                    "kernel_widgets": open_widgets, **_saved_breakdown(nb),
                })
                if log.page_errors:
                    raise RuntimeError(f"page errors: {log.page_errors}")
        finally:
            probe.close()
    finally:
        for page in pages:
            page.close()
        shutdown_sessions(server, NOTEBOOK)
    return rows


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f} MB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=sorted(LAYOUTS), choices=sorted(LAYOUTS))
    parser.add_argument("--reruns", type=int, default=3)
    parser.add_argument("--keep-earlier", action="store_true",
                        help="also measure with the earlier run's widget left open (no close on re-run)")
    args = parser.parse_args()
    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        print(f"{CHROMIUM} is missing: install chromium to run this benchmark", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    from tests.browser._lab import WIDGETS_PLUGIN, lab_setting
    from tests.browser._servers import start_server

    rows = []
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        server = start_server("lab", Path(tmp) / "lab")
        try:
            with lab_setting(server, WIDGETS_PLUGIN, {"saveState": True}):
                for keep in (False, True) if args.keep_earlier else (False,):
                    for n in args.sizes:
                        rows += measure(server, browser, n, args.reruns, keep)
        finally:
            server.stop()
            browser.close()

    print("\nNotebook saved by JupyterLab with widget state (Save Widget State Automatically)")
    print("| earlier widget on re-run | nodes | cell runs | NcutWidgets open in the kernel | widgets saved | "
          "notebook file | payload (raw) | payloads in file (base64) | ES module + CSS in file | rest |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        rest = r["file"] - r["payload_b64"] - r["esm"] - r["css"]
        print(f"| {r['earlier']} | {r['nodes']:,} | {r['run']} | {r['kernel_widgets']} | {r['widgets']} | {_mb(r['file'])} | "
              f"{_mb(r['payload'])} | {_mb(r['payload_b64'])} | {_mb(r['esm'] + r['css'])} | {_mb(rest)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
