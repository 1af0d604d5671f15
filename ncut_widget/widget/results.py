"""One NCUT result in the shape the widget needs, validated once at the door."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .state import GridLayout

if TYPE_CHECKING:
    from PIL import Image

    from ..features import MultiResFeatures


@dataclass(frozen=True)
class Results:
    """Per-node arrays (numpy float32, node order of ``layout``) plus the images they came from.

    Holds only what the widget shows: no features (``N x C``, often the largest array of a run),
    no model.
    """

    layout: GridLayout
    eigvecs: np.ndarray  # (N, n_eig)
    X_3d: np.ndarray  # (N, 3)
    rgb: np.ndarray  # (N, 3) in [0, 1]
    images: Sequence[Image.Image]

    def split(self, values: np.ndarray) -> list[np.ndarray]:
        """Per-node values ``(N, ...)`` -> per resolution ``(n_images, h, w, ...)`` numpy views."""
        return self.layout.split(values)

    def summary(self) -> str:
        """One line for the status bar: nodes, images, resolutions (counts with thousands separators)."""
        layout = self.layout
        return (
            f"{layout.n_nodes:,} nodes from {len(layout.image_names):,} images at {', '.join(layout.labels)}"
        )


def _as_numpy(values: Any, name: str, n: int, width: int | None) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    if not isinstance(values, np.ndarray):
        raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(values).__name__}")
    if values.ndim != 2 or values.shape[0] != n or (width is not None and values.shape[1] != width):
        want = f"({n}, {width if width is not None else 'k'})"
        raise ValueError(
            f"{name} has shape {tuple(values.shape)} but the features have {n} nodes: expected {want}"
        )
    values = values.astype(np.float32, copy=False)
    if not np.isfinite(values).all():
        raise ValueError(f"{name} contains NaN or Inf in {int((~np.isfinite(values)).any(1).sum())} rows")
    return values


def build_results(
    features: MultiResFeatures,
    eigvecs: Any,
    X_3d: Any,
    rgb: Any,
    images: Sequence[Image.Image] | None = None,
) -> Results:
    """Check that every array matches ``features`` and bundle them; clear errors otherwise."""
    from ..features import MultiResFeatures

    if not isinstance(features, MultiResFeatures):
        raise TypeError(
            f"features must be a MultiResFeatures (e.g. MultiResFeatures.from_grids([feats1, feats2])), "
            f"got {type(features).__name__}"
        )
    n = features.n_nodes
    eig = _as_numpy(eigvecs, "eigvecs", n, None)
    if eig.shape[1] < 1:
        raise ValueError("eigvecs has no columns")
    xyz = _as_numpy(X_3d, "X_3d", n, 3)
    colors = _as_numpy(rgb, "rgb", n, 3)
    if colors.min() < 0.0 or colors.max() > 1.0:
        raise ValueError(f"rgb must lie in [0, 1], got values in [{colors.min():.3g}, {colors.max():.3g}]")
    from ..features.images import load_images

    names = list(features.image_names)
    if images is not None:
        photos, names = load_images(images)
    elif features.images is not None:
        photos = list(features.images)
    else:
        raise ValueError(
            "images are missing: pass images=[...] (one image per feature image) or build the "
            "features with MultiResFeatures.from_grids(grids, images=images)"
        )
    if len(photos) != features.n_images:
        raise ValueError(f"got {len(photos)} images for features of {features.n_images} images")
    layout = GridLayout(
        labels=list(features.labels),
        grid_shapes=[tuple(s) for s in features.grid_shapes],
        offsets=list(features.offsets),
        image_names=names,
        image_sizes=[img.size for img in photos],
    )
    return Results(layout=layout, eigvecs=eig, X_3d=xyz, rgb=colors, images=photos)
