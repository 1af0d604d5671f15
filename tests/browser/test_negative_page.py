"""Negative clicks in the exported page (no kernel): an Alt-click shrinks the highlight to Python's count."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from ._synthetic import synthetic_widget
from ._widget_dom import WidgetDom, node_id

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def negative_page(chromium, open_page, tmp_path_factory: pytest.TempPathFactory):
    # Threshold 0: besides its own class, about half of every other class scores >= 0 (noise
    # around orthogonal class directions), so a negative in another class has something to take away.
    w = synthetic_widget(n_images=2, grids=((8, 8), (16, 16)), threshold=0.0)
    path = w.save_html(tmp_path_factory.mktemp("negative") / "negative.html")
    page, log = open_page(Path(path).as_uri())
    dom = WidgetDom(page.locator(".ncut").first, w.meta)
    dom.wait_drawn()
    return w, page, log, dom


def _highlighted(dom: WidgetDom) -> int:
    match = re.search(r"([\d,]+) of ([\d,]+) nodes", dom.summary())
    assert match, dom.summary()
    return int(match.group(1).replace(",", ""))


def _wait_count(page, n: int) -> None:
    page.wait_for_function(
        "n => { const m = /([\\d,]+) of/.exec(document.querySelector('.ncut-summary').textContent);"
        " return m && Number(m[1].replace(/,/g, '')) === n; }",
        arg=n,
    )


def _other_class_patch(w, node: int, res: int, image: int) -> tuple[int, int]:
    """A patch of ``image`` at ``res`` whose eigenvector direction is far from ``node``'s."""
    eig = w._eig_wire
    r = w.meta["resolutions"][res]
    start = r["offset"] + image * r["h"] * r["w"]
    block = eig[start : start + r["h"] * r["w"]]
    cos = block @ eig[node] / (np.linalg.norm(block, axis=1) * np.linalg.norm(eig[node]))
    p = int(np.argmin(np.abs(cos)))  # orthogonal: another class
    return p // r["w"], p % r["w"]


def _click_at(dom: WidgetDom, res: int, image: int, row: int, col: int, modifiers: list[str]) -> int:
    cell = dom.cell(res, image)
    box = cell.bounding_box()
    r = dom.meta["resolutions"][res]
    x = round(box["x"] + (col + 0.5) / r["w"] * box["width"])
    y = round(box["y"] + (row + 0.5) / r["h"] * box["height"])
    page = dom.root.page
    for key in modifiers:
        page.keyboard.down(key)
    page.mouse.click(x, y)
    for key in modifiers:
        page.keyboard.up(key)
    return node_id(dom.meta, res, image, int((y - box["y"]) / box["height"] * r["h"]), int((x - box["x"]) / box["width"] * r["w"]))


def test_an_alt_click_marks_a_negative_and_shrinks_the_highlight(negative_page) -> None:
    w, page, log, dom = negative_page
    node = dom.click_patch(1, 0, 4, 4)
    before = int((w.similarity([node], []) >= w.threshold).sum())
    _wait_count(page, before)
    row, col = _other_class_patch(w, node, 1, 1)
    neg = _click_at(dom, 1, 1, row, col, ["Alt"])
    page.wait_for_function("() => document.querySelector('.ncut').dataset.negative !== ''")
    assert dom.root.get_attribute("data-negative") == str(neg)
    assert dom.selected() == [node]
    after = int((w.similarity([node], [neg]) >= w.threshold).sum())
    assert after < before
    _wait_count(page, after)
    assert log.page_errors == [] and log.console_errors == []


def test_the_negative_toggle_marks_negatives_with_plain_clicks(negative_page) -> None:
    w, page, log, dom = negative_page
    dom.root.get_by_role("button", name="Clear").click()
    node = dom.click_patch(0, 1, 2, 2)
    toggle = dom.root.get_by_role("button", name="Negative")
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "true"
    row, col = _other_class_patch(w, node, 0, 0)
    neg = _click_at(dom, 0, 0, row, col, [])
    toggle.click()
    _wait_count(page, int((w.similarity([node], [neg]) >= w.threshold).sum()))
    assert dom.selected() == [node]
    assert dom.root.get_attribute("data-negative") == str(neg)
    assert log.page_errors == [] and log.console_errors == []
