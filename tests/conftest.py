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
