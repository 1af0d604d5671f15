"""The nearest-anchor scan: both paths forced on any machine, against a float64 brute force.

``NCUT_WIDGET_SCAN`` (or ``precision=``) forces the float32 or the bfloat16 path; ``"auto"``
follows ``bf16_matmul_is_fast``, which is patched here so the choice is tested on every machine.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ncut_widget.engine import nystrom, propagate
from ncut_widget.engine.memory import MemoryBudgetError
from ncut_widget.engine.ncut import Ncut
from ncut_widget.engine.propagate import knn_propagate, nearest_anchors, scan_dtype

PATHS = ["float32", "bfloat16"]


def mean_principal_cosine(A: torch.Tensor, B: torch.Tensor) -> float:
    qa = torch.linalg.qr(A.double()).Q
    qb = torch.linalg.qr(B.double()).Q
    return float(torch.linalg.svdvals(qa.T @ qb).mean())


def brute_force(A: torch.Tensor, Q: torch.Tensor, k: int, distance: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Float64 reference: (all distances (n, m), indices of the k nearest (n, k))."""
    A64, Q64 = A.double(), Q.double()
    full = 1 - Q64 @ A64.T if distance == "cosine" else torch.cdist(Q64, A64).pow(2)
    return full, full.topk(k, dim=1, largest=False).indices


def clustered(n: int, m: int, dim: int, offset: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Anchors and queries around 8 shared centres, shifted by ``offset`` in every coordinate."""
    gen = torch.Generator().manual_seed(seed)
    centres = torch.randn(8, dim, generator=gen) * 2
    A = centres[torch.arange(m) % 8] + torch.randn(m, dim, generator=gen)
    Q = centres[torch.arange(n) % 8] + torch.randn(n, dim, generator=gen)
    return A + offset, Q + offset


# ---------------------------------------------------------------- choosing the path
def test_env_var_forces_the_path(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setenv("NCUT_WIDGET_SCAN", "bfloat16")
    assert scan_dtype(cpu) == torch.bfloat16
    monkeypatch.setenv("NCUT_WIDGET_SCAN", "float32")
    assert scan_dtype(cpu) == torch.float32
    assert scan_dtype(cpu, "bfloat16") == torch.bfloat16  # an explicit argument wins


@pytest.mark.parametrize("fast", [True, False])
def test_auto_follows_the_hardware_probe(monkeypatch, fast):
    monkeypatch.setattr(propagate, "bf16_matmul_is_fast", lambda device: fast)
    expected = torch.bfloat16 if fast else torch.float32
    monkeypatch.delenv("NCUT_WIDGET_SCAN", raising=False)
    assert scan_dtype("cpu") == expected
    monkeypatch.setenv("NCUT_WIDGET_SCAN", "")  # empty counts as unset
    assert scan_dtype("cpu") == expected
    monkeypatch.setenv("NCUT_WIDGET_SCAN", "auto")
    assert scan_dtype("cpu") == expected
    assert scan_dtype("cpu", "auto") == expected


@pytest.mark.parametrize("var", ["ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"])
def test_a_onednn_isa_limit_below_amx_means_float32(monkeypatch, var):
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    monkeypatch.delenv("NCUT_WIDGET_SCAN", raising=False)
    monkeypatch.delenv("ONEDNN_MAX_CPU_ISA", raising=False)
    monkeypatch.delenv("DNNL_MAX_CPU_ISA", raising=False)
    assert scan_dtype("cpu") == torch.bfloat16
    monkeypatch.setenv(var, "AVX2")  # bfloat16 matmuls are emulated under this limit
    assert scan_dtype("cpu") == torch.float32
    monkeypatch.setenv(var, "avx512_core_amx")
    assert scan_dtype("cpu") == torch.bfloat16
    monkeypatch.setenv(var, "ALL")
    assert scan_dtype("cpu") == torch.bfloat16
    monkeypatch.setenv("NCUT_WIDGET_SCAN", "bfloat16")  # forcing still works
    monkeypatch.setenv(var, "AVX2")
    assert scan_dtype("cpu") == torch.bfloat16


@pytest.mark.parametrize(("capability", "expected"), [((7, 5), torch.float32), ((8, 0), torch.bfloat16), ((9, 0), torch.bfloat16)])
def test_auto_on_cuda_is_bfloat16_from_ampere_on(monkeypatch, capability, expected):
    """T4/V100 (7.x) emulate bfloat16 matmuls: float32 there. Patched, so it runs without a GPU."""
    asked = []
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index: asked.append(index) or capability)
    monkeypatch.delenv("NCUT_WIDGET_SCAN", raising=False)
    assert scan_dtype(torch.device("cuda", 1)) == expected
    assert asked == [1]  # the device's own capability
    assert scan_dtype(torch.device("cuda", 1), "float32") == torch.float32


def test_bad_env_value_names_the_variable(monkeypatch):
    monkeypatch.setenv("NCUT_WIDGET_SCAN", "fp16")
    with pytest.raises(ValueError, match=r"NCUT_WIDGET_SCAN must be one of .*'fp16'"):
        nearest_anchors(torch.randn(5, 3), torch.randn(4, 3), 2)
    with pytest.raises(ValueError, match=r"NCUT_WIDGET_SCAN must be one of"):
        Ncut(n_eig=2, n_sample=10).fit(torch.randn(40, 3))


def test_bad_precision_argument():
    with pytest.raises(ValueError, match=r"precision must be one of .*'half'"):
        nearest_anchors(torch.randn(5, 3), torch.randn(4, 3), 2, precision="half")
    with pytest.raises(ValueError, match=r"scan_precision must be one of"):
        Ncut(scan_precision="bf16")


def test_ncut_argument_wins_over_the_env(monkeypatch, device):
    seen = []
    real = propagate.scan_dtype

    def spy(device, precision=None):
        out = real(device, precision)
        seen.append(out)
        return out

    monkeypatch.setattr(nystrom, "scan_dtype", spy)  # the extension's node-to-anchor scores
    monkeypatch.setenv("NCUT_WIDGET_SCAN", "float32")
    X = torch.randn(300, 8, generator=torch.Generator().manual_seed(0))
    Ncut(n_eig=3, n_sample=50, scan_precision="bfloat16", device=device).fit(X)
    assert seen and all(d == torch.bfloat16 for d in seen)


# ---------------------------------------------------------------- accuracy of both paths
@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
@pytest.mark.parametrize("precision", PATHS)
def test_neighbours_and_distances_match_brute_force(distance, precision, device):
    A, Q = clustered(600, 300, 48, offset=0.0, seed=1)
    if distance == "cosine":
        A, Q = F.normalize(A, dim=1), F.normalize(Q, dim=1)
    full, ref_i = brute_force(A, Q, 6, distance)
    d, i = nearest_anchors(A.to(device), Q.to(device), 6, distance=distance, precision=precision, chunk_size=128)
    assert d.dtype == torch.float32 and i.dtype == torch.int64 and d.shape == i.shape == (600, 6)
    assert d.device.type == i.device.type == "cpu"  # documented: results come back to the CPU
    # Returned distances are float32-exact for the returned anchors, on both paths...
    exact = full.gather(1, i)
    assert torch.allclose(d.double(), exact, rtol=1e-4, atol=1e-5 * float(full.mean()))
    assert bool((d[:, 1:] >= d[:, :-1]).all()), "nearest first"
    # ...and the neighbour sets are the true ones (bfloat16 may swap a rare near-tie).
    found = (i.unsqueeze(2) == ref_i.unsqueeze(1)).any(dim=2).float().mean()
    assert float(found) >= (0.995 if precision == "bfloat16" else 0.999)


@pytest.mark.parametrize("precision", PATHS)
def test_uncentred_euclidean_features(precision, device):
    # Offset 100 in 64 dims: |q|^2 ~ 6.4e5 against neighbour distances ~1e2. Expanded without
    # centring, bfloat16 (8 significant bits) loses the distances entirely.
    A, Q = clustered(500, 200, 64, offset=100.0, seed=2)
    full, ref_i = brute_force(A, Q, 5, "euclidean")
    d, i = nearest_anchors(A.to(device), Q.to(device), 5, distance="euclidean", precision=precision, chunk_size=100)
    assert torch.allclose(d.double(), full.gather(1, i), rtol=1e-4)
    assert float((i[:, 0] == ref_i[:, 0]).float().mean()) >= 0.99
    found = (i.unsqueeze(2) == ref_i.unsqueeze(1)).any(dim=2).float().mean()
    assert float(found) >= 0.99


@pytest.mark.parametrize("precision", PATHS)
def test_scan_is_deterministic_and_chunk_independent(precision, device):
    A, Q = clustered(400, 150, 32, offset=3.0, seed=3)
    A, Q = A.to(device), Q.to(device)
    a = nearest_anchors(A, Q, 4, distance="euclidean", precision=precision, chunk_size=64)
    b = nearest_anchors(A, Q, 4, distance="euclidean", precision=precision, chunk_size=64)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    whole = nearest_anchors(A, Q, 4, distance="euclidean", precision=precision, chunk_size=1000)
    assert torch.allclose(whole[0], a[0], rtol=1e-5, atol=1e-5)


def test_k_is_clipped_to_the_anchor_count(device):
    A, Q = clustered(20, 5, 8, offset=0.0, seed=4)
    for precision in PATHS:
        d, i = nearest_anchors(A.to(device), Q.to(device), 9, distance="euclidean", precision=precision)
        assert d.shape == (20, 5) and torch.equal(i.sort(dim=1).values, torch.arange(5).expand(20, 5))


def test_knn_propagate_scans_in_float32_whatever_the_env(monkeypatch, device):
    A, Q = clustered(300, 100, 16, offset=0.0, seed=5)
    A, Q = A.to(device), Q.to(device)
    vals = torch.randn(100, 3, generator=torch.Generator().manual_seed(6)).to(device)
    monkeypatch.setenv("NCUT_WIDGET_SCAN", "float32")
    ref = knn_propagate(vals, A, Q, n_neighbors=5)
    monkeypatch.setenv("NCUT_WIDGET_SCAN", "bfloat16")
    assert torch.equal(knn_propagate(vals, A, Q, n_neighbors=5), ref)


def test_scan_block_over_the_budget_names_chunk_size(monkeypatch, device):
    A, Q = clustered(4000, 1000, 8, offset=0.0, seed=7)
    A, Q = A.to(device), Q.to(device)
    monkeypatch.setenv("NCUT_WIDGET_MEMORY_BUDGET", "4e6")
    with pytest.raises(MemoryBudgetError, match=r"nearest-anchor scan \(4000 query rows x 1000 anchors.*chunk_size <= \d+"):
        nearest_anchors(A, Q, 3, distance="euclidean", precision="float32", chunk_size=8192)
    # The advice is right: that chunk size passes the same budget.
    with pytest.raises(MemoryBudgetError) as err:
        nearest_anchors(A, Q, 3, distance="euclidean", precision="float32", chunk_size=8192)
    fits = int(str(err.value).rsplit("chunk_size <= ", 1)[1].rstrip("."))
    d, _ = nearest_anchors(A, Q, 3, distance="euclidean", precision="float32", chunk_size=fits)
    assert d.shape == (4000, 3)


# ---------------------------------------------------------------- Ncut on both paths
@pytest.mark.parametrize("precision", PATHS)
def test_ncut_paths_agree(planted_parts, precision, monkeypatch, device):
    X, labels = planted_parts[0].to(device), planted_parts[1]
    monkeypatch.setenv("NCUT_WIDGET_SCAN", "float32")
    ref, ref_vals = Ncut(n_eig=6, n_sample=400, device=device).fit_transform(X)
    monkeypatch.setenv("NCUT_WIDGET_SCAN", precision)
    model = Ncut(n_eig=6, n_sample=400, device=device)
    vecs, vals = model.fit_transform(X)
    again, _ = Ncut(n_eig=6, n_sample=400, device=device).fit_transform(X)
    assert torch.equal(vecs, again), "same input and seed, same output"
    assert torch.allclose(vals, ref_vals, atol=1e-3)
    assert mean_principal_cosine(vecs[:, :5], ref[:, :5]) > 0.999
    indicators = F.one_hot(labels, 5).float()
    assert mean_principal_cosine(vecs[:, :5], indicators) > 0.98


@pytest.mark.parametrize("n_sample", [300, 3000], ids=["nystrom", "exact"])
@pytest.mark.parametrize("precision", PATHS)
def test_ncut_euclidean_is_translation_invariant(planted_parts, precision, n_sample, monkeypatch, device):
    X, labels = planted_parts
    X = X[:1200].to(device)
    monkeypatch.setenv("NCUT_WIDGET_SCAN", precision)
    base, base_vals = Ncut(n_eig=5, n_sample=n_sample, distance="euclidean", device=device).fit_transform(X)
    far, far_vals = Ncut(n_eig=5, n_sample=n_sample, distance="euclidean", device=device).fit_transform(X + 1000.0)
    assert torch.allclose(far_vals, base_vals, atol=1e-3)
    assert mean_principal_cosine(far, base) > 0.999
    indicators = F.one_hot(labels[:1200], 5).float()
    assert mean_principal_cosine(far, indicators) > 0.98


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["float32", "bfloat16"])
def test_query_operand_written_into_a_buffer_is_the_concatenated_one(dtype, device):
    # The scan and the extension build each block's query operand in one reused buffer: it must
    # hold exactly [q, 1, |q|^2] (a low-precision length as hi + lo columns), however stale.
    gen = torch.Generator().manual_seed(3)
    coords = torch.randn(300, 16, generator=gen).to(device)
    sq = coords.pow(2).sum(dim=1) + torch.rand(300, generator=gen).to(device)
    width = 1 if dtype == torch.float32 else 2
    lengths = sq[:, None] if width == 1 else nystrom.split_parts(sq, dtype)
    expected = torch.cat([coords, torch.ones(300, width, device=device), lengths], dim=1).to(dtype)
    fresh = nystrom.distance_operand(coords, sq, dtype, queries=True)
    buf = torch.full((400, expected.shape[1]), float("nan"), dtype=dtype, device=device)
    written = nystrom.distance_operand(coords, sq, dtype, queries=True, out=buf[:300])
    assert written.data_ptr() == buf.data_ptr()
    assert torch.equal(written, expected) and torch.equal(fresh, expected)
    # With the anchors' operand the product is the squared distance, in either dtype's rounding.
    anchors = torch.randn(50, 16, generator=gen).to(device)
    A = nystrom.distance_operand(anchors, anchors.pow(2).sum(dim=1), dtype, queries=False)
    D = (written.float() @ A.float().T)
    exact = torch.cdist(coords.double(), anchors.double()).square() + (sq - coords.pow(2).sum(dim=1)).double()[:, None]
    tol = 1e-4 if dtype == torch.float32 else 0.05
    assert float((D.double() - exact).abs().max()) <= tol * float(exact.abs().max())
