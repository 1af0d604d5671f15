"""The tutorial's exact call on seed-shaped features (20x16x16 + 20x32x32 nodes x 768 dims)."""

from __future__ import annotations

import pytest
import torch

from ncut_widget import Ncut
from ncut_widget.engine.synthetic import planted_patch_features


@pytest.mark.slow
def test_seed_call_exact_path_on_cpu():
    mixed_feats, labels = planted_patch_features(n_images=20, grids=(16, 32), dim=768)
    assert mixed_feats.shape == (25600, 768)
    model = Ncut(n_eig=50, n_sample=30000, n_neighbors=10, d_gamma=0.5, device="cpu")
    eigenvectors, eigenvalues = model.fit_transform(mixed_feats)
    assert model.exact_
    assert eigenvectors.shape == (25600, 50) and eigenvalues.shape == (50,)
    assert eigenvectors.dtype == torch.float32 and torch.isfinite(eigenvectors).all()
    assert float(eigenvalues[0]) == pytest.approx(1.0, abs=1e-4)
    assert bool((eigenvalues[:-1] >= eigenvalues[1:]).all())
    assert bool((eigenvectors[:, 0] > 0).all())
    assert model.d_gamma_ == pytest.approx(0.5, abs=1e-4)
    # The planted parts (9 labels) lie in the span of the top eigenvectors.
    ind = torch.nn.functional.one_hot(labels, 9).double()
    q = torch.linalg.qr(eigenvectors[:, :9].double()).Q
    captured = (q.T @ ind).norm() ** 2 / ind.norm() ** 2
    assert float(captured) > 0.95
