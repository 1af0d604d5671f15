"""Ncut behaviour: determinism, transform vs fit, signs, distances, d_gamma rule, progress, memory.

Tests that scan node-to-anchor distances run on both scan paths (``scan`` fixture), forced through
``NCUT_WIDGET_SCAN``, so every machine exercises the float32 and the bfloat16 code.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ncut_widget.engine import affinity
from ncut_widget.engine.eigsolve import SIGN_SUM_RATIO
from ncut_widget.engine.ncut import CPU_CHUNK_ROWS, GPU_CHUNK_ROWS, Ncut, default_chunk_size


def mean_principal_cosine(A: torch.Tensor, B: torch.Tensor) -> float:
    qa = torch.linalg.qr(A.double()).Q
    qb = torch.linalg.qr(B.double()).Q
    return float(torch.linalg.svdvals(qa.T @ qb).mean())


@pytest.fixture
def X(planted_parts, device) -> torch.Tensor:
    """The planted features on the device under test (fit and transform accept any device)."""
    return planted_parts[0].to(device)


@pytest.fixture(params=["float32", "bfloat16"])
def scan(request, monkeypatch) -> str:
    """Force one scan path for the whole test through the environment variable."""
    monkeypatch.setenv("NCUT_WIDGET_SCAN", request.param)
    return request.param


@pytest.mark.parametrize("n_sample", [400, 5000], ids=["nystrom", "exact"])
def test_same_seed_same_output_whatever_global_rng(X, n_sample, scan, device):
    torch.manual_seed(1)
    v1, l1 = Ncut(n_eig=8, n_sample=n_sample, seed=3, device=device).fit_transform(X)
    torch.manual_seed(12345)
    torch.rand(100)
    v2, l2 = Ncut(n_eig=8, n_sample=n_sample, seed=3, device=device).fit_transform(X)
    assert torch.equal(v1, v2) and torch.equal(l1, l2)


def test_other_seed_other_anchors(X, device):
    a = Ncut(n_eig=5, n_sample=400, seed=0, device=device).fit(X).anchor_indices_
    b = Ncut(n_eig=5, n_sample=400, seed=1, device=device).fit(X).anchor_indices_
    assert not torch.equal(a, b)


@pytest.mark.parametrize("n_sample", [400, 5000], ids=["nystrom", "exact"])
def test_transform_on_fitted_nodes_reproduces_fit_transform(X, n_sample, scan, device):
    model = Ncut(n_eig=8, n_sample=n_sample, device=device)
    vecs, vals = model.fit_transform(X)
    again, again_vals = model.transform(X)  # two values, like fit_transform and the seed library
    assert torch.equal(model.eigenvalues_, vals) and torch.equal(again_vals, vals)
    assert again_vals.dtype == torch.float32 and again_vals.device.type == "cpu"
    assert vecs.device.type == again.device.type == "cpu"  # whatever device computed them
    assert mean_principal_cosine(again, vecs) >= 0.99
    # Column by column, not just the span: same values up to float noise.
    assert torch.allclose(again[:, :5], vecs[:, :5], atol=1e-3 * float(vecs.abs().max()))


@pytest.mark.parametrize("n_sample", [400, 5000], ids=["nystrom", "exact"])
def test_rows_transform_independently_of_the_batch(X, n_sample, scan, device):
    model = Ncut(n_eig=6, n_sample=n_sample, chunk_size=256, device=device).fit(X)
    rows = torch.tensor([3, 700, 1999])
    alone = torch.cat([model.transform(X[i : i + 1])[0] for i in rows])
    in_batch = model.transform(X)[0][rows]
    assert torch.allclose(alone, in_batch, atol=1e-5)


def assert_sign_rule(F: torch.Tensor, w: torch.Tensor) -> None:
    """The documented rule (fix_signs), checked independently on anchor values F and masses w."""
    F, w = F.double(), w.double()
    total, scale = w @ F, w @ F.abs()
    for j in range(F.shape[1]):
        if abs(float(total[j])) >= SIGN_SUM_RATIO * float(scale[j]):
            assert float(total[j]) > 0, f"column {j}: clear weighted sum must be positive"
        else:
            peak = int(F[:, j].abs().argmax())
            assert float(F[peak, j]) > 0, f"column {j}: largest-magnitude entry must be positive"


@pytest.mark.parametrize("n_sample", [400, 5000], ids=["nystrom", "exact"])
def test_sign_convention(X, n_sample, scan, device):
    model = Ncut(n_eig=8, n_sample=n_sample, device=device)
    vecs, _ = model.fit_transform(X)
    assert_sign_rule(model.anchor_eigvecs_, model.anchor_mass_)
    if model.exact_:  # every node is an anchor of mass 1: the rule holds on the returned values
        assert torch.equal(model.anchor_eigvecs_, vecs)
        assert torch.equal(model.anchor_mass_, torch.ones(X.shape[0]))
    # Column 0 is one-signed (Perron-Frobenius), so the weighted-sum branch makes it positive on
    # every anchor, and node values are positive-weighted means of anchor values.
    assert bool((model.anchor_eigvecs_[:, 0] > 0).all())
    assert bool((vecs[:, 0] > 0).all()), "first eigenvector must be positive on every node"


def test_outputs_shapes_dtypes_and_order(X, device):
    vecs, vals = Ncut(n_eig=12, n_sample=400, device=device).fit_transform(X.double().cpu().numpy())
    assert vecs.shape == (2000, 12) and vals.shape == (12,)
    assert vecs.dtype == vals.dtype == torch.float32
    assert vecs.device.type == vals.device.type == "cpu"
    assert bool((vals[:-1] >= vals[1:]).all())
    assert float(vals[0]) == pytest.approx(1.0, abs=1e-3)
    # Each column has about unit norm over all nodes.
    assert torch.allclose(vecs.norm(dim=0)[:5], torch.ones(5), atol=0.1)


def test_new_nodes_land_with_their_part(planted_parts, scan, device):
    X, labels = planted_parts[0].to(device), planted_parts[1]
    model = Ncut(n_eig=5, n_sample=400, device=device).fit(X[:1500])
    fitted, _ = model.transform(X[:1500])
    new, _ = model.transform(X[1500:])
    centroids = torch.stack([fitted[labels[:1500] == c].mean(0) for c in range(5)])
    pred = torch.cdist(new, centroids).argmin(1)
    assert float((pred == labels[1500:]).float().mean()) > 0.99


def test_euclidean_distance_finds_the_parts(planted_parts, scan, device):
    X, labels = planted_parts
    vecs, _ = Ncut(n_eig=5, n_sample=400, distance="euclidean", device=device).fit_transform(X.to(device))
    indicators = torch.nn.functional.one_hot(labels, 5).float()
    assert mean_principal_cosine(vecs, indicators) > 0.98


def test_smaller_d_gamma_is_sharper(X, device):
    wide = Ncut(n_eig=5, n_sample=400, d_gamma=0.7, device=device).fit(X)
    sharp = Ncut(n_eig=5, n_sample=400, d_gamma=0.1, device=device).fit(X)
    assert sharp.gamma_ < wide.gamma_
    # Sharper graphs separate the planted parts more: their eigenvalues stay nearer 1.
    assert float(sharp.eigenvalues_[4]) > float(wide.eigenvalues_[4])


def test_d_gamma_none_uses_the_median_distance_rule(X, device):
    model = Ncut(n_eig=5, n_sample=400, d_gamma=None, device=device).fit(X)
    P = affinity.prepare(X, "cosine")
    D = affinity.sample_distances(P, "cosine", seed=0)
    assert model.gamma_ == pytest.approx(float(D.median()))
    assert 0.0 < model.d_gamma_ < 1.0


def test_progress_callback_reports_stages(X, device):
    calls = []
    Ncut(n_eig=5, n_sample=400, device=device, progress=lambda s, d, t: calls.append((s, d, t))).fit_transform(X)
    stages = [s for s, _, _ in calls]
    assert {"sample anchors", "nearest anchors", "anchor graph", "eigensolve"} <= set(stages)
    done_neighbors = [(d, t) for s, d, t in calls if s == "nearest anchors"]
    assert done_neighbors[-1] == (2000, 2000)


def test_silent_by_default(X, capsys, device):
    Ncut(n_eig=5, n_sample=400, device=device).fit_transform(X)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


def test_nystrom_never_builds_an_n_by_n_matrix(X, monkeypatch, device):
    # Every pairwise block goes through affinity.distances or the bf16 scan in nearest_anchors;
    # record the shapes the first produces and the chunk sizes the second sees.
    shapes = []
    real = affinity.distances

    def spy(A, B, distance, *args, **kwargs):
        out = real(A, B, distance, *args, **kwargs)
        shapes.append(tuple(out.shape))
        return out

    monkeypatch.setattr(affinity, "distances", spy)
    model = Ncut(n_eig=5, n_sample=300, chunk_size=512, device=device).fit(X)
    assert shapes, "the spy saw no pairwise block"
    assert all(max(r, c) <= 1024 for r, c in shapes), shapes  # gamma sample and anchor graph
    assert model.anchor_eigvecs_.shape == (300, 5)


def test_default_chunk_size_per_device_and_the_gpu_one_forced(X, device):
    # chunk_size=None: 2,048 rows on the CPU, 8,192 on a GPU (fewer kernel launches and waits).
    assert default_chunk_size(torch.device("cpu")) == CPU_CHUNK_ROWS == 2048
    assert default_chunk_size(torch.device("cuda", 0)) == GPU_CHUNK_ROWS == 8192
    assert Ncut(device=device).chunk_size == default_chunk_size(device)
    assert Ncut(chunk_size=100, device=device).chunk_size == 100
    # Either default on this device gives the same fit up to float rounding (the chunks only
    # split the rows): the GPU's chunk forced here, on 5,000 rows (two chunks of 2,048 or one).
    # Products of other shapes may round otherwise and move a node between near-tied cells, so
    # the check is the subspace and the eigenvalues, not the bits.
    ref, ref_vals = Ncut(n_eig=8, n_sample=400, chunk_size=CPU_CHUNK_ROWS, device=device).fit_transform(X)
    big, big_vals = Ncut(n_eig=8, n_sample=400, chunk_size=GPU_CHUNK_ROWS, device=device).fit_transform(X)
    assert torch.allclose(big_vals, ref_vals, atol=1e-4)
    assert mean_principal_cosine(big, ref) >= 0.999


def test_accepts_numpy_and_integer_features(device):
    gen = np.random.default_rng(0)
    X = gen.integers(0, 5, size=(300, 6)).astype(np.int64) + np.repeat(np.eye(6, dtype=np.int64) * 20, 50, axis=0)
    vecs, vals = Ncut(n_eig=4, n_sample=100, device=device).fit_transform(X)
    assert vecs.shape == (300, 4) and torch.isfinite(vecs).all()
