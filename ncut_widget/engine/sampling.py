"""Farthest point sampling: the one sampler shared by the engine and the coloring."""

from __future__ import annotations

import torch

from .checks import check_int

# FPS only needs coarse geometry: a few principal directions keep it cheap for wide features.
_FPS_DIMS = 8


def _principal_projection(X: torch.Tensor, dims: int, seed: int) -> torch.Tensor:
    if X.shape[1] <= dims:
        return X
    gen_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        centered = X - X.mean(dim=0, keepdim=True)
        _, _, V = torch.pca_lowrank(centered, q=dims, center=False, niter=2)
    finally:
        torch.random.set_rng_state(gen_state)
    return centered @ V[:, :dims]


@torch.no_grad()
def farthest_point_sampling(
    X: torch.Tensor,
    n_sample: int,
    *,
    seed: int = 0,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """Pick ``n_sample`` well-spread rows of ``X`` by farthest point sampling.

    Args:
        X: ``(N, C)`` float tensor of node features.
        n_sample: how many rows to pick; ``n_sample >= N`` returns ``arange(N)``.
        seed: picks the first point; same input and seed give the same indices.
        device: where to run the distance updates (defaults to ``X.device``).

    Returns:
        ``(min(n_sample, N),)`` int64 tensor of row indices on the CPU, in pick order.
    """
    n_sample = check_int(n_sample, "n_sample", minimum=1)
    n = X.shape[0]
    if n_sample >= n:
        return torch.arange(n)
    dev = torch.device(device) if device is not None else X.device
    P = _principal_projection(X.to(dev, torch.float32), _FPS_DIMS, seed)
    gen = torch.Generator().manual_seed(seed)
    first = int(torch.randint(n, (1,), generator=gen))
    picked = torch.empty(n_sample, dtype=torch.long, device=dev)
    min_d2 = torch.full((n,), float("inf"), device=dev)
    current = torch.tensor(first, device=dev)
    for i in range(n_sample):
        picked[i] = current
        d2 = (P - P[current]).pow_(2).sum(dim=1)
        torch.minimum(min_d2, d2, out=min_d2)
        current = torch.argmax(min_d2)
    return picked.cpu()
