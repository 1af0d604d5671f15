"""t-SNE coloring on real NCUT eigenvectors of planted-part features: contract and quality."""

from __future__ import annotations

import pytest
import torch

from ncut_widget.color import _common, neighbor_preservation, tsne_color
from ncut_widget.color._common import propagation_rows
from ncut_widget.engine.ncut import Ncut
from ncut_widget.engine.synthetic import planted_patch_features


def _eigvecs(n_images: int, grids: tuple[int, ...]) -> torch.Tensor:
    X, _ = planted_patch_features(n_images, grids, dim=64, seed=0)
    vecs, _ = Ncut(n_eig=20, device="cpu", seed=0).fit_transform(X)
    return vecs


@pytest.fixture(scope="module")
def eigvecs() -> torch.Tensor:
    return _eigvecs(4, (8, 16))  # 1,280 nodes, seed-shaped (two resolutions)


def _check_contract(X_3d: torch.Tensor, rgb: torch.Tensor, n: int) -> None:
    for out in (X_3d, rgb):
        # Always on the CPU, whichever device computed them (documented).
        assert out.shape == (n, 3) and out.dtype == torch.float32 and out.device.type == "cpu"
        assert bool(torch.isfinite(out).all())
    assert float(rgb.min()) >= 0.0 and float(rgb.max()) <= 1.0
    assert float(rgb.std(dim=0).min()) > 0.1  # colours actually spread


def test_full_layout_contract_and_determinism(eigvecs, device):
    n = eigvecs.shape[0]
    torch.manual_seed(1)
    X_3d, rgb = tsne_color(eigvecs.to(device), num_sample=30000, knn=10, device=device)
    _check_contract(X_3d, rgb, n)
    torch.manual_seed(2)  # a different global RNG state must not matter
    X_again, rgb_again = tsne_color(eigvecs.numpy(), num_sample=30000, knn=10, device=device)
    assert torch.equal(X_3d, X_again) and torch.equal(rgb, rgb_again)
    other, _ = tsne_color(eigvecs, num_sample=30000, knn=10, device=device, seed=1)
    assert not torch.equal(X_3d, other)


def test_keeps_neighbours(eigvecs, device):
    X_3d, rgb = tsne_color(eigvecs.to(device), num_sample=30000, device=device)
    # The eigenvectors on the device, the layout on the CPU (as the coloring returns it).
    kept = neighbor_preservation(eigvecs.to(device), X_3d, n_probe=1000, k=10)
    noise = torch.randn(X_3d.shape, generator=torch.Generator().manual_seed(0))
    random_kept = neighbor_preservation(eigvecs, noise, n_probe=1000, k=10)
    assert kept > 0.3, kept
    assert kept > 10 * random_kept, (kept, random_kept)
    # The RGB is a monotone rescaling per axis: neighbours mostly survive the clipping.
    assert neighbor_preservation(eigvecs, rgb, n_probe=1000, k=10) > 0.8 * kept


def test_sampled_layout_places_every_node(eigvecs, device):
    n = eigvecs.shape[0]
    progress_calls = []
    X_3d, rgb = tsne_color(
        eigvecs.to(device), num_sample=300, knn=10, device=device, progress=lambda *a: progress_calls.append(a)
    )
    _check_contract(X_3d, rgb, n)
    assert {c[0] for c in progress_calls} >= {"Coloring: t-SNE", "Coloring: placing nodes"}
    kept = neighbor_preservation(eigvecs, X_3d, n_probe=1000, k=10)
    assert kept > 0.15, kept


def test_placing_chunks_per_device(eigvecs, device, monkeypatch):
    # 2M elements per chunk on the CPU (cache-sized, reused blocks), 32M on a GPU (fewer
    # launches and waits); the colouring asks for its device's.
    assert propagation_rows(torch.device("cpu"), 2000) == (1 << 21) // 2000
    assert propagation_rows(torch.device("cuda", 0), 2000) == (1 << 25) // 2000
    seen = []

    def spy(dev, m):
        seen.append((torch.device(dev).type, m))
        return propagation_rows(dev, m)

    monkeypatch.setattr(_common, "propagation_rows", spy)
    tsne_color(eigvecs.to(device), num_sample=300, knn=10, device=device)
    assert seen == [(device.type, 300)]


@pytest.mark.slow
def test_seed_call_on_seed_shaped_nodes(device):
    # The tutorial's call; 5 of its 20 images (6,400 nodes) keep this under a minute on 2 cores.
    vecs = _eigvecs(5, (16, 32))
    first = tsne_color(vecs.to(device), num_sample=30000, knn=10, device=device)
    second = tsne_color(vecs.to(device), num_sample=30000, knn=10, device=device)
    for (X_3d, rgb), again in zip([first], [second], strict=True):
        _check_contract(X_3d, rgb, vecs.shape[0])
        assert torch.equal(X_3d, again[0]) and torch.equal(rgb, again[1])


def _dense_q(Y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairwise ``y_i - y_j`` ``(m, m, 3)`` and Student-t ``q_ij = 1 / (1 + |y_i - y_j|^2)``, float64."""
    diff = Y[:, None, :] - Y[None, :, :]
    return diff, 1.0 / (1.0 + diff.pow(2).sum(dim=2))


def test_attraction_and_repulsion_are_the_dense_gradients(device):
    # The sparse forms (CSR product over the symmetric kNN edges; repulsion by one augmented
    # product) against the t-SNE gradient terms written densely in float64.
    from ncut_widget.color.knn_graph import cosine_knn, perplexity_affinities
    from ncut_widget.color.tsne import _attraction, _repulsion, _symmetric_edges

    gen = torch.Generator().manual_seed(0)
    m, k = 200, 12
    Xn = torch.nn.functional.normalize(torch.randn(m, 8, generator=gen), dim=1).to(device)
    nbr, sim = cosine_knn(Xn, k)
    p = perplexity_affinities((2 - 2 * sim).clamp_min(0), 4.0)
    edges = _symmetric_edges(nbr, p)
    Y = (torch.randn(m, 3, generator=gen) * 3).to(device)

    P = torch.zeros(m, m, dtype=torch.float64)
    P.index_put_((torch.arange(m).repeat_interleave(k), nbr.cpu().reshape(-1)), p.cpu().double().reshape(-1), accumulate=True)
    P = P + P.T
    diff, q = _dense_q(Y.cpu().double())
    want = ((P * q).unsqueeze(2) * diff).sum(dim=1)
    got = _attraction(Y, edges)
    assert got.device == Y.device and got.dtype == torch.float32
    torch.testing.assert_close(got.cpu().double(), want, rtol=1e-4, atol=1e-6 * float(want.abs().max()))

    # m <= 256 negatives: the repulsion is exact, sum_j q_ij^2 (y_i - y_j) / sum_{i != j} q_ij.
    q_off = q - torch.eye(m, dtype=torch.float64)
    want_rep = (q_off.pow(2).unsqueeze(2) * diff).sum(dim=1) / q_off.sum()
    got_rep = _repulsion(Y, torch.Generator().manual_seed(1), exact=True)
    assert got_rep.device == Y.device
    torch.testing.assert_close(got_rep.cpu().double(), want_rep, rtol=1e-3, atol=1e-5 * float(want_rep.abs().max()))
