"""Jupyter Notebook 7: the widget renders and a click on a patch reaches the kernel."""

from __future__ import annotations

import pytest

from ._kernel import KernelProbe
from ._notebook import run_notebook, wait_for_output
from ._widget_dom import WidgetDom

pytestmark = pytest.mark.browser

NOTEBOOK = "nb7.ipynb"
CELLS = [
    "import torch\ntorch.set_num_threads(1)\nfrom ncut_widget import explore, sample_images",
    # Small and blocking: the widget appears with its results already computed.
    "w = explore(sample_images()[:2], resolutions=(112, 224), background=False)\nw",
]


def test_widget_renders_and_click_reaches_kernel(notebook_server, open_page) -> None:
    page, log = run_notebook(open_page, notebook_server, NOTEBOOK, CELLS)
    root = wait_for_output(page, ".ncut")
    probe = KernelProbe(notebook_server, NOTEBOOK)
    try:
        dom = WidgetDom(root, probe.eval("w.meta"))
        dom.wait_drawn()
        assert dom.view3d().count() == 1, "the 3D view did not mount"
        r = dom.meta["resolutions"][1]
        node = dom.click_patch(1, 1, r["h"] // 4, r["w"] - 2)
        probe.wait_for("w.selected", lambda v: v == [node])
        dom.root.locator(".ncut-summary", has_text="1 selected").wait_for()
    finally:
        probe.close()
    assert log.errors_since_run() == [], f"page errors once the notebook ran: {log.errors_since_run()}"
