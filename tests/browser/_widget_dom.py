"""The widget's DOM as a user sees it, read from js/imagegrid.js and js/controls.js.

Layout (imagegrid.js): ``.ncut-grid`` holds one ``canvas.ncut-cell`` per (row, image), tagged
``data-res`` ("photo" or the resolution index) and ``data-image``; a cell keeps ``.ncut-loading``
until the payload is decoded. The ``.ncut`` root carries the browser's selection in ``data-selected``.
A click at (x, y) of a cell picks the patch ``floor(x / width * w), floor(y / height * h)`` of that
row's resolution (the photo row maps onto the finest one). Node ids follow docs/wire-format.md.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from playwright.sync_api import Locator

from ._pixels import is_blank, shot

PHOTO = -1


def node_id(meta: dict, res: int, image: int, row: int, col: int) -> int:
    """``offset + image * h * w + row * w + col`` (docs/wire-format.md)."""
    r = meta["resolutions"][res]
    return r["offset"] + image * r["h"] * r["w"] + row * r["w"] + col


@dataclass
class WidgetDom:
    """One rendered display of a widget (``root`` is its ``.ncut`` element) and the meta it shows."""

    root: Locator
    meta: dict

    @property
    def n_images(self) -> int:
        return len(self.meta["images"])

    def cell(self, res: int, image: int) -> Locator:
        """The canvas of ``image`` in the row of resolution ``res`` (``PHOTO`` for the photo row)."""
        tag = "photo" if res == PHOTO else str(res)
        return self.root.locator(f'.ncut-grid canvas.ncut-cell[data-res="{tag}"][data-image="{image}"]')

    def selected(self) -> list[int]:
        """The node ids the browser has selected (``data-selected`` on the root)."""
        raw = self.root.get_attribute("data-selected") or ""
        return [int(v) for v in raw.split(",") if v]

    def view3d(self) -> Locator:
        return self.root.locator(".ncut-3d canvas")

    def eig_slider(self) -> Locator:
        return self.root.get_by_label("Eigenvectors")

    def summary(self) -> str:
        return self.root.locator(".ncut-summary").inner_text()

    def wait_drawn(self, timeout: float = 60.0) -> None:
        """Until every cell is decoded and painted: colormaps and photos non-blank."""
        rows = len(self.meta["resolutions"]) + 1
        ready = self.root.locator(".ncut-grid canvas.ncut-cell:not(.ncut-loading)")
        deadline = time.monotonic() + timeout
        while ready.count() != rows * self.n_images:
            if time.monotonic() > deadline:
                raise AssertionError(f"only {ready.count()} of {rows * self.n_images} cells decoded after {timeout} s")
            time.sleep(0.2)
        for res in range(PHOTO, rows - 1):
            for image in range(self.n_images):
                while is_blank(shot(self.cell(res, image))):
                    if time.monotonic() > deadline:
                        raise AssertionError(f"cell (res {res}, image {image}) still blank after {timeout} s")
                    time.sleep(0.2)

    def click_patch(self, res: int, image: int, row: int, col: int, *, on: int | None = None,
                    modifiers: tuple[str, ...] = ()) -> int:
        """Click like a user near the center of patch (row, col) of resolution ``res``, on the cell of
        row ``on`` (default ``res``; ``PHOTO`` maps onto the finest grid), with ``modifiers`` held
        (e.g. ``("Alt",)``); return the node under it (``node_id`` of this meta).

        The click lands on whole page pixels and the expected node is computed from where it landed:
        a patch of a 32-row grid in a 57 px cell is under 2 px tall, so rounding decides its row.
        """
        hit_row, hit_col = self.click_landed(res, image, row, col, on=on, modifiers=modifiers)
        return node_id(self.meta, res, image, hit_row, hit_col)

    def click_landed(self, res: int, image: int, row: int, col: int, *, on: int | None = None,
                     modifiers: tuple[str, ...] = ()) -> tuple[int, int]:
        """:meth:`click_patch`, returning the ``(row, col)`` of the patch the click landed in (for
        nodes this meta does not number, such as appended images')."""
        cell = self.cell(res if on is None else on, image)
        cell.scroll_into_view_if_needed()
        box = cell.bounding_box()
        assert box is not None, "the cell is not displayed"
        r = self.meta["resolutions"][res]
        x = round(box["x"] + (col + 0.5) / r["w"] * box["width"])
        y = round(box["y"] + (row + 0.5) / r["h"] * box["height"])
        page = self.root.page
        for key in modifiers:
            page.keyboard.down(key)
        page.mouse.click(x, y)
        for key in modifiers:
            page.keyboard.up(key)
        return (min(r["h"] - 1, int((y - box["y"]) / box["height"] * r["h"])),
                min(r["w"] - 1, int((x - box["x"]) / box["width"] * r["w"])))

    def others(self, image: int) -> list[Locator]:
        """Every cell (photo and colormaps) of every image but ``image``."""
        return [
            self.cell(res, i)
            for res in range(PHOTO, len(self.meta["resolutions"]))
            for i in range(self.n_images)
            if i != image
        ]

    def shots(self, cells: list[Locator]) -> list[np.ndarray]:
        return [shot(c) for c in cells]
