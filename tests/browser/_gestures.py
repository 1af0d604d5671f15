"""Gestures a user makes on a widget (drags, boxes, lassos, modified clicks) and what each must select.

Shared by the exported-page tests and the JupyterLab ones: every expected answer is computed here
from the geometry the page reports (cell boxes, the 3D view's projection matrix) and the widget's
state (meta, payload), never from the widget's own JS.
"""

from __future__ import annotations

import re

import numpy as np

from ._widget_dom import WidgetDom, node_id


def drag(page, points: list[tuple[int, int]], keys: tuple[str, ...] = ()) -> None:
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


def corners(dom: WidgetDom, res: int, image: int, f0: tuple[float, float], f1: tuple[float, float]):
    """Whole page pixels of two points given as fractions of a cell's box: ``(x0, y0, x1, y1)``
    (the cell scrolled into view first: a notebook may have it below the fold)."""
    cell = dom.cell(res, image)
    cell.scroll_into_view_if_needed()
    box = cell.bounding_box()
    return (
        round(box["x"] + f0[0] * box["width"]), round(box["y"] + f0[1] * box["height"]),
        round(box["x"] + f1[0] * box["width"]), round(box["y"] + f1[1] * box["height"]),
    )


def box_nodes(dom: WidgetDom, res: int, image: int, box_corners: tuple[int, int, int, int]) -> list[int]:
    """Patches whose centres lie within the dragged rectangle (cell CSS px), as docs/wire-format.md says."""
    box = dom.cell(res, image).bounding_box()
    r = dom.meta["resolutions"][res]
    x0, y0, x1, y1 = box_corners
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


def drag_box(dom: WidgetDom, box_corners: tuple[int, int, int, int], keys: tuple[str, ...] = ()) -> None:
    """Drag a box from its first corner to its second, through one point in between."""
    x0, y0, x1, y1 = box_corners
    mid = (x0 + (10 if x1 >= x0 else -10), y0 + (10 if y1 >= y0 else -10))
    drag(dom.root.page, [(x0, y0), mid, (x1, y1)], keys)


def wait_selected(page, n: int) -> None:
    """Until the (only) widget on the page reports ``n`` selected nodes in ``data-selected``."""
    page.wait_for_function(
        "n => { const s = document.querySelector('.ncut').dataset.selected; return (s ? s.split(',').length : 0) === n; }",
        arg=n,
    )


def highlighted(dom: WidgetDom) -> int:
    """The highlight count the status line shows ("N of M nodes")."""
    match = re.search(r"([\d,]+) of ([\d,]+) nodes", dom.summary())
    assert match, dom.summary()
    return int(match.group(1).replace(",", ""))


def wait_highlighted(page, n: int) -> None:
    page.wait_for_function(
        "n => { const m = /([\\d,]+) of/.exec(document.querySelector('.ncut-summary').textContent);"
        " return m && Number(m[1].replace(/,/g, '')) === n; }",
        arg=n,
    )


def positions(meta: dict, payload: bytes) -> np.ndarray:
    """``(N, 3)`` float32 positions exactly as js/codecs.js dequantizes them."""
    spec = meta["arrays"]["positions"]
    q = np.frombuffer(payload, np.uint16, meta["n_nodes"] * 3, spec["offset"]).reshape(-1, 3)
    lo, hi = np.array(meta["pos_min"]), np.array(meta["pos_max"])
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


def lasso(dom: WidgetDom, meta: dict, payload: bytes) -> list[int]:
    """Drag a pentagon lasso over the middle of the 3D view (Lasso tool on, then off); return the
    nodes whose points the view's own projection puts inside it (in front of the camera)."""
    page = dom.root.page
    dom.root.get_by_role("button", name="Lasso").click()
    surface = dom.root.locator(".ncut-3d-canvas")
    surface.scroll_into_view_if_needed()
    box = surface.bounding_box()
    fr = [(0.3, 0.3), (0.7, 0.25), (0.75, 0.6), (0.5, 0.8), (0.25, 0.65)]
    pts = [(round(box["x"] + fx * box["width"]), round(box["y"] + fy * box["height"])) for fx, fy in fr]
    drag(page, pts)
    page.wait_for_function("() => document.querySelector('.ncut').dataset.selected !== ''")
    dom.root.get_by_role("button", name="Lasso").click()

    m = np.array([float(v) for v in surface.get_attribute("data-view-projection").split(",")]).reshape(4, 4).T
    xyz = positions(meta, payload).astype(np.float64)
    clip = np.c_[xyz, np.ones(len(xyz))] @ m.T
    ndc = clip[:, :3] / clip[:, 3:4]
    px = (ndc[:, 0] + 1) / 2 * box["width"]
    py = (1 - ndc[:, 1]) / 2 * box["height"]
    polygon = [(x - box["x"], y - box["y"]) for x, y in pts]
    return [i for i in range(len(xyz)) if clip[i, 3] > 0 and _inside(px[i], py[i], polygon)]


def other_class_patch(eig: np.ndarray, meta: dict, node: int, res: int, image: int) -> tuple[int, int]:
    """A patch of ``image`` at ``res`` whose eigenvector direction is farthest from ``node``'s (orthogonal)."""
    r = meta["resolutions"][res]
    start = r["offset"] + image * r["h"] * r["w"]
    block = eig[start : start + r["h"] * r["w"]]
    cos = block @ eig[node] / (np.linalg.norm(block, axis=1) * np.linalg.norm(eig[node]))
    p = int(np.argmin(np.abs(cos)))
    return p // r["w"], p % r["w"]


def segment_of(labels: np.ndarray, node: int) -> list[int]:
    """Node ids sharing ``node``'s label in the flat ``(N,)`` labels."""
    return np.flatnonzero(labels == labels[node]).tolist()


def hierarchy_alphas(dom: WidgetDom, n_levels: int, node: int) -> list[np.ndarray]:
    """Per level of the hierarchy strip drawn for ``node``, the alpha channel of its mask canvas
    (flat, row-major). Waits for the strip of that node: it is redrawn a frame after a click, so
    until then it still shows the previous click's."""
    dom.root.locator(f'.ncut-hierarchy[data-node="{node}"]').wait_for()
    levels = dom.root.locator(".ncut-hierarchy .ncut-level")
    levels.nth(n_levels - 1).wait_for()
    assert levels.count() == n_levels
    alphas = levels.evaluate_all(
        "els => els.map(e => { const c = e.querySelector('canvas');"
        " const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;"
        " return Array.from({length: d.length / 4}, (_, i) => d[i * 4 + 3]); })"
    )
    return [np.array(a) for a in alphas]


def focus_pick(dom: WidgetDom, image: int, res: int, cells: list[tuple[int, int]]) -> None:
    """Open ``image`` in the focus view (click its name) and click each (row, col) of resolution
    ``res`` there; after each, the selection must be exactly that node. The focus panel stays open."""
    page = dom.root.page
    panel = dom.root.locator(".ncut-focus")
    if panel.is_hidden():
        dom.root.locator(f'.ncut-colname[data-image="{image}"]').click()
    panel.wait_for(state="visible")
    r = dom.meta["resolutions"][res]
    for row, col in cells:
        cell = panel.locator(f'canvas.ncut-focus-cell[data-res="{res}"]')
        cell.scroll_into_view_if_needed()
        box = cell.bounding_box()
        assert box["width"] / r["w"] >= 8 and box["height"] / r["h"] >= 8, "focus-view patches under 8 px"
        page.mouse.click(box["x"] + (col + 0.5) * box["width"] / r["w"], box["y"] + (row + 0.5) * box["height"] / r["h"])
        expected = node_id(dom.meta, res, image, row, col)
        page.wait_for_function("n => document.querySelector('.ncut').dataset.selected === String(n)", arg=expected)
