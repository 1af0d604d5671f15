"""JupyterLab: images added live (w.add_images after the widget is shown) are in the saved widget
state, and the notebook reopens with them, clickable, with no kernel."""

from __future__ import annotations

import base64
import hashlib

import pytest

from ._kernel import KernelProbe
from ._lab import (
    WIDGETS_PLUGIN,
    lab_setting,
    save_notebook,
    saved_widget_models,
    shutdown_kernel,
    shutdown_sessions,
)
from ._notebook import _KERNEL_IDLE, run_notebook, wait_for_output
from ._servers import REPO
from ._widget_dom import WidgetDom

pytestmark = pytest.mark.browser

NOTEBOOK = "saved_grow.ipynb"
CELLS = [
    f"import sys\nsys.path.insert(0, {str(REPO / 'tests' / 'browser')!r})\n"
    "import torch\ntorch.set_num_threads(1)\nimport _grown",
    "w = _grown.grown_widget(n_fitted=4, n_added=())\nw",
    # Run straight after the display: the append message may beat the widget's code to the page.
    "w.add_images(_grown.crops(6)[4:6])",
]


def _grown_state(nb: dict) -> dict | None:
    for model in saved_widget_models(nb).values():
        if len(model["state"].get("appended") or []) == 1:
            return model
    return None


@pytest.fixture(scope="module")
def saved(lab_server, open_page):
    with lab_setting(lab_server, WIDGETS_PLUGIN, {"saveState": True}):
        page, log = run_notebook(open_page, lab_server, NOTEBOOK, CELLS)
        try:
            wait_for_output(page, ".ncut", timeout=180)
            probe = KernelProbe(lab_server, NOTEBOOK)
            try:
                probe.wait_for("len(w.appended)", lambda n: n == 1, timeout=300)
                kernel = {
                    "meta": probe.eval("w.meta"),
                    "chunk_meta": probe.eval("w.appended[0]['meta']"),
                    "sha": probe.eval("__import__('hashlib').sha256(w.appended[0]['payload']).hexdigest()"),
                    "offsets": probe.eval("[b.offsets for b in w.results.layout.blocks]"),
                }
            finally:
                probe.close()
            page.locator('.jp-OutputArea-output .ncut-colname[data-image="5"] .ncut-added-badge').wait_for(timeout=60_000)
            nb = save_notebook(page, lab_server.root / NOTEBOOK, lambda nb: _grown_state(nb) is not None)
            assert log.errors_since_run() == [], log.errors_since_run()
            shutdown_kernel(page, lab_server, NOTEBOOK)
        finally:
            page.close()
            shutdown_sessions(lab_server, NOTEBOOK)
        yield nb, kernel


def test_the_saved_state_holds_the_added_chunk(saved) -> None:
    nb, kernel = saved
    model = _grown_state(nb)
    assert model["state"]["appended"][0]["meta"] == kernel["chunk_meta"]
    buffers = [b for b in model.get("buffers", []) if b["path"] == ["appended", 0, "payload"]]
    assert len(buffers) == 1, [b["path"] for b in model.get("buffers", [])]
    assert hashlib.sha256(base64.b64decode(buffers[0]["data"])).hexdigest() == kernel["sha"]


def test_the_reopened_notebook_shows_and_clicks_the_added_images(saved, lab_server, open_page) -> None:
    nb, kernel = saved
    page, log = open_page(lab_server.url(f"lab/tree/{NOTEBOOK}"))
    try:
        page.wait_for_function(_KERNEL_IDLE, timeout=120_000)
        # The fresh kernel knows no `w`: what shows comes from the saved state. JupyterLab restores
        # saved widgets only while a kernel is connected, so the kernel goes once they have.
        root = page.locator(".jp-OutputArea-output .ncut").first
        root.locator('.ncut-colname[data-image="5"] .ncut-added-badge').wait_for(timeout=60_000)
        shutdown_kernel(page, lab_server, NOTEBOOK)
        log.errors_before_run = len(log.page_errors)
        assert root.locator(".ncut-added-badge").count() == 2
        meta = dict(kernel["meta"])
        dom = WidgetDom(root, meta)
        cell = root.locator('.ncut-grid canvas.ncut-cell[data-res="1"][data-image="5"]:not(.ncut-loading)')
        cell.wait_for(timeout=60_000)
        box = cell.bounding_box()
        r = meta["resolutions"][1]
        page.mouse.click(box["x"] + box["width"] * 0.5 / r["w"], box["y"] + box["height"] * 0.5 / r["h"])
        node = kernel["offsets"][1][1] + 1 * r["h"] * r["w"]  # image 5 = the chunk's second image, patch (0, 0)
        page.wait_for_function("n => document.querySelector('.ncut').dataset.selected === String(n)", arg=node)
        assert dom.selected() == [node]
        assert log.errors_since_run() == [], log.errors_since_run()
    finally:
        page.close()
        shutdown_sessions(lab_server, NOTEBOOK)
