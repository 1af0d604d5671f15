"""Distances of a node list to itself (the anchor graph, the gamma sample): the blocked product
that multiplies only the blocks on and above the diagonal."""

from __future__ import annotations

import pytest
import torch

from ncut_widget.engine import affinity as aff


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
@pytest.mark.parametrize("n", [aff.SELF_MIN_ROWS - 1, aff.SELF_MIN_ROWS, 1023])
def test_self_distances_match_the_full_product(device, distance, n):
    gen = torch.Generator().manual_seed(n)
    X = torch.randn(n, 96, generator=gen) + 0.7  # a shared offset, as ViT tokens have
    P = aff.prepare(X, distance).to(device)
    D = aff.self_distances(P, distance)
    full = aff.distances(P, P, distance)
    assert D.shape == (n, n) and D.dtype == torch.float32 and D.device == P.device
    # Same distances to float32 rounding of the products (the blocks sum in another order).
    assert float((D - full).abs().max()) <= 1e-5 * float(full.abs().max())
    assert float(D.min()) >= 0
    if n >= aff.SELF_MIN_ROWS:  # below the diagonal blocks: the transposes of those above
        bounds = [n * i // aff.SELF_PARTS for i in range(aff.SELF_PARTS + 1)]
        for a, b in zip(bounds[1:], bounds[2:], strict=False):
            assert torch.equal(D[a:b, :a], D[:a, a:b].T)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_scaled_exp_is_the_exponential_in_place_or_into_out(device, dtype):
    # exp(s * x) computed as exp2(s * log2(e) * x): within a few float32 ulps of the float64
    # exponential over the range affinities take (down to float32's smallest normal).
    x = torch.linspace(0.0, 75.0, 10_001, dtype=dtype, device=device)
    want = torch.exp(x.double().cpu() * -1.1)
    out = torch.empty_like(x)
    got = aff.scaled_exp_(x, -1.1, out=out)
    assert got is out and float(x[-1]) == 75.0  # ``x`` untouched when ``out`` is given
    tol = 8 * torch.finfo(torch.float32).eps * (1 + x.double().cpu() * 1.1)
    assert bool(((got.double().cpu() - want).abs() <= tol * want).all())
    same = aff.scaled_exp_(x, -1.1)
    assert same is x and torch.equal(same, got)
    assert torch.equal(aff.affinity_(torch.tensor([0.0, 2.0], dtype=dtype, device=device), 2.0).cpu(),
                       aff.scaled_exp_(torch.tensor([0.0, 2.0], dtype=dtype), -0.5))
