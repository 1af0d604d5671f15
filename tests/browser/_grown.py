"""A map fitted on a few images and grown by many with ``add_images``, cheap enough for a browser test.

The backbone is a fixed random 14-px patch projection (a seeded ``torch.Generator``: no global RNG),
so features take milliseconds; the images are seeded crops of the bundled photos.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ncut_widget import explore, sample_images
from ncut_widget.features.backbones import CallableBackbone


def patch_backbone(channels: int = 24, seed: int = 0) -> CallableBackbone:
    """``x -> conv(x, W, stride 14)``: one random linear feature vector per 14x14 patch."""
    gen = torch.Generator().manual_seed(seed)
    weight = torch.randn(channels, 3, 14, 14, generator=gen) / 14.0

    def features(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, weight, stride=14)

    return CallableBackbone(features, patch_size=14, channels_last=False)


def crops(n: int, seed: int = 0, side: int = 160) -> list[Image.Image]:
    """``n`` square crops of the sample photos at seeded places, named ``crop i``."""
    rng = np.random.default_rng(seed)
    photos = sample_images()
    out = []
    for i in range(n):
        photo = photos[i % len(photos)]
        w, h = photo.size
        s = min(side, w, h)
        x, y = int(rng.integers(0, w - s + 1)), int(rng.integers(0, h - s + 1))
        crop = photo.crop((x, y, x + s, y + s))
        crop.info["name"] = f"crop {i}"
        out.append(crop)
    return out


def grown_widget(n_fitted: int = 20, n_added: tuple[int, ...] = (250, 250), resolutions=(56, 112)):
    """``explore`` on ``n_fitted`` crops with :func:`patch_backbone`, then one ``add_images`` per entry."""
    images = crops(n_fitted + sum(n_added))
    w = explore(images[:n_fitted], resolutions=resolutions, layer=0, backbone=patch_backbone(),
                n_eig=12, color="pca", background=False)
    start = n_fitted
    for count in n_added:
        w.add_images(images[start : start + count])
        start += count
    return w
