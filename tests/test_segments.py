"""The widget's segment ladder: levels the eigenvectors support, labels per level, mean colours."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score

from ncut_widget import segment_labels
from ncut_widget.engine.ncut import Ncut
from ncut_widget.widget.segments import ladder_levels, segment_ladder


@pytest.fixture(scope="module")
def planted(device):
    """Eigenvectors of 6 planted parts (fitted on the device under test, and left there: the
    ladder computes where the eigenvectors are), random colours, the labels."""
    gen = torch.Generator().manual_seed(2)
    centers = torch.randn(6, 32, generator=gen) * 3
    labels = torch.arange(1800) % 6
    X = centers[labels] + torch.randn(1800, 32, generator=gen)
    vecs, _ = Ncut(n_eig=10, n_sample=400, device=device).fit_transform(X.to(device))
    rgb = torch.rand(1800, 3, generator=gen).numpy()
    return vecs.to(device), rgb, labels


def test_levels_are_the_ladder_within_the_eigenvectors():
    assert ladder_levels(10) == (2, 3, 4, 6, 8)
    assert ladder_levels(50) == (2, 3, 4, 6, 8, 12, 16, 24, 32)
    assert ladder_levels(1) == ()


def test_labels_per_level_match_segment_labels(planted):
    vecs, rgb, labels = planted
    ladder = segment_ladder(vecs, rgb)
    assert ladder.ks == (2, 3, 4, 6, 8)
    assert ladder.labels.shape == (5, 1800) and ladder.labels.dtype == np.uint8
    for level, k in enumerate(ladder.ks):
        np.testing.assert_array_equal(ladder.labels[level], segment_labels(vecs, k).numpy())
        assert ladder.labels[level].max() < k
    six = ladder.labels[ladder.level(6)]
    assert adjusted_rand_score(labels.numpy(), six) >= 0.95


def test_each_segment_is_drawn_in_the_mean_rgb_of_its_nodes(planted):
    vecs, rgb, _ = planted
    ladder = segment_ladder(vecs, rgb)
    level = ladder.level(4)
    lab = ladder.labels[level]
    colors = ladder.colors[level]
    assert colors.shape == (4, 3) and colors.dtype == np.uint8
    for seg in np.unique(lab):
        want = np.rint(rgb[lab == seg].mean(axis=0) * 255)
        np.testing.assert_array_equal(colors[seg], want)


def test_same_seed_same_ladder(planted):
    vecs, rgb, _ = planted
    a, b = segment_ladder(vecs, rgb, seed=3), segment_ladder(vecs, rgb, seed=3)
    np.testing.assert_array_equal(a.labels, b.labels)


def test_unknown_level_names_the_ladder(planted):
    vecs, rgb, _ = planted
    with pytest.raises(ValueError, match=r"k=5 is not on the segment ladder; choose one of \[2, 3, 4, 6, 8\]"):
        segment_ladder(vecs, rgb).level(5)
