"""Negative clicks in the exported page (no kernel): an Alt-click shrinks the highlight to Python's count."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._gestures import other_class_patch, wait_highlighted
from ._synthetic import synthetic_widget
from ._widget_dom import WidgetDom

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


def test_an_alt_click_marks_a_negative_and_shrinks_the_highlight(negative_page) -> None:
    w, page, log, dom = negative_page
    node = dom.click_patch(1, 0, 4, 4)
    before = int((w.similarity([node], []) >= w.threshold).sum())
    wait_highlighted(page, before)
    row, col = other_class_patch(w._eig_wire, w.meta, node, 1, 1)
    neg = dom.click_patch(1, 1, row, col, modifiers=("Alt",))
    page.wait_for_function("() => document.querySelector('.ncut').dataset.negative !== ''")
    assert dom.root.get_attribute("data-negative") == str(neg)
    assert dom.selected() == [node]
    after = int((w.similarity([node], [neg]) >= w.threshold).sum())
    assert after < before
    wait_highlighted(page, after)
    assert log.page_errors == [] and log.console_errors == []


def test_the_negative_toggle_marks_negatives_with_plain_clicks(negative_page) -> None:
    w, page, log, dom = negative_page
    dom.root.get_by_role("button", name="Clear").click()
    node = dom.click_patch(0, 1, 2, 2)
    toggle = dom.root.get_by_role("button", name="Negative")
    toggle.click()
    assert toggle.get_attribute("aria-pressed") == "true"
    row, col = other_class_patch(w._eig_wire, w.meta, node, 0, 0)
    neg = dom.click_patch(0, 0, row, col)
    toggle.click()
    wait_highlighted(page, int((w.similarity([node], [neg]) >= w.threshold).sum()))
    assert dom.selected() == [node]
    assert dom.root.get_attribute("data-negative") == str(neg)
    assert log.page_errors == [] and log.console_errors == []
