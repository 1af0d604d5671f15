"""Quantile RGB: robust to outliers, in [0, 1], constant channels handled."""

from __future__ import annotations

import torch

from ncut_widget.color import quantile_rgb


def test_outlier_does_not_wash_out_colours():
    X = torch.linspace(0, 1, 1000)[:, None].repeat(1, 3)
    X[0] = 1e6  # one wild node
    rgb = quantile_rgb(X)
    assert rgb.dtype == torch.float32 and rgb.shape == (1000, 3)
    assert float(rgb.min()) >= 0.0 and float(rgb.max()) <= 1.0
    # The bulk still spans nearly the whole range instead of collapsing to ~0.
    assert float(rgb[1:, 0].quantile(0.9) - rgb[1:, 0].quantile(0.1)) > 0.7
    assert float(rgb[0, 0]) == 1.0


def test_matches_torch_quantile_scaling():
    X = torch.randn(500, 3, generator=torch.Generator().manual_seed(1))
    lo, hi = X.quantile(0.01, dim=0), X.quantile(0.99, dim=0)
    expected = ((X - lo) / (hi - lo)).clamp(0, 1)
    torch.testing.assert_close(quantile_rgb(X), expected, atol=1e-5, rtol=0)


def test_constant_channel_is_mid_grey():
    X = torch.randn(100, 3)
    X[:, 1] = 4.0
    rgb = quantile_rgb(X)
    assert torch.all(rgb[:, 1] == 0.5)
