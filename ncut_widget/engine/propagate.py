"""Chunked k-nearest-anchor propagation: the one propagator shared by engine and coloring."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from .checks import check_int

ProgressFn = Callable[[int, int], None]


@torch.no_grad()
def knn_propagate(
    anchor_values: torch.Tensor,
    anchor_feats: torch.Tensor,
    query_feats: torch.Tensor,
    *,
    n_neighbors: int,
    weight_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    metric: str = "cosine",
    chunk_size: int = 8192,
    device: torch.device | str | None = None,
    progress: ProgressFn | None = None,
) -> torch.Tensor:
    """Give every query row a weighted mean of the values of its nearest anchors.

    Peak memory is ``O(chunk_size * m)``: the ``(N, m)`` similarity is never formed whole.

    Args:
        anchor_values: ``(m, K)`` float values known on the anchors.
        anchor_feats: ``(m, C)`` anchor features.
        query_feats: ``(N, C)`` query features (same ``C``).
        n_neighbors: how many nearest anchors each query averages over (clipped to ``m``).
        weight_fn: maps the ``(n, k)`` similarities of the kept neighbours to non-negative
            weights; ``None`` means equal weights. For ``metric="cosine"`` similarities are
            cosines; for ``"euclidean"`` they are negative squared distances.
        metric: ``"cosine"`` or ``"euclidean"``.
        chunk_size: query rows per chunk.
        device: where to compute (defaults to ``anchor_feats.device``).
        progress: called as ``progress(done_rows, total_rows)`` after each chunk.

    Returns:
        ``(N, K)`` float32 tensor on the CPU.
    """
    n_neighbors = check_int(n_neighbors, "n_neighbors", minimum=1)
    chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    if metric not in ("cosine", "euclidean"):
        raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
    dev = torch.device(device) if device is not None else anchor_feats.device
    A = anchor_feats.to(dev, torch.float32)
    V = anchor_values.to(dev, torch.float32)
    k = min(n_neighbors, A.shape[0])
    if metric == "cosine":
        A = F.normalize(A, dim=1)
    else:
        a_sq = A.pow(2).sum(dim=1)
    n = query_feats.shape[0]
    out = torch.empty((n, V.shape[1]), dtype=torch.float32)
    for start in range(0, n, chunk_size):
        Q = query_feats[start : start + chunk_size].to(dev, torch.float32)
        if metric == "cosine":
            sim = F.normalize(Q, dim=1) @ A.T
        else:
            sim = torch.addmm(a_sq.unsqueeze(0), Q, A.T, alpha=-2.0).add_(Q.pow(2).sum(1, keepdim=True)).neg_()
        top_sim, top_idx = sim.topk(k, dim=1)
        w = torch.ones_like(top_sim) if weight_fn is None else weight_fn(top_sim)
        w = w / w.sum(dim=1, keepdim=True).clamp_min(1e-12)
        out[start : start + Q.shape[0]] = torch.einsum("nk,nkd->nd", w, V[top_idx]).cpu()
        if progress is not None:
            progress(min(start + chunk_size, n), n)
    return out
