"""Sparse t-SNE input: chunked cosine kNN graph and perplexity-calibrated affinities."""

from __future__ import annotations

import math

import torch

# Rows of the similarity block computed at once: chunk * M floats stay near 16 MB, so the
# (M, M) matrix (2.6 GB at 25,600 nodes) is never formed, and blocks stay cheap to allocate.
_BLOCK_ELEMENTS = 1 << 22


@torch.no_grad()
def cosine_knn(Xn: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's ``k`` most cosine-similar other rows.

    Args:
        Xn: ``(M, K)`` float32 tensor with unit-norm rows, on the compute device.
        k: neighbours per row, ``1 <= k < M``.

    Returns:
        ``(idx, sim)``: ``(M, k)`` int64 neighbour indices and ``(M, k)`` float32 cosines,
        most similar first, on ``Xn.device``; a row never lists itself.
    """
    m = Xn.shape[0]
    chunk = max(1, _BLOCK_ELEMENTS // m)
    idx = torch.empty((m, k), dtype=torch.long, device=Xn.device)
    sim = torch.empty((m, k), dtype=torch.float32, device=Xn.device)
    for start in range(0, m, chunk):
        stop = min(start + chunk, m)
        block = Xn[start:stop] @ Xn.T
        rows = torch.arange(stop - start, device=Xn.device)
        block[rows, rows + start] = -math.inf  # exclude self
        s, i = block.topk(k, dim=1)
        sim[start:stop], idx[start:stop] = s, i
    return idx, sim


@torch.no_grad()
def perplexity_affinities(d2: torch.Tensor, perplexity: float, n_steps: int = 64) -> torch.Tensor:
    """Conditional affinities ``p_{j|i}`` over each row's neighbours with the given perplexity.

    All rows are calibrated at once by bisection on the Gaussian precision ``beta``.

    Args:
        d2: ``(M, k)`` float32 squared distances to each row's neighbours.
        perplexity: target perplexity, ``1 <= perplexity <= k``.
        n_steps: bisection steps (64 reaches float32 precision from any start).

    Returns:
        ``(M, k)`` float32 tensor whose rows sum to 1.
    """
    # Shifting by the row minimum leaves p unchanged and keeps exp() from underflowing.
    d = d2 - d2.min(dim=1, keepdim=True).values
    target = math.log(perplexity)
    beta = torch.ones(d.shape[0], 1, dtype=d.dtype, device=d.device)
    lo = torch.zeros_like(beta)
    hi = torch.full_like(beta, math.inf)
    for _ in range(n_steps):
        p = torch.exp(-beta * d)
        total = p.sum(dim=1, keepdim=True)
        entropy = torch.log(total) + beta * (p * d).sum(dim=1, keepdim=True) / total
        too_flat = entropy > target  # entropy too high: sharpen (raise beta)
        lo = torch.where(too_flat, beta, lo)
        hi = torch.where(too_flat, hi, beta)
        beta = torch.where(
            torch.isinf(hi), beta * 2, (lo + hi) / 2
        )
    p = torch.exp(-beta * d)
    return p / p.sum(dim=1, keepdim=True)
