"""JupyterLab 4: explore() on three sample photos, driven by clicks and by Python, read back in the kernel."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest

from ._kernel import KernelProbe
from ._notebook import run_notebook, wait_for_output
from ._pixels import changed_fraction
from ._widget_dom import PHOTO, WidgetDom

pytestmark = pytest.mark.browser

NOTEBOOK = "explore.ipynb"
CELLS = [
    # Two cores: the kernel keeps to one torch thread so Chromium gets the other.
    "import torch\ntorch.set_num_threads(1)\nfrom ncut_widget import explore, sample_images",
    "w = explore(sample_images()[:3])\nw",
    "w.wait()\nprint('ready', w.meta['n_nodes'])",
]
MIN_CHANGE = 0.02  # share of a cell's pixels that must change for "the picture changed"


@pytest.fixture(scope="module")
def lab(lab_server, open_page) -> Iterator[tuple]:
    page, log = run_notebook(open_page, lab_server, NOTEBOOK, CELLS)
    # The widget's output exists once cell 2 ran, so `w` exists before the probe asks for it.
    wait_for_output(page, ".ncut")
    probe = KernelProbe(lab_server, NOTEBOOK)
    meta = probe.eval("w.wait(600).meta", timeout=600)
    dom = WidgetDom(page.locator(".jp-OutputArea-output .ncut").first, meta)
    dom.wait_drawn()
    yield page, log, probe, dom
    probe.close()


def _select_in_python(probe: KernelProbe, dom: WidgetDom, nodes: list[int]) -> None:
    """Set ``w.selected`` from the kernel and wait until the browser shows that many selected."""
    probe.run(f"w.selected = {nodes}")
    text = f"{len(nodes)} selected" if nodes else "click a point or a patch"
    dom.root.locator(".ncut-summary", has_text=text).wait_for()


def _wait_changed(dom: WidgetDom, cells: list, before: list[np.ndarray], timeout: float = 30.0) -> list[float]:
    """Poll screenshots until some cell differs from ``before``; returns the per-cell change."""
    deadline = time.monotonic() + timeout
    while True:
        changes = [changed_fraction(b, a) for b, a in zip(before, dom.shots(cells), strict=True)]
        if max(changes) > MIN_CHANGE or time.monotonic() > deadline:
            return changes


def _assert_same_highlight_count(probe: KernelProbe, dom: WidgetDom) -> None:
    """The browser highlights exactly as many nodes as Python's w.similarity() puts at or above the
    threshold (same int8 codes, same operations: bit-identical scores)."""
    expected = probe.eval("int((w.similarity() >= w.threshold).sum())")
    match = re.search(r"([\d,]+) of [\d,]+ nodes", dom.summary())
    assert match, f"no highlight count in the summary {dom.summary()!r}"
    shown = int(match.group(1).replace(",", ""))
    assert shown == expected, f"python highlights {expected} nodes, the browser {shown}"


def _equals(expected: object) -> Callable[[object], bool]:
    return lambda value: value == expected


def test_click_patch_selects_that_node_in_kernel_and_highlights_other_images(lab) -> None:
    page, log, probe, dom = lab
    _select_in_python(probe, dom, [])
    r = dom.meta["resolutions"][0]
    others = dom.others(0)
    before = dom.shots(others)

    node = dom.click_patch(0, 0, r["h"] // 2, r["w"] // 2)

    probe.wait_for("w.selected", _equals([node]))
    changes = _wait_changed(dom, others, before)
    assert max(changes) > MIN_CHANGE, f"clicking image 0 changed no pixels of images 1-2: {changes}"
    assert log.errors_since_run() == [], f"page errors once the notebook ran: {log.errors_since_run()}"


def test_python_selection_redraws_the_browser(lab) -> None:
    page, log, probe, dom = lab
    r = dom.meta["resolutions"][-1]
    node = r["offset"] + 2 * r["h"] * r["w"] + (r["h"] // 3) * r["w"] + r["w"] // 3  # image 2
    _select_in_python(probe, dom, [])
    cells = dom.others(2)
    before = dom.shots(cells)

    _select_in_python(probe, dom, [node])

    changes = _wait_changed(dom, cells, before)
    assert max(changes) > MIN_CHANGE, f"w.selected = [{node}] changed no pixels of images 0-1: {changes}"
    # The browser's highlight count is Python's: same eigenvectors, same cosine, same threshold.
    _assert_same_highlight_count(probe, dom)


def test_eigenvector_slider_changes_heatmap_and_kernel(lab) -> None:
    page, log, probe, dom = lab
    r = dom.meta["resolutions"][0]
    _select_in_python(probe, dom, [r["offset"] + r["h"] // 2 * r["w"] + r["w"] // 2])
    current = probe.eval("w.n_eig_view")
    target = 2 if current != 2 else 3
    cells = [dom.cell(res, i) for res in range(len(dom.meta["resolutions"])) for i in range(dom.n_images)]
    before = dom.shots(cells)

    dom.eig_slider().fill(str(target))

    probe.wait_for("w.n_eig_view", _equals(target))
    changes = _wait_changed(dom, cells, before)
    assert max(changes) > MIN_CHANGE, f"n_eig_view {current} -> {target} left the heatmap unchanged: {changes}"
    _assert_same_highlight_count(probe, dom)


def test_click_after_resize_still_picks_the_right_node(lab) -> None:
    page, log, probe, dom = lab
    finest = len(dom.meta["resolutions"]) - 1
    cell = dom.cell(finest, 1)
    old = cell.bounding_box()
    page.set_viewport_size({"width": 820, "height": 900})
    try:
        deadline = time.monotonic() + 20
        while cell.bounding_box() == old and time.monotonic() < deadline:
            time.sleep(0.2)
        new = cell.bounding_box()
        assert new != old, "shrinking the viewport did not resize the image grid"
        dom.wait_drawn()
        r = dom.meta["resolutions"][finest]
        node = dom.click_patch(finest, 1, r["h"] - 3, r["w"] - 4)
        probe.wait_for("w.selected", _equals([node]))
        # The photo row maps onto the finest grid with the same geometry.
        node = dom.click_patch(finest, 2, 1, 2, on=PHOTO)
        probe.wait_for("w.selected", _equals([node]))
    finally:
        page.set_viewport_size({"width": 1400, "height": 1000})
