"""The exported page of a grown map: 20 fitted images + 500 added (two add_images chunks), paged grid,
added images marked, and a click on any image selects exactly its node and highlights like Python."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from ncut_widget.nodes import locate_node
from ncut_widget.widget import state as wire

from ._grown import grown_widget
from ._pixels import point_pixel, shot
from ._widget_dom import WidgetDom

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def grown_page(chromium, open_page, tmp_path_factory: pytest.TempPathFactory):
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        w = grown_widget()
    finally:
        torch.set_num_threads(threads)
    path = w.save_html(tmp_path_factory.mktemp("grown") / "grown.html")
    page, log = open_page(Path(path).as_uri())
    root = page.locator(".ncut").first
    root.locator(".ncut-grid canvas.ncut-cell:not(.ncut-loading)").first.wait_for()
    return w, page, log, WidgetDom(root, w.meta)


def _node(w, res: int, image: int, row: int, col: int) -> int:
    """The node id Python gives this patch (GridLayout blocks), independent of the browser."""
    layout = w.results.layout
    block = next(b for b in reversed(layout.blocks) if image >= b.first)
    h, wd = layout.grid_shapes[res]
    return block.offsets[res] + (image - block.first) * h * wd + row * wd + col


def _highlighted(dom: WidgetDom) -> int:
    match = re.search(r"([\d,]+) of ([\d,]+) nodes", dom.summary())
    assert match, f"no highlight count in {dom.summary()!r}"
    assert int(match.group(2).replace(",", "")) == 41_600
    return int(match.group(1).replace(",", ""))


def test_the_grid_pages_and_marks_added_images(grown_page) -> None:
    w, page, log, dom = grown_page
    pager = dom.root.locator(".ncut-pager")
    assert "Images 1–48 of 520" in pager.inner_text()
    # Page one: 48 images x (photo + 2 resolutions) cells, 28 of them added ones with a badge.
    assert dom.root.locator(".ncut-grid canvas.ncut-cell").count() == 48 * 3
    assert dom.root.locator(".ncut-colname.ncut-added").count() == 28
    assert dom.root.locator('.ncut-colname[data-image="19"] .ncut-added-badge').count() == 0
    assert dom.root.locator('.ncut-colname[data-image="20"] .ncut-added-badge').count() == 1
    assert log.page_errors == [] and log.console_errors == []


def test_old_and_added_patches_show_their_wire_colours(grown_page) -> None:
    """The browser decodes the fitted nodes' bytes as before the growth and the added ones with them."""
    w, page, log, dom = grown_page
    colors = wire.rgb_bytes(w.results.rgb)
    for image in (3, 30):
        expected = w.results.split(colors)[1][image]  # (h, w, 3) at the finer resolution
        picture = shot(dom.cell(1, image)).astype(np.int16)
        h, wd = expected.shape[:2]
        ys = ((np.arange(h) + 0.5) / h * picture.shape[0]).astype(int)
        xs = ((np.arange(wd) + 0.5) / wd * picture.shape[1]).astype(int)
        assert np.abs(picture[ys][:, xs] - expected).max() <= 2, f"image {image} is not in its wire colours"


def test_a_click_on_an_old_and_on_an_added_image_selects_its_node(grown_page) -> None:
    w, page, log, dom = grown_page
    for image, res, row, col in ((3, 1, 5, 2), (30, 0, 1, 3)):
        node = _node(w, res, image, *dom.click_landed(res, image, row, col))
        page.wait_for_function("n => document.querySelector('.ncut').dataset.selected === String(n)", arg=node)
        expected = int((w.similarity([node]) >= w.threshold).sum())
        assert abs(_highlighted(dom) - expected) <= 1


def test_the_last_page_holds_the_last_added_image_and_clicks_work(grown_page) -> None:
    w, page, log, dom = grown_page
    nxt = dom.root.locator(".ncut-pager button", has_text="Next")
    while not nxt.is_disabled():
        nxt.click()
    assert "Images 481–520 of 520" in dom.root.locator(".ncut-pager").inner_text()
    assert dom.root.locator(".ncut-grid canvas.ncut-cell").count() == 40 * 3
    node = _node(w, 1, 519, *dom.click_landed(1, 519, 7, 7))
    assert node == 41_599  # the very last node: the second chunk's last patch
    page.wait_for_function("n => document.querySelector('.ncut').dataset.selected === String(n)", arg=node)
    expected = int((w.similarity([node]) >= w.threshold).sum())
    assert abs(_highlighted(dom) - expected) <= 1
    assert log.page_errors == [] and log.console_errors == []


def _image_of_node(w, node: int) -> int:
    """``node``'s image by Python's layout (GridLayout blocks), independent of the browser."""
    layout = w.results.layout
    return locate_node(layout.blocks, layout.grid_shapes, node)[1]


def test_a_point_picked_in_3d_turns_the_grid_to_its_image_page(grown_page) -> None:
    """A node picked in the 3D view whose image is on another page: the grid shows that page."""
    w, page, log, dom = grown_page
    pager = dom.root.locator(".ncut-pager")
    view = dom.view3d()
    dom.root.get_by_role("button", name="Clear").click()
    x, y = point_pixel(shot(view))
    before = int(pager.get_attribute("data-page"))
    view.click(position={"x": x, "y": y})
    page.wait_for_function("() => document.querySelector('.ncut').dataset.selected !== ''")
    (node,) = dom.selected()
    image = _image_of_node(w, node)
    target = image // 48  # 48 images a page
    if target == before:
        # It was on the page shown: step to another page and pick the same point again.
        dom.root.get_by_role("button", name="Clear").click()
        step = "Prev" if target > 0 else "Next"
        dom.root.locator(".ncut-pager button", has_text=step).click()
        assert int(pager.get_attribute("data-page")) != target
        view.click(position={"x": x, "y": y})
        page.wait_for_function("() => document.querySelector('.ncut').dataset.selected !== ''")
        assert dom.selected() == [node]
    pager.locator(f"xpath=self::*[@data-page='{target}']").wait_for()
    assert f"page {target + 1}/11" in pager.inner_text()
    assert dom.root.locator(f'.ncut-colname[data-image="{image}"]').count() == 1
    assert log.page_errors == [] and log.console_errors == []
