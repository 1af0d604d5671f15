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
