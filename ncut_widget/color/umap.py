"""UMAP coloring via umap-learn (optional extra ``ncut-widget[umap]``) on an FPS sample."""

from __future__ import annotations

import warnings
from typing import Any

import torch

from ..engine.checks import check_int
from ..engine.precision import full_float32
from ..progress import ProgressFn, resolve_progress
from ._common import check_color_inputs, layout_all


@full_float32
def umap_color(
    eigvecs: Any,
    num_sample: int = 5000,
    knn: int = 10,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    device: str | torch.device | None = None,
    seed: int = 0,
    progress: bool | ProgressFn | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """3D UMAP layout of NCUT eigenvectors and an RGB colour for every node.

    umap-learn (CPU, numba) lays out ``num_sample`` FPS-picked nodes with the cosine metric;
    every other node is placed from its ``knn`` most similar sampled nodes, as in
    :func:`~ncut_widget.color.tsne_color`. ``device`` runs the sampling and propagation.

    Args:
        eigvecs: ``(N, K)`` torch tensor or numpy array, ``K >= 3``, finite.
        num_sample: nodes UMAP lays out; ``>= knn``.
        knn: sampled nodes each other node is placed from; ``>= 1``.
        n_neighbors: UMAP's neighbourhood size (clipped to the sample).
        min_dist: UMAP's minimum distance between embedded points.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``None`` (CUDA when available).
        seed: UMAP ``random_state`` and the FPS seed: same input and seed, same output.
        progress: ``True`` for tqdm bars, or a ``progress(stage, done, total)`` callable.

    Returns:
        ``(X_3d, rgb)``: ``(N, 3)`` float32 layout and ``(N, 3)`` float32 colours in ``[0, 1]``,
        both on the CPU.

    Raises:
        ImportError: umap-learn is not installed (``pip install 'ncut-widget[umap]'``).
    """
    X, num_sample, knn, dev = check_color_inputs(eigvecs, num_sample, knn, device)
    n_neighbors = check_int(n_neighbors, "n_neighbors", minimum=2)
    seed = check_int(seed, "seed", minimum=0)
    if isinstance(min_dist, bool) or not isinstance(min_dist, (int, float)):
        raise TypeError(f"min_dist must be a number, got {type(min_dist).__name__}")
    if min_dist < 0:
        raise ValueError(f"min_dist must be >= 0, got {min_dist}")
    try:
        from umap import UMAP
    except ImportError as err:
        raise ImportError(
            "umap_color needs umap-learn: pip install 'ncut-widget[umap]' (or umap-learn)"
        ) from err
    report = resolve_progress(progress)

    def layout(Xs: torch.Tensor, dev: torch.device) -> torch.Tensor:
        m = Xs.shape[0]
        report("Coloring: UMAP", 0, 1)
        reducer = UMAP(
            n_components=3,
            n_neighbors=max(2, min(n_neighbors, m - 1)),
            min_dist=float(min_dist),
            metric="cosine",
            random_state=seed,  # also makes umap-learn single-threaded, hence reproducible
            init="spectral" if m > 4 else "random",
        )
        with warnings.catch_warnings():
            # "n_jobs overridden by random_state": expected, that is the determinism we want.
            warnings.filterwarnings("ignore", message=".*n_jobs value.*", category=UserWarning)
            Y = reducer.fit_transform(Xs.cpu().numpy())
        report("Coloring: UMAP", 1, 1)
        return torch.from_numpy(Y).float()

    return layout_all(X, num_sample, knn, seed, dev, report, layout)
