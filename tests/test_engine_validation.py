"""Bad input to Ncut raises ValueError/TypeError naming the problem: one test per case."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ncut_widget.engine.ncut import Ncut


@pytest.fixture
def small() -> torch.Tensor:
    return torch.randn(60, 8, generator=torch.Generator().manual_seed(0))


def test_input_not_2d(small):
    with pytest.raises(ValueError, match="2-D"):
        Ncut(n_eig=3, n_sample=20).fit(small.reshape(60, 2, 4))


def test_input_empty():
    with pytest.raises(ValueError, match="empty"):
        Ncut(n_eig=3, n_sample=20).fit(torch.empty(0, 8))


def test_input_nan(small):
    small[5, 2] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        Ncut(n_eig=3, n_sample=20).fit(small)


def test_input_inf(small):
    small[7, 1] = float("inf")
    with pytest.raises(ValueError, match="Inf"):
        Ncut(n_eig=3, n_sample=20).fit(small)


def test_input_not_tensor_or_array(small):
    with pytest.raises(TypeError, match="torch.Tensor or numpy.ndarray"):
        Ncut(n_eig=3, n_sample=20).fit(small.tolist())


def test_n_eig_not_positive():
    with pytest.raises(ValueError, match="n_eig"):
        Ncut(n_eig=0)


def test_n_eig_at_least_n_nodes(small):
    with pytest.raises(ValueError, match=r"n_eig \(60\) must be smaller than the number of nodes \(60\)"):
        Ncut(n_eig=60, n_sample=100).fit(small)


def test_n_sample_not_above_n_eig():
    with pytest.raises(ValueError, match=r"n_sample \(10\) must be larger than n_eig \(10\)"):
        Ncut(n_eig=10, n_sample=10)


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.2, 1.5])
def test_d_gamma_outside_unit_interval(bad):
    with pytest.raises(ValueError, match="d_gamma must be inside"):
        Ncut(d_gamma=bad)


def test_unknown_keyword():
    with pytest.raises(TypeError, match="n_samples"):
        Ncut(n_samples=100)


def test_unknown_device_string():
    with pytest.raises(ValueError, match="device"):
        Ncut(device="tpu:0")


def test_unknown_distance():
    with pytest.raises(ValueError, match="distance"):
        Ncut(distance="manhattan")


def test_transform_before_fit(small):
    with pytest.raises(ValueError, match="not fitted"):
        Ncut(n_eig=3, n_sample=20).transform(small)


def test_transform_with_other_feature_width(small):
    model = Ncut(n_eig=3, n_sample=20).fit(small)
    with pytest.raises(ValueError, match="fitted on 8"):
        model.transform(np.zeros((4, 9), dtype=np.float32))


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")], ids=["nan", "inf", "-inf"])
def test_bad_values_anywhere_in_a_large_input_raise_before_the_graph(distance, bad):
    # The Nystrom path checks values as it reads them (the anchors' candidates, the gamma
    # sample, then every row in the scan): a bad row none of the samples drew must still raise
    # the whole input's error, naming the kind and the number of rows.
    X = torch.randn(3000, 8, generator=torch.Generator().manual_seed(1))
    X[[17, 2999], 3] = bad
    kind = "NaN" if bad != bad else "Inf"
    with pytest.raises(ValueError, match=f"X contains {kind} values in 2 of 3000 rows"):
        Ncut(n_eig=3, n_sample=30, distance=distance).fit(X)


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
def test_the_scan_checks_every_row_it_reads(distance):
    # Rows no sample drew reach only the nearest-anchor scan: it raises on them.
    from ncut_widget.engine import nystrom as nys

    X = torch.randn(500, 8, generator=torch.Generator().manual_seed(2))
    anchors = nys.PreparedRows(X[:40].clone(), distance)[:]
    red = nys.fit_reduction(anchors, distance, seed=0, dims=4)
    X[123, 0] = float("nan")
    P = nys.PreparedRows(X, distance, checked=False)
    with pytest.raises(ValueError, match="X contains NaN values in 1 of 500 rows"):
        nys.own_anchors(red, P, chunk_size=128, device=torch.device("cpu"))
    nys.own_anchors(red, nys.PreparedRows(X[:100], distance, checked=False), chunk_size=128, device=torch.device("cpu"))
