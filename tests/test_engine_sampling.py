"""Farthest point sampling and nearest-anchor search."""

from __future__ import annotations

import pytest
import torch

from ncut_widget.engine import sampling
from ncut_widget.engine.propagate import knn_propagate, nearest_anchors
from ncut_widget.engine.sampling import farthest_point_sampling


def test_fps_distinct_deterministic_and_independent_of_global_rng(planted_parts, device):
    X = planted_parts[0].to(device)
    torch.manual_seed(0)
    a = farthest_point_sampling(X, 300, seed=4, device=device)
    torch.manual_seed(99)
    b = farthest_point_sampling(X, 300, seed=4, device=device)
    assert a.dtype == torch.int64 and a.shape == (300,) and a.device.type == "cpu"
    assert torch.equal(a, b)
    assert a.unique().numel() == 300 and int(a.min()) >= 0 and int(a.max()) < 2000


def test_fps_covers_every_planted_part(planted_parts, device):
    X, labels = planted_parts
    picked = farthest_point_sampling(X.to(device), 20, seed=0, device=device)
    assert set(labels[picked].tolist()) == set(range(5))


def test_fps_returns_all_rows_when_asked_for_more():
    X = torch.randn(10, 3)
    assert torch.equal(farthest_point_sampling(X, 50), torch.arange(10))


def test_fps_torch_fallback_spreads_like_fpsample(planted_parts, monkeypatch):
    X, labels = planted_parts
    monkeypatch.setattr(sampling, "_fps_cpu", lambda P, n, first: sampling._fps_torch(P, n, first))
    picked = farthest_point_sampling(X, 20, seed=0)
    assert picked.unique().numel() == 20
    assert set(labels[picked].tolist()) == set(range(5))


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
def test_fps_projection_of_lazily_prepared_rows_is_that_of_the_prepared_copy(distance, device):
    # PreparedRows hand FPS their raw rows and scales; the projection applies both inside its
    # products. It must span what the explicit prepared, centred rows' projection spans.
    from ncut_widget.engine import affinity as aff
    from ncut_widget.engine.nystrom import PreparedRows

    gen = torch.Generator().manual_seed(1)
    X = (torch.randn(600, 48, generator=gen) * torch.linspace(3, 0.1, 48) + 2.0).to(device)
    center = X.mean(dim=0) if distance == "euclidean" else None
    lazy = PreparedRows(X, distance, center)
    idx = torch.arange(0, 600, 3, device=device)
    raw, scale = lazy.scaled_rows(idx)
    P = aff.prepare(X[idx], distance) - (0 if center is None else center)
    rebuilt = raw if scale is None else raw * scale[:, None]
    assert torch.allclose(rebuilt - (0 if center is None else center), P, atol=1e-5)
    assert torch.allclose(lazy[idx], P, atol=1e-6)
    implicit = sampling._principal_projection(raw, 6, torch.Generator().manual_seed(0), scale)
    explicit = sampling._principal_projection(P - P.mean(dim=0), 6, torch.Generator().manual_seed(0))
    assert implicit.shape == (200, 6)
    assert float(implicit.mean(dim=0).abs().max()) < 1e-4 * float(implicit.abs().max())  # centred
    # The same subspace of the rows' space: each projection is the other's up to a rotation.
    Qi, Qe = torch.linalg.qr(implicit.double())[0], torch.linalg.qr(explicit.double())[0]
    assert float(torch.linalg.svdvals(Qi.T @ Qe).min()) > 0.999


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
@pytest.mark.parametrize("precision", ["bfloat16", "float32"])
def test_nearest_anchors_match_brute_force(distance, precision, device):
    gen = torch.Generator().manual_seed(0)
    A = torch.randn(200, 32, generator=gen)
    Q = torch.randn(500, 32, generator=gen)
    if distance == "cosine":
        A, Q = torch.nn.functional.normalize(A, dim=1), torch.nn.functional.normalize(Q, dim=1)
        full = 1 - Q @ A.T
    else:
        full = torch.cdist(Q, A).pow(2)
    ref_d, ref_i = full.topk(5, dim=1, largest=False)
    d, i = nearest_anchors(A.to(device), Q.to(device), 5, distance=distance, precision=precision, chunk_size=64)
    scale = float(full.mean())
    # bfloat16 shortlists, then re-ranks in float32: distances as exact as the float32 scan's.
    assert torch.allclose(d, ref_d, atol=1e-5 * scale)
    assert float((i[:, 0] == ref_i[:, 0]).float().mean()) > 0.999


def test_knn_propagate_still_averages_neighbours(device):
    A = torch.tensor([[1.0, 0.0], [0.0, 1.0]], device=device)
    vals = torch.tensor([[2.0], [4.0]], device=device)
    out = knn_propagate(vals, A, torch.tensor([[1.0, 0.1], [0.1, 1.0]], device=device), n_neighbors=1)
    assert out.device.type == "cpu" and out.squeeze(1).tolist() == [2.0, 4.0]
