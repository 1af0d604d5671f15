"""The focus view in the exported page: one image large, every resolution, exact picks, keyboard."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._gestures import focus_pick
from ._synthetic import synthetic_widget
from ._widget_dom import WidgetDom, node_id

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def focus_page(chromium, open_page, tmp_path_factory: pytest.TempPathFactory):
    # 32x32 finest patches: in the grid's cells they are under 8 px; the focus view makes them 8+.
    w = synthetic_widget(n_images=3, grids=((16, 16), (32, 32)))
    path = w.save_html(tmp_path_factory.mktemp("focus") / "focus.html")
    page, log = open_page(Path(path).as_uri())
    dom = WidgetDom(page.locator(".ncut").first, w.meta)
    dom.wait_drawn()
    return w, page, log, dom


def test_clicking_a_name_focuses_the_image_with_every_resolution_pickable(focus_page) -> None:
    w, page, log, dom = focus_page
    dom.root.locator('.ncut-colname[data-image="1"]').click()
    panel = dom.root.locator(".ncut-focus")
    panel.wait_for(state="visible")
    cells = panel.locator("canvas.ncut-focus-cell")
    assert cells.count() == len(w.meta["resolutions"])
    assert {cells.nth(i).get_attribute("data-image") for i in range(cells.count())} == {"1"}
    # Patches at least 8 px, every one exactly pickable: a click at a patch's centre selects that node.
    focus_pick(dom, 1, 1, [(0, 0), (17, 30), (31, 5)])
    assert log.page_errors == [] and log.console_errors == []


def test_arrows_move_the_focused_patch_enter_selects_escape_returns(focus_page) -> None:
    w, page, log, dom = focus_page
    panel = dom.root.locator(".ncut-focus")
    if panel.is_hidden():
        dom.root.locator('.ncut-colname[data-image="1"]').click()
    # A click puts the cursor on its patch: (31, 5) of the 32x32 grid, so Down clamps there.
    finest = w.meta["resolutions"][1]
    box = panel.locator('canvas.ncut-focus-cell[data-res="1"]').bounding_box()
    page.mouse.click(box["x"] + 5.5 * box["width"] / finest["w"], box["y"] + 31.5 * box["height"] / finest["h"])
    panel.focus()
    res, row, col = (int(v) for v in panel.get_attribute("data-cursor").split(","))
    assert (res, row, col) == (1, 31, 5)
    for key in ["ArrowRight", "ArrowRight", "ArrowUp", "ArrowUp", "ArrowDown", "ArrowDown"]:
        page.keyboard.press(key)
    assert panel.get_attribute("data-cursor") == f"{res},{row},{col + 2}"
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    expected = node_id(w.meta, res, 1, row - 1, col + 2)
    page.wait_for_function("n => document.querySelector('.ncut').dataset.selected === String(n)", arg=expected)

    page.keyboard.press("Escape")
    panel.wait_for(state="hidden")
    assert dom.selected() == [expected]  # Escape left the focus view, not the selection
    assert dom.cell(1, 1).is_visible()
    assert log.page_errors == [] and log.console_errors == []


def test_the_keyboard_alone_opens_an_image_and_selects_a_patch(focus_page) -> None:
    w, page, log, dom = focus_page
    panel = dom.root.locator(".ncut-focus")
    if panel.is_visible():
        panel.focus()
        page.keyboard.press("Escape")
        panel.wait_for(state="hidden")
    name = dom.root.locator('.ncut-colname[data-image="2"]')
    name.focus()  # image names are in the tab order
    page.keyboard.press("Enter")
    panel.wait_for(state="visible")
    assert {c.get_attribute("data-image") for c in panel.locator("canvas.ncut-focus-cell").all()} == {"2"}
    panel.focus()
    res, row, col = (int(v) for v in panel.get_attribute("data-cursor").split(","))
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    r = w.meta["resolutions"][res]
    expected = node_id(w.meta, res, 2, row, min(col + 1, r["w"] - 1))
    page.wait_for_function("n => document.querySelector('.ncut').dataset.selected === String(n)", arg=expected)
    assert log.page_errors == [] and log.console_errors == []
