"""A structured NcutWidget with no model run: for notebooks, Voila and marimo apps in browser tests.

Each image is a Voronoi map of a few segments drawn from ``N_CLASSES`` classes, shared across
images; eigenvectors and 3D positions cluster by class, so a click on a patch highlights the
patches of its class in every image (like a real result), and the photos show the segments.

This module imports only numpy, PIL and ncut_widget (no relative imports): a notebook kernel or a
marimo app loads it with ``sys.path.insert(0, <this folder>)`` then ``import _synthetic``.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

N_CLASSES = 6
K = 12
_SEGMENTS = 6
_PHOTO = 112


def synthetic_widget(n_images: int = 2, grids: tuple = ((8, 8), (16, 16)), seed: int = 0, **traits: object):
    """``NcutWidget.from_results`` on ``n_images`` synthetic images with these (h, w) patch grids."""
    from ncut_widget import MultiResFeatures, NcutWidget

    rng = np.random.default_rng(seed)
    centers = np.eye(N_CLASSES, K, dtype=np.float32)  # orthogonal classes in the leading eigenvectors
    centers3 = rng.normal(size=(N_CLASSES, 3)).astype(np.float32) * 3
    seeds = rng.random((n_images, _SEGMENTS, 2))
    seed_class = rng.integers(0, N_CLASSES, size=(n_images, _SEGMENTS))
    seed_class[:, :N_CLASSES] = np.arange(N_CLASSES)  # every class in every image

    def labels(h: int, w: int) -> np.ndarray:  # (n_images, h, w): the class under each patch center
        yy, xx = np.meshgrid((np.arange(h) + 0.5) / h, (np.arange(w) + 0.5) / w, indexing="ij")
        pts = np.stack([yy, xx], -1).reshape(1, -1, 1, 2)
        nearest = ((pts - seeds[:, None]) ** 2).sum(-1).argmin(-1)
        return np.take_along_axis(seed_class, nearest, 1).reshape(n_images, h, w)

    cls = np.concatenate([labels(h, w).reshape(-1) for h, w in grids])
    n = cls.size
    eig = centers[cls] + rng.normal(scale=0.12, size=(n, K)).astype(np.float32)
    xyz = centers3[cls] + rng.normal(scale=0.4, size=(n, 3)).astype(np.float32)
    rgb = (xyz - xyz.min(0)) / np.ptp(xyz, 0)
    palette = (rng.random((N_CLASSES, 3)) * 200 + 40).astype(np.uint8)
    photos = [Image.fromarray(palette[labels(_PHOTO, _PHOTO)[i]]) for i in range(n_images)]
    for i, photo in enumerate(photos):
        photo.info["name"] = f"synthetic {i}"
    feats = MultiResFeatures.from_grids(
        [np.zeros((n_images, h, w, 1), np.float32) for h, w in grids],
        images=photos,
        resolutions=[h * 14 for h, _ in grids],
        image_names=[f"synthetic {i}" for i in range(n_images)],
    )
    return NcutWidget.from_results(feats, eig, xyz, rgb, **traits)
