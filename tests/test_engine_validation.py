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
