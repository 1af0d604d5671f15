"""Top eigenpairs of a symmetric normalized affinity ``D^-1/2 W D^-1/2``, and the sign convention.

Large matrices are solved by a thick-restart block Krylov method (block Lanczos with full
reorthogonalisation, restarted on the Ritz vectors it keeps). Per product with the matrix it
converges far faster than subspace iteration on spectra like NCUT's -- a few large eigenvalues
(the planted parts), then clusters of near-equal small ones -- and it stops on residuals, so
"converged" means every returned pair satisfies ``|S v - lambda v| <= tol`` (relative), which
bounds the eigenvalue error by the same amount.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch

# Below this size a full dense eigh is both exact and fast (5,120 in float64 took 41 s on 2 cores: keep it small).
DENSE_EIGH_MAX = 1000
# Default step limit (restart cycles) and residual tolerance, relative to the largest eigenvalue.
# 1e-5 put every eigenvalue of a 10,240-node seed-shaped graph within 3e-7 of a float64 dense
# solve and its top-50 eigenvectors at 0.9999 mean principal cosine (its 50th eigenvalue sits
# in a bulk of thousands that differ by 1e-6); 1e-4 left that subspace at 0.91-0.96.
MAX_ITER = 100
TOL = 1e-5
# Krylov block: columns multiplied by the matrix at once, and blocks added per restart cycle.
# 16 columns needed the fewest products of 8-48 measured; wider blocks run faster per column
# but need more of them. A cycle checks its Ritz pairs after KRYLOV_CHECK blocks and every
# KRYLOV_RECHECK blocks after that, up to KRYLOV_BLOCKS before it restarts: 8 blocks were
# enough for 5-20 eigenpairs of the seed-shaped cell graphs (149-164 products, one cycle); 50
# eigenpairs of the 2,048-anchor cell graph of 25,600 nodes need 17 blocks from a random start,
# so a cycle of 12 restarted (386 products, 114 ms on an AMD EPYC with AVX2) where 16 with a
# check every 2 blocks converge in one (272 products, 78-86 ms). The 25,600-node exact graph
# converges in one cycle either way (224 products).
KRYLOV_BLOCK = 16
KRYLOV_CHECK = 8
KRYLOV_RECHECK = 2
KRYLOV_BLOCKS = 16
# Sign convention: the weighted column sum decides the sign when it is at least this share of the
# weighted absolute sum. Non-leading eigenvectors are orthogonal to the (nearly constant) leading
# one, so their sums are ~0.1-1% of that scale and flip with rounding; 5% is far from both.
SIGN_SUM_RATIO = 0.05
# A new Krylov direction whose norm falls below this share of its norm before orthogonalisation
# already lies in the basis (rounding noise): it is dropped.
_DEPENDENT = 1e-4


class NcutConvergenceWarning(UserWarning):
    """The eigensolver stopped at its step limit before its residuals reached ``tol``."""


class EighResult(NamedTuple):
    """What :func:`top_eigh` found, and whether it got there.

    Attributes:
        values: ``(k,)`` float32 eigenvalues, descending.
        vectors: ``(n, k)`` float32 orthonormal eigenvectors (columns), same order.
        converged: ``True`` when every kept pair's residual ``|S v - lambda v|`` is at most ``tol``
            times the largest eigenvalue (always ``True`` for the dense path).
        n_iter: restart cycles taken (1 for the dense path).
        change: the largest change of a kept eigenvalue since the previous Rayleigh-Ritz check
            (``0.0`` for the dense path, ``inf`` when there was only one check).
        residual: the largest relative residual of a kept pair (``0.0`` for the dense path).
        products: matrix-vector products spent (columns multiplied by ``S``; ``n`` for the
            dense path).
    """

    values: torch.Tensor
    vectors: torch.Tensor
    converged: bool
    n_iter: int
    change: float
    residual: float = 0.0
    products: int = 0


def kept_size(n: int, k: int) -> int:
    """Ritz vectors kept across restarts for ``k`` eigenpairs of an ``n x n`` matrix."""
    return min(n, k + max(16, k // 4))


def basis_size(n: int, k: int) -> int:
    """Largest Krylov basis of :func:`top_eigh` (kept Ritz vectors plus one cycle's blocks)."""
    p = kept_size(n, k)
    return min(n, p + KRYLOV_BLOCKS * min(KRYLOV_BLOCK, p))


def top_eigh_bytes(n: int, k: int) -> int:
    """Upper bound on the working memory of :func:`top_eigh` beyond ``S`` itself, in bytes.

    Dense path: the float64 copy of ``S``, its eigenvectors and LAPACK workspace (3 x 8 n^2).
    Krylov: the basis and its image under ``S`` (2 x basis columns), the kept Ritz vectors, their
    images and residuals (3 x kept) and a few block-sized temporaries, all float32 ``n``-vectors.
    """
    if n <= DENSE_EIGH_MAX:
        return 3 * 8 * n * n
    return 4 * n * (2 * basis_size(n, k) + 3 * kept_size(n, k) + 4 * KRYLOV_BLOCK)


def _apply(S: Any, Bt: torch.Tensor, scale: torch.Tensor | None) -> torch.Tensor:
    """``(diag(scale) S diag(scale) B)^T`` for row-stored ``Bt`` ``(b, n)``; ``S`` is symmetric, so
    this is ``Bt @ S`` (a tensor) or ``S.rmatmul(Bt)`` (an operator such as ``UpperBlocks``)."""
    if scale is not None:
        Bt = Bt * scale
    if isinstance(S, torch.Tensor):
        # (S @ B)^T, not Bt @ S (equal: S is symmetric): BLAS ran the tall form faster on thin
        # blocks, 1.26 against 1.59 ms for 16 columns of a 2,048-square float32 S (AVX2).
        out = (S @ Bt.T).T.contiguous()
    else:
        out = S.rmatmul(Bt)
    return out if scale is None else out.mul_(scale)


def _small_eigh(H: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``torch.linalg.eigh`` of a small symmetric float64 matrix (a block's Gram matrix, 16 x 16,
    or the Rayleigh-Ritz projection, at most a few hundred square), on the CPU whatever ``H``'s
    device: LAPACK takes microseconds to milliseconds there, where a GPU solver call is latency-
    bound, and the callers read the eigenvalues on the host anyway. Returns CPU tensors."""
    return torch.linalg.eigh(H.cpu())


def _orthonormal_rows(Bt: torch.Tensor, Vt: torch.Tensor) -> torch.Tensor:
    """Rows of ``Bt`` made orthonormal to the rows of ``Vt`` and to each other; directions that were
    (numerically) inside ``span(Vt)`` or of the other rows are dropped.

    Two passes of block Gram-Schmidt against ``Vt``, then two passes of SVQB (whitening by the
    eigendecomposition of the small Gram matrix): unlike Householder QR on a tall thin block
    (slow in LAPACK at these shapes) it is two thin matrix products, and it drops dependent
    directions instead of inventing arbitrary ones.
    """
    before = Bt.norm(dim=1).clamp_min(torch.finfo(Bt.dtype).tiny)
    Bt = Bt / before[:, None]
    for _ in range(2):
        if Vt.shape[0]:
            Bt = Bt - (Bt @ Vt.T) @ Vt
    for rnd in range(2):
        B64 = Bt.double()  # a float64 Gram: a float32 one would square the block's condition number
        G = B64 @ B64.T
        lam, U = _small_eigh(0.5 * (G + G.T))
        # Round 1 drops what the projection left at rounding level (norm below _DEPENDENT);
        # round 2 only re-normalises (its Gram is the identity up to rounding).
        keep = lam > (_DEPENDENT**2 if rnd == 0 else 1e-3) * max(float(lam.max()), 0.0)
        if not bool(keep.any()):
            return Bt[:0]
        Bt = ((U[:, keep] / lam[keep].sqrt()).T.to(Bt.device, Bt.dtype)) @ Bt
        if Vt.shape[0] and rnd == 0:  # whitening mixes rounding-level parts of span(Vt) back in
            Bt = Bt - (Bt @ Vt.T) @ Vt
    return Bt.flip(0).contiguous()  # largest directions first (eigh sorts ascending)


def _rayleigh_ritz(
    Vt: torch.Tensor, SVt: torch.Tensor, keep: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The top ``keep`` Ritz pairs of the basis rows ``Vt`` (images ``SVt``): ``(values (keep,)
    float64 descending, vectors (keep, n), their images (keep, n), relative residual norms
    (keep,) float64)``. The small projected matrix is solved in float64."""
    H = (Vt @ SVt.T).double()
    theta, U = _small_eigh(0.5 * (H + H.T))
    theta = theta.flip(0)[:keep]
    top = float(theta[0].abs()) or 1.0  # read on the host, before theta goes to Vt's device
    theta, U = theta.to(Vt.device), U.flip(1)[:, :keep].to(Vt.device, Vt.dtype)
    Yt, SYt = U.T @ Vt, U.T @ SVt
    res = (SYt - theta.to(Vt.dtype)[:, None] * Yt).norm(dim=1).double() / top
    return theta, Yt, SYt, res


@torch.no_grad()
def top_eigh(
    S: Any,
    k: int,
    *,
    seed: int = 0,
    tol: float = TOL,
    max_iter: int = MAX_ITER,
    progress: Callable[[int, int], None] | None = None,
    scale: torch.Tensor | None = None,
) -> EighResult:
    """Largest ``k`` eigenpairs of a symmetric matrix ``A = diag(scale) S diag(scale)`` (float32).

    ``S`` is an ``(n, n)`` tensor or a symmetric operator with ``shape``, ``dtype``, ``device``,
    ``rmatmul(Bt) -> Bt @ S`` and ``to_dense()`` (:class:`~ncut_widget.engine.exact.UpperBlocks`).
    ``scale`` (``(n,)``, default none) lets a caller hold only ``W`` and solve
    ``D^-1/2 W D^-1/2`` without a pass over ``W`` to scale it. ``A`` should be positive
    semi-definite (the largest eigenvalues are the ones of largest magnitude then).

    Small matrices (``n <= DENSE_EIGH_MAX``) use ``torch.linalg.eigh`` in float64. Larger ones use
    thick-restart block Krylov: from a block of ``KRYLOV_BLOCK`` random vectors drawn from a
    ``torch.Generator`` seeded with ``seed``, each cycle extends the basis by up to
    ``KRYLOV_BLOCKS`` blocks (each the product of ``A`` with the previous block, orthogonalised
    against the whole basis), takes the Rayleigh-Ritz pairs of the basis after ``KRYLOV_CHECK``
    blocks, every ``KRYLOV_RECHECK`` blocks after that and when it is full (on large matrices,
    after every block), keeps the top
    ``k + max(16, k // 4)``, and restarts from them and the residuals of those not yet
    converged. It stops when every one of the top ``k`` residuals ``|A v - theta v|`` is at most
    ``tol * theta_1``, or after ``max_iter`` cycles. For a symmetric matrix that residual bounds
    each eigenvalue's error.

    ``progress(done, total)`` is called after each cycle (``total`` is ``max_iter``: the
    iteration usually stops early).

    Returns:
        :class:`EighResult`; tensors float32 on ``S``'s device. ``converged`` is ``False`` when
        ``max_iter`` ran out first; the caller decides whether to warn.
    """
    n = S.shape[0]
    if n <= DENSE_EIGH_MAX:
        S = S if isinstance(S, torch.Tensor) else S.to_dense()
        A = S.double() if scale is None else S.double() * scale.double()[:, None] * scale.double()[None, :]
        vals, vecs = torch.linalg.eigh(A)
        if progress is not None:
            progress(1, 1)
        return EighResult(vals.flip(0)[:k].float(), vecs.flip(1)[:, :k].float(), True, 1, 0.0, 0.0, n)
    if max_iter < 1:
        raise ValueError(f"max_iter must be >= 1, got {max_iter}")
    dev, dt = S.device, S.dtype
    p = kept_size(n, k)
    b = min(KRYLOV_BLOCK, p)
    cap = basis_size(n, k)
    checkpoint = min(cap, p + KRYLOV_CHECK * b)
    gen = torch.Generator().manual_seed(seed)
    # Rows are vectors throughout: Vt holds the basis (kept Ritz vectors first, then the Krylov
    # blocks), SVt its image under A.
    Vt = torch.empty((cap, n), dtype=dt, device=dev)
    SVt = torch.empty((cap, n), dtype=dt, device=dev)
    kept = 0
    Bt = _orthonormal_rows(torch.randn(b, n, generator=gen, dtype=torch.float32).to(dev, dt), Vt[:0])
    prev = None
    products = 0
    # Rayleigh-Ritz after every block, not only at the checks, where it costs less than half a
    # block's product with A (large n; its two products with the basis, ~cap * (cap + p) * n
    # flops, against b * n^2): the iteration then stops within a block of converging (on the
    # 25,600-node seed graph: 226 products instead of 322).
    check_often = cap * (cap + p) <= b * n // 2
    for it in range(max_iter):
        size = kept
        next_check = checkpoint  # basis size of this cycle's next Rayleigh-Ritz check
        if not Bt.shape[0]:  # nothing new to extend from: go on from random directions
            Bt = _orthonormal_rows(torch.randn(b, n, generator=gen, dtype=torch.float32).to(dev, dt), Vt[:size])
        while True:
            r = Bt.shape[0]
            Vt[size : size + r] = Bt
            SVt[size : size + r] = _apply(S, Bt, scale)
            products += r
            size += r
            room = cap - size
            full = room <= 0
            if not full:
                Bt = _orthonormal_rows(SVt[size - r : size - r + min(r, room)], Vt[:size])
                if not Bt.shape[0]:  # span(V) is invariant under A: go on from random directions
                    Bt = _orthonormal_rows(torch.randn(min(b, room), n, generator=gen, dtype=torch.float32).to(dev, dt), Vt[:size])
                full = not Bt.shape[0]  # nothing left outside span(V)
            at_checkpoint = size >= next_check
            if at_checkpoint:
                next_check = size + KRYLOV_RECHECK * b
            if not (full or at_checkpoint or (check_often and size >= k)):
                continue
            theta, Yt, SYt, res = _rayleigh_ritz(Vt[:size], SVt[:size], min(p, size))
            residual = float(res[:k].max())
            change = float("inf") if prev is None else float((theta[:k] - prev[:k]).abs().max())
            prev = theta
            exhausted = size >= n  # the basis spans everything: the Ritz pairs are exact
            done = residual <= tol or exhausted
            if done or (full and it == max_iter - 1):
                if progress is not None:
                    progress(it + 1, max_iter)
                return EighResult(theta[:k].float(), Yt[:k].T.contiguous(), done, it + 1, change, residual, products)
            if full:
                break
        if progress is not None:
            progress(it + 1, max_iter)
        # Restart from the kept Ritz vectors, continuing the Krylov sequence from the residuals
        # of the leading unconverged pairs (orthogonal to the basis already, up to rounding,
        # which the projection removes).
        kept = Yt.shape[0]
        Vt[:kept], SVt[:kept] = Yt, SYt
        Rt = SYt - theta.to(dt)[:, None] * Yt
        todo = torch.nonzero(res > tol).squeeze(1)[:b]
        Bt = _orthonormal_rows(Rt[todo], Vt[:kept])
    raise AssertionError("unreachable: the loop returns on its last cycle")


def fix_signs(vecs: torch.Tensor, mass: torch.Tensor | None = None) -> torch.Tensor:
    """Flip whole columns of ``vecs`` ``(n, k)`` by the sign convention; returns a new tensor.

    The rule, per column ``v`` with row weights ``w`` (``mass`` ``(n,)``, e.g. how many nodes an
    anchor stands for; all ones when ``None``), sums taken in float64:

    1. if ``|sum(w * v)| >= SIGN_SUM_RATIO * sum(w * |v|)`` (5%), the weighted sum is made
       positive;
    2. otherwise the entry of largest ``|v|`` (the lowest row index among exact ties) is made
       positive;
    3. an all-zero column is left as it is.

    Both tests are sign-symmetric, so ``fix_signs(-vecs)`` equals ``fix_signs(vecs)`` exactly,
    and neither hinges on a sum that is ~0: the non-leading eigenvectors are orthogonal to the
    leading one, so their weighted sums are rounding-sized and used to flip between machines.
    A column's sign can still differ between machines only when its sum ratio lies within
    rounding of 5%, or its two largest-magnitude entries of opposite signs tie to rounding.
    For a connected graph's first eigenvector (all entries of one sign) rule 1 applies and
    makes it positive on every node.
    """
    if vecs.ndim != 2:
        raise ValueError(f"vecs must be 2-D (n, k), got shape {tuple(vecs.shape)}")
    n = vecs.shape[0]
    v = vecs.double()
    w = torch.ones(n, dtype=v.dtype, device=v.device) if mass is None else mass.to(v)
    if w.shape != (n,):
        raise ValueError(f"mass must have shape ({n},), got {tuple(w.shape)}")
    total = w @ v
    scale = w @ v.abs()
    # argmax returns the first maximal index, so exact ties resolve to the lowest row.
    peak = v.gather(0, v.abs().argmax(dim=0, keepdim=True)).squeeze(0) if n else total
    by_sum = total.abs() >= SIGN_SUM_RATIO * scale
    s = torch.where(by_sum, torch.sign(total), torch.sign(peak))
    s[s == 0] = 1
    return vecs * s.to(vecs.dtype)
