"""How well a 3D layout keeps eigenvector-space neighbourhoods: the number we tune against."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from ..engine.checks import as_node_matrix, check_int

_BLOCK_ELEMENTS = 1 << 22


@torch.no_grad()
def neighbor_preservation(
    eigvecs: Any, X_3d: Any, *, n_probe: int = 1000, k: int = 10, seed: int = 0
) -> float:
    """Mean share of a node's ``k`` cosine-nearest neighbours in ``eigvecs`` that are also
    among its ``k`` Euclidean-nearest neighbours in ``X_3d``, over ``n_probe`` random nodes.

    Args:
        eigvecs: ``(N, K)`` eigenvectors (torch or numpy).
        X_3d: ``(N, D)`` layout of the same nodes (any ``D``, e.g. 3 or an RGB).
        n_probe: probe nodes, drawn without replacement with ``seed`` (all when ``N`` is smaller).
        k: neighbours compared, ``1 <= k < N``.

    Returns:
        A float in ``[0, 1]``; a random layout scores about ``k / N``.
    """
    # On the CPU both: the two may come from different devices (CUDA eigenvectors, a CPU layout).
    E = F.normalize(as_node_matrix(eigvecs, "eigvecs").cpu(), dim=1)
    Y = as_node_matrix(X_3d, "X_3d").cpu()
    n = E.shape[0]
    if Y.shape[0] != n:
        raise ValueError(f"eigvecs has {n} rows but X_3d has {Y.shape[0]}")
    k = check_int(k, "k", minimum=1)
    if k >= n:
        raise ValueError(f"k ({k}) must be below the number of nodes ({n})")
    n_probe = min(check_int(n_probe, "n_probe", minimum=1), n)
    probes = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:n_probe]
    hits = torch.empty((n_probe, k), dtype=torch.float32)
    # Probes in blocks: one (block, N) similarity and distance block at a time (~16 MB each),
    # never the (n_probe, N) pair, which is 4 GB per matrix at a million nodes.
    rows = max(1, _BLOCK_ELEMENTS // n)
    for start in range(0, n_probe, rows):
        p = probes[start : start + rows]
        sim = E[p] @ E.T
        d2 = torch.cdist(Y[p], Y).pow(2)
        r = torch.arange(p.shape[0])
        sim[r, p] = -torch.inf  # a node is not its own neighbour
        d2[r, p] = torch.inf
        near_e = sim.topk(k, dim=1).indices
        near_y = d2.topk(k, dim=1, largest=False).indices
        hits[start : start + p.shape[0]] = (near_e[:, :, None] == near_y[:, None, :]).any(dim=2).float()
    return float(hits.mean())
