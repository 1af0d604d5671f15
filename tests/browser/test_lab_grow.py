"""JupyterLab 4: w.add_images on an open view appends the new image live (one message, no echo back),
marks it as added, and a click on it selects its node in the kernel and highlights like Python."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from ._kernel import KernelProbe
from ._notebook import run_notebook, wait_for_output
from ._pixels import is_blank, shot
from ._widget_dom import WidgetDom

pytestmark = pytest.mark.browser

NOTEBOOK = "grow.ipynb"
CELLS = [
    "import torch\ntorch.set_num_threads(1)\nfrom PIL import ImageOps\nfrom ncut_widget import explore, sample_images",
    "w = explore(sample_images(2), resolutions=(112, 224), n_eig=12, color='pca')\nw",
    "w.wait()\nprint('ready', w.meta['n_nodes'])",
]
# Every state update the kernel receives from the browser, by trait names (the append must not come back).
SPY = """
_received = []
_set_state = w.set_state
def _spy(state):
    _received.append(sorted(state))
    return _set_state(state)
w.set_state = _spy
"""


@pytest.fixture(scope="module")
def lab(lab_server, open_page) -> Iterator[tuple]:
    page, log = run_notebook(open_page, lab_server, NOTEBOOK, CELLS)
    wait_for_output(page, ".ncut")
    probe = KernelProbe(lab_server, NOTEBOOK)
    meta = probe.eval("w.wait(600).meta", timeout=600)
    dom = WidgetDom(page.locator(".jp-OutputArea-output .ncut").first, meta)
    dom.wait_drawn()
    yield page, log, probe, dom
    probe.close()


def test_add_images_appends_to_the_open_view(lab) -> None:
    page, log, probe, dom = lab
    n_old = dom.meta["n_nodes"]
    probe.run(SPY)
    probe.run("w.add_images([ImageOps.mirror(sample_images(2)[0])])", timeout=600)

    badge = dom.root.locator('.ncut-colname[data-image="2"] .ncut-added-badge')
    badge.wait_for(timeout=60_000)
    for res in ("photo", "0", "1"):
        cell = dom.root.locator(f'.ncut-grid canvas.ncut-cell[data-res="{res}"][data-image="2"]:not(.ncut-loading)')
        cell.wait_for(timeout=60_000)
        deadline = time.monotonic() + 30
        while is_blank(shot(cell)) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not is_blank(shot(cell)), f"the added image's {res} cell stayed blank"
    dom.root.locator(".ncut-status", has_text="(1 added)").wait_for(timeout=30_000)

    offsets = probe.eval("w.appended[0]['meta']['offsets']")
    assert offsets[0] == n_old
    r = dom.meta["resolutions"][1]
    row, col = dom.click_landed(1, 2, r["h"] // 2, r["w"] // 4)
    node = offsets[1] + row * r["w"] + col
    probe.wait_for("w.selected", lambda v: v == [node])
    expected = probe.eval("int((w.similarity() >= w.threshold).sum())")
    match = re.search(r"([\d,]+) of ([\d,]+) nodes", dom.summary())
    assert match and int(match.group(2).replace(",", "")) == probe.eval("len(w.results.eigvecs)")
    assert abs(int(match.group(1).replace(",", "")) - expected) <= 1
    # The browser sent the selection back, never the appended chunks.
    received = probe.eval("_received")
    assert received and all("appended" not in names for names in received), received
    assert log.errors_since_run() == [], log.errors_since_run()


def test_a_node_selected_from_python_turns_the_grid_to_its_page(lab) -> None:
    """Grown past one page (48 images), the grid follows a selection made in the kernel."""
    page, log, probe, dom = lab
    probe.run("from ncut_widget.nodes import node_id\nw.add_images(sample_images(2) * 24)", timeout=600)
    pager = dom.root.locator(".ncut-pager")
    pager.locator("xpath=self::*[not(@hidden)]").wait_for(timeout=60_000)
    n_images = probe.eval("len(w.results.images)")
    assert n_images > 48
    assert f"of {n_images} (page 1/2)" in pager.inner_text()
    for image, want in ((n_images - 1, "1"), (0, "0")):
        node = probe.eval(f"node_id(w.results.layout.blocks, w.results.layout.grid_shapes, 1, {image}, 2, 3)")
        probe.run(f"w.selected = [{node}]")
        pager.locator(f"xpath=self::*[@data-page='{want}']").wait_for(timeout=30_000)
        page.wait_for_function("n => document.querySelector('.ncut').dataset.selected === String(n)", arg=node)
        assert dom.root.locator(f'.ncut-colname[data-image="{image}"]').count() == 1
    assert log.errors_since_run() == [], log.errors_since_run()
