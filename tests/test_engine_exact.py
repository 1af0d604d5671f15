"""The exact path: the half-stored affinity, its products, gamma on all pairs, and the seed-shaped
solve against a float64 dense eigendecomposition of the same graph."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from ncut_widget.engine import affinity as aff
from ncut_widget.engine import exact
from ncut_widget.engine.eigsolve import top_eigh
from ncut_widget.engine.exact import (
    UpperBlocks,
    build_bytes,
    exact_affinity,
    pair_dtype,
    storage_dtype,
    upper_bytes,
)
from ncut_widget.engine.ncut import Ncut, exact_fit_bytes
from ncut_widget.engine.synthetic import planted_patch_features


def mean_principal_cosine(A: torch.Tensor, B: torch.Tensor) -> float:
    qa = torch.linalg.qr(A.double()).Q
    qb = torch.linalg.qr(B.double()).Q
    return float(torch.linalg.svdvals(qa.T @ qb).mean())


def dense_distances(X: torch.Tensor, distance: str) -> torch.Tensor:
    """Float64 distances between all rows, zero diagonal (the graph's definition)."""
    X = X.double()
    if distance == "cosine":
        Xn = F.normalize(X, dim=1)
        D = (1 - Xn @ Xn.T).clamp_min(0)
    else:
        D = torch.cdist(X, X).pow(2)
    return D.fill_diagonal_(0)


# Column tiles of the eigensolver's products (exact.EIG_TILE_COLS): whole blocks, and tiles
# that end inside, on and across the diagonal squares' edges (rows 128 / 256 / 1001 against
# tiles of 100 and 64).
TILES = [2048, 100, 64]


@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize("n, rows", [(700, 128), (700, 700), (1001, 256), (5, 2)])
def test_upper_blocks_multiply_like_the_dense_matrix(n, rows, tile, device, monkeypatch):
    monkeypatch.setattr(exact, "EIG_TILE_COLS", tile)
    gen = torch.Generator().manual_seed(n)
    A = torch.randn(n, n, generator=gen)
    A = (A + A.T).to(device)
    starts = list(range(0, n, rows))
    U = UpperBlocks([A[s : s + rows, s:].clone() for s in starts], starts, n)
    assert torch.equal(U.to_dense(), A)
    Bt = torch.randn(7, n, generator=gen).to(device)
    product = U.rmatmul(Bt)
    assert product.device == A.device
    # Against float64 on the CPU: the blocked float32 sums differ from one dense matmul's order.
    assert torch.allclose(product.cpu().double(), Bt.cpu().double() @ A.cpu().double(), atol=1e-4, rtol=1e-5)
    assert U.shape == (n, n) and U.dtype == torch.float32


@pytest.mark.parametrize("storage", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("mkl", [True, False], ids=["mkl", "no-mkl"])
@pytest.mark.parametrize("tile", TILES)
@pytest.mark.parametrize("n, rows", [(700, 128), (1001, 1001)])
def test_low_precision_blocks_multiply_like_their_stored_matrix(n, rows, tile, mkl, storage, device, monkeypatch):
    # Stored in float16 or bfloat16, multiplied in float32 (float16 widened; bfloat16 by MKL
    # with the vectors split in two bfloat16 parts, or widened where MKL is off or absent):
    # the product is that of the rounded matrix, not of anything rounded further.
    from ncut_widget.engine import mkl_bf16

    if mkl and not mkl_bf16.available():
        pytest.skip("torch here carries no MKL bfloat16 product (arm64 builds have no MKL)")
    monkeypatch.setenv(mkl_bf16.ENV, "1" if mkl else "0")
    monkeypatch.setattr(exact, "EIG_TILE_COLS", tile)
    calls = []
    monkeypatch.setattr(UpperBlocks, "_rmatmul_mkl", lambda self, Bt, real=UpperBlocks._rmatmul_mkl: calls.append(1) or real(self, Bt))
    gen = torch.Generator().manual_seed(n)
    A = torch.rand(n, n, generator=gen)
    A = (A + A.T).to(storage).to(device)
    starts = list(range(0, n, rows))
    U = UpperBlocks([A[s : s + rows, s:].clone() for s in starts], starts, n)
    assert U.dtype == torch.float32 and U.storage == storage
    assert torch.equal(U.to_dense(), A.float())
    Bt = torch.randn(5, n, generator=gen).to(device)
    for _ in range(2):  # the second product reuses the widening buffer
        product = U.rmatmul(Bt)
        assert product.dtype == torch.float32 and product.shape == (5, n)
        want = Bt.cpu().double() @ A.cpu().double()
        # The split vectors keep each entry to 2^-16 relative: 1e-4 of the sums of |terms|.
        scale = Bt.cpu().double().abs() @ A.cpu().double().abs()
        assert bool(((product.cpu().double() - want).abs() <= 1e-4 * scale + 1e-5).all())
    expect_mkl = mkl and storage == torch.bfloat16 and mkl_bf16.applies(device, storage)
    assert len(calls) == (2 if expect_mkl else 0)


@pytest.mark.parametrize("mkl", [True, False], ids=["mkl", "no-mkl"])
@pytest.mark.parametrize("fast_bf16", [False, True], ids=["avx2-like", "amx-like"])
def test_auto_stores_low_precision_from_bf16_min_nodes_on_any_cpu(monkeypatch, fast_bf16, mkl):

    monkeypatch.setattr(exact.mkl_bf16, "available", lambda: mkl)
    dtypes = {"auto": torch.bfloat16 if fast_bf16 else torch.float32, "float32": torch.float32, "bfloat16": torch.bfloat16}
    monkeypatch.setattr(exact, "scan_dtype", lambda device, precision: dtypes[exact.scan_choice(precision)])
    fast = dtypes["auto"]
    small, large = exact.BF16_MIN_NODES - 1, exact.BF16_MIN_NODES
    assert pair_dtype(small, "cpu", "auto") == torch.float32
    assert pair_dtype(large, "cpu", "auto") == fast
    assert storage_dtype(small, "cpu", "auto") == torch.float32
    # Whatever the products, 16 bits: bfloat16 where MKL multiplies bfloat16 pairs of at least
    # BF16_STORE_MIN_NODES nodes, else float16.
    huge = exact.BF16_STORE_MIN_NODES
    assert storage_dtype(large, "cpu", "auto") == torch.float16
    bf16_store = torch.bfloat16 if mkl else torch.float16
    assert storage_dtype(huge, "cpu", "auto") == (bf16_store if fast_bf16 else torch.float16)
    assert storage_dtype(huge - 1, "cpu", "auto") == torch.float16
    # Forced paths: bfloat16 products always store 16 bits; float32 keeps float32. No MKL on a GPU.
    assert storage_dtype(100, "cpu", "bfloat16") == torch.float16
    assert storage_dtype(huge, "cpu", "bfloat16") == bf16_store
    assert storage_dtype(huge, "cuda", "bfloat16") == torch.float16
    assert storage_dtype(10**6, "cpu", "float32") == torch.float32
    monkeypatch.setenv("NCUT_WIDGET_SCAN", "float32")
    assert storage_dtype(10**6, "cpu", None) == torch.float32


def test_float32_pairs_stored_in_float16_round_only_the_storage(monkeypatch, planted_parts, device):
    """"auto" where bfloat16 is slow (AVX2 CPUs): float32 products, float16 affinities. Forced
    here on every machine by lowering BF16_MIN_NODES and reporting float32 as auto's dtype."""

    monkeypatch.setattr(exact, "BF16_MIN_NODES", 512)
    monkeypatch.setattr(exact, "scan_dtype", lambda device, precision: torch.float32)
    P = aff.prepare(planted_parts[0][:900].to(device), "cosine")
    gamma0 = aff.solve_gamma(aff.sample_distances(P, "cosine", seed=0), 0.4, len(P))
    W16, gamma, degree = exact_affinity(P, "cosine", gamma0, 0.4, rows=256, precision="auto")
    W32, gamma32, degree32 = exact_affinity(P, "cosine", gamma0, 0.4, rows=256, precision="float32")
    assert all(U.dtype == torch.float16 for U in W16.blocks)
    assert all(U.dtype == torch.float32 for U in W32.blocks)
    # The same float32 distances give the same Newton step.
    assert gamma == pytest.approx(gamma32, rel=1e-6)
    # Storing rounds each distance between the passes (half an ulp, 2^-11 relative, becomes
    # 2^-11 d / gamma of the affinity) and each affinity after (2^-11; 2^-25 absolute below
    # float16's normal range); float32's own rounding on top.
    dense, dense32 = W16.to_dense(), W32.to_dense()
    bound = 2.0**-11 * (1 - dense32.log()) * dense32 + 2.0**-25 + 1e-6 * dense32
    assert bool(((dense - dense32).abs() <= bound).all())
    assert not torch.equal(dense, dense32)
    # The degrees are those of the affinities as stored.
    assert torch.allclose(degree, dense.sum(dim=1), rtol=1e-6)
    assert torch.allclose(degree, degree32, rtol=1e-3)


@pytest.mark.parametrize("mkl", ["1", "0"], ids=["mkl", "no-mkl"])
@pytest.mark.parametrize("precision", ["auto", "bfloat16"], ids=["float32-pairs", "bfloat16-pairs"])
def test_low_precision_storage_keeps_distances_past_float16s_range(monkeypatch, device, precision, mkl):
    """Squared euclidean distances of ~10^6 (features of norm ~500) are past float16's largest
    value (65,504): between the passes they wait as ``d / gamma``, so they come back finite and
    the affinities match the float32 graph's (stored raw, they came back infinite: every
    affinity but the diagonal 0, the degrees off by 100%)."""

    monkeypatch.setenv(exact.mkl_bf16.ENV, mkl)
    monkeypatch.setattr(exact, "BF16_MIN_NODES", 512)  # "auto" stores 16 bits from here
    monkeypatch.setattr(exact, "BF16_STORE_MIN_NODES", 512)  # bfloat16 ones where MKL multiplies
    dtypes = {"auto": torch.float32, "float32": torch.float32, "bfloat16": torch.bfloat16}  # AVX2-like auto
    monkeypatch.setattr(exact, "scan_dtype", lambda device, precision: dtypes[precision])
    gen = torch.Generator().manual_seed(0)
    X = (torch.randn(5, 32, generator=gen)[torch.arange(900) % 5] * 3 + torch.randn(900, 32, generator=gen)) * 60
    P = aff.prepare(X.to(device), "euclidean")
    gamma0 = aff.solve_gamma(aff.sample_distances(P, "euclidean", seed=0), 0.5, len(P))
    assert gamma0 > 65504
    W, gamma, degree = exact_affinity(P, "euclidean", gamma0, 0.5, rows=256, precision=precision)
    W32, gamma32, degree32 = exact_affinity(P, "euclidean", gamma0, 0.5, rows=256, precision="float32")
    expect = torch.bfloat16 if precision == "bfloat16" and exact.mkl_bf16.applies(device, torch.bfloat16) else torch.float16
    assert W.storage == expect and W32.storage == torch.float32
    assert gamma == pytest.approx(gamma32, rel=1e-2)
    assert float((W.to_dense() - W32.to_dense()).abs().max()) < 2e-2
    assert torch.allclose(degree, degree32, rtol=1e-2)


@pytest.mark.parametrize("mkl", ["1", "0"], ids=["mkl", "no-mkl"])
def test_bfloat16_pairs_keep_low_precision_affinities_and_their_degrees(planted_parts, device, mkl, monkeypatch):

    monkeypatch.setenv(exact.mkl_bf16.ENV, mkl)
    monkeypatch.setattr(exact, "BF16_STORE_MIN_NODES", 512)
    P = aff.prepare(planted_parts[0][:900].to(device), "cosine")
    gamma0 = aff.solve_gamma(aff.sample_distances(P, "cosine", seed=0), 0.4, len(P))
    W, gamma, degree = exact_affinity(P, "cosine", gamma0, 0.4, rows=256, precision="bfloat16")
    # bfloat16 where MKL multiplies the pairs (x86-64 CPUs), float16 elsewhere (CUDA, arm64).
    stored = torch.bfloat16 if exact.mkl_bf16.applies(device, torch.bfloat16) else torch.float16
    assert all(U.dtype == stored for U in W.blocks)
    dense = W.to_dense()
    # The degrees are the row sums of the affinities as stored (rounded), so the normalised
    # graph's top eigenvalue is 1 to float32 rounding.
    assert torch.allclose(degree, dense.sum(dim=1), rtol=1e-6)
    s = degree.rsqrt()
    assert float(torch.linalg.eigvalsh((s[:, None] * dense * s[None, :]).double())[-1]) == pytest.approx(1.0, abs=1e-6)
    # Against the float32 graph at the same gamma: within the bfloat16 products' rounding
    # and the storage's (at most 2^-8 relative in bfloat16, 2^-11 in float16).
    W32, _, _ = exact_affinity(P, "cosine", gamma, None, rows=256, precision="float32")
    assert all(U.dtype == torch.float32 for U in W32.blocks)
    assert 0 < float((dense - W32.to_dense()).abs().max()) < 1e-2
    assert float(dense.mean()) == pytest.approx(0.4, abs=1e-4)  # the Newton step on all pairs


@pytest.mark.parametrize("distance", ["cosine", "euclidean"])
def test_exact_affinity_is_every_pair_with_gamma_on_all_pairs(planted_parts, distance, device):
    X = planted_parts[0][:1500]  # more nodes than the 1,024 of the gamma sample
    P = aff.prepare(X.to(device), distance)
    if distance == "euclidean":
        P = P - P.mean(dim=0)
    gamma0 = aff.solve_gamma(aff.sample_distances(P, distance, seed=0), 0.3, len(P))
    W, gamma, degree = exact_affinity(P, distance, gamma0, 0.3, rows=256)
    assert W.device == degree.device == P.device  # built where the features are
    D = dense_distances(X, distance)
    ref = torch.exp(-D / gamma)
    assert torch.allclose(W.to_dense().cpu().double(), ref, rtol=1e-4, atol=1e-6)
    assert torch.allclose(degree.cpu().double(), ref.sum(dim=1), rtol=1e-5)
    # One Newton step on all pairs: the graph's mean affinity (self-pairs included) is on target.
    assert float(ref.mean()) == pytest.approx(0.3, abs=1e-4)
    assert gamma != gamma0
    # d_gamma=None keeps the given gamma.
    _, kept, _ = exact_affinity(P, distance, gamma0, None, rows=256)
    assert kept == gamma0


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
@pytest.mark.parametrize("tile", [300, 100], ids=["tiles-wider-than-rows", "rows-wider-than-tiles"])
def test_build_tile_by_tile_equals_whole_blocks(planted_parts, precision, tile, monkeypatch, device):
    # On a CPU both build passes take BUILD_TILE_COLS columns of a block at a time (at least the
    # block's rows, so that its diagonal square lies in the first tile); forced narrow here so
    # that every block spans several tiles, against whole blocks (one tile each).
    X = planted_parts[0][:1500]
    P = aff.prepare(X.to(device), "cosine")
    gamma0 = aff.solve_gamma(aff.sample_distances(P, "cosine", seed=0), 0.3, len(P))
    monkeypatch.setattr(exact, "BUILD_TILE_COLS", 10**9)
    W1, g1, d1 = exact_affinity(P, "cosine", gamma0, 0.3, rows=256, precision=precision)
    monkeypatch.setattr(exact, "BUILD_TILE_COLS", tile)
    W2, g2, d2 = exact_affinity(P, "cosine", gamma0, 0.3, rows=256, precision=precision)
    assert W2.storage == W1.storage
    assert g2 == pytest.approx(g1, rel=1e-6)
    dense1, dense2 = W1.to_dense().cpu(), W2.to_dense().cpu()
    assert torch.equal(dense2.diagonal(), torch.ones(len(P)))  # every block's diagonal, once
    tol = 1e-5 if W1.storage == torch.float32 else 2e-3
    assert torch.allclose(dense2, dense1, rtol=tol, atol=1e-7)
    assert torch.allclose(d2.cpu(), d1.cpu(), rtol=tol)


def test_exact_path_stores_half_the_matrix():
    n = 25_600
    assert upper_bytes(n) < 0.52 * 4 * n * n
    assert build_bytes(n) < 0.6 * 4 * n * n
    assert exact_fit_bytes(n, 768, 50) < 0.7 * 4 * n * n  # the dense matrix alone was 1.0
    # float16 storage: a quarter of the dense float32 matrix, plus a float32 block to widen into.
    assert upper_bytes(n, storage=torch.float16) < 0.29 * 4 * n * n
    assert exact_fit_bytes(n, 768, 50, torch.float16) < 0.45 * 4 * n * n


def test_progress_covers_both_passes(planted_parts, device):
    calls = []
    Ncut(n_eig=5, n_sample=5000, device=device, progress=lambda *a: calls.append(a)).fit(planted_parts[0])
    affinity = [(d, t) for s, d, t in calls if s == "affinity"]
    assert affinity[-1][0] == affinity[-1][1] and len(affinity) >= 3


@pytest.fixture(scope="module")
def seed_shaped(device):
    """2,560 seed-shaped nodes (2 images at 16x16 and 32x32, 768 dims) and the float64 dense
    eigendecomposition of their exact graph, gamma as Ncut picks it (the fit on ``device``).
    ``"auto"`` named, not read from ``NCUT_WIDGET_SCAN``: below ``BF16_MIN_NODES`` it multiplies
    in float32, which the bounds below are for (the forced bfloat16 path has its own test)."""
    X, labels = planted_patch_features(n_images=2, grids=(16, 32), dim=768, seed=0)
    model = Ncut(n_eig=50, n_sample=len(X), d_gamma=0.5, scan_precision="auto", device=device)
    vecs, vals = model.fit_transform(X.to(device))
    W = torch.exp(-dense_distances(X, "cosine") / model.gamma_)
    s = W.sum(dim=1).rsqrt()
    ref_vals, ref_vecs = torch.linalg.eigh(s[:, None] * W * s[None, :])
    return model, vecs, vals, ref_vals.flip(0), ref_vecs.flip(1)


def test_exact_path_matches_the_dense_eigendecomposition(seed_shaped):
    model, vecs, vals, ref_vals, ref_vecs = seed_shaped
    assert model.exact_ and model.converged_
    assert float((vals.double() - ref_vals[:50]).abs().max()) < 1e-5  # the goal asks 2e-3
    for k in (9, 20, 50):
        assert mean_principal_cosine(vecs[:, :k], ref_vecs[:, :k]) >= 0.999, k
    # The returned vectors are eigenvectors of the whole graph: unit columns, orthogonal.
    assert torch.allclose(vecs.T.double() @ vecs.double(), torch.eye(50, dtype=torch.float64), atol=1e-4)
    assert float(ref_vals[0]) == pytest.approx(1.0, abs=1e-9) and math.isclose(float(vals[0]), 1.0, abs_tol=1e-5)


@pytest.mark.parametrize("mkl", ["1", "0"], ids=["mkl", "no-mkl"])
def test_forced_bfloat16_pairs_match_the_dense_eigendecomposition(seed_shaped, device, mkl, monkeypatch):
    # The centred bfloat16 products (exact.py) on every machine (emulated without AMX), against
    # the float64 dense solve of the float32 graph: 2,560 nodes is where rounding weighs most.
    # Measured, oneDNN's bfloat16-rounded products and float16 affinities (no MKL): eigenvalues
    # within 7.6e-6, top-9/20/50 at 1.0000 / 0.9988 / 0.9987, affinities within 3.6e-3; MKL's
    # float32-accumulated products and bfloat16 affinities: 9.0e-6, 1.0000 / 0.9984 / 0.9974,
    # 2.6e-3 (bfloat16's 8 bits weigh most on small graphs, which "auto" stores in float16 or
    # float32: exact.BF16_STORE_MIN_NODES). At 25,600 nodes: 0.99993 / 0.99990 at top-50.

    monkeypatch.setenv(exact.mkl_bf16.ENV, mkl)
    monkeypatch.setattr(exact, "BF16_STORE_MIN_NODES", 1024)  # the worst case: bfloat16 storage here
    X, _ = planted_patch_features(n_images=2, grids=(16, 32), dim=768, seed=0)
    model, _, _, ref_vals, ref_vecs = seed_shaped
    P = aff.prepare(X.to(device), "cosine")
    W, _, deg = exact_affinity(P, "cosine", model.gamma_, None, precision="bfloat16")
    W32, _, deg32 = exact_affinity(P, "cosine", model.gamma_, None, precision="float32")
    # Every affinity within bfloat16 rounding of the centred products (|c_i . c_j| <= 1 here).
    gap = (W.to_dense() - W32.to_dense()).abs().max()
    assert 0 < float(gap) < 1e-2
    res = top_eigh(W, 50, seed=0, tol=1e-6, scale=deg.rsqrt())
    assert float((res.values.double().cpu() - ref_vals[:50]).abs().max()) < 1e-4  # the goal asks 2e-3
    cos = [mean_principal_cosine(res.vectors.cpu()[:, :k], ref_vecs[:, :k]) for k in (9, 20, 50)]
    assert cos[0] >= 0.9999 and cos[1] >= 0.997 and cos[2] >= 0.995, cos


def test_float16_stored_float32_pairs_match_the_dense_eigendecomposition(seed_shaped, device, monkeypatch):
    # "auto" on a CPU without fast bfloat16, from BF16_MIN_NODES on: float32 products, float16
    # affinities. Forced on every machine (BF16_MIN_NODES lowered, float32 as auto's dtype),
    # against the float64 dense solve of the float32 graph (measured: eigenvalues within 3.9e-6,
    # top-9/20/50 at 1.0000 / 0.99994 / 0.99994; float32 storage 1.2e-7 and 1.0000).

    monkeypatch.setattr(exact, "BF16_MIN_NODES", 1024)
    monkeypatch.setattr(exact, "scan_dtype", lambda device, precision: torch.float32)
    X, _ = planted_patch_features(n_images=2, grids=(16, 32), dim=768, seed=0)
    model, _, _, ref_vals, ref_vecs = seed_shaped
    W, _, deg = exact_affinity(aff.prepare(X.to(device), "cosine"), "cosine", model.gamma_, None, precision="auto")
    assert all(U.dtype == torch.float16 for U in W.blocks)
    res = top_eigh(W, 50, seed=0, tol=1e-6, scale=deg.rsqrt())
    assert float((res.values.double().cpu() - ref_vals[:50]).abs().max()) < 2e-5  # the goal asks 2e-3
    cos = [mean_principal_cosine(res.vectors.cpu()[:, :k], ref_vecs[:, :k]) for k in (9, 20, 50)]
    assert min(cos) >= 0.9995, cos


def test_auto_keeps_float32_pairs_on_small_graphs(monkeypatch):
    # "auto" multiplies in bfloat16 only from BF16_MIN_NODES up (where it is fast at all);
    # an explicit "bfloat16" always does.

    used = []
    real = exact._pair_distances
    monkeypatch.setattr(exact, "_pair_distances", lambda P, d, dtype, *rest, **kw: used.append(dtype) or real(P, d, dtype, *rest, **kw))
    monkeypatch.setattr(exact, "scan_dtype", lambda device, precision: torch.bfloat16)  # as on AMX
    P = aff.prepare(torch.randn(300, 16), "cosine")
    exact.exact_affinity(P, "cosine", 0.5, None, precision="auto")
    exact.exact_affinity(P, "cosine", 0.5, None, precision="bfloat16")
    monkeypatch.setattr(exact, "BF16_MIN_NODES", 200)
    exact.exact_affinity(P, "cosine", 0.5, None, precision="auto")
    assert used == [torch.float32, torch.bfloat16, torch.bfloat16]


def test_bfloat16_pairs_in_column_tiles_equal_whole_rows(monkeypatch):
    """The bfloat16 products run in column tiles (the odd-sized one first); any tiling gives the
    affinities of whole-row products. Small integer features, mirrored so their mean is exactly
    0: every product is then an exact integer sum whatever order a kernel adds in, so tilings
    must agree bit for bit, on any CPU or GPU."""

    gen = torch.Generator().manual_seed(0)
    half = torch.randint(-4, 5, (350, 48), generator=gen).float()
    P = torch.cat([half, -half])
    dense = {}
    for tile in (100, 8192):  # 100: blocks of 128 rows see up to 7 tiles, the first of 0-99 columns
        monkeypatch.setattr(exact, "TILE_COLS", tile)
        W, _, deg = exact.exact_affinity(P, "euclidean", 400.0, None, rows=128, precision="bfloat16")
        dense[tile] = W.to_dense()
        torch.testing.assert_close(deg, dense[tile].sum(dim=1), rtol=1e-5, atol=1e-4)
    assert torch.equal(dense[100], dense[8192])
    # Against the float32 graph: the bfloat16 products round each dot product (up to 768) to 8 bits.
    W32, _, _ = exact.exact_affinity(P, "euclidean", 400.0, None, rows=128, precision="float32")
    assert float((dense[100] - W32.to_dense()).abs().max()) < 2e-2
