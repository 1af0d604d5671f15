"""t-SNE coloring: a sparse, batched t-SNE in torch (kNN attraction, sampled repulsion)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import torch

from ..engine.checks import check_int
from ..engine.memory import check_memory, largest_fitting
from ..engine.precision import full_float32
from ..progress import ProgressFn, resolve_progress
from ._common import check_color_inputs, layout_all
from .knn_graph import _BLOCK_ELEMENTS as _KNN_BLOCK_ELEMENTS
from .knn_graph import cosine_knn, perplexity_affinities

# Measured on eigenvectors of real DINOv2 features (benchmarks/coloring.py, 25,600 nodes):
# 256 negatives preserve neighbours as well as 512, perplexity 10 as well as 15; a 2,000-node
# sample as well as 3,000 (0.386 vs 0.389) and faster. Steps (mean of 2 seeds, 10-NN
# preservation on real / seed-shaped 25,600 / 10,240 nodes): 75: 0.372/0.129/0.176,
# 100: 0.380/0.131/0.181, 150: 0.381/0.133/0.184, 250: 0.382/0.135/0.187 -- 100 steps keep
# 98-99% of what 250 reach in 40% of the time.
_EARLY_EXAGGERATION = 12.0
_EARLY_FRACTION = 0.25
_N_NEGATIVES = 256
_NEIGHBORS_PER_PERPLEXITY = 3
_BLOCK_ELEMENTS = 1 << 21


@full_float32
def tsne_color(
    eigvecs: Any,
    num_sample: int = 2000,
    knn: int = 10,
    perplexity: float = 10.0,
    device: str | torch.device | None = None,
    seed: int = 0,
    progress: bool | ProgressFn | None = None,
    n_iter: int = 100,
) -> tuple[torch.Tensor, torch.Tensor]:
    """3D t-SNE layout of NCUT eigenvectors and an RGB colour for every node.

    ``num_sample`` nodes picked by farthest point sampling are laid out by t-SNE on cosine
    similarity; every other node is placed at a similarity-weighted mean of its ``knn`` most
    similar sampled nodes. With ``num_sample >= N`` every node is laid out.

    Args:
        eigvecs: ``(N, K)`` torch tensor or numpy array of eigenvectors, ``K >= 3``, finite.
        num_sample: how many nodes t-SNE lays out; must be ``>= knn``.
        knn: sampled nodes each other node is placed from; ``>= 1``.
        perplexity: t-SNE perplexity (effective neighbours); clipped to what the sample allows.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``None`` (CUDA when available).
        seed: fixes sampling, initialisation and negative samples; same input and seed give
            the same output whatever the global RNG state.
        progress: ``True`` for tqdm bars, or a ``progress(stage, done, total)`` callable.
        n_iter: gradient steps (the first quarter with early exaggeration).

    Returns:
        ``(X_3d, rgb)``: ``(N, 3)`` float32 layout and ``(N, 3)`` float32 colours in
        ``[0, 1]`` (per-axis 1%-99% quantile scaling of ``X_3d``), both on the CPU.

    Raises:
        MemoryBudgetError: (a ``ValueError``) the layout's working memory
            (:func:`tsne_bytes`, linear in ``min(num_sample, N)``) exceeds the memory budget
            (see ``ncut_widget.engine.memory``); the message names the largest ``num_sample``
            that fits.
    """
    X, num_sample, knn, dev = check_color_inputs(eigvecs, num_sample, knn, device)
    if isinstance(perplexity, bool) or not isinstance(perplexity, (int, float)):
        raise TypeError(f"perplexity must be a number, got {type(perplexity).__name__}")
    if not perplexity >= 1:
        raise ValueError(f"perplexity must be >= 1, got {perplexity}")
    n_iter = check_int(n_iter, "n_iter", minimum=1)
    seed = check_int(seed, "seed")
    n, dims = X.shape
    m = min(num_sample, n)
    check_memory(
        tsne_bytes(n, dims, m, knn, perplexity),
        dev,
        what=f"tsne_color on {n} nodes ({m} laid out by t-SNE)",
        advice=lambda budget: _num_sample_advice(n, dims, knn, perplexity, budget, m),
    )
    report = resolve_progress(progress)

    def layout(Xs: torch.Tensor, dev: torch.device) -> torch.Tensor:
        return tsne_layout(Xs, perplexity=float(perplexity), n_iter=n_iter, seed=seed, progress=report)

    return layout_all(X, num_sample, knn, seed, dev, report, layout)


def tsne_bytes(n: int, dims: int, num_sample: int, knn: int, perplexity: float) -> int:
    """Estimated peak bytes of :func:`tsne_color` on ``n`` nodes of ``dims`` eigenvectors.

    Per laid-out node: its features, its kNN list and affinities with their bisection
    temporaries, and the attraction's symmetric edges (at most ``2 k`` per node, ``k = 3 *
    perplexity`` neighbours: 36 bytes each stored, 28 more in each step's temporaries), about
    ``4 * dims + 128 * k + 96`` bytes; plus the similarity and repulsion blocks (fixed size),
    and when ``num_sample < n`` each node's ``knn`` propagation neighbours.
    """
    m = min(num_sample, n)
    k = min(max(m - 1, 1), max(1, round(_NEIGHBORS_PER_PERPLEXITY * perplexity)))
    layout = m * (4 * dims + 128 * k + 96) + 4 * max(_KNN_BLOCK_ELEMENTS, m) + 4 * _BLOCK_ELEMENTS
    propagate = 0 if m >= n else n * (24 * knn + 48)
    return layout + propagate


def _num_sample_advice(n: int, dims: int, knn: int, perplexity: float, budget: int, m: int) -> str:
    fits = largest_fitting(lambda s: tsne_bytes(n, dims, s, knn, perplexity), budget, m)
    if fits < knn:
        return "Not even num_sample=knn fits: free memory, or lower the number of nodes."
    return f"Use num_sample <= {fits}."


@torch.no_grad()
def tsne_layout(
    Xn: torch.Tensor,
    *,
    perplexity: float,
    n_iter: int,
    seed: int,
    progress: ProgressFn,
) -> torch.Tensor:
    """t-SNE of unit rows ``Xn`` ``(M, K)`` into ``(M, 3)`` float32, on ``Xn.device``.

    Attraction runs over the perplexity-calibrated kNN edges only; repulsion is the exact
    Student-t gradient against a fresh random subset of ``_N_NEGATIVES`` points per step,
    whose normalisation cancels the subset size (exact when ``M`` is small).
    """
    m, dev = Xn.shape[0], Xn.device
    if m < 3:  # nothing to optimise: spread the points along the first axis
        return torch.nn.functional.pad(torch.arange(m, dtype=torch.float32, device=dev)[:, None], (0, 2))
    k = min(m - 1, max(1, round(_NEIGHBORS_PER_PERPLEXITY * perplexity)))
    # A small sample cannot support the requested perplexity: use what its kNN lists allow.
    perplexity = min(perplexity, max(1.0, k / _NEIGHBORS_PER_PERPLEXITY))
    progress("Coloring: t-SNE", 0, n_iter)
    nbr, sim = cosine_knn(Xn, k)
    p = perplexity_affinities((2 - 2 * sim).clamp_min(0), perplexity)
    edges = _symmetric_edges(nbr, p / (2 * m))  # each directed edge is half of a symmetric P entry

    gen = torch.Generator().manual_seed(seed)
    Y = _pca_init(Xn)
    update = torch.zeros_like(Y)
    gains = torch.ones_like(Y)
    n_early = max(1, int(n_iter * _EARLY_FRACTION))
    exact = m <= _N_NEGATIVES
    for step in range(n_iter):
        early = step < n_early
        exaggeration = _EARLY_EXAGGERATION if early else 1.0
        momentum = 0.5 if early else 0.8
        lr = max(m / exaggeration, 50.0)
        grad = exaggeration * _attraction(Y, edges) - _repulsion(Y, gen, exact)
        flip = torch.sign(grad) != torch.sign(update)
        gains = torch.where(flip, gains + 0.2, gains * 0.8).clamp_(min=0.01)
        update = momentum * update - lr * gains * grad
        Y += update
        if step == n_early - 1:  # momentum and gains restart with the real objective
            update.zero_()
            gains.fill_(1.0)
        if (step + 1) % 50 == 0 or step + 1 == n_iter:
            progress("Coloring: t-SNE", step + 1, n_iter)
    return Y - Y.mean(dim=0)


def _pca_init(Xn: torch.Tensor) -> torch.Tensor:
    """Top 3 principal components, rescaled to a tiny spread as t-SNE expects."""
    centered = Xn - Xn.mean(dim=0)
    # Exact eigendecomposition of the small (K, K) covariance: deterministic, no RNG.
    cov = centered.T @ centered
    _, vecs = torch.linalg.eigh(cov.double())
    Y = centered @ vecs[:, -3:].flip(1).to(Xn.dtype)
    # Fix signs so the layout does not flip between platforms.
    signs = torch.sign(Y[Y.abs().argmax(dim=0), torch.arange(3, device=Y.device)])
    Y = Y * torch.where(signs == 0, torch.ones_like(signs), signs)
    return Y / Y[:, 0].std().clamp_min(1e-12) * 1e-4


@dataclass(frozen=True)
class _Edges:
    """The symmetric kNN affinity ``P`` (``m x m``, each pair once per direction) as CSR, with the
    flat gather indices of its rows and columns in a ``(3, m)`` layout (``Y.T``)."""

    offsets: torch.Tensor  # (m + 1,) int64 CSR row offsets
    cols: torch.Tensor  # (E,) int64 column of each entry, ascending within a row
    values: torch.Tensor  # (E,) float32 P_ij
    flat_rows: torch.Tensor  # (3 E,) int32: i + c * m for coordinate c of each entry's row i
    flat_cols: torch.Tensor  # (3 E,) int32: j + c * m


def _symmetric_edges(nbr: torch.Tensor, p: torch.Tensor) -> _Edges:
    """The symmetric affinity ``P_ij = p[i -> j] + p[j -> i]`` of the kNN lists ``nbr`` ``(m, k)``
    as CSR, rows ascending (duplicates summed)."""
    m, k = nbr.shape
    src = torch.arange(m, device=nbr.device).repeat_interleave(k)
    dst = nbr.reshape(-1)
    keys = torch.cat([src * m + dst, dst * m + src])
    # Each pair appears at most twice (i lists j, j lists i): the sum of two values does not
    # depend on their order, so this is deterministic on every device.
    unique, inverse = torch.unique(keys, sorted=True, return_inverse=True)
    vals = torch.zeros(unique.shape[0], dtype=p.dtype, device=p.device)
    vals.index_add_(0, inverse, torch.cat([p.reshape(-1), p.reshape(-1)]))
    rows, cols = unique // m, unique % m
    offsets = torch.zeros(m + 1, dtype=torch.long, device=nbr.device)
    offsets[1:] = torch.bincount(rows, minlength=m).cumsum(0)
    coord = torch.arange(3, device=nbr.device).unsqueeze(1) * m
    # int32 halves the gather indices' memory (3 m < 2**31 for any layout that fits in memory).
    flat_rows = (rows + coord).reshape(-1).to(torch.int32)
    return _Edges(offsets, cols, vals, flat_rows, (cols + coord).reshape(-1).to(torch.int32))


def _csr(edges: _Edges, values: torch.Tensor, m: int) -> torch.Tensor:
    with warnings.catch_warnings():
        # A one-time "sparse CSR is in beta" notice; CSR x dense has been stable since 1.13.
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta", category=UserWarning)
        return torch.sparse_csr_tensor(edges.offsets, edges.cols, values, size=(m, m), check_invariants=False)


def _attraction(Y: torch.Tensor, edges: _Edges) -> torch.Tensor:
    """Attractive gradient ``sum_j P_ij q_ij (y_i - y_j)`` over the symmetric kNN edges, as
    ``y_i sum_j w_ij - sum_j w_ij y_j`` with ``w_ij = P_ij q_ij``: one product of the CSR ``w``
    with ``[Y, 1]``. Each row's sum runs over that row's entries in order, on the CPU and in
    cuSPARSE's (non-transposed) CSR product, so it is deterministic on every device, unlike a
    scatter-add. The per-entry distances come from flat gathers of ``Y.T`` (contiguous 1-D
    gathers: 3x faster than gathering ``(E, 3)`` rows)."""
    m, n_edges = Y.shape[0], edges.cols.shape[0]
    Yt = Y.T.contiguous().view(-1)
    diff = Yt.index_select(0, edges.flat_rows).sub_(Yt.index_select(0, edges.flat_cols)).view(3, n_edges)
    w = edges.values / diff.mul_(diff).sum(dim=0).add_(1)
    sums = _csr(edges, w, m) @ torch.cat([Y, torch.ones_like(Y[:, :1])], dim=1)
    return Y * sums[:, 3:] - sums[:, :3]


def _repulsion(Y: torch.Tensor, gen: torch.Generator, exact: bool) -> torch.Tensor:
    m = Y.shape[0]
    if exact:
        neg = Y
    else:
        neg = Y[torch.randint(m, (_N_NEGATIVES,), generator=gen).to(Y.device)]
    # 1 + |y - n|^2 = [y, 1, |y|^2 + 1] . [-2 n, |n|^2, 1]: one product, no passes to add them.
    neg_aug = torch.cat([neg * -2.0, neg.pow(2).sum(dim=1, keepdim=True), torch.ones_like(neg[:, :1])], dim=1)
    Y_aug = torch.cat([Y, torch.ones_like(Y[:, :1]), Y.pow(2).sum(dim=1, keepdim=True).add_(1)], dim=1)
    out = torch.empty_like(Y)
    z = torch.zeros((), dtype=Y.dtype, device=Y.device)
    # Row blocks keep each temporary under ~8 MB: larger ones are fresh mmaps on every call
    # (glibc), and their page faults cost more than the arithmetic on CPU.
    rows = max(1, _BLOCK_ELEMENTS // neg.shape[0])
    for start in range(0, m, rows):
        Yb = Y[start : start + rows]
        w = (Y_aug[start : start + rows] @ neg_aug.T).clamp_(min=1).reciprocal_()  # q = 1 / (1 + d^2)
        z += w.sum()
        w.pow_(2)
        out[start : start + rows] = Yb * w.sum(dim=1, keepdim=True) - w @ neg
    # Z over all pairs, estimated from the subset; the subset size cancels with the numerator's.
    return out / (z - neg.shape[0]).clamp_min(1e-12)  # minus the i == j pairs
