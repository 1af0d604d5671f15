"""Region selection in the exported page (no kernel): a box on a colormap, a lasso in the 3D view."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from ._synthetic import synthetic_widget
from ._widget_dom import WidgetDom, node_id

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def regions_page(chromium, open_page, tmp_path_factory: pytest.TempPathFactory):
    w = synthetic_widget(n_images=2, grids=((8, 8), (16, 16)))
    path = w.save_html(tmp_path_factory.mktemp("regions") / "regions.html")
    page, log = open_page(Path(path).as_uri())
    dom = WidgetDom(page.locator(".ncut").first, w.meta)
    dom.wait_drawn()
    return w, page, log, dom


def _drag(page, points: list[tuple[int, int]], keys: tuple[str, ...] = ()) -> None:
    """Press at the first point, one pointermove per further point, release at the last."""
    for key in keys:
        page.keyboard.down(key)
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x, y)
    page.mouse.up()
    for key in keys:
        page.keyboard.up(key)


def _box_nodes(dom: WidgetDom, res: int, image: int, corners: tuple[int, int, int, int]) -> list[int]:
    """Patches whose centres lie within the dragged rectangle (cell CSS px), as docs/wire-format.md says."""
    box = dom.cell(res, image).bounding_box()
    r = dom.meta["resolutions"][res]
    x0, y0, x1, y1 = corners
    left, right = sorted((x0 - box["x"], x1 - box["x"]))
    top, bottom = sorted((y0 - box["y"], y1 - box["y"]))
    out = []
    for row in range(r["h"]):
        for col in range(r["w"]):
            cx = (col + 0.5) / r["w"] * box["width"]
            cy = (row + 0.5) / r["h"] * box["height"]
            if left <= cx <= right and top <= cy <= bottom:
                out.append(node_id(dom.meta, res, image, row, col))
    return out


def _corners(dom: WidgetDom, res: int, image: int, f0: tuple[float, float], f1: tuple[float, float]):
    box = dom.cell(res, image).bounding_box()
    return (
        round(box["x"] + f0[0] * box["width"]), round(box["y"] + f0[1] * box["height"]),
        round(box["x"] + f1[0] * box["width"]), round(box["y"] + f1[1] * box["height"]),
    )


def _wait_selected(page, n: int) -> None:
    page.wait_for_function(
        "n => { const s = document.querySelector('.ncut').dataset.selected; return (s ? s.split(',').length : 0) === n; }",
        arg=n,
    )


def test_a_box_selects_exactly_its_patches_shift_adds_alt_removes(regions_page) -> None:
    w, page, log, dom = regions_page
    first = _corners(dom, 1, 0, (0.2, 0.15), (0.55, 0.5))
    expected = _box_nodes(dom, 1, 0, first)
    assert 4 < len(expected) < 16 * 16
    _drag(page, [first[:2], (first[0] + 20, first[1] + 10), first[2:]])
    _wait_selected(page, len(expected))
    assert sorted(dom.selected()) == expected
    # Every selected patch counts as highlighted (selected nodes score 1), as in Python.
    shown = int(re.search(r"([\d,]+) of", dom.summary()).group(1).replace(",", ""))
    python = int((w.similarity(expected, []) >= w.threshold).sum())
    assert shown == python and shown >= len(expected)

    second = _corners(dom, 0, 1, (0.9, 0.9), (0.6, 0.6))  # dragged up-left, on another image
    added = _box_nodes(dom, 0, 1, second)
    _drag(page, [second[:2], (second[0] - 10, second[1] - 10), second[2:]], keys=("Shift",))
    _wait_selected(page, len(expected) + len(added))
    assert sorted(dom.selected()) == sorted(expected + added)

    third = _corners(dom, 1, 0, (0.0, 0.0), (0.4, 0.3))
    removed = set(_box_nodes(dom, 1, 0, third))
    left = sorted(set(expected + added) - removed)
    _drag(page, [third[:2], (third[0] + 10, third[1] + 10), third[2:]], keys=("Alt",))
    _wait_selected(page, len(left))
    assert sorted(dom.selected()) == left
    assert log.page_errors == [] and log.console_errors == []


def _positions(w) -> np.ndarray:
    """``(N, 3)`` float32 positions exactly as js/codecs.js dequantizes them."""
    spec = w.meta["arrays"]["positions"]
    q = np.frombuffer(w.payload, np.uint16, w.meta["n_nodes"] * 3, spec["offset"]).reshape(-1, 3)
    lo, hi = np.array(w.meta["pos_min"]), np.array(w.meta["pos_max"])
    return (lo + q * ((hi - lo) / 65535)).astype(np.float32)


def _inside(x: float, y: float, polygon: list[tuple[float, float]]) -> bool:
    inside = False
    j = len(polygon) - 1
    for i in range(len(polygon)):
        (xi, yi), (xj, yj) = polygon[i], polygon[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def test_a_lasso_selects_exactly_the_points_projected_inside_it(regions_page) -> None:
    w, page, log, dom = regions_page
    dom.root.get_by_role("button", name="Clear").click()
    dom.root.get_by_role("button", name="Lasso").click()
    surface = dom.root.locator(".ncut-3d-canvas")
    box = surface.bounding_box()
    # A pentagon around the middle of the view, in whole page pixels.
    fr = [(0.3, 0.3), (0.7, 0.25), (0.75, 0.6), (0.5, 0.8), (0.25, 0.65)]
    pts = [(round(box["x"] + fx * box["width"]), round(box["y"] + fy * box["height"])) for fx, fy in fr]
    _drag(page, pts)
    page.wait_for_function("() => document.querySelector('.ncut').dataset.selected !== ''")

    m = np.array([float(v) for v in surface.get_attribute("data-view-projection").split(",")]).reshape(4, 4).T
    xyz = _positions(w).astype(np.float64)
    clip = np.c_[xyz, np.ones(len(xyz))] @ m.T
    ndc = clip[:, :3] / clip[:, 3:4]
    px = (ndc[:, 0] + 1) / 2 * box["width"]
    py = (1 - ndc[:, 1]) / 2 * box["height"]
    polygon = [(x - box["x"], y - box["y"]) for x, y in pts]
    expected = [i for i in range(len(xyz)) if clip[i, 3] > 0 and _inside(px[i], py[i], polygon)]
    assert 0 < len(expected) < len(xyz)
    assert sorted(dom.selected()) == expected
    dom.root.get_by_role("button", name="Lasso").click()
    assert log.page_errors == [] and log.console_errors == []
