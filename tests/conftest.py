"""Shared test set-up: one torch thread per xdist worker, the devices to test on, and a quick
feature fixture."""

from __future__ import annotations

import os

import pytest
import torch

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two cores: torch threads fighting other workers ran 60x slower here.
    torch.set_num_threads(1)

# CPU always; CUDA when this machine has it (skipped, not failed, without: the same assertions
# must hold on both, so the GPU path is exercised wherever one is available).
_DEVICES = [
    pytest.param("cpu", id="cpu"),
    pytest.param(
        "cuda",
        id="cuda",
        marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine"),
    ),
]


@pytest.fixture(scope="session", params=_DEVICES)
def device(request) -> torch.device:
    """The compute device under test: ``torch.device("cpu")``, then ``"cuda"`` when available.

    Session-scoped so module fixtures (a fitted model, eigenvectors) can be built per device.
    """
    if request.param == "cuda":  # with its index, so ``tensor.device == device`` holds
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device(request.param)


@pytest.fixture
def planted_parts() -> tuple[torch.Tensor, torch.Tensor]:
    """2,000 nodes x 64 dims in 5 planted clusters: (features float32, labels int64)."""
    gen = torch.Generator().manual_seed(0)
    centers = torch.randn(5, 64, generator=gen) * 3
    labels = torch.arange(2000) % 5
    X = centers[labels] + torch.randn(2000, 64, generator=gen)
    return X, labels


@pytest.fixture
def narrow_features() -> torch.Tensor:
    """900 nodes x 24 dims around 5 centers: narrower than the scan's subspace, so every affinity
    the Nystrom path uses is exact (to the score product's rounding)."""
    gen = torch.Generator().manual_seed(0)
    return torch.randn(5, 24, generator=gen)[torch.arange(900) % 5] * 2 + torch.randn(900, 24, generator=gen)


@pytest.fixture
def dense_nystrom():
    """``formula(model, X, cells) -> (values (N, k), W (N, m))``: Nystrom's extension of the cell
    values ``cells`` to the rows of ``X`` (ncut_widget/engine/nystrom.py's module doc), computed
    densely on the CPU from a fitted model on narrow features, and the node-to-anchor affinities."""
    from ncut_widget.engine import affinity as aff

    def formula(model, X: torch.Tensor, cells: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        P = aff.prepare(X, "cosine")
        W = torch.exp(-(1 - P @ P[model.anchor_indices_].T).clamp_min(0) / model.gamma_)
        c, lam = model.anchor_mass_, model.eigenvalues_
        w_own = W.gather(1, W.argmax(dim=1)[:, None]).squeeze(1)
        deg = W @ c + 1 - w_own
        f = cells / (model._cell_degree.cpu() / c).sqrt()[:, None]
        den = torch.maximum(lam * deg[:, None] - (1 - w_own)[:, None], 0.5 * lam * deg[:, None])
        return deg.sqrt()[:, None] * (W @ (c[:, None] * f)) / den, W

    return formula
