"""Pixel comparisons on element screenshots (works for 2D and WebGL canvases alike)."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image
from playwright.sync_api import Locator

# A channel difference below this is antialiasing / JPEG noise, not a visual change.
_NOISE = 12


def shot(locator: Locator) -> np.ndarray:
    """The element as the user sees it: ``(H, W, 3)`` uint8."""
    return np.asarray(Image.open(io.BytesIO(locator.screenshot(animations="disabled"))).convert("RGB"))


def changed_fraction(before: np.ndarray, after: np.ndarray) -> float:
    """Share of pixels whose color moved by more than the noise floor; 1.0 when the sizes differ."""
    if before.shape != after.shape:
        return 1.0
    diff = np.abs(before.astype(np.int16) - after.astype(np.int16)).max(axis=2)
    return float((diff > _NOISE).mean())


def is_blank(image: np.ndarray) -> bool:
    """True when the element shows a single flat color (nothing drawn yet)."""
    return bool(np.ptp(image.reshape(-1, 3), axis=0).max() <= _NOISE)
