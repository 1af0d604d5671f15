"""No global RNG: the engine and the colorings draw only from their own seeded torch.Generators."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ncut_widget.color import pca_color, tsne_color
from ncut_widget.engine.ncut import Ncut
from ncut_widget.engine.sampling import farthest_point_sampling


def _forbid(*_args, **_kwargs):
    raise AssertionError("the global RNG was seeded, read or restored")


@pytest.fixture
def no_global_rng(monkeypatch):
    """Make every way of seeding, saving or restoring the global RNG raise; after the test,
    check that the global CPU and numpy RNG states are byte-identical to before."""
    cpu_state = torch.random.get_rng_state().clone()
    # The CUDA generator too, where there is one (the device tests run there).
    cuda_state = torch.cuda.get_rng_state().clone() if torch.cuda.is_available() else None
    np_state = np.random.get_state()
    for module, name in [
        (torch, "manual_seed"),
        (torch, "seed"),
        (torch, "set_rng_state"),
        (torch, "get_rng_state"),
        (torch.random, "manual_seed"),
        (torch.random, "seed"),
        (torch.random, "set_rng_state"),
        (torch.random, "get_rng_state"),
        (torch.cuda, "manual_seed"),
        (torch.cuda, "manual_seed_all"),
        (torch.cuda, "set_rng_state"),
        (np.random, "seed"),
        (np.random, "set_state"),
    ]:
        monkeypatch.setattr(module, name, _forbid)
    yield
    monkeypatch.undo()
    assert torch.equal(torch.random.get_rng_state(), cpu_state), "the global torch RNG advanced"
    if cuda_state is not None:
        assert torch.equal(torch.cuda.get_rng_state(), cuda_state), "the global CUDA RNG advanced"
    after = np.random.get_state()
    assert after[0] == np_state[0] and np.array_equal(after[1], np_state[1]) and after[2:] == np_state[2:]


@pytest.fixture(scope="module")
def wide() -> torch.Tensor:
    """600 nodes x 32 dims in 4 parts: wider than FPS's 8 principal directions."""
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(600) % 4
    return torch.randn(4, 32, generator=gen)[labels] * 3 + torch.randn(600, 32, generator=gen)


def test_fps_projection_leaves_the_global_rng_alone(wide, no_global_rng, device):
    a = farthest_point_sampling(wide.to(device), 50, seed=2, device=device)
    b = farthest_point_sampling(wide.to(device), 50, seed=2, device=device)
    assert torch.equal(a, b) and a.unique().numel() == 50


@pytest.mark.parametrize("n_sample", [200, 1000], ids=["nystrom", "exact"])
def test_ncut_leaves_the_global_rng_alone(wide, n_sample, no_global_rng, device):
    vecs, vals = Ncut(n_eig=5, n_sample=n_sample, device=device).fit_transform(wide.to(device))
    assert torch.isfinite(vecs).all() and vals.shape == (5,)


def test_colorings_leave_the_global_rng_alone(wide, no_global_rng, device):
    eig = wide[:, :8].to(device)
    tsne_color(eig, num_sample=300, knn=5, n_iter=20, device=device)
    pca_color(eig, num_sample=300, knn=5, device=device)
