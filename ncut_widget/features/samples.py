"""Real photos that load with no network: scikit-image's bundled data and scikit-learn's."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        import skimage.data

        data = getattr(skimage.data, name)()
        return data[0] if isinstance(data, tuple) else data  # stereo_motorcycle: left image

    return load


def _sklearn(file: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from sklearn.datasets import load_sample_image

        return load_sample_image(file)

    return load


# Fixed order; every file ships inside the installed wheels (none needs pooch downloads).
_SOURCES: dict[str, Callable[[], np.ndarray]] = {
    "astronaut": _skimage("astronaut"),
    "chelsea": _skimage("chelsea"),
    "coffee": _skimage("coffee"),
    "rocket": _skimage("rocket"),
    "motorcycle": _skimage("stereo_motorcycle"),
    "china": _sklearn("china.jpg"),
    "flower": _sklearn("flower.jpg"),
    "camera": _skimage("camera"),
    "retina": _skimage("retina"),
    "hubble_deep_field": _skimage("hubble_deep_field"),
}

SAMPLE_NAMES = tuple(_SOURCES)


def sample_images(n: int | None = None) -> list[Image.Image]:
    """Up to ten real photos, offline, in a fixed order (``SAMPLE_NAMES``).

    Args:
        n: how many (the first ``n``); ``None`` for all.

    Returns:
        RGB PIL images (new objects each call); each carries its name in ``image.info["name"]``.
        ``camera`` is grayscale, replicated to RGB.
    """
    if n is None:
        n = len(_SOURCES)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"n must be an int or None, got {type(n).__name__}")
    if not 1 <= n <= len(_SOURCES):
        raise ValueError(f"n must be between 1 and {len(_SOURCES)} (the bundled photos), got {n}")
    images = []
    for name in SAMPLE_NAMES[:n]:
        image = Image.fromarray(np.ascontiguousarray(_SOURCES[name]())).convert("RGB")
        image.info["name"] = name
        images.append(image)
    return images
