"""Affinities between nodes and the ``d_gamma`` rule that sets their sharpness.

``distance="cosine"``:    W_ij = exp(-(1 - cos(x_i, x_j)) / gamma)   (features L2-normalized)
``distance="euclidean"``: W_ij = exp(-||x_i - x_j||^2 / gamma)       (raw features)

``d_gamma`` is the target MEAN affinity of the graph, mean over all ordered pairs (self-pairs
included, where W = 1). It lies in (0, 1): smaller means a sharper graph. ``gamma`` is solved
for it in log space (Newton steps inside a bisection bracket).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

DISTANCES = ("cosine", "euclidean")
# Nodes drawn (uniformly, seeded) to estimate the mean affinity: 1,024^2 = 1M pairs put gamma
# within ~0.1% of the all-pairs solution on seed-shaped features, for ~6 cheap passes.
GAMMA_SAMPLE = 1024
# self_distances: row blocks (4 measured fastest of 2-8 for 1,024-2,048 rows), and the fewest
# rows to split (4 blocks of 64: smaller ones gain nothing).
SELF_PARTS = 4
SELF_MIN_ROWS = 256
# exp(x) = exp2(x * LOG2E): see scaled_exp_.
LOG2E = 1.0 / math.log(2.0)


def check_distance(distance: object) -> str:
    """Return ``distance`` when it is a known metric name, else raise naming it."""
    if not isinstance(distance, str):
        raise TypeError(f"distance must be a str, got {type(distance).__name__}")
    if distance not in DISTANCES:
        raise ValueError(f"distance must be one of {DISTANCES}, got {distance!r}")
    return distance


def prepare(X: torch.Tensor, distance: str, out: torch.Tensor | None = None) -> torch.Tensor:
    """Features as the metric sees them: L2-normalized rows for cosine, unchanged otherwise
    (``X`` itself, or a copy written into ``out``, a float32 tensor of ``X``'s shape)."""
    if distance == "cosine":
        return F.normalize(X, dim=1, out=out)
    return X if out is None else out.copy_(X)


def sq_norms(P: torch.Tensor, distance: str) -> torch.Tensor | None:
    """Row squared norms needed by :func:`distances` (``None`` for cosine)."""
    return None if distance == "cosine" else P.pow(2).sum(dim=1)


def distances(
    A: torch.Tensor,
    B: torch.Tensor,
    distance: str,
    a_sq: torch.Tensor | None = None,
    b_sq: torch.Tensor | None = None,
    *,
    out: torch.Tensor | None = None,
    scale: float = 1.0,
) -> torch.Tensor:
    """``(n, m)`` float32 distances between prepared rows: ``1 - cos`` or squared euclidean,
    times ``scale`` at no extra pass (written into ``out``, a float32 ``(n, m)`` tensor, when
    given)."""
    if distance == "cosine":
        s = torch.full((), scale, dtype=A.dtype, device=A.device)
        return torch.addmm(s, A, B.T, alpha=-scale, out=out).clamp_min_(0)
    a_sq = A.pow(2).sum(1) if a_sq is None else a_sq
    b_sq = B.pow(2).sum(1) if b_sq is None else b_sq
    if scale != 1.0:
        a_sq, b_sq = a_sq * scale, b_sq * scale
    D = torch.addmm(b_sq.unsqueeze(0), A, B.T, alpha=-2.0 * scale, out=out).add_(a_sq.unsqueeze(1))
    return D.clamp_min_(0)


def self_distances(P: torch.Tensor, distance: str) -> torch.Tensor:
    """``(n, n)`` float32 :func:`distances` of prepared rows ``P`` to themselves.

    Only the blocks on and above the diagonal are multiplied (``SELF_PARTS`` row blocks, each
    against the columns from its own first one on); those below are their transposed copies.
    10/16 of the flops: the 2,048 anchors' 768-wide distances took 37-40 ms instead of 47-54 ms
    with AVX2 kernels, 20-21 ms instead of 23-28 ms with AVX-512 ones.
    """
    n = P.shape[0]
    if n < SELF_MIN_ROWS:
        return distances(P, P, distance)
    sq = sq_norms(P, distance)
    out = torch.empty((n, n), dtype=torch.float32, device=P.device)
    bounds = [n * i // SELF_PARTS for i in range(SELF_PARTS + 1)]
    for a, b in zip(bounds, bounds[1:], strict=False):
        norms = (None, None) if sq is None else (sq[a:b], sq[a:])
        distances(P[a:b], P[a:], distance, *norms, out=out[a:b, a:])
    for a, b in zip(bounds[1:], bounds[2:], strict=False):
        out[a:b, :a] = out[:a, a:b].T
    return out


def scaled_exp_(x: torch.Tensor, scale: float, out: torch.Tensor | None = None) -> torch.Tensor:
    """``exp(scale * x)`` into ``out`` (default: ``x``, in place), as ``exp2(scale * log2(e) *
    x)``: float32 or float64 tensors of any shape; returns ``out``.

    torch's ``exp2`` ran ~2x faster than its ``exp`` on an AMD EPYC with AVX2 kernels (a 512 x
    2,048 float32 block: 0.33 against 0.55-0.65 ms; no range reduction by ln 2; not measured
    with AVX-512 kernels), and these exponentials were a quarter of the Nystrom extension's
    per-node time. Folding ``log2(e)`` into the factor adds two float32 roundings of the
    argument (the factor's and the product's): relative error below ``|scale * x| * 2^-23`` in
    the result, ~1e-5 at the smallest normal affinity.
    """
    return torch.mul(x, scale * LOG2E, out=x if out is None else out).exp2_()


def affinity_(D: torch.Tensor, gamma: float) -> torch.Tensor:
    """Turn distances into affinities in place: ``exp(-D / gamma)``."""
    return scaled_exp_(D, -1.0 / gamma)


def _offdiag_target(d_gamma: float, n_nodes: int) -> float:
    # The graph mean counts N self-pairs at W = 1; the sample below has no self-pairs, so aim
    # its off-diagonal mean at the value that makes the whole-graph mean equal d_gamma.
    return (d_gamma - 1.0 / n_nodes) / (1.0 - 1.0 / n_nodes)


def sample_distances(P: torch.Tensor, distance: str, *, seed: int, size: int = GAMMA_SAMPLE) -> torch.Tensor:
    """Off-diagonal pairwise distances among a seeded uniform sample of ``size`` prepared rows."""
    n = P.shape[0]
    if n > size:
        gen = torch.Generator().manual_seed(seed + 1)
        P = P[torch.randperm(n, generator=gen)[:size].to(P.device)]
    else:
        P = P[:]  # (also reads lazily prepared rows)
    D = self_distances(P, distance)
    m = D.shape[0]
    # Drop the diagonal without a boolean mask (10x faster): in the flattened matrix the
    # diagonal entries are every (m + 1)-th, starting at 0.
    return D.flatten()[1:].view(m - 1, m + 1)[:, :-1].reshape(-1) if m > 1 else D.flatten()[:0]


def solve_gamma(D_offdiag: torch.Tensor, d_gamma: float, n_nodes: int, *, tol: float = 1e-5) -> float:
    """Solve ``log gamma`` (safeguarded Newton) so ``n_nodes`` nodes have mean affinity ``d_gamma``.

    Args:
        D_offdiag: 1-D float tensor of distances (>= 0) between distinct nodes (a sample of
            pairs).
        d_gamma: target mean affinity in (0, 1), self-pairs included.
        n_nodes: size of the whole graph (sets the self-pair share of the mean).

    Returns:
        ``gamma`` (python float). Raises ``ValueError`` when no positive gamma reaches the
        target (e.g. all sampled nodes are identical, or d_gamma is below the self-pair share).
    """
    target = _offdiag_target(d_gamma, n_nodes)
    # Distances are >= 0, so the positive ones are the nonzero ones: their max and sum are the
    # whole sample's, and only a sample holding zeros (duplicate nodes) needs a masked min.
    count = int(torch.count_nonzero(D_offdiag))
    if target <= 0 or count == 0:
        raise ValueError(
            f"d_gamma={d_gamma} cannot be reached: the sampled nodes are all identical or the "
            f"graph ({n_nodes} nodes) is too small for so low a mean affinity"
        )
    smallest = float(D_offdiag.min())
    if smallest <= 0:
        smallest = float(D_offdiag[D_offdiag > 0].min())
    # Bracket: mean -> 0 as gamma -> 0 and -> 1 as gamma -> inf; these bounds are far enough.
    lo = math.log(smallest * 1e-3)
    hi = math.log(float(D_offdiag.max()) * 1e4)
    D = D_offdiag.to(torch.float64) if D_offdiag.numel() < 1_000_000 else D_offdiag.contiguous()
    # Safeguarded Newton in t = log(gamma): mean(W) rises monotonically in t, so keep a bracket
    # and bisect whenever a Newton step would leave it. ~6 passes instead of ~30 for bisection.
    # Start at the mean positive distance (the median, 30x slower to find, saved no pass).
    t = math.log(float(D.sum()) / count)
    W = torch.empty_like(D)  # one buffer for every pass
    for _ in range(200):
        scaled_exp_(D, -math.exp(-t), out=W)
        mean = float(W.mean())
        if abs(mean - target) < tol or hi - lo < 1e-12:
            break
        if mean > target:
            hi = t
        else:
            lo = t
        slope = float(torch.dot(W, D)) / D.numel() * math.exp(-t)  # d mean / d t
        step = t + (target - mean) / slope if slope > 0 else math.nan
        t = step if lo < step < hi else 0.5 * (lo + hi)
    return math.exp(t)


def median_gamma(D_offdiag: torch.Tensor) -> float:
    """The ``d_gamma=None`` rule: gamma = median pairwise distance (the median pair gets W = 1/e).

    The lower median (``torch.median``'s), on the CPU by ``numpy.partition``: the same element
    in 2.3 ms instead of 12.6 ms for the 1,047,552 distances of the default sample."""
    if D_offdiag.device.type == "cpu" and D_offdiag.numel() > 0:
        k = (D_offdiag.numel() - 1) // 2
        med = float(np.partition(D_offdiag.detach().contiguous().numpy(), k)[k])
    else:
        med = float(D_offdiag.median())
    if med <= 0:
        raise ValueError("cannot pick gamma: the median distance between sampled nodes is 0")
    return med
