"""K-way Normalized Cuts: discrete segments from continuous eigenvectors by axis alignment.

Yu & Shi (2003), "Multiclass spectral clustering": row-normalize the first ``k`` eigenvectors
(each node becomes a point on the unit sphere of R^k), then find the orthogonal rotation ``R`` that
best aligns them with the ``k`` coordinate axes, alternating

* discrete step: each node joins the axis its rotated vector points most along (argmax);
* continuous step: the orthogonal ``R`` closest to that assignment (Procrustes: the SVD of
  ``X^T D``),

until the objective stops improving. Rotating the eigenvectors keeps the continuous NCUT optimum,
so the segments are the discrete solution nearest to it. The rotation is fitted on a seeded
uniform sample of the nodes (it is k x k; a few thousand nodes fix it) and applied to every node
in chunks, on the device the eigenvectors are on. Uniform, not farthest-point: the objective is a
sum over nodes, which a uniform sample estimates without bias (FPS would over-weight the sparse
outskirts), and it costs nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .checks import check_int, resolve_device
from .precision import full_float32

# Nodes the rotation is fitted on: k x k unknowns are fixed by a few thousand spread-out nodes,
# and the alternation costs O(n_fit * k^2) per step.
DEFAULT_FIT_SAMPLE = 10_000
_CHUNK = 65_536


def _as_eigvecs(eigenvectors: Any, n_clusters: int) -> torch.Tensor:
    if isinstance(eigenvectors, np.ndarray):
        if not np.issubdtype(eigenvectors.dtype, np.floating):
            raise TypeError(f"eigenvectors must be floating point, got numpy dtype {eigenvectors.dtype}")
        eigenvectors = torch.from_numpy(np.ascontiguousarray(eigenvectors))
    elif not isinstance(eigenvectors, torch.Tensor):
        raise TypeError(f"eigenvectors must be a torch.Tensor or numpy.ndarray, got {type(eigenvectors).__name__}")
    if not eigenvectors.is_floating_point():
        raise TypeError(f"eigenvectors must be floating point, got dtype {eigenvectors.dtype}")
    if eigenvectors.ndim != 2:
        raise ValueError(f"eigenvectors must be 2-D (N, n_eig), got shape {tuple(eigenvectors.shape)}")
    n, cols = eigenvectors.shape
    if n_clusters > cols:
        raise ValueError(
            f"n_clusters ({n_clusters}) is larger than the number of eigenvectors ({cols}): "
            f"compute at least {n_clusters} eigenvectors (Ncut(n_eig={n_clusters}))"
        )
    if n < n_clusters:
        raise ValueError(f"{n} nodes cannot form {n_clusters} segments")
    V = eigenvectors[:, :n_clusters].detach()
    if not bool(torch.isfinite(V).all()):
        bad = int((~torch.isfinite(V)).any(dim=1).sum())
        raise ValueError(f"eigenvectors contain NaN or Inf in {bad} of {n} rows")
    return V


def _initial_rotation(Xn: torch.Tensor, k: int, first: int) -> torch.Tensor:
    """Yu & Shi's start: k rows of ``Xn`` as mutually orthogonal as the data allows."""
    R = torch.empty((k, k), dtype=Xn.dtype, device=Xn.device)
    R[:, 0] = Xn[first]
    overlap = torch.zeros(Xn.shape[0], dtype=Xn.dtype, device=Xn.device)
    for j in range(1, k):
        overlap += (Xn @ R[:, j - 1]).abs()
        R[:, j] = Xn[int(torch.argmin(overlap))]
    return R


@full_float32
@torch.no_grad()
def axis_align(
    eigenvectors: Any,
    n_clusters: int,
    *,
    n_sample: int = DEFAULT_FIT_SAMPLE,
    max_iter: int = 100,
    tol: float = 1e-7,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """The ``(n_clusters, n_clusters)`` float32 rotation that aligns the eigenvectors with the axes.

    Args:
        eigenvectors: ``(N, n_eig)`` float, ``n_eig >= n_clusters``; the first ``n_clusters``
            columns are used.
        n_clusters: number of segments, ``2 <= n_clusters <= n_eig``.
        n_sample: nodes the rotation is fitted on (a seeded uniform sample; all nodes when fewer).
        max_iter: alternation steps at most.
        tol: stop when the NCUT objective ``2 (n - trace)`` improves by less than ``tol * n``.
        seed: picks the sample and the starting row; same input and seed give the same rotation.
        device: where to compute (default: the eigenvectors' device).

    Returns:
        ``R`` ``(n_clusters, n_clusters)`` float32 on the compute device: ``normalize(V) @ R``.
    """
    k = check_int(n_clusters, "n_clusters", minimum=2)
    V = _as_eigvecs(eigenvectors, k)
    n_sample = check_int(n_sample, "n_sample", minimum=k)
    max_iter = check_int(max_iter, "max_iter", minimum=1)
    dev = V.device if device is None else resolve_device(device)
    gen = torch.Generator().manual_seed(seed)
    if V.shape[0] > n_sample:
        V = V[torch.randperm(V.shape[0], generator=gen)[:n_sample].sort().values.to(V.device)]
    # Sums over many nodes feed k x k SVDs: float64 keeps the objective's stopping test exact.
    X64 = F.normalize(V.to(dev, torch.float64), dim=1)
    n = X64.shape[0]
    R = _initial_rotation(X64, k, int(torch.randint(n, (1,), generator=gen)))
    best_obj = float("inf")
    for _ in range(max_iter):
        labels = (X64 @ R).argmax(dim=1)
        # X^T D: column j sums the rows assigned to axis j. A product with the one-hot D, not an
        # index_add_ (whose float atomics add in a different order on every CUDA run).
        M = X64.T @ F.one_hot(labels, k).to(X64.dtype)
        U, S, Vh = torch.linalg.svd(M)
        # min over orthogonal R of |D - X R|^2 for this assignment, reached at R = U Vh.
        obj = 2.0 * (n - float(S.sum()))
        if obj >= best_obj - tol * n:
            break
        best_obj, R = obj, U @ Vh
    return R.float()


@full_float32
@torch.no_grad()
def kway_ncut(
    eigenvectors: Any,
    n_clusters: int,
    *,
    n_sample: int = DEFAULT_FIT_SAMPLE,
    max_iter: int = 100,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> torch.Tensor:
    """K-way NCUT: the first ``n_clusters`` eigenvectors rotated so each segment owns one axis.

    A drop-in for ncut-pytorch's ``kway_ncut(eigvecs[:, :k])``: ``out.argmax(1)`` is each node's
    segment and ``out.argmax(0)`` the node most central to each segment.

    Args:
        eigenvectors: ``(N, n_eig)`` float tensor or array (e.g. ``Ncut.fit_transform``'s first
            output); any device. NaN/Inf, wrong rank or too few columns raise ``ValueError``.
        n_clusters: number of segments, ``2 <= n_clusters <= n_eig``.
        n_sample: nodes the rotation is fitted on (see :func:`axis_align`).
        max_iter: alternation steps at most.
        seed: same input and seed give the same output.
        device: where to compute (default: the eigenvectors' device).

    Returns:
        ``(N, n_clusters)`` float32 on the eigenvectors' device: the row-normalized eigenvectors
        times the rotation (each row a unit vector).
    """
    k = check_int(n_clusters, "n_clusters", minimum=2)
    V = _as_eigvecs(eigenvectors, k)
    R = axis_align(V, k, n_sample=n_sample, max_iter=max_iter, seed=seed, device=device)
    return rotate(V, R)


@full_float32
@torch.no_grad()
def rotate(eigenvectors: Any, rotation: torch.Tensor) -> torch.Tensor:
    """``normalize(E[:, :k]) @ R``: the k-way output for a fitted rotation ``R`` ``(k, k)``.

    :func:`kway_ncut` ends with this; applied to other nodes (e.g. images added to a fitted map)
    with the same ``R`` it gives them the segments of the fit. ``(N, k)`` float32 on the
    eigenvectors' device.
    """
    k = int(rotation.shape[0])
    V = _as_eigvecs(eigenvectors, k)
    R = rotation
    out = torch.empty((V.shape[0], k), dtype=torch.float32, device=V.device)
    for start in range(0, V.shape[0], _CHUNK):
        block = F.normalize(V[start : start + _CHUNK].to(R.device, torch.float32), dim=1)
        out[start : start + block.shape[0]] = (block @ R).to(out.device)
    return out


def segment_labels(eigenvectors: Any, n_clusters: int, **kwargs: Any) -> torch.Tensor:
    """``(N,)`` int64 segment of every node: ``kway_ncut(eigenvectors, n_clusters).argmax(1)``.

    Keyword arguments go to :func:`kway_ncut`. Labels are in ``0..n_clusters-1``; a label can be
    empty when the eigenvectors support fewer than ``n_clusters`` parts.
    """
    return kway_ncut(eigenvectors, n_clusters, **kwargs).argmax(dim=1).cpu()
