"""3D layout -> RGB: robust per-channel quantile scaling into [0, 1]."""

from __future__ import annotations

import torch

from ..engine.checks import as_node_matrix, check_open_unit


def quantile_rgb(X_3d: torch.Tensor, q: float = 0.01) -> torch.Tensor:
    """Scale each of the three coordinates to ``[0, 1]`` between its ``q`` and ``1 - q`` quantiles.

    Values outside the quantile range are clipped, so a few outliers cannot squeeze everyone
    else into a narrow band of colour.

    Args:
        X_3d: ``(N, 3)`` float tensor or array (any real dtype), the 3D layout.
        q: lower quantile in ``(0, 0.5)``; the upper one is ``1 - q``.

    Returns:
        ``(N, 3)`` float32 tensor in ``[0, 1]`` on the CPU. A channel whose quantiles coincide
        (no spread) is set to ``0.5``.
    """
    X = as_node_matrix(X_3d, "X_3d").cpu()
    if X.shape[1] != 3:
        raise ValueError(f"X_3d must have 3 columns, got shape {tuple(X.shape)}")
    q = check_open_unit(q, "q")
    if q >= 0.5:
        raise ValueError(f"q must be below 0.5 (it is the lower quantile), got {q}")
    # Sort once instead of torch.quantile, which refuses inputs above 16M elements.
    ordered = X.sort(dim=0).values
    n = X.shape[0]
    lo = _interp(ordered, q * (n - 1))
    hi = _interp(ordered, (1 - q) * (n - 1))
    span = hi - lo
    flat = span <= 1e-12 * hi.abs().clamp_min(1.0)
    rgb = ((X - lo) / torch.where(flat, torch.ones_like(span), span)).clamp_(0.0, 1.0)
    rgb[:, flat] = 0.5
    return rgb


def _interp(ordered: torch.Tensor, pos: float) -> torch.Tensor:
    """Linear interpolation between order statistics, like ``torch.quantile``."""
    below = int(pos)
    above = min(below + 1, ordered.shape[0] - 1)
    frac = pos - below
    return ordered[below] * (1 - frac) + ordered[above] * frac
