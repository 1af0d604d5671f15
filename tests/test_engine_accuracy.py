"""Ncut against a dense reference: full eigh of the same normalized affinity, gamma on all pairs."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ncut_widget.engine.ncut import Ncut


def mean_principal_cosine(A: torch.Tensor, B: torch.Tensor) -> float:
    """Mean singular value of Q_A^T Q_B, with Q orthonormal bases of the column spans."""
    qa = torch.linalg.qr(A.double()).Q
    qb = torch.linalg.qr(B.double()).Q
    return float(torch.linalg.svdvals(qa.T @ qb).mean())


def dense_reference(X: torch.Tensor, d_gamma: float, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k (eigvals, eigvecs) of D^-1/2 W D^-1/2, W = exp(-(1 - cos)/gamma), mean(W) = d_gamma."""
    Xn = F.normalize(X.double(), dim=1)
    D = (1.0 - Xn @ Xn.T).clamp_min(0)
    D.fill_diagonal_(0)
    lo, hi = math.log(1e-6), math.log(1e3)
    for _ in range(100):  # bisection in log(gamma) on all N^2 pairs, self-pairs included
        mid = 0.5 * (lo + hi)
        if float(torch.exp(-D / math.exp(mid)).mean()) > d_gamma:
            hi = mid
        else:
            lo = mid
    W = torch.exp(-D / math.exp(mid))
    s = W.sum(1).rsqrt()
    # float32 eigh: 3x faster than float64 here and still ~1e-6 accurate on these eigenvalues.
    vals, vecs = torch.linalg.eigh((s[:, None] * W * s[None, :]).float())
    return vals.flip(0)[:k], vecs.flip(1)[:, :k]


@pytest.fixture(scope="module")
def reference(request):
    gen = torch.Generator().manual_seed(0)
    centers = torch.randn(5, 64, generator=gen) * 3
    labels = torch.arange(2000) % 5
    X = centers[labels] + torch.randn(2000, 64, generator=gen)
    vals, vecs = dense_reference(X, 0.5, 10)
    return X, vals, vecs


def test_dense_reference_has_the_planted_gap(reference):
    # The test is only meaningful if the top-5 subspace is well separated from the rest.
    _, vals, _ = reference
    assert float(vals[0]) == pytest.approx(1.0, abs=1e-6)
    assert float(vals[4]) > 20 * float(vals[5])


def test_exact_path_matches_dense_reference(reference, device):
    X, ref_vals, ref_vecs = reference
    vecs, vals = Ncut(n_eig=10, n_sample=len(X), d_gamma=0.5, device=device).fit_transform(X.to(device))
    assert vecs.shape == (2000, 10) and vals.shape == (10,)
    assert vecs.device.type == vals.device.type == "cpu"  # results always come back on the CPU
    assert mean_principal_cosine(vecs[:, :5], ref_vecs[:, :5]) >= 0.999
    assert float((vals.double() - ref_vals).abs().max()) < 2e-3


@pytest.mark.parametrize("scan", ["float32", "bfloat16"])
def test_nystrom_quarter_anchors_matches_dense_reference(reference, scan, monkeypatch, device):
    monkeypatch.setenv("NCUT_WIDGET_SCAN", scan)  # both scan paths, on any machine
    X, ref_vals, ref_vecs = reference
    model = Ncut(n_eig=10, n_sample=len(X) // 4, d_gamma=0.5, device=device)
    vecs, vals = model.fit_transform(X.to(device))
    assert not model.exact_ and model.anchor_indices_.shape == (500,)
    assert mean_principal_cosine(vecs[:, :5], ref_vecs[:, :5]) >= 0.98
    # The anchors carry the masses of the nodes they stand for, so the eigenvalues are the
    # whole graph's, not the (FPS-thinned) anchor graph's.
    assert float((vals[:5].double() - ref_vals[:5]).abs().max()) < 0.02


def test_exact_gamma_hits_d_gamma_on_all_pairs(reference, device):
    X, _, _ = reference
    model = Ncut(n_eig=5, n_sample=len(X), d_gamma=0.3, device=device).fit(X.to(device))
    Xn = F.normalize(X.double(), dim=1)
    W = torch.exp(-(1.0 - Xn @ Xn.T).clamp_min(0).fill_diagonal_(0) / model.gamma_)
    assert float(W.mean()) == pytest.approx(0.3, abs=1e-4)
    assert model.d_gamma_ == pytest.approx(0.3, abs=1e-4)
