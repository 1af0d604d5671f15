"""The d_gamma rules that set the affinities' sharpness: the Newton solve for a target mean
affinity, and the median-distance rule (``d_gamma=None``)."""

from __future__ import annotations

import math

import pytest
import torch

from ncut_widget.engine import affinity as aff


def graph_mean(D: torch.Tensor, gamma: float, n_nodes: int) -> float:
    """Mean affinity of an ``n_nodes`` graph whose off-diagonal pairs are like ``D`` (float64)."""
    off = float(torch.exp(-D.double() / gamma).mean())
    return 1.0 / n_nodes + (1.0 - 1.0 / n_nodes) * off


@pytest.fixture(scope="module")
def sample():
    """The off-diagonal distances of the default 1,024-node sample (1,047,552 pairs: the
    float32 passes) and of a 300-node one (the float64 passes), of 2,000 nodes in 5 clusters."""
    gen = torch.Generator().manual_seed(0)
    X = (torch.randn(5, 64, generator=gen) * 3)[torch.arange(2000) % 5] + torch.randn(2000, 64, generator=gen)
    P = aff.prepare(X, "cosine")
    return aff.sample_distances(P, "cosine", seed=0), aff.sample_distances(P, "cosine", seed=0, size=300)


@pytest.mark.parametrize("which", [0, 1], ids=["float32 passes", "float64 passes"])
@pytest.mark.parametrize("d_gamma", [0.05, 0.3, 0.5, 0.9])
def test_solved_gamma_gives_the_target_mean_affinity(sample, which, d_gamma):
    D = sample[which]
    gamma = aff.solve_gamma(D, d_gamma, 5000)
    assert gamma > 0
    assert graph_mean(D, gamma, 5000) == pytest.approx(d_gamma, abs=2e-5)


def test_duplicate_nodes_zero_distances_still_solve(sample):
    # Zeros (duplicate nodes) do not count as the smallest distance the bracket starts from.
    D = torch.cat([torch.zeros(50_000), sample[1]])
    gamma = aff.solve_gamma(D, 0.5, 5000)
    assert graph_mean(D, gamma, 5000) == pytest.approx(0.5, abs=2e-5)


@pytest.mark.parametrize(
    "D, d_gamma, n_nodes",
    [(torch.zeros(1000), 0.5, 100), (torch.rand(1000) + 0.1, 0.001, 100)],
    ids=["all identical", "below the self-pairs' share"],
)
def test_unreachable_targets_name_d_gamma(D, d_gamma, n_nodes):
    with pytest.raises(ValueError, match=f"d_gamma={d_gamma} cannot be reached"):
        aff.solve_gamma(D, d_gamma, n_nodes)


@pytest.mark.parametrize("n", [1, 2, 7, 1000, 1001])
def test_median_rule_is_the_lower_median(n):
    gen = torch.Generator().manual_seed(n)
    D = torch.randint(1, 50, (n,), generator=gen).float() / 7  # ties included
    assert aff.median_gamma(D) == float(D.median())
    assert aff.median_gamma(D) == float(D.sort().values[(n - 1) // 2])


def test_median_rule_refuses_a_zero_median():
    with pytest.raises(ValueError, match="median distance between sampled nodes is 0"):
        aff.median_gamma(torch.tensor([0.0, 0.0, 1.0]))
    assert math.isfinite(aff.median_gamma(torch.tensor([0.0, 1.0, 1.0])))
