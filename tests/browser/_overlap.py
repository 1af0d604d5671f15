"""Brute-force pixel overlap of patches between two widgets' grids (what linked selections must be)."""

from __future__ import annotations

import time

from ._widget_dom import WidgetDom, node_id


def _brute(i: int, n: int, m: int) -> list[int]:
    """Cells of m whose pixels meet cell i of n, on an axis of n * m pixels (whole pixels per cell)."""
    step_n, step_m = m, n
    mine = set(range(i * step_n, (i + 1) * step_n))
    return [j for j in range(m) if mine & set(range(j * step_m, (j + 1) * step_m))]


def overlapping(src_meta: dict, node: int, dst_meta: dict) -> list[int]:
    """Brute force: the target patches, at every resolution, whose pixel boxes meet ``node``'s."""
    for r in range(len(src_meta["resolutions"]) - 1, -1, -1):
        src = src_meta["resolutions"][r]
        if node >= src["offset"]:
            break
    image, within = divmod(node - src["offset"], src["h"] * src["w"])
    row, col = divmod(within, src["w"])
    return sorted(
        node_id(dst_meta, d, image, y, x)
        for d, dst in enumerate(dst_meta["resolutions"])
        for y in _brute(row, src["h"], dst["h"])
        for x in _brute(col, src["w"], dst["w"])
    )


def wait_selected(dom: WidgetDom, expected: list[int], timeout: float = 30.0) -> None:
    """Until the display's selection (``data-selected``) is ``expected`` (sorted)."""
    deadline = time.monotonic() + timeout
    while sorted(dom.selected()) != expected:
        if time.monotonic() > deadline:
            raise AssertionError(f"selected {sorted(dom.selected())[:20]}, expected {expected[:20]}")
        time.sleep(0.1)
