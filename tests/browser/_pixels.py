"""Pixel comparisons on element screenshots (works for 2D and WebGL canvases alike)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from playwright.sync_api import Error, Locator

# A channel difference below this is antialiasing / JPEG noise, not a visual change.
_NOISE = 12


def shot(locator: Locator, attempts: int = 3) -> np.ndarray:
    """The element as the user sees it: ``(H, W, 3)`` uint8.

    A view may replace its element while the screenshot is taken (a 3D view moving to a new WebGL
    context swaps its canvas): the locator then matches the new element, so the shot is retried.
    """
    for attempt in range(attempts):
        try:
            data = locator.screenshot(animations="disabled")
            break
        except Error as err:
            if "not attached to the DOM" not in str(err) or attempt == attempts - 1:
                raise
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))


def changed_fraction(before: np.ndarray, after: np.ndarray) -> float:
    """Share of pixels whose color moved by more than the noise floor; 1.0 when the sizes differ."""
    if before.shape != after.shape:
        return 1.0
    diff = np.abs(before.astype(np.int16) - after.astype(np.int16)).max(axis=2)
    return float((diff > _NOISE).mean())


def is_blank(image: np.ndarray) -> bool:
    """True when the element shows a single flat color (nothing drawn yet)."""
    return bool(np.ptp(image.reshape(-1, 3), axis=0).max() <= _NOISE)


def point_pixel(image: np.ndarray) -> tuple[int, int]:
    """The center of a drawn point: a pixel far from the background color whose 5x5 block is too
    (so the click lands within the pick radius of a point, not on an antialiased edge)."""
    background = image[2, 2].astype(np.int16)
    drawn = np.abs(image.astype(np.int16) - background).max(axis=2) > 40
    h, w = drawn.shape
    solid = np.ones_like(drawn)
    for dy in range(-2, 3):
        for dx in range(-2, 3):
            solid &= np.roll(drawn, (dy, dx), axis=(0, 1))
    solid[:4], solid[-4:], solid[:, :4], solid[:, -4:] = False, False, False, False
    ys, xs = np.nonzero(solid)
    assert len(ys), "the 3D view shows no points"
    i = int(np.argmin((ys - h / 2) ** 2 + (xs - w / 2) ** 2))  # nearest the middle: well inside the view
    return int(xs[i]), int(ys[i])
