"""JupyterLab 4: box, lasso, Segments-mode clicks, negatives, the hierarchy strip and the focus view,
with every selection read back in the kernel (the same gestures as the exported-page tests)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from ._gestures import (
    box_nodes,
    corners,
    drag_box,
    focus_pick,
    hierarchy_alphas,
    lasso,
    other_class_patch,
    segment_of,
    wait_highlighted,
    wait_selected,
)
from ._kernel import KernelProbe
from ._notebook import run_notebook, wait_for_output
from ._widget_dom import WidgetDom

pytestmark = pytest.mark.browser

NOTEBOOK = "regions.ipynb"
HERE = Path(__file__).resolve().parent
CELLS = [
    f"import sys\nsys.path.insert(0, {str(HERE)!r})\nimport _synthetic",
    # Threshold 0: a negative in another class has highlighted nodes to take away (see _synthetic).
    "w = _synthetic.synthetic_widget(n_images=2, grids=((8, 8), (16, 16)), threshold=0.0)\nw",
]


@pytest.fixture(scope="module")
def lab(lab_server, open_page) -> Iterator[tuple]:
    page, log = run_notebook(open_page, lab_server, NOTEBOOK, CELLS)
    wait_for_output(page, ".ncut")
    probe = KernelProbe(lab_server, NOTEBOOK)
    meta = probe.eval("w.meta")
    dom = WidgetDom(page.locator(".jp-OutputArea-output .ncut").first, meta)
    dom.wait_drawn()
    yield page, log, probe, dom
    probe.close()


def _python_selected(probe: KernelProbe, expected: list[int]) -> None:
    probe.wait_for("sorted(w.selected)", lambda value: value == sorted(expected))


def _clear(probe: KernelProbe, dom: WidgetDom) -> None:
    probe.run("w.selected = []; w.negative = []; w.color_mode = 'rgb'")
    dom.root.locator(".ncut-summary", has_text="click a point or a patch").wait_for()


def test_a_box_selects_exactly_its_patches_and_python_gets_them(lab) -> None:
    page, log, probe, dom = lab
    _clear(probe, dom)
    box = corners(dom, 1, 1, (0.15, 0.2), (0.6, 0.55))
    expected = box_nodes(dom, 1, 1, box)
    assert 4 < len(expected) < 16 * 16
    drag_box(dom, box)
    wait_selected(page, len(expected))
    assert sorted(dom.selected()) == expected
    _python_selected(probe, expected)
    assert log.errors_since_run() == []


def test_a_lasso_selects_exactly_the_projected_points_and_python_gets_them(lab) -> None:
    page, log, probe, dom = lab
    _clear(probe, dom)
    payload = base64.b64decode(probe.eval("__import__('base64').b64encode(w.payload).decode()"))
    expected = lasso(dom, dom.meta, payload)
    assert 0 < len(expected) < dom.meta["n_nodes"]
    assert sorted(dom.selected()) == expected
    _python_selected(probe, expected)
    assert log.errors_since_run() == []


def test_segments_mode_click_selects_its_segment_and_the_strip_shows_every_level(lab) -> None:
    page, log, probe, dom = lab
    _clear(probe, dom)
    probe.run("w.color_mode = 'segments'; w.k = 6")  # set from Python: the browser follows
    dom.root.locator(".ncut-value", has_text="6 segments").wait_for()
    ks = dom.meta["segments"]["ks"]
    masks = {k: [np.array(m) for m in probe.eval(f"[m.tolist() for m in w.segment_masks({k})]")] for k in ks}

    res, image, row, col = 1, 0, 6, 11
    node = dom.click_patch(res, image, row, col)
    expected = segment_of(np.concatenate([m.reshape(-1) for m in masks[6]]), node)
    wait_selected(page, len(expected))
    assert sorted(dom.selected()) == expected
    _python_selected(probe, expected)

    alphas = hierarchy_alphas(dom, len(ks), node)
    local = node - dom.meta["resolutions"][res]["offset"] - image * 16 * 16
    for k, alpha in zip(ks, alphas, strict=True):
        grid = masks[k][res][image].reshape(-1)
        np.testing.assert_array_equal(alpha == 255, grid == grid[local], err_msg=f"hierarchy level k={k}")
    assert log.errors_since_run() == []


def test_an_alt_click_marks_a_negative_in_python_and_shrinks_the_highlight(lab) -> None:
    page, log, probe, dom = lab
    _clear(probe, dom)
    node = dom.click_patch(1, 0, 4, 4)
    _python_selected(probe, [node])
    before = probe.eval(f"int((w.similarity([{node}], []) >= w.threshold).sum())")
    wait_highlighted(page, before)
    eig = np.array(probe.eval("w._eig_wire.tolist()"), dtype=np.float32)
    row, col = other_class_patch(eig, dom.meta, node, 1, 1)
    neg = dom.click_patch(1, 1, row, col, modifiers=("Alt",))
    probe.wait_for("w.negative", lambda value: value == [neg])
    after = probe.eval("int((w.similarity() >= w.threshold).sum())")
    assert after < before
    wait_highlighted(page, after)
    assert dom.selected() == [node]
    assert log.errors_since_run() == []


def test_the_focus_view_picks_the_exact_node_and_python_gets_it(lab) -> None:
    page, log, probe, dom = lab
    _clear(probe, dom)
    focus_pick(dom, 1, 1, [(0, 0), (9, 13), (15, 2)])
    _python_selected(probe, [dom.meta["resolutions"][1]["offset"] + 256 + 15 * 16 + 2])
    panel = dom.root.locator(".ncut-focus")
    panel.focus()
    page.keyboard.press("Escape")
    panel.wait_for(state="hidden")
    assert log.errors_since_run() == []
