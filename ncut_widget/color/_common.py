"""Glue shared by every coloring: input checks, FPS sample, layout, propagation, RGB."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from ..engine.checks import as_node_matrix, check_int, resolve_device
from ..engine.propagate import knn_propagate
from ..engine.sampling import farthest_point_sampling
from ..progress import ProgressFn, resolve_progress, scaled
from .rgb import quantile_rgb

LayoutFn = Callable[[torch.Tensor, torch.device], torch.Tensor]
# Propagation weights exp(cos / T): a node close to one sample lands near it rather than
# at the plain mean of its knn samples, which would blur neighbourhoods together.
_PROPAGATE_TEMPERATURE = 0.05
# Query rows per propagation chunk times samples: ~8 MB blocks are reused by the allocator;
# larger ones are fresh mmaps whose page faults cost more than the arithmetic (measured 3x).
_BLOCK_ELEMENTS = 1 << 21
# The same on a GPU (128 MB blocks): no page faults there, and each chunk costs kernel launches
# from Python and waits for its rows; 2M elements made 955 chunks of a million nodes at 2,000
# samples, this makes 60.
_GPU_BLOCK_ELEMENTS = 1 << 25


def propagation_rows(device: torch.device, m: int) -> int:
    """Query rows per chunk when placing nodes from ``m`` laid-out samples on ``device``."""
    block = _BLOCK_ELEMENTS if torch.device(device).type == "cpu" else _GPU_BLOCK_ELEMENTS
    return max(1, block // m)


def check_color_inputs(
    eigvecs: Any, num_sample: Any, knn: Any, device: Any
) -> tuple[torch.Tensor, int, int, torch.device]:
    """Validate the arguments every coloring shares.

    Returns ``(X, num_sample, knn, device)`` with ``X`` the ``(N, K)`` float32 eigenvectors,
    rows scaled to unit length (cosine geometry), on the CPU.
    """
    X = as_node_matrix(eigvecs, "eigvecs", min_rows=2)
    if X.shape[1] < 3:
        raise ValueError(
            f"eigvecs needs at least 3 eigenvectors (columns) for a 3D layout, got shape {tuple(X.shape)}"
        )
    knn = check_int(knn, "knn", minimum=1)
    num_sample = check_int(num_sample, "num_sample", minimum=1)
    if num_sample < knn:
        raise ValueError(f"num_sample ({num_sample}) must be >= knn ({knn})")
    dev = resolve_device(device)
    norms = X.norm(dim=1, keepdim=True)
    if bool((norms == 0).any()):
        raise ValueError(f"eigvecs has {int((norms == 0).sum())} all-zero rows: their direction is undefined")
    return F.normalize(X.cpu(), dim=1), num_sample, knn, dev


def _propagation_weights(sim: torch.Tensor) -> torch.Tensor:
    return torch.exp((sim - sim[:, :1]) / _PROPAGATE_TEMPERATURE)


def layout_all(
    X: torch.Tensor,
    num_sample: int,
    knn: int,
    seed: int,
    device: torch.device,
    progress: bool | ProgressFn | None,
    layout: LayoutFn,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Lay out an FPS sample with ``layout`` and place every other node from its ``knn`` samples.

    Args:
        X: ``(N, K)`` float32 unit-row eigenvectors on the CPU.
        layout: maps ``(M, K)`` unit rows on ``device`` (and the device) to an ``(M, 3)`` layout.

    Returns:
        ``(X_3d, rgb)``, both ``(N, 3)`` float32 on the CPU; ``rgb`` in ``[0, 1]``.
    """
    report = resolve_progress(progress)
    n = X.shape[0]
    if num_sample >= n:
        X_3d = layout(X.to(device), device).float().cpu()
    else:
        report("Coloring: sampling", 0, 1)
        picked = farthest_point_sampling(X, num_sample, seed=seed, device=device)
        report("Coloring: sampling", 1, 1)
        anchors = X[picked]
        Y = layout(anchors.to(device), device).float().cpu()
        X_3d = knn_propagate(
            Y,
            anchors,
            X,
            n_neighbors=knn,
            weight_fn=_propagation_weights,
            device=device,
            chunk_size=propagation_rows(device, num_sample),
            progress=scaled(report, "Coloring: placing nodes"),
        )
        X_3d[picked] = Y  # sampled nodes keep their own place
    return X_3d, quantile_rgb(X_3d)
