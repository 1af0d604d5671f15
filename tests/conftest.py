"""Shared test set-up: one torch thread per xdist worker, and a quick feature fixture."""

from __future__ import annotations

import os

import pytest
import torch

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two cores: torch threads fighting other workers ran 60x slower here.
    torch.set_num_threads(1)


@pytest.fixture
def planted_parts() -> tuple[torch.Tensor, torch.Tensor]:
    """2,000 nodes x 64 dims in 5 planted clusters: (features float32, labels int64)."""
    gen = torch.Generator().manual_seed(0)
    centers = torch.randn(5, 64, generator=gen) * 3
    labels = torch.arange(2000) % 5
    X = centers[labels] + torch.randn(2000, 64, generator=gen)
    return X, labels
