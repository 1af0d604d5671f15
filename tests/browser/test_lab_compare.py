"""JupyterLab 4: compare() of two layers in a notebook; a click in one panel selects the same pixel
region in the other, in the browser and in the kernel, and a selection set in Python maps back."""

from __future__ import annotations

import pytest

from ._kernel import KernelProbe
from ._lab import forget_workspace, shutdown_sessions
from ._notebook import run_notebook, wait_for_output
from ._overlap import overlapping, wait_selected
from ._widget_dom import WidgetDom

pytestmark = pytest.mark.browser

NOTEBOOK = "compare.ipynb"
CELLS = [
    # Two cores: the kernel keeps to one torch thread so Chromium gets the other.
    "import torch\ntorch.set_num_threads(1)\nfrom ncut_widget import compare, sample_images",
    "cmp = compare(sample_images(2), resolutions=(56, 112), layer=[3, 9], n_eig=6, color='pca')\ncmp",
    "a, b = cmp.wait().panels.values()\nprint('ready')",
]


def test_a_click_links_the_panels_in_the_browser_and_the_kernel(lab_server, open_page) -> None:
    page, log = run_notebook(open_page, lab_server, NOTEBOOK, CELLS)
    wait_for_output(page, ".ncut")
    probe = KernelProbe(lab_server, NOTEBOOK)
    try:
        metas = probe.eval("[w.meta for w in cmp.wait(600).panels.values()]", timeout=600)
        roots = page.locator(".jp-OutputArea-output .ncut")
        dom_a, dom_b = (WidgetDom(roots.nth(i), meta) for i, meta in enumerate(metas))
        dom_a.wait_drawn()
        dom_b.wait_drawn()

        node = dom_a.click_patch(0, 1, 2, 1)
        expected = overlapping(metas[0], node, metas[1])
        wait_selected(dom_b, expected)
        # The browser sent both panels' selections; the kernel keeps them as sent (no re-mapping).
        probe.wait_for("[a.selected, b.selected]", lambda v: v == [[node], expected])

        # From Python: b's selection maps to a, in the kernel and on the page.
        probe.run("b.selected = [3]")
        back = overlapping(metas[1], 3, metas[0])
        assert probe.eval("a.selected") == back
        wait_selected(dom_a, back)
        wait_selected(dom_b, [3])
        assert log.errors_since_run() == []
    finally:
        probe.close()
        page.close()
        # Later Lab tests open their own notebook: no kernel of ours, and no workspace reopening ours.
        shutdown_sessions(lab_server, NOTEBOOK)
        forget_workspace(lab_server)
