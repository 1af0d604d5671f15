"""Bad input to the colorings raises early, naming the problem."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ncut_widget.color import pca_color, quantile_rgb, tsne_color, umap_color

GOOD = torch.randn(50, 8, generator=torch.Generator().manual_seed(0))


@pytest.fixture(params=[tsne_color, pca_color, umap_color], ids=["tsne", "pca", "umap"])
def coloring(request):
    return request.param


def test_non_2d_eigvecs(coloring):
    with pytest.raises(ValueError, match="eigvecs must be 2-D"):
        coloring(torch.randn(50), device="cpu")


def test_empty_eigvecs(coloring):
    with pytest.raises(ValueError, match="eigvecs is empty"):
        coloring(torch.empty(0, 8), device="cpu")


def test_nan_eigvecs(coloring):
    bad = GOOD.clone()
    bad[3, 2] = float("nan")
    with pytest.raises(ValueError, match="eigvecs contains NaN"):
        coloring(bad, device="cpu")


def test_inf_eigvecs(coloring):
    bad = GOOD.numpy().copy()
    bad[7, 0] = np.inf
    with pytest.raises(ValueError, match="eigvecs contains Inf"):
        coloring(bad, device="cpu")


def test_too_few_eigenvectors(coloring):
    with pytest.raises(ValueError, match="at least 3 eigenvectors"):
        coloring(GOOD[:, :2], device="cpu")


def test_knn_below_one(coloring):
    with pytest.raises(ValueError, match="knn must be >= 1"):
        coloring(GOOD, knn=0, device="cpu")


def test_num_sample_below_knn(coloring):
    with pytest.raises(ValueError, match=r"num_sample \(5\) must be >= knn \(10\)"):
        coloring(GOOD, num_sample=5, knn=10, device="cpu")


def test_unknown_device(coloring):
    with pytest.raises(ValueError, match="unknown device 'gpu0'"):
        coloring(GOOD, device="gpu0")


def test_wrong_type(coloring):
    with pytest.raises(TypeError, match="eigvecs must be a torch.Tensor or numpy.ndarray"):
        coloring([[1.0, 2.0, 3.0]] * 5, device="cpu")


def test_zero_row(coloring):
    bad = GOOD.clone()
    bad[4] = 0
    with pytest.raises(ValueError, match="all-zero rows"):
        coloring(bad, device="cpu")


def test_bad_perplexity():
    with pytest.raises(ValueError, match="perplexity must be >= 1"):
        tsne_color(GOOD, perplexity=0.5, device="cpu")


def test_quantile_rgb_needs_three_columns():
    with pytest.raises(ValueError, match="X_3d must have 3 columns"):
        quantile_rgb(torch.randn(10, 2))
