"""Linked panels in an exported page (no kernel): compare() of two layers, and two widgets with
different patch grids joined by NcutWidget.link. A click selects the same pixel region everywhere."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ncut_widget import NcutWidget, compare, sample_images
from ncut_widget.widget.export import save_page

from ._overlap import overlapping, wait_selected
from ._pixels import changed_fraction
from ._synthetic import synthetic_widget
from ._widget_dom import WidgetDom

pytestmark = pytest.mark.browser

MIN_CHANGE = 0.02  # share of a cell's pixels that must change for "the picture changed"


def _wait_changed(dom: WidgetDom, cells: list, before: list, timeout: float = 30.0) -> float:
    deadline = time.monotonic() + timeout
    while True:
        change = max(changed_fraction(b, a) for b, a in zip(before, dom.shots(cells), strict=True))
        if change > MIN_CHANGE or time.monotonic() > deadline:
            return change


def _panels(page, metas: list[dict]) -> list[WidgetDom]:
    roots = page.locator(".ncut")
    page.wait_for_function("n => document.querySelectorAll('.ncut').length === n", arg=len(metas))
    doms = [WidgetDom(roots.nth(i), meta) for i, meta in enumerate(metas)]
    for dom in doms:
        dom.wait_drawn()
    return doms


def test_a_click_in_one_layer_panel_selects_and_highlights_the_region_in_the_other(open_page, tmp_path) -> None:
    cmp = compare(sample_images(2), resolutions=(56, 112), layer=[3, 9], n_eig=6, color="pca", background=False)
    a, b = cmp.panels.values()
    page, log = open_page(Path(cmp.save_html(tmp_path / "compare.html")).as_uri(), viewport={"width": 1600, "height": 900})
    dom_a, dom_b = _panels(page, [a.meta, b.meta])
    assert [t.strip() for t in page.locator(".ncut-title").all_inner_texts()] == ["layer 3", "layer 9"]
    watched_a, watched_b = dom_a.others(0), dom_b.others(0)
    before_a, before_b = dom_a.shots(watched_a), dom_b.shots(watched_b)

    node = dom_a.click_patch(0, 0, 1, 2)
    wait_selected(dom_a, [node])
    expected = overlapping(a.meta, node, b.meta)
    assert len(expected) == 1 + 4  # the same 14 px patch at 56 px, its 2x2 patches at 112 px
    wait_selected(dom_b, expected)
    # Each panel highlights its own similar regions in the other image (heat or dimming).
    assert _wait_changed(dom_a, watched_a, before_a) > MIN_CHANGE
    assert _wait_changed(dom_b, watched_b, before_b) > MIN_CHANGE
    assert "selected" in dom_b.summary()
    # Back from B: A gets B's region, and B keeps exactly its click (no mapping back and forth).
    node_b = dom_b.click_patch(1, 1, 4, 5)
    wait_selected(dom_a, overlapping(b.meta, node_b, a.meta))
    wait_selected(dom_b, [node_b])
    assert log.page_errors == [] and log.console_errors == []


def test_widgets_with_14_and_16_px_patch_grids_link_by_exact_pixel_overlap(open_page, tmp_path) -> None:
    a = synthetic_widget(n_images=2, grids=((16, 16), (32, 32)))  # 14 px patches at 224 and 448
    b = synthetic_widget(n_images=2, grids=((14, 14),))  # 16 px patches at 224
    NcutWidget.link(a, b)
    path = save_page([a, b], tmp_path / "linked.html", columns=2)
    page, log = open_page(Path(path).as_uri(), viewport={"width": 1600, "height": 900})
    dom_a, dom_b = _panels(page, [a.meta, b.meta])

    for src, dst, res, image, row, col in [
        (dom_a, dom_b, 0, 1, 5, 9),  # a 16x16 patch straddling two 14x14 rows and columns
        (dom_a, dom_b, 1, 0, 20, 13),
        (dom_b, dom_a, 0, 0, 6, 3),  # back: one 14x14 patch -> 16x16 and 32x32 patches
    ]:
        node = src.click_patch(res, image, row, col)
        wait_selected(src, [node])
        expected = overlapping(src.meta, node, dst.meta)
        assert len(expected) > 1
        wait_selected(dst, expected)
    assert log.page_errors == [] and log.console_errors == []
