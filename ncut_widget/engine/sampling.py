"""Farthest point sampling: the one sampler shared by the engine and the coloring."""

from __future__ import annotations

import torch

from .checks import check_int

# FPS only needs coarse geometry: a few principal directions keep it cheap for wide features.
_FPS_DIMS = 8
# FPS over a seeded uniform pre-draw of this many candidates per pick: the spread is the same to
# the eye, and 400k nodes no longer cost seconds (measured: 4.7 s -> 0.4 s for 10k picks).
_DRAW_RATIO = 4
# KD-tree height for fpsample's bucket FPS; 7 measured fastest for 25k-40k candidates.
_KD_HEIGHT = 7
# Subspace-iteration steps towards the top principal directions for the projection (as
# torch.pca_lowrank's niter=2).
_POWER_STEPS = 2


def _principal_projection(
    X: torch.Tensor, dims: int, gen: torch.Generator, scale: torch.Tensor | None = None
) -> torch.Tensor:
    """The rows ``diag(scale) X`` (``X`` ``(n, C)``; ``scale`` ``(n,)``, ones when ``None``)
    centred and projected on a ``dims``-dimensional subspace near their top principal directions.

    Subspace iteration on the covariance from a start drawn from the caller's generator (never
    the global RNG): ``O(n C dims)`` per step, where the exact ``C x C`` covariance would cost
    ``O(n C^2)``. FPS needs only the coarse geometry, and its distances depend on the subspace,
    not on a basis of it, so no eigen-decomposition picks "the top ``dims``": on a flat spectrum
    that pick jumps with the last bit of the input (measured: after umap-learn switched the CPU
    to flush denormals, the picks changed), while matmuls and QR move only by rounding.

    The scaled and centred rows are never written out: each product applies the row scales and
    the mean to its thin ``dims``-wide side (the normalising and centring passes over a fit's
    8,192 candidates took 17 ms with AVX2 kernels).
    """
    w = torch.ones(X.shape[0], dtype=X.dtype, device=X.device) if scale is None else scale.to(X)
    if X.shape[1] <= dims:
        return X if scale is None else X * w[:, None]
    mean = (w @ X) / X.shape[0]

    def rows_times(B: torch.Tensor) -> torch.Tensor:  # (centred rows) @ B
        return (X @ B).mul_(w[:, None]).sub_(mean @ B)

    def rows_t_times(Y: torch.Tensor) -> torch.Tensor:  # (centred rows).T @ Y
        # As (Y.T @ X).T: MKL ran X.T @ Y for 8,192 x 768 rows and 8 columns 4x slower (12.2
        # against 2.8 ms with AVX2 kernels), the transposed operand on the long side.
        return ((Y * w[:, None]).T @ X).T.sub_(mean[:, None] * Y.sum(dim=0))

    basis = _orthonormal(torch.randn(X.shape[1], dims, generator=gen, dtype=torch.float32).to(X.device, X.dtype))
    for _ in range(_POWER_STEPS):
        basis = _orthonormal(rows_t_times(rows_times(basis)))
    return rows_times(basis)


def _orthonormal(Y: torch.Tensor) -> torch.Tensor:
    return torch.linalg.qr(Y, mode="reduced").Q


def _fps_torch(P: torch.Tensor, n_sample: int, first: int) -> torch.Tensor:
    """Plain FPS loop, on ``P``'s device: used when fpsample is missing."""
    n = P.shape[0]
    picked = torch.empty(n_sample, dtype=torch.long, device=P.device)
    min_d2 = torch.full((n,), float("inf"), dtype=P.dtype, device=P.device)
    current = torch.tensor(first, device=P.device)
    for i in range(n_sample):
        picked[i] = current
        d2 = (P - P[current]).pow_(2).sum(dim=1)
        torch.minimum(min_d2, d2, out=min_d2)
        current = torch.argmax(min_d2)
    return picked.cpu()


def _fps_cpu(P: torch.Tensor, n_sample: int, first: int) -> torch.Tensor:
    try:
        import fpsample
    except ImportError:  # optional speed-up; the torch loop gives the same kind of spread
        return _fps_torch(P, n_sample, first)
    pts = P.contiguous().numpy()
    # Buckets hold 2**h points; fpsample requires 2**h <= N, so small inputs get a lower tree.
    height = max(1, min(_KD_HEIGHT, pts.shape[0].bit_length() - 1))
    idx = fpsample.bucket_fps_kdline_sampling(pts, n_sample, h=height, start_idx=first)
    return torch.from_numpy(idx.astype("int64"))


@torch.no_grad()
def farthest_point_sampling(
    X: torch.Tensor,
    n_sample: int,
    *,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Pick ``n_sample`` well-spread rows of ``X`` by farthest point sampling.

    FPS runs on the top principal directions of ``X`` over a seeded uniform pre-draw of
    ``4 * n_sample`` candidates (all rows when ``N`` is smaller). The projection runs on
    ``device``, the picks on the CPU: ``fpsample``'s bucket FPS when installed, else a torch
    loop. Every random draw comes from a ``torch.Generator`` seeded with ``seed``: the global
    RNG is neither read nor changed.

    Args:
        X: ``(N, C)`` float tensor of node features.
        n_sample: how many rows to pick; ``n_sample >= N`` returns ``arange(N)``.
        seed: picks the candidates and the first point; same input and seed give the same indices.
        device: where to run the projection (defaults to ``X.device``).

    Returns:
        ``(min(n_sample, N),)`` int64 tensor of distinct row indices on the CPU.
    """
    n_sample = check_int(n_sample, "n_sample", minimum=1)
    n = X.shape[0]
    if n_sample >= n:
        return torch.arange(n)
    dev = torch.device(device) if device is not None else X.device
    gen = torch.Generator().manual_seed(seed)
    n_draw = min(n, _DRAW_RATIO * n_sample)
    cand = torch.arange(n) if n_draw >= n else torch.randperm(n, generator=gen)[:n_draw].sort().values
    idx = slice(None) if n_draw >= n else cand.to(X.device)
    # Lazily prepared rows (nystrom.PreparedRows) give their raw rows and scales: the prepared
    # copy is never made. A shift common to all rows drops out of the centring.
    raw, scale = X.scaled_rows(idx) if hasattr(X, "scaled_rows") else (X[idx], None)
    first = int(torch.randint(n_draw, (1,), generator=gen))
    scale = None if scale is None else scale.to(dev, torch.float32)
    P = _principal_projection(raw.to(dev, torch.float32), _FPS_DIMS, gen, scale)
    # The picks on the CPU whatever the device: P is small (at most 4 * n_sample x 8), and on a
    # GPU each step of the loop waits for the device (2,048 waits for a fit's anchors).
    local = _fps_cpu(P.cpu(), n_sample, first)
    return cand[local]
