"""The exported page (w.save_html) opened from file://: no network, no errors, clicks work."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ._pixels import changed_fraction, point_pixel, shot
from ._widget_dom import PHOTO, WidgetDom
from .conftest import PageLog

pytestmark = pytest.mark.browser

LOCAL_SCHEMES = ("file:", "data:", "blob:")


@pytest.fixture(scope="module")
def exported(chromium, tmp_path_factory: pytest.TempPathFactory):
    """A small real result: the offline ViT on 2 sample photos at (112, 224), saved as one page.

    Depends on ``chromium`` so a machine without it skips before computing anything."""
    import torch

    from ncut_widget import explore, sample_images

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two cores, shared with Chromium; restored for the tests after us
    try:
        w = explore(sample_images(2), resolutions=(112, 224), background=False)
    finally:
        torch.set_num_threads(threads)
    path = w.save_html(tmp_path_factory.mktemp("export") / "ncut.html")
    return w, path


@pytest.fixture(scope="module")
def page_view(exported, open_page):
    w, path = exported
    page, log = open_page(Path(path).as_uri())
    dom = WidgetDom(page.locator(".ncut").first, w.meta)
    dom.wait_drawn()
    return page, log, dom


def _highlighted(summary: str) -> int:
    match = re.search(r"([\d,]+) of ([\d,]+) nodes", summary)
    assert match, f"no highlight count in the summary {summary!r}"
    return int(match.group(1).replace(",", ""))


def test_click_highlights_other_image_without_network(exported, page_view) -> None:
    w, _ = exported
    page, log, dom = page_view
    res = 0
    r = w.meta["resolutions"][res]
    before = dom.shots(dom.others(0))
    node = dom.click_patch(res, 0, r["h"] // 2, r["w"] // 3)

    # The page redraws on the next animation frame; wait for the summary, then compare pixels.
    page.wait_for_function("() => /1 selected/.test(document.querySelector('.ncut-summary').textContent)")
    assert dom.selected() == [node]
    after = dom.shots(dom.others(0))
    changes = [changed_fraction(b, a) for b, a in zip(before, after, strict=True)]
    assert max(changes) > 0.02, f"clicking image 0 changed no other image's pixels: {changes}"

    # The browser highlights exactly the nodes Python's similarity() puts at or above the threshold.
    expected = int((w.similarity([node]) >= w.threshold).sum())
    shown = _highlighted(dom.summary())
    assert abs(shown - expected) <= max(1, expected // 500), f"browser {shown} vs python {expected} highlighted"

    _assert_offline_and_clean(log)


def test_photo_row_click_maps_to_finest_resolution(exported, page_view) -> None:
    w, _ = exported
    page, log, dom = page_view
    finest = max(range(len(w.meta["resolutions"])), key=lambda i: w.meta["resolutions"][i]["h"] * w.meta["resolutions"][i]["w"])
    r = w.meta["resolutions"][finest]
    row, col = r["h"] - 2, 1
    # A photo-row click lands on the patch of the finest grid under the cursor.
    before = dom.shots(dom.others(1))
    node = dom.click_patch(finest, 1, row, col, on=PHOTO)
    expected = int((w.similarity([node]) >= w.threshold).sum())
    page.wait_for_function(
        "n => { const m = /([\\d,]+) of/.exec(document.querySelector('.ncut-summary').textContent);"
        " return m && Math.abs(Number(m[1].replace(/,/g, '')) - n) <= Math.max(1, Math.floor(n / 500)); }",
        arg=expected,
    )
    assert dom.selected() == [node]
    after = dom.shots(dom.others(1))
    assert max(changed_fraction(b, a) for b, a in zip(before, after, strict=True)) > 0.02
    _assert_offline_and_clean(log)


def test_click_on_a_3d_point_highlights_the_images(exported, page_view) -> None:
    page, log, dom = page_view
    dom.root.get_by_role("button", name="Clear").click()
    dom.root.locator(".ncut-summary", has_text="click a point or a patch").wait_for()
    view = dom.view3d()
    x, y = point_pixel(shot(view))
    cells = [dom.cell(res, i) for res in range(PHOTO, len(dom.meta["resolutions"])) for i in range(dom.n_images)]
    before = dom.shots(cells)

    view.click(position={"x": x, "y": y})

    dom.root.locator(".ncut-summary", has_text="1 selected").wait_for()
    after = dom.shots(cells)
    assert max(changed_fraction(b, a) for b, a in zip(before, after, strict=True)) > 0.02
    _assert_offline_and_clean(log)




def _assert_offline_and_clean(log: PageLog) -> None:
    remote = [u for u in log.requests if not u.startswith(LOCAL_SCHEMES)]
    assert remote == [], f"the exported page made network requests: {remote}"
    assert log.page_errors == [], f"uncaught errors: {log.page_errors}"
    assert log.console_errors == [], f"console errors: {log.console_errors}"


def test_hovering_a_patch_names_it(exported, page_view) -> None:
    w, _ = exported
    page, log, dom = page_view
    r = w.meta["resolutions"][1]
    box = dom.cell(1, 0).bounding_box()
    assert box is not None
    row, col = 3, 5
    # Whole pixels near the patch center; the expected patch is the one under them.
    x = round(box["x"] + (col + 0.5) / r["w"] * box["width"])
    y = round(box["y"] + (row + 0.5) / r["h"] * box["height"])
    page.mouse.move(x, y)
    hit_row = int((y - box["y"]) / box["height"] * r["h"])
    hit_col = int((x - box["x"]) / box["width"] * r["w"])
    tooltip = dom.root.locator(".ncut-grid-pane .ncut-tooltip")
    tooltip.wait_for(state="visible")
    name = w.meta["images"][0]["name"]
    assert tooltip.inner_text().startswith(f"{name} · {r['label']} · row {hit_row}, col {hit_col}")
    page.mouse.move(1, 1)
    tooltip.wait_for(state="hidden")
    _assert_offline_and_clean(log)
