"""Ncut(denoise=s): each node's Nystrom value blended with its own anchor cell's smoothed value
(engine/nystrom.py, "Denoising"), checked against dense computations and a dense solve."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ncut_widget.engine.eigsolve import SIGN_SUM_RATIO
from ncut_widget.engine.ncut import Ncut
from ncut_widget.engine.synthetic import planted_patch_features

torch.set_num_threads(1)


def mean_principal_cosine(A: torch.Tensor, B: torch.Tensor) -> float:
    qa = torch.linalg.qr(A.double()).Q
    qb = torch.linalg.qr(B.double()).Q
    return float(torch.linalg.svdvals(qa.T @ qb).mean())


def captured(vecs: torch.Tensor, labels: torch.Tensor) -> float:
    """Share of the (unit) part indicators' energy inside span(vecs)."""
    ind = F.one_hot(labels).double()
    ind = ind / ind.norm(dim=0, keepdim=True)
    Q = torch.linalg.qr(vecs.double()).Q
    return float((Q.T @ ind).norm() ** 2 / ind.shape[1])


@pytest.fixture(scope="module")
def seed_shaped():
    """8 seed-shaped images at 16 x 16 (2,048 nodes x 768 dims, 9 planted parts) and the top 20
    eigenvectors of the dense float64 solve of the graph at the gamma every model below solves."""
    X, labels = planted_patch_features(n_images=8, grids=(16,), dim=768, seed=0)
    gamma = Ncut(n_eig=9, n_sample=512, device="cpu").fit(X).gamma_
    P = F.normalize(X.double(), dim=1)
    W = torch.exp(-(1 - P @ P.T).clamp_min(0).fill_diagonal_(0) / gamma)
    s = W.sum(dim=1).rsqrt()
    _, vecs = torch.linalg.eigh(s[:, None] * W * s[None, :])
    return X, labels, vecs.flip(1)[:, :20]


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_denoised_parts_beat_the_exact_solution_and_stay_close_to_it(seed_shaped, precision, device):
    X, labels, exact = seed_shaped
    exact = exact[:, :9]
    plain, _ = Ncut(n_eig=9, n_sample=512, denoise=0, scan_precision=precision, device=device).fit_transform(X.to(device))
    vecs, _ = Ncut(n_eig=9, n_sample=512, scan_precision=precision, device=device).fit_transform(X.to(device))
    # The exact eigenvectors carry each node's noise; the denoised ones (the default, 0.8) hold
    # more of the parts (measured: exact 0.9951, plain 0.9950, denoised 0.9991; 0.9986 at 0.6)
    # and still match the exact subspace (0.9987; 0.9992 at 0.6; plain 0.99996).
    assert captured(vecs, labels) > captured(exact, labels) + 2e-3
    assert captured(vecs, labels) > captured(plain, labels) + 2e-3
    assert mean_principal_cosine(vecs, exact) >= 0.997
    assert mean_principal_cosine(plain, exact) > mean_principal_cosine(vecs, exact)


@pytest.mark.parametrize("s", [0.6, 0.8])
def test_the_blend_is_the_documented_formula(narrow_features, dense_nystrom, device, s):
    # Narrow features (no subspace: every affinity exact): each node's value is
    # (1 - s) * Nystrom's formula + s * its nearest anchor's kernel mean of the cell values under
    # the anchors' affinities to the 8th power, computed densely here.
    X = narrow_features
    plain = Ncut(n_eig=6, n_sample=200, scan_precision="float32", denoise=0, device=device).fit(X.to(device))
    model = Ncut(n_eig=6, n_sample=200, scan_precision="float32", denoise=s, device=device).fit(X.to(device))
    vecs, _ = model.transform(X.to(device))
    cells = model._cell_values
    # The cell values are the plain model's anchor values up to each column's sign.
    signs = torch.sign((cells * plain.anchor_eigvecs_).sum(dim=0))
    assert torch.allclose(cells, plain.anchor_eigvecs_ * signs, atol=1e-5)
    formula, W = dense_nystrom(model, X, cells)
    formula[model.anchor_indices_] = cells  # a row identical to an anchor takes its cell's values
    mass = model.anchor_mass_
    K = W[model.anchor_indices_] ** 8 * mass
    smoothed = (K @ cells) / K.sum(dim=1, keepdim=True)
    # Each column's share: s times the part of the column the smoothing keeps, over the cells
    # weighted by their sizes.
    kept = (mass[:, None] * smoothed * cells).sum(dim=0) / (mass[:, None] * cells**2).sum(dim=0)
    shares = s * kept.clamp(0, 1)
    assert torch.allclose(model.denoise_shares_, shares, atol=1e-4)
    expected = (1 - shares) * formula + shares * smoothed[W.argmax(dim=1)]
    tol = 1e-4 * float(expected.abs().max())
    assert torch.allclose(vecs, expected, atol=tol)
    # A row identical to an anchor gets that anchor's denoised values, which are the blend too.
    assert torch.allclose(model.anchor_eigvecs_, expected[model.anchor_indices_], atol=tol)
    # The smoothing is not the identity: the blend moved the values.
    assert float((expected - formula).abs().max()) > 100 * tol


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
def test_each_eigenvector_is_smoothed_by_the_share_it_keeps(seed_shaped, precision, device):
    # Past the 9 planted parts' eigenvectors the spectrum is a flat bulk whose eigenvectors vary
    # from anchor to anchor: the smoothing would erase them, so they keep Nystrom's values
    # (measured shares: 0.59-0.60 for the parts', 0.10-0.14 past them), and the top-20 subspace
    # stays as close to the dense solve as without smoothing (measured 0.8878 against 0.8885;
    # every column blended at 0.6: 0.8729), while the parts gain as before.
    X, labels, exact = seed_shaped
    kw = dict(n_eig=20, n_sample=512, scan_precision=precision, device=device)
    plain, _ = Ncut(denoise=0, **kw).fit_transform(X.to(device))
    model = Ncut(**kw)
    vecs, _ = model.fit_transform(X.to(device))
    shares = model.denoise_shares_
    assert shares.shape == (20,) and shares.dtype == torch.float32
    assert bool((shares[:9] >= 0.9 * model.denoise).all())
    assert bool((shares[9:] <= 0.3 * model.denoise).all())
    assert mean_principal_cosine(vecs, exact) >= mean_principal_cosine(plain, exact) - 5e-3
    assert captured(vecs[:, :9], labels) > captured(plain[:, :9], labels) + 2e-3
    # No smoothing, no shares: the plain model and the exact path report zeros.
    assert torch.equal(Ncut(denoise=0, **kw).fit(X.to(device)).denoise_shares_, torch.zeros(20))
    assert torch.equal(Ncut(n_eig=4, n_sample=4096, device=device).fit(X[:300].to(device)).denoise_shares_, torch.zeros(4))


def test_a_model_pickled_before_the_shares_blends_every_column_alike(seed_shaped, device):
    # Models saved before per-eigenvector shares have no denoise_shares_: transform blends
    # every column by `denoise`, as they did when fitted.
    X = seed_shaped[0][:600].to(device)
    model = Ncut(n_eig=6, n_sample=200, denoise=0.6, device=device).fit(X)
    model.denoise_shares_ = torch.full((6,), 0.6)
    uniform, _ = model.transform(X)
    del model.denoise_shares_
    old, _ = model.transform(X)
    assert torch.equal(old, uniform)


def test_anchor_values_fit_transform_and_signs_agree(seed_shaped, device):
    X = seed_shaped[0].to(device)
    model = Ncut(n_eig=8, n_sample=300, denoise=0.7, device=device)
    vecs, _ = model.fit_transform(X)
    assert torch.equal(model.transform(X[model.anchor_indices_.to(device)])[0], model.anchor_eigvecs_)
    assert torch.equal(vecs[model.anchor_indices_], model.anchor_eigvecs_)
    again, _ = model.transform(X)
    assert torch.allclose(again, vecs, atol=1e-4 * float(vecs.abs().max()))
    # The sign rule (fix_signs) holds on the values returned for the anchors.
    Fa, w = model.anchor_eigvecs_.double(), model.anchor_mass_.double()
    total, scale = w @ Fa, w @ Fa.abs()
    for j in range(Fa.shape[1]):
        if abs(float(total[j])) >= SIGN_SUM_RATIO * float(scale[j]):
            assert float(total[j]) > 0
        else:
            assert float(Fa[int(Fa[:, j].abs().argmax()), j]) > 0
    assert bool((vecs[:, 0] > 0).all())


def test_same_seed_same_denoised_result(seed_shaped, device):
    X = seed_shaped[0].to(device)
    a, _ = Ncut(n_eig=6, n_sample=300, denoise=0.5, device=device).fit_transform(X)
    b, _ = Ncut(n_eig=6, n_sample=300, denoise=0.5, device=device).fit_transform(X)
    assert torch.equal(a, b)


@pytest.mark.parametrize("bad, err", [(1.0, ValueError), (-0.1, ValueError), (float("nan"), ValueError), ("0.5", TypeError), (True, TypeError)])
def test_bad_denoise_is_refused_by_name(bad, err):
    with pytest.raises(err, match="denoise"):
        Ncut(denoise=bad)


def test_repr_shows_the_smoothing():
    # The default smooths (denoise=0.8): a printed model says so.
    assert "denoise=0.8" in repr(Ncut())
    assert "denoise=0.0" in repr(Ncut(denoise=0))
