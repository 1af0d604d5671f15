"""kway_ncut / segment_labels: planted-part recovery, determinism, the sampled fit, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import adjusted_rand_score

from ncut_widget import kway_ncut, segment_labels
from ncut_widget.engine.kway import axis_align
from ncut_widget.engine.ncut import Ncut


def _planted(n_parts: int, n: int = 3000, dims: int = 32, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    centers = torch.randn(n_parts, dims, generator=gen) * 3
    labels = torch.arange(n) % n_parts
    return centers[labels] + torch.randn(n, dims, generator=gen), labels


@pytest.fixture(scope="module")
def eig8(device) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvectors of 8 planted parts (computed on the CPU: the same input for every device),
    moved to the device under test; labels on the CPU."""
    X, labels = _planted(8)
    vecs, _ = Ncut(n_eig=12, n_sample=600, device="cpu").fit_transform(X)
    return vecs.to(device), labels


@pytest.mark.parametrize("k", [3, 5, 8])
def test_recovers_planted_parts(k, device):
    X, labels = _planted(k, seed=k)
    vecs, _ = Ncut(n_eig=max(k + 2, 6), n_sample=500, device=device).fit_transform(X.to(device))
    seg = segment_labels(vecs.to(device), k)
    assert seg.dtype == torch.int64 and seg.shape == labels.shape and seg.device.type == "cpu"
    assert adjusted_rand_score(labels.numpy(), seg.numpy()) >= 0.95


def test_rotated_rows_are_unit_and_argmax_is_the_segment(eig8):
    vecs, _ = eig8
    out = kway_ncut(vecs, 8)
    assert out.shape == (vecs.shape[0], 8) and out.dtype == torch.float32
    assert out.device == vecs.device  # documented: on the eigenvectors' device
    torch.testing.assert_close(out.norm(dim=1).cpu(), torch.ones(vecs.shape[0]), atol=1e-5, rtol=0)
    assert torch.equal(out.argmax(1).cpu(), segment_labels(vecs, 8))


def test_rotation_is_orthogonal(eig8):
    R = axis_align(eig8[0], 8)
    assert R.device == eig8[0].device and R.dtype == torch.float32
    torch.testing.assert_close((R.T @ R).cpu(), torch.eye(8), atol=1e-5, rtol=0)


def test_same_seed_same_segments_whatever_global_rng(eig8):
    vecs, _ = eig8
    torch.manual_seed(1)
    a = kway_ncut(vecs, 6, seed=4)
    torch.manual_seed(999)
    torch.rand(10)
    b = kway_ncut(vecs, 6, seed=4)
    assert torch.equal(a, b)


def test_sampled_fit_labels_every_node_like_the_full_fit(eig8):
    vecs, labels = eig8
    full = segment_labels(vecs, 8, n_sample=vecs.shape[0])
    sampled = segment_labels(vecs, 8, n_sample=400)
    assert adjusted_rand_score(full.numpy(), sampled.numpy()) >= 0.95
    assert adjusted_rand_score(labels.numpy(), sampled.numpy()) >= 0.95


def test_numpy_input_gives_the_same_answer(eig8):
    vecs, _ = eig8
    device = vecs.device  # the numpy copy computed on the same device: the same labels
    assert torch.equal(segment_labels(vecs.cpu().numpy(), 5, device=device), segment_labels(vecs, 5))


def test_more_columns_than_clusters_uses_the_leading_ones(eig8):
    vecs, _ = eig8
    assert torch.equal(kway_ncut(vecs, 4), kway_ncut(vecs[:, :4].contiguous(), 4))
    # An explicit device computes there, and the output stays on the eigenvectors' device.
    assert kway_ncut(vecs.cpu(), 4, device=vecs.device).device.type == "cpu"


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((np.zeros((10, 4)), 1), ValueError, "n_clusters must be >= 2"),
        ((np.zeros((10, 4)), 5), ValueError, "larger than the number of eigenvectors"),
        ((np.zeros((10, 4)), 2.5), TypeError, "n_clusters must be an int"),
        ((np.zeros(10), 2), ValueError, "2-D"),
        ((np.full((10, 4), np.nan), 2), ValueError, "NaN or Inf in 10 of 10 rows"),
        ((np.zeros((10, 4), dtype=np.int64), 2), TypeError, "floating point"),
        (([[0.0, 1.0]], 2), TypeError, "torch.Tensor or numpy.ndarray"),
        ((np.zeros((1, 4)), 2), ValueError, "1 nodes cannot form 2 segments"),
    ],
)
def test_bad_input_is_named(args, error, match):
    with pytest.raises(error, match=match):
        kway_ncut(*args)
