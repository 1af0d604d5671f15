"""JupyterLab: a notebook saved with widget state reopens to the whole widget, clickable with no kernel.

The widget's results are state (the binary ``payload`` trait with ``meta``, docs/wire-format.md), so
"Save Widget State Automatically" writes them into the notebook. Reopened, JupyterLab starts a
fresh kernel that knows nothing of ``w``; the widget manager then restores the saved models, and
we shut that kernel down too: the widget must draw and answer clicks with no kernel at all.

(Opening with "No Kernel" from the start shows only "Loading widget...": the JupyterLab widget
manager loads saved state only once a kernel is connected; ipywidgets issue #3773, not ours.)
"""

from __future__ import annotations

import hashlib
import time

import pytest

from ._kernel import KernelProbe
from ._lab import (
    WIDGETS_PLUGIN,
    lab_setting,
    save_notebook,
    saved_buffer,
    saved_widget_models,
    shutdown_kernel,
    shutdown_sessions,
    widget_views,
)
from ._notebook import _KERNEL_IDLE, run_notebook, wait_for_output
from ._pixels import changed_fraction, is_blank, shot
from ._servers import REPO
from ._widget_dom import WidgetDom

pytestmark = pytest.mark.browser

NOTEBOOK = "saved_state.ipynb"
CELLS = [
    f"import sys\nsys.path.insert(0, {str(REPO / 'tests' / 'browser')!r})\nimport _synthetic",
    # 640 nodes, no model: the synthetic result is built in a second on one core.
    "w = _synthetic.synthetic_widget(n_images=2, grids=((8, 8), (16, 16)))\nw",
]
MIN_CHANGE = 0.02


def _has_widget_state(version: int):
    def check(nb: dict) -> bool:
        return any(m["state"].get("meta", {}).get("version") == version for m in saved_widget_models(nb).values())

    return check


@pytest.fixture(scope="module")
def saved(lab_server, open_page):
    """Run the notebook with saveState on, save it, shut its kernel down; yield what Python had."""
    with lab_setting(lab_server, WIDGETS_PLUGIN, {"saveState": True}):
        page, log = run_notebook(open_page, lab_server, NOTEBOOK, CELLS)
        try:
            wait_for_output(page, ".ncut", timeout=180)
            probe = KernelProbe(lab_server, NOTEBOOK)
            try:
                meta = probe.eval("w.meta")
                sha = probe.eval("__import__('hashlib').sha256(w.payload).hexdigest()")
                model_id = probe.eval("w.model_id")
            finally:
                probe.close()
            WidgetDom(page.locator(".jp-OutputArea-output .ncut").first, meta).wait_drawn()
            nb = save_notebook(page, lab_server.root / NOTEBOOK, _has_widget_state(meta["version"]))
            assert log.errors_since_run() == [], f"page errors while running the notebook: {log.errors_since_run()}"
            shutdown_kernel(page, lab_server, NOTEBOOK)
        finally:
            page.close()
            shutdown_sessions(lab_server, NOTEBOOK)
        # saveState stays on for the reopened page, as for a user who turned it on.
        yield {"nb": nb, "meta": meta, "sha": sha, "model_id": model_id}


def test_saved_notebook_holds_the_widget_state_with_its_payload(saved) -> None:
    nb, meta = saved["nb"], saved["meta"]
    models = saved_widget_models(nb)
    assert saved["model_id"] in models, f"the widget's model {saved['model_id']} is not in the saved state: {list(models)}"
    model = models[saved["model_id"]]
    assert model["model_name"] == "AnyModel", model["model_name"]
    state = model["state"]
    assert state["meta"] == meta, "the saved meta differs from the widget's"
    payload = saved_buffer(model, "payload")
    assert len(payload) == meta["total_bytes"], f"saved payload has {len(payload)} bytes, meta says {meta['total_bytes']}"
    assert hashlib.sha256(payload).hexdigest() == saved["sha"], "the saved payload is not the widget's"
    # The frontend code travels too, so the page can render without the Python package.
    assert "_esm" in state and len(state["_esm"]) > 1000, "the saved state lacks the widget's ES module"
    assert state["status"].startswith(f"{meta['n_nodes']} nodes"), state["status"]
    # The cell's output refers to that model.
    assert widget_views(nb) == [saved["model_id"]], widget_views(nb)


def test_reopened_notebook_renders_and_clicks_with_no_kernel(saved, lab_server, open_page) -> None:
    meta = saved["meta"]
    page, log = open_page(lab_server.url(f"lab/tree/{NOTEBOOK}"))
    try:
        # JupyterLab starts a fresh kernel on open; the widget manager restores the saved models then.
        page.wait_for_function(_KERNEL_IDLE, timeout=120_000)
        probe = KernelProbe(lab_server, NOTEBOOK)
        try:
            assert probe.eval("'w' in globals()") is False, "the reopened notebook's kernel is not a fresh one"
        finally:
            probe.close()
        shutdown_kernel(page, lab_server, NOTEBOOK)
        log.errors_before_run = len(log.page_errors)

        root = page.locator(".jp-OutputArea-output .ncut")
        root.first.wait_for(timeout=60_000)
        assert root.count() == 1, f"{root.count()} widget displays after reopening, expected 1"
        dom = WidgetDom(root.first, meta)
        dom.wait_drawn()
        assert not is_blank(shot(dom.view3d())), "the 3D view shows only its background"
        assert dom.root.locator(".ncut-summary").inner_text().startswith(f"{meta['n_nodes']:,} nodes"), dom.summary()

        r = meta["resolutions"][0]
        others = dom.others(0)
        before = dom.shots(others)
        node = dom.click_patch(0, 0, r["h"] // 2, r["w"] // 2)

        dom.root.locator(".ncut-summary", has_text="1 selected").wait_for(timeout=15_000)
        assert dom.selected() == [node], f"data-selected {dom.selected()} after clicking node {node}"
        deadline = time.monotonic() + 15
        while True:
            changes = [changed_fraction(b, a) for b, a in zip(before, dom.shots(others), strict=True)]
            if max(changes) > MIN_CHANGE or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert max(changes) > MIN_CHANGE, f"with no kernel, clicking image 0 changed no pixels of image 1: {changes}"
        assert log.errors_since_run() == [], f"page errors while clicking with no kernel: {log.errors_since_run()}"
        # JupyterLab's debugger logs one error of its own when its kernel goes away under it.
        ours = [e for e in log.console_errors if not e.startswith("Could not restore the debugger state")]
        assert ours == [], f"console errors in the reopened notebook: {ours}"
    finally:
        page.close()
        shutdown_sessions(lab_server, NOTEBOOK)
