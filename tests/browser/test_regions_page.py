"""Region selection in the exported page (no kernel): a box on a colormap, a lasso in the 3D view."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ._gestures import box_nodes, corners, drag_box, lasso, wait_selected
from ._synthetic import synthetic_widget
from ._widget_dom import WidgetDom

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def regions_page(chromium, open_page, tmp_path_factory: pytest.TempPathFactory):
    w = synthetic_widget(n_images=2, grids=((8, 8), (16, 16)))
    path = w.save_html(tmp_path_factory.mktemp("regions") / "regions.html")
    page, log = open_page(Path(path).as_uri())
    dom = WidgetDom(page.locator(".ncut").first, w.meta)
    dom.wait_drawn()
    return w, page, log, dom


def test_a_box_selects_exactly_its_patches_shift_adds_alt_removes(regions_page) -> None:
    w, page, log, dom = regions_page
    first = corners(dom, 1, 0, (0.2, 0.15), (0.55, 0.5))
    expected = box_nodes(dom, 1, 0, first)
    assert 4 < len(expected) < 16 * 16
    drag_box(dom, first)
    wait_selected(page, len(expected))
    assert sorted(dom.selected()) == expected
    # Every selected patch counts as highlighted (selected nodes score 1), as in Python.
    shown = int(re.search(r"([\d,]+) of", dom.summary()).group(1).replace(",", ""))
    python = int((w.similarity(expected, []) >= w.threshold).sum())
    assert shown == python and shown >= len(expected)

    second = corners(dom, 0, 1, (0.9, 0.9), (0.6, 0.6))  # dragged up-left, on another image
    added = box_nodes(dom, 0, 1, second)
    drag_box(dom, second, keys=("Shift",))
    wait_selected(page, len(expected) + len(added))
    assert sorted(dom.selected()) == sorted(expected + added)

    third = corners(dom, 1, 0, (0.0, 0.0), (0.4, 0.3))
    removed = set(box_nodes(dom, 1, 0, third))
    left = sorted(set(expected + added) - removed)
    drag_box(dom, third, keys=("Alt",))
    wait_selected(page, len(left))
    assert sorted(dom.selected()) == left
    assert log.page_errors == [] and log.console_errors == []


def test_a_lasso_selects_exactly_the_points_projected_inside_it(regions_page) -> None:
    w, page, log, dom = regions_page
    dom.root.get_by_role("button", name="Clear").click()
    expected = lasso(dom, w.meta, w.payload)
    assert 0 < len(expected) < w.meta["n_nodes"]
    assert sorted(dom.selected()) == expected
    assert log.page_errors == [] and log.console_errors == []
