"""The node order's grid layout, shared by features (``MultiResFeatures``) and the widget (``GridLayout``).

Nodes are every image at resolution 0 (row-major patches), then every image at resolution 1, ...;
``offsets[r]`` is resolution r's first node. Nothing here imports a stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


def split_nodes(
    values: Any, offsets: Sequence[int], grid_shapes: Sequence[tuple[int, int]], n_images: int
) -> list[Any]:
    """Per-node values ``(N, ...)`` in node order -> per resolution ``(n_images, h, w, ...)`` views.

    The one place that knows the node order's grid layout (``MultiResFeatures.split`` and
    the widget's ``GridLayout.split`` both use it). Torch tensors and numpy arrays alike.
    """
    if not isinstance(values, (torch.Tensor, np.ndarray)):
        raise TypeError(f"values must be a torch.Tensor or numpy.ndarray, got {type(values).__name__}")
    n_nodes = int(offsets[-1]) + n_images * grid_shapes[-1][0] * grid_shapes[-1][1]
    if values.ndim == 0 or values.shape[0] != n_nodes:
        got = "a scalar" if values.ndim == 0 else f"{values.shape[0]} rows"
        raise ValueError(f"values must have one row per node ({n_nodes}), got {got}")
    return [
        values[o : o + n_images * h * w].reshape(n_images, h, w, *values.shape[1:])
        for o, (h, w) in zip(offsets, grid_shapes, strict=True)
    ]
