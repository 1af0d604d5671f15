"""PCA and UMAP colorings: same contract as t-SNE, deterministic for a seed."""

from __future__ import annotations

import builtins

import pytest
import torch

from ncut_widget.color import neighbor_preservation, pca_color, umap_color
from ncut_widget.engine.ncut import Ncut
from ncut_widget.engine.synthetic import planted_patch_features


@pytest.fixture(scope="module")
def eigvecs() -> torch.Tensor:
    X, _ = planted_patch_features(4, (8, 16), dim=64, seed=0)
    return Ncut(n_eig=20, device="cpu", seed=0).fit_transform(X)[0]


def _check_contract(X_3d, rgb, n):
    for out in (X_3d, rgb):
        assert out.shape == (n, 3) and out.dtype == torch.float32 and out.device.type == "cpu"
        assert bool(torch.isfinite(out).all())
    assert float(rgb.min()) >= 0.0 and float(rgb.max()) <= 1.0


def test_pca_is_the_top_principal_projection(eigvecs, device):
    X_3d, rgb = pca_color(eigvecs.to(device), device=device)
    _check_contract(X_3d, rgb, eigvecs.shape[0])
    Xn = torch.nn.functional.normalize(eigvecs.double(), dim=1)
    top = torch.linalg.svdvals(Xn - Xn.mean(dim=0))[:3]
    # Projections onto the top axes carry exactly the top singular values' variance.
    torch.testing.assert_close(X_3d.double().norm(dim=0), top, rtol=1e-4, atol=1e-6)
    again = pca_color(eigvecs.numpy(), device=device)
    assert torch.equal(X_3d, again[0]) and torch.equal(rgb, again[1])


def test_pca_fitted_on_a_sample_still_covers_everyone(eigvecs, device):
    X_3d, rgb = pca_color(eigvecs.to(device), num_sample=200, knn=10, device=device)
    _check_contract(X_3d, rgb, eigvecs.shape[0])
    assert neighbor_preservation(eigvecs, X_3d) > 5 * neighbor_preservation(eigvecs, torch.randn(X_3d.shape))


@pytest.mark.slow
def test_umap_contract_determinism_and_quality(eigvecs, device):
    # Slow only the first time in a process: numba compiles umap-learn's kernels.
    n = eigvecs.shape[0]
    torch.manual_seed(3)
    X_3d, rgb = umap_color(eigvecs.to(device), num_sample=600, knn=10, device=device)
    _check_contract(X_3d, rgb, n)
    torch.manual_seed(4)
    again = umap_color(eigvecs.to(device), num_sample=600, knn=10, device=device)
    assert torch.equal(X_3d, again[0]) and torch.equal(rgb, again[1])
    assert neighbor_preservation(eigvecs, X_3d) > 0.15


def test_umap_missing_names_the_extra(eigvecs, monkeypatch):
    real_import = builtins.__import__

    def no_umap(name, *args, **kwargs):
        if name == "umap" or name.startswith("umap."):
            raise ImportError("No module named 'umap'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_umap)
    with pytest.raises(ImportError, match=r"ncut-widget\[umap\]"):
        umap_color(eigvecs, device="cpu")
