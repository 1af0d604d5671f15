"""PCA coloring: the instant, linear 3D view of the eigenvectors."""

from __future__ import annotations

from typing import Any

import torch

from ..engine.checks import check_int
from ..engine.precision import full_float32
from ..engine.sampling import farthest_point_sampling
from ..progress import ProgressFn, resolve_progress
from ._common import check_color_inputs
from .rgb import quantile_rgb


@full_float32
@torch.no_grad()
def pca_color(
    eigvecs: Any,
    num_sample: int = 30000,
    knn: int = 10,
    device: str | torch.device | None = None,
    seed: int = 0,
    progress: bool | ProgressFn | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Project row-normalised eigenvectors on their top 3 principal axes, and colour them.

    The axes are fitted on ``num_sample`` FPS-picked nodes (all nodes when ``num_sample >= N``)
    and applied to every node; a linear map needs no neighbour propagation, so ``knn`` is
    only validated (kept so all colorings share one signature).

    Args:
        eigvecs: ``(N, K)`` torch tensor or numpy array, ``K >= 3``, finite.
        num_sample: nodes the principal axes are fitted on; ``>= knn``.
        knn: validated (``>= 1``, ``<= num_sample``), otherwise unused.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``None`` (CUDA when available).
        seed: fixes the FPS sample.
        progress: ``True`` for tqdm bars, or a ``progress(stage, done, total)`` callable.

    Returns:
        ``(X_3d, rgb)``: ``(N, 3)`` float32 projections and ``(N, 3)`` float32 colours in
        ``[0, 1]``, both on the CPU. Axis signs are fixed (largest loading positive).
    """
    X, num_sample, knn, dev = check_color_inputs(eigvecs, num_sample, knn, device)
    seed = check_int(seed, "seed")
    report = resolve_progress(progress)
    report("Coloring: PCA", 0, 1)
    fit = X if num_sample >= X.shape[0] else X[farthest_point_sampling(X, num_sample, seed=seed, device=dev)]
    fit = fit.to(dev).double()
    mean = fit.mean(dim=0)
    centered = fit - mean
    # Eigendecomposition of the small (K, K) covariance: exact and free of random state.
    _, vecs = torch.linalg.eigh(centered.T @ centered)
    axes = vecs[:, -3:].flip(1)
    axes = axes * torch.sign(axes[axes.abs().argmax(dim=0), torch.arange(3, device=dev)])
    X_3d = ((X.to(dev).double() - mean) @ axes).float().cpu()
    report("Coloring: PCA", 1, 1)
    return X_3d, quantile_rgb(X_3d)
