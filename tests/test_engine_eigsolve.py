"""The eigensolver reports convergence, Ncut warns when it ran out of steps, and the sign rule."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

from ncut_widget.engine import eigsolve
from ncut_widget.engine.eigsolve import SIGN_SUM_RATIO, NcutConvergenceWarning, fix_signs, top_eigh
from ncut_widget.engine.ncut import Ncut


def normalized_affinity(n: int, seed: int) -> torch.Tensor:
    """D^-1/2 W D^-1/2 of 4 Gaussian blobs: symmetric PSD with a clear top-4 gap."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(4, 6, generator=gen)[torch.arange(n) % 4] * 3 + torch.randn(n, 6, generator=gen)
    W = torch.exp(-torch.cdist(X, X).pow(2) / 20)
    s = W.sum(1).rsqrt()
    return s[:, None] * W * s[None, :]


def clustered_spectrum(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A symmetric PSD matrix with NCUT's kind of spectrum: a few large eigenvalues, then a
    cluster of 40 that differ by ~2e-5, then a bulk of near-equal small ones.
    Returns ``(matrix float32, eigenvalues float64 descending)``."""
    gen = torch.Generator().manual_seed(seed)
    Q = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64)).Q
    lam = torch.cat([
        torch.tensor([1.0, 0.19, 0.09, 0.07, 0.046, 0.034, 0.029, 0.018, 0.016], dtype=torch.float64),
        torch.linspace(3.5e-3, 1.9e-3, 40, dtype=torch.float64),
        7.5e-4 + 5e-5 * torch.rand(200, generator=gen, dtype=torch.float64),
        1e-4 * torch.rand(n - 249, generator=gen, dtype=torch.float64),
    ]).sort(descending=True).values
    return ((Q * lam) @ Q.T).float(), lam


def mean_principal_cosine(A: torch.Tensor, B: torch.Tensor) -> float:
    qa = torch.linalg.qr(A.double()).Q
    qb = torch.linalg.qr(B.double()).Q
    return float(torch.linalg.svdvals(qa.T @ qb).mean())


def solve(S: torch.Tensor, k: int, device: torch.device, **kwargs) -> eigsolve.EighResult:
    """``top_eigh`` of ``S`` moved to ``device`` (``scale`` too); checks that the result stays
    there and returns it on the CPU for the comparisons."""
    if kwargs.get("scale") is not None:
        kwargs["scale"] = kwargs["scale"].to(device)
    res = top_eigh(S.to(device), k, **kwargs)
    assert res.values.device == res.vectors.device == device
    return res._replace(values=res.values.cpu(), vectors=res.vectors.cpu())


# ---------------------------------------------------------------- convergence
def test_dense_path_reports_converged(device):
    res = solve(normalized_affinity(300, 0), 4, device)
    assert res.converged and res.n_iter == 1 and res.change == 0.0 and res.residual == 0.0
    assert res.values.shape == (4,) and res.vectors.shape == (300, 4)


def test_krylov_converges_to_the_dense_answer(device):
    S = normalized_affinity(1200, 1)
    assert S.shape[0] > eigsolve.DENSE_EIGH_MAX  # exercise the iteration, not the dense path
    res = solve(S, 4, device, seed=0)
    assert res.converged and 1 <= res.n_iter < eigsolve.MAX_ITER and res.residual <= eigsolve.TOL
    ref = torch.linalg.eigvalsh(S.double()).flip(0)[:4]
    assert torch.allclose(res.values.double(), ref, atol=1e-5)


def test_krylov_resolves_a_clustered_spectrum(device):
    # 40 eigenvalues 4e-5 apart, then a bulk: the top 30 and the top 49 (the cluster's end)
    # are separated from what follows by ~4e-5 and ~1e-3.
    S, lam = clustered_spectrum(1500, 0)
    ref_vals, ref_vecs = torch.linalg.eigh(S.double())
    ref_vals, ref_vecs = ref_vals.flip(0), ref_vecs.flip(1)
    for k in (9, 30, 49):
        res = solve(S, k, device, seed=0)
        assert res.converged and res.residual <= eigsolve.TOL
        assert float((res.values.double() - ref_vals[:k]).abs().max()) < 1e-5
        assert mean_principal_cosine(res.vectors, ref_vecs[:, :k]) >= 0.999
        # Orthonormal columns, eigenvalues descending.
        assert torch.allclose(res.vectors.T @ res.vectors, torch.eye(k), atol=1e-4)
        assert bool((res.values[:-1] >= res.values[1:]).all())


def test_residual_bounds_the_eigenvalue_error(device):
    # For a symmetric matrix, each Ritz value lies within its residual norm of an eigenvalue.
    S, _ = clustered_spectrum(1200, 1)
    exact = torch.linalg.eigvalsh(S.double())
    for tol, max_iter in ((1e-3, 100), (eigsolve.TOL, 100), (1e-12, 2)):
        res = solve(S, 20, device, seed=1, tol=tol, max_iter=max_iter)
        A = res.vectors.double()
        resid = (S.double() @ A - A * res.values.double()).norm(dim=0)
        assert float(resid.max()) <= res.residual * float(res.values[0]) * 1.01 + 1e-6
        dist = (res.values.double()[:, None] - exact[None, :]).abs().min(dim=1).values
        assert bool((dist <= resid + 1e-6).all())


def test_scaled_operator_equals_the_scaled_matrix(device):
    W = normalized_affinity(1100, 2)
    s = torch.rand(1100, generator=torch.Generator().manual_seed(3)) + 0.5
    direct = solve(s[:, None] * W * s[None, :], 6, device, seed=0)
    via = solve(W, 6, device, seed=0, scale=s)
    assert torch.allclose(direct.values, via.values, atol=1e-5)
    assert mean_principal_cosine(direct.vectors, via.vectors) > 0.99999


def test_low_rank_matrix_still_gives_k_pairs(device):
    # Rank 3: the Krylov basis becomes invariant after a few products and restarts from random
    # directions; the other eigenvalues are 0.
    gen = torch.Generator().manual_seed(4)
    Z = torch.randn(1300, 3, generator=gen)
    res = solve(Z @ Z.T, 8, device, seed=0)
    ref = torch.linalg.eigvalsh((Z @ Z.T).double()).flip(0)[:8]
    assert res.values.shape == (8,) and res.vectors.shape == (1300, 8)
    assert torch.allclose(res.values.double(), ref, atol=1e-3 * float(ref[0]))
    assert torch.allclose(res.vectors.T @ res.vectors, torch.eye(8), atol=1e-4)


def test_same_seed_same_bits_and_products_are_counted(device):
    S, _ = clustered_spectrum(1100, 5)
    a = solve(S, 12, device, seed=3)
    b = solve(S, 12, device, seed=3)
    assert torch.equal(a.values, b.values) and torch.equal(a.vectors, b.vectors)
    assert a.products == b.products and a.products >= 12
    other = solve(S, 12, device, seed=4)
    assert torch.allclose(other.values, a.values, atol=1e-5)


def test_step_limit_reports_not_converged(device):
    S = normalized_affinity(1200, 1)
    # A residual tolerance float32 cannot reach: every run stops at its step limit.
    one = solve(S, 4, device, tol=1e-12, max_iter=1)
    # One cycle checks its Ritz pairs twice (at KRYLOV_CHECK blocks and when full).
    assert not one.converged and one.n_iter == 1 and 0.0 <= one.change < math.inf
    assert 1e-12 < one.residual < 1e-3
    two = solve(S, 4, device, tol=1e-12, max_iter=2)
    assert not two.converged and two.n_iter == 2 and 0.0 <= two.change < math.inf


def test_a_cycle_checks_at_its_checkpoint_and_goes_on_before_restarting(monkeypatch, device):
    # 1,200 nodes: a Rayleigh-Ritz check costs more than half a block's product here, so a cycle
    # checks at KRYLOV_CHECK blocks, every KRYLOV_RECHECK blocks after that and when full,
    # nowhere else.
    S = normalized_affinity(1200, 2)
    k = 4
    p = eigsolve.kept_size(1200, k)
    checkpoint, cap = p + eigsolve.KRYLOV_CHECK * eigsolve.KRYLOV_BLOCK, eigsolve.basis_size(1200, k)
    sizes = []
    real = eigsolve._rayleigh_ritz
    monkeypatch.setattr(eigsolve, "_rayleigh_ritz", lambda Vt, SVt, keep: sizes.append(Vt.shape[0]) or real(Vt, SVt, keep))
    # Unreachable tolerance, one cycle: checked at the checkpoint and on the way, extended to the
    # full basis (not restarted), checked there.
    one = solve(S, k, device, tol=1e-12, max_iter=1)
    # (A block can come out short where directions drop as rounding noise: a check then waits for
    # the first block that reaches its size.)
    step, b = eigsolve.KRYLOV_RECHECK * eigsolve.KRYLOV_BLOCK, eigsolve.KRYLOV_BLOCK
    assert checkpoint <= sizes[0] < checkpoint + b and sizes[-1] == cap
    assert len(sizes) >= 3 and all(step <= y - x < step + b for x, y in zip(sizes[:-2], sizes[1:-1], strict=True))
    assert 0 < sizes[-1] - sizes[-2] < step + b
    assert one.products == cap and not one.converged
    # Converged by the checkpoint: it stops there, without the remaining blocks.
    sizes.clear()
    easy = solve(S, k, device, tol=1e-3)
    assert easy.converged and easy.n_iter == 1 and sizes == [easy.products] and easy.products < cap


def test_ncut_warns_and_records_when_the_eigensolver_runs_out(planted_parts, monkeypatch, device):
    monkeypatch.setattr(eigsolve, "TOL", 1e-12)  # unreachable: the one-cycle budget runs out
    monkeypatch.setattr("ncut_widget.engine.ncut.TOL", 1e-12)
    X = planted_parts[0][:1200]
    model = Ncut(n_eig=5, n_sample=1200, eig_max_iter=1, device=device)  # exact path, 1,200 > DENSE_EIGH_MAX
    with pytest.warns(NcutConvergenceWarning, match=r"eig_max_iter=1 cycles .*residuals .* up to \d\.\de-\d\d"):
        vecs, _ = model.fit_transform(X)
    assert model.converged_ is False and model.n_iter_ == 1
    assert vecs.shape == (1200, 5)  # still a result, flagged as unconverged
    nystrom = Ncut(n_eig=5, n_sample=1100, eig_max_iter=2, device=device)
    with pytest.warns(NcutConvergenceWarning, match=r"eig_max_iter=2 cycles"):
        nystrom.fit(planted_parts[0])
    assert nystrom.converged_ is False and nystrom.n_iter_ == 2


@pytest.mark.parametrize("n_sample", [400, 1100, 1500], ids=["dense-nystrom", "iter-nystrom", "exact"])
def test_ncut_converges_silently_by_default(planted_parts, n_sample, device):
    X = planted_parts[0][:1500]
    with warnings.catch_warnings():
        warnings.simplefilter("error", NcutConvergenceWarning)
        model = Ncut(n_eig=5, n_sample=n_sample, device=device).fit(X.to(device))
    assert model.converged_ is True and model.n_iter_ >= 1


def test_eig_max_iter_must_be_positive():
    with pytest.raises(ValueError, match="eig_max_iter must be >= 1"):
        Ncut(eig_max_iter=0)


def test_convergence_warning_is_a_user_warning():
    assert issubclass(NcutConvergenceWarning, UserWarning)


# ---------------------------------------------------------------- sign convention
def test_clear_weighted_sum_is_made_positive():
    v = torch.tensor([[-1.0, 1.0], [-2.0, 2.0], [0.5, -0.5], [-0.1, 0.1]])
    out = fix_signs(v)
    assert torch.equal(out[:, 0], -v[:, 0]) and torch.equal(out[:, 1], v[:, 1])


def test_mass_weights_decide_the_sum():
    v = torch.tensor([[1.0], [-0.4], [-0.4]])  # unweighted sum 0.2 > 0, weighted -0.6 < 0
    assert float(fix_signs(v)[0, 0]) == 1.0
    assert float(fix_signs(v, torch.tensor([1.0, 2.0, 2.0]))[0, 0]) == -1.0


def test_near_zero_sum_falls_back_to_the_largest_entry():
    # The sum is ~0 and its sign is rounding noise: two columns that differ by 1e-7 used to get
    # opposite signs. The largest entry (3) decides instead, for both.
    base = torch.tensor([3.0, -1.0, -1.0, -1.0], dtype=torch.float64)
    up, down = base.clone(), base.clone()
    up[3] += 1e-7
    down[3] -= 1e-7
    for col in (base, up, down, -up, -down):
        out = fix_signs(col.unsqueeze(1)).squeeze(1)
        assert float(out[0]) == 3.0, out


def test_ties_at_the_largest_magnitude_pick_the_first_row():
    v = torch.tensor([[0.5], [-2.0], [2.0], [-0.5]])  # sum 0, |-2| ties |2|: row 1 decides
    assert fix_signs(v).squeeze(1).tolist() == [-0.5, 2.0, -2.0, 0.5]


def test_threshold_is_relative_to_the_weighted_absolute_sum():
    # The sum (positive) and the largest entry (negative) disagree; which decides depends on
    # whether |sum| / sum|v| reaches SIGN_SUM_RATIO (5%).
    below = torch.tensor([[-1.0], [0.9], [0.18]])  # 0.08 / 2.08 = 3.8%: the largest entry decides
    assert SIGN_SUM_RATIO * 2.08 > 0.08
    assert float(fix_signs(below)[0, 0]) == 1.0
    above = torch.tensor([[-1.0], [0.9], [0.23]])  # 0.13 / 2.13 = 6.1%: the positive sum decides
    assert SIGN_SUM_RATIO * 2.13 < 0.13
    assert float(fix_signs(above)[0, 0]) == -1.0


def test_rule_is_sign_symmetric_and_order_free():
    V = torch.randn(500, 12, generator=torch.Generator().manual_seed(0))
    out = fix_signs(V)
    assert torch.equal(fix_signs(-V), out)
    assert torch.equal(fix_signs(out), out)  # idempotent
    perm = torch.randperm(500, generator=torch.Generator().manual_seed(1))
    assert torch.equal(fix_signs(V[perm]), out[perm])
    assert torch.equal(out.abs(), V.abs())  # only whole-column flips


def test_zero_column_is_left_alone():
    v = torch.zeros(4, 2)
    v[:, 1] = torch.tensor([0.0, -1.0, 0.0, 0.0])
    out = fix_signs(v)
    assert torch.equal(out[:, 0], torch.zeros(4)) and float(out[1, 1]) == 1.0


def test_fix_signs_rejects_bad_shapes():
    with pytest.raises(ValueError, match="vecs must be 2-D"):
        fix_signs(torch.zeros(5))
    with pytest.raises(ValueError, match=r"mass must have shape \(5,\)"):
        fix_signs(torch.zeros(5, 2), torch.ones(4))
