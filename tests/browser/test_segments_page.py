"""Segments mode in the exported page (no kernel): a click selects exactly its segment."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ._gestures import hierarchy_alphas, segment_of
from ._pixels import shot
from ._synthetic import synthetic_widget
from ._widget_dom import WidgetDom

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def segments_page(chromium, open_page, tmp_path_factory: pytest.TempPathFactory):
    """A synthetic widget (2 images at 8x8 and 16x16) saved in Segments mode at k=6, opened from file://."""
    w = synthetic_widget(n_images=2, grids=((8, 8), (16, 16)), color_mode="segments")
    w.k = 6
    path = w.save_html(tmp_path_factory.mktemp("segments") / "segments.html")
    page, log = open_page(Path(path).as_uri())
    dom = WidgetDom(page.locator(".ncut").first, w.meta)
    dom.wait_drawn()
    return w, page, log, dom


def _segment_of(w, k: int, node: int) -> list[int]:
    return segment_of(np.concatenate([m.reshape(-1) for m in w.segment_masks(k)]), node)


def test_every_patch_shows_its_segments_mean_rgb(segments_page) -> None:
    w, page, log, dom = segments_page
    level = w.meta["segments"]["ks"].index(6)
    colors = np.array(w.meta["segments"]["colors"][level])
    for res, labels in enumerate(w.segment_masks(6)):
        h, wd = labels.shape[1:]
        for image in range(dom.n_images):
            picture = shot(dom.cell(res, image)).astype(np.int16)
            ph, pw = picture.shape[:2]
            # Patch centers only: the grid is drawn crisp, so a center is its patch's own colour.
            ys = ((np.arange(h) + 0.5) / h * ph).astype(int)
            xs = ((np.arange(wd) + 0.5) / wd * pw).astype(int)
            shown = picture[ys][:, xs]
            expected = colors[labels[image]]
            assert np.abs(shown - expected).max() <= 2, f"res {res} image {image} is not in segment colours"


def test_a_click_in_segments_mode_selects_exactly_its_segment(segments_page) -> None:
    w, page, log, dom = segments_page
    node = dom.click_patch(1, 0, 5, 9)
    expected = _segment_of(w, 6, node)
    page.wait_for_function("() => document.querySelector('.ncut').dataset.selected !== ''")
    assert sorted(dom.selected()) == expected
    assert 1 < len(expected) < w.meta["n_nodes"]
    # The same segment spans both resolutions and both images (the ladder is over every node).
    assert min(expected) < w.meta["resolutions"][1]["offset"] <= max(expected)
    assert log.page_errors == [] and log.console_errors == []


def test_the_granularity_slider_changes_k_and_what_a_click_selects(segments_page) -> None:
    w, page, log, dom = segments_page
    slider = dom.root.get_by_label("Granularity")
    ks = w.meta["segments"]["ks"]
    slider.fill(str(ks.index(12)))
    dom.root.locator(".ncut-value", has_text="12 segments").wait_for()
    node = dom.click_patch(0, 1, 2, 3)
    expected = _segment_of(w, 12, node)
    page.wait_for_function(
        "n => document.querySelector('.ncut').dataset.selected.split(',').length === n", arg=len(expected)
    )
    assert sorted(dom.selected()) == expected
    assert log.page_errors == [] and log.console_errors == []


def test_the_hierarchy_strip_shows_the_clicked_patch_at_every_level(segments_page) -> None:
    w, page, log, dom = segments_page
    res, image, row, col = 1, 1, 11, 4
    node = dom.click_patch(res, image, row, col)
    ks = w.meta["segments"]["ks"]
    # Each mask's opaque pixels are exactly the patches sharing the node's segment at that level.
    alphas = hierarchy_alphas(dom, len(ks), node)
    levels = dom.root.locator(".ncut-hierarchy .ncut-level")
    assert [int(v) for v in levels.evaluate_all("els => els.map(e => e.dataset.k)")] == ks
    local = node - w.meta["resolutions"][res]["offset"] - image * 16 * 16
    for k, alpha in zip(ks, alphas, strict=True):
        grid = w.segment_masks(k)[res][image]
        label = grid.reshape(-1)[local]
        np.testing.assert_array_equal(np.array(alpha) == 255, grid.reshape(-1) == label)

    # Clicking a level shows that many segments.
    levels.nth(ks.index(3)).click()
    dom.root.locator(".ncut-value", has_text="3 segments").wait_for()
    assert levels.nth(ks.index(3)).get_attribute("aria-pressed") == "true"
    assert log.page_errors == [] and log.console_errors == []


def test_a_level_clicked_in_rgb_mode_switches_to_segments(segments_page) -> None:
    w, page, log, dom = segments_page
    dom.root.get_by_role("button", name="RGB", exact=True).click()
    dom.click_patch(0, 0, 3, 3)  # in RGB mode: one node, and the strip follows it
    levels = dom.root.locator(".ncut-hierarchy .ncut-level")
    levels.first.wait_for()
    levels.nth(w.meta["segments"]["ks"].index(4)).click()
    dom.root.locator(".ncut-value", has_text="4 segments").wait_for()
    assert dom.root.get_by_role("button", name="Segments", exact=True).get_attribute("aria-pressed") == "true"
    assert log.page_errors == [] and log.console_errors == []


def test_borders_outline_exactly_the_segment_boundaries(segments_page) -> None:
    w, page, log, dom = segments_page
    if dom.root.get_by_role("button", name="Segments", exact=True).get_attribute("aria-pressed") != "true":
        dom.root.get_by_role("button", name="Segments", exact=True).click()
    dom.root.get_by_role("button", name="Clear").click()
    # The earlier tests' selection dims patches until the clear is shown: not part of "before".
    page.wait_for_function("() => document.querySelector('.ncut').dataset.selected === ''")
    dom.root.locator(".ncut-summary", has_text="click a point or a patch").wait_for()
    k = int(dom.root.locator(".ncut-value", has_text="segments").inner_text().split()[0])
    res, image = 1, 0
    cell = dom.cell(res, image)
    before = shot(cell).astype(np.int16)
    dom.root.get_by_label("Borders").check()
    page.wait_for_timeout(300)
    after = shot(cell).astype(np.int16)
    changed = np.abs(after - before).max(axis=2) > 8
    # Where patches of different segments meet, in cell pixels, widened by the 2 px stroke and its
    # antialiasing (2.5 px every way, line ends included).
    labels = w.segment_masks(k)[res][image]
    h, wd = labels.shape
    ph, pw = changed.shape
    px_x = np.arange(pw) + 0.5
    px_y = np.arange(ph) + 0.5
    near = np.zeros_like(changed)
    for r in range(h):
        for c in range(wd):
            if c + 1 < wd and labels[r, c] != labels[r, c + 1]:
                x, y0, y1 = (c + 1) / wd * pw, r / h * ph, (r + 1) / h * ph
                near |= (np.abs(px_x - x) <= 2.5)[None, :] & ((px_y >= y0 - 2.5) & (px_y <= y1 + 2.5))[:, None]
            if r + 1 < h and labels[r, c] != labels[r + 1, c]:
                y, x0, x1 = (r + 1) / h * ph, c / wd * pw, (c + 1) / wd * pw
                near |= (np.abs(px_y - y) <= 2.5)[:, None] & ((px_x >= x0 - 2.5) & (px_x <= x1 + 2.5))[None, :]
    assert changed.any(), "Borders changed no pixel"
    assert near.any(), "this image has no boundary at this k"
    # Every changed pixel lies on a boundary, and most boundary pixels changed.
    assert not (changed & ~near).any(), f"{int((changed & ~near).sum())} pixels changed away from any boundary"
    assert (changed & near).sum() > 0.3 * near.sum()
    assert w.segment_borders is False  # the page has no kernel: the trait is the page's own
    dom.root.get_by_label("Borders").uncheck()
    assert log.page_errors == [] and log.console_errors == []
