"""Chunked nearest-anchor search and k-nearest-anchor propagation, shared by engine and coloring.

The ``(N, m)`` query-anchor scan runs in float32 or bfloat16; which one is decided once, by
:func:`scan_dtype`: an explicit ``precision`` argument, else the ``NCUT_WIDGET_SCAN`` environment
variable (read at every call), else ``"auto"`` (bfloat16 where its matmuls are fast: CUDA and AMX
CPUs). Forcing ``"bfloat16"`` runs that path on any CPU (emulated there: slower, same algorithm).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .checks import check_int
from .memory import check_memory, largest_fitting

SCAN_ENV = "NCUT_WIDGET_SCAN"
SCAN_CHOICES = ("auto", "float32", "bfloat16")
# Extra candidates the bfloat16 scan shortlists for the float32 re-rank. Its errors reorder only
# near-ties: with 8 extra, 99.999% of the 10 nearest of 12,800 seed-shaped nodes among 2,048
# anchors were found (0 extra: 95%); each extra costs ~3% of the scan (topk grows with k).
SHORTLIST_EXTRA = 8

ProgressFn = Callable[[int, int], None]


@torch.no_grad()
def knn_propagate(
    anchor_values: torch.Tensor,
    anchor_feats: torch.Tensor,
    query_feats: torch.Tensor,
    *,
    n_neighbors: int,
    weight_fn: Callable[[torch.Tensor], torch.Tensor] | None = None,
    metric: str = "cosine",
    chunk_size: int = 8192,
    device: torch.device | str | None = None,
    progress: ProgressFn | None = None,
) -> torch.Tensor:
    """Give every query row a weighted mean of the values of its nearest anchors.

    Peak memory is ``O(chunk_size * m)``: the ``(N, m)`` similarity is never formed whole.

    Args:
        anchor_values: ``(m, K)`` float values known on the anchors.
        anchor_feats: ``(m, C)`` anchor features.
        query_feats: ``(N, C)`` query features (same ``C``).
        n_neighbors: how many nearest anchors each query averages over (clipped to ``m``).
        weight_fn: maps the ``(n, k)`` similarities of the kept neighbours to non-negative
            weights; ``None`` means equal weights. For ``metric="cosine"`` similarities are
            cosines; for ``"euclidean"`` they are negative squared distances.
        metric: ``"cosine"`` or ``"euclidean"``.
        chunk_size: query rows per chunk.
        device: where to compute (defaults to ``anchor_feats.device``).
        progress: called as ``progress(done_rows, total_rows)`` after each chunk.

    Returns:
        ``(N, K)`` float32 tensor on the CPU.
    """
    n_neighbors = check_int(n_neighbors, "n_neighbors", minimum=1)
    chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    if metric not in ("cosine", "euclidean"):
        raise ValueError(f"metric must be 'cosine' or 'euclidean', got {metric!r}")
    dev = torch.device(device) if device is not None else anchor_feats.device
    A = anchor_feats.to(dev, torch.float32)
    Q = query_feats.to(torch.float32)
    if metric == "cosine":
        A, Q = F.normalize(A, dim=1), F.normalize(Q, dim=1)
    # The one chunked neighbour search (float32 here: layouts want exact neighbour order).
    dist, idx = nearest_anchors(
        A, Q, n_neighbors, distance=metric, precision="float32", chunk_size=chunk_size, device=dev,
        progress=progress,
    )
    sim = 1.0 - dist if metric == "cosine" else -dist
    w = torch.ones_like(sim) if weight_fn is None else weight_fn(sim)
    w = w / w.sum(dim=1, keepdim=True).clamp_min(1e-12)
    V = anchor_values.to(torch.float32).cpu()
    n = Q.shape[0]
    out = torch.empty((n, V.shape[1]), dtype=torch.float32)
    for start in range(0, n, chunk_size):  # chunked so the (n, k, K) gather stays small
        stop = start + chunk_size
        out[start:stop] = torch.einsum("nk,nkd->nd", w[start:stop], V[idx[start:stop]])
    return out


def bf16_matmul_is_fast(device: torch.device) -> bool:
    """bfloat16 matmuls are ~2-4x float32 on GPUs and AMX CPUs, but emulated (slow) elsewhere.

    On the CPU: AMX tiles present, and oneDNN (which runs torch's bfloat16 matmuls) not limited
    below them by ``ONEDNN_MAX_CPU_ISA`` / ``DNNL_MAX_CPU_ISA`` (``AVX2`` there made bfloat16
    matmuls ~2,000x slower on an AMX machine: they are emulated).

    On CUDA: compute capability 8.0 or newer (Ampere on). Older GPUs (V100, T4) have no
    bfloat16 tensor cores and run its matmuls emulated, slower than float32.
    """
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        return tuple(torch.cuda.get_device_capability(index)) >= (8, 0)
    if device.type != "cpu":
        return False
    for var in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):
        isa = os.environ.get(var, "").strip().upper()
        if isa and isa != "ALL" and "AMX" not in isa:
            return False
    probe = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(probe()) if probe is not None else False


def check_scan_precision(value: object, name: str = "precision") -> str:
    """Return ``value`` when it is one of ``SCAN_CHOICES``, else raise naming ``name``."""
    if value not in SCAN_CHOICES:
        raise ValueError(f"{name} must be one of {SCAN_CHOICES}, got {value!r}")
    return str(value)


def scan_choice(precision: str | None = None) -> str:
    """``precision`` checked, or when ``None`` the ``NCUT_WIDGET_SCAN`` environment variable read
    now (unset or empty: ``"auto"``): one of ``SCAN_CHOICES``.

    Raises:
        ValueError: ``precision`` or ``NCUT_WIDGET_SCAN`` is not one of ``SCAN_CHOICES``.
    """
    if precision is None:
        return check_scan_precision(os.environ.get(SCAN_ENV, "").strip() or "auto", SCAN_ENV)
    return check_scan_precision(precision)


def scan_dtype(device: torch.device | str, precision: str | None = None) -> torch.dtype:
    """The dtype of the pairwise score products on ``device`` (the nearest-anchor scans, the
    Nystrom extension's scores, the exact path's all-pairs products).

    ``precision`` (``"auto"``, ``"float32"``, ``"bfloat16"``) wins when given; ``None`` reads the
    ``NCUT_WIDGET_SCAN`` environment variable now (unset or empty means ``"auto"``). ``"auto"``
    is bfloat16 where :func:`bf16_matmul_is_fast`, else float32.

    Raises:
        ValueError: ``precision`` or ``NCUT_WIDGET_SCAN`` is not one of ``SCAN_CHOICES``.
    """
    choice = scan_choice(precision)
    if choice == "auto":
        return torch.bfloat16 if bf16_matmul_is_fast(torch.device(device)) else torch.float32
    return torch.bfloat16 if choice == "bfloat16" else torch.float32


def scan_bytes(rows: int, m: int, c: int, dtype: torch.dtype) -> int:
    """Peak bytes of one scan chunk of ``rows`` queries against ``m`` anchors of width ``c``: the
    score block in ``dtype`` (and topk's copy of it), the query rows in float32 and ``dtype``."""
    item = torch.finfo(dtype).bits // 8
    return 2 * rows * m * item + rows * (c + 1) * (item + 4)


@torch.no_grad()
def nearest_anchors(
    anchors: torch.Tensor,
    queries: torch.Tensor,
    k: int,
    *,
    distance: str = "cosine",
    precision: str | None = None,
    chunk_size: int = 8192,
    device: torch.device | str | None = None,
    progress: ProgressFn | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` nearest anchors of every query row, chunked so memory is ``O(chunk_size * m)``.

    Inputs are *prepared* features (L2-normalized rows for ``"cosine"``, raw for
    ``"euclidean"``). Both sides are centred on the anchors' mean first (distances do not change
    under a shift, and the ``|q|^2 + |a|^2 - 2 q.a`` expansion loses the digits a large common
    offset carries), then every chunk of queries is scanned against all anchors in the
    :func:`scan_dtype` (``precision``):

    * ``float32``: the ``k`` smallest distances, exact to float32 rounding;
    * ``bfloat16`` (float32 accumulation; faster on GPUs and AMX CPUs, emulated elsewhere): a
      shortlist of the ``k + SHORTLIST_EXTRA`` nearest by the bfloat16 scan, re-ranked by float32
      distances (only those ``N * (k + 8)`` dot products, as a sampled sparse product). The
      returned distances are float32-exact for the returned anchors; a true neighbour is missed
      only when bfloat16 rounding (~0.4% of the centred feature scale) pushes it out of the
      shortlist, i.e. among near-ties.

    Args:
        anchors: ``(m, C)`` float tensor.
        queries: ``(N, C)`` float tensor (rows moved to ``device`` one chunk at a time).
        k: neighbours per row (clipped to ``m``).
        distance: ``"cosine"`` (``1 - cos``, computed as ``|q - a|^2 / 2`` on unit rows) or
            ``"euclidean"`` (squared distance).
        precision: ``"auto"``, ``"float32"``, ``"bfloat16"`` or ``None`` (the ``NCUT_WIDGET_SCAN``
            environment variable, else ``"auto"``); see :func:`scan_dtype`.
        chunk_size: query rows per chunk.
        device: where to compute (defaults to ``anchors.device``).
        progress: called as ``progress(done_rows, total_rows)`` after each chunk.

    Returns:
        ``(distances (N, k) float32, indices (N, k) int64)`` on the CPU, nearest first.

    Raises:
        MemoryBudgetError: one ``chunk_size x m`` block would exceed the memory budget.
    """
    if distance not in ("cosine", "euclidean"):
        raise ValueError(f"distance must be 'cosine' or 'euclidean', got {distance!r}")
    chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
    dev = torch.device(device) if device is not None else anchors.device
    dtype = scan_dtype(dev, precision)
    m = anchors.shape[0]
    k = min(check_int(k, "k", minimum=1), m)
    short = k if dtype == torch.float32 else min(m, k + SHORTLIST_EXTRA)
    rows = min(chunk_size, queries.shape[0])
    check_memory(
        scan_bytes(rows, m, anchors.shape[1], dtype),
        dev,
        what=f"the nearest-anchor scan ({rows} query rows x {m} anchors per chunk)",
        advice=lambda budget: (
            f"Use chunk_size <= {largest_fitting(lambda r: scan_bytes(r, m, anchors.shape[1], dtype), budget, rows)}."
        ),
    )
    A = anchors.to(dev, torch.float32)
    center = A.mean(dim=0)
    A = A - center
    a_sq = A.pow(2).sum(dim=1)
    # |q - a|^2 = |q|^2 + (|a|^2 - 2 <q, a>); |q|^2 is the same along a row, so the scan ranks by
    # the bracket, computed by ONE matmul of [q, 1] with [-2a, |a|^2] (no extra passes over the
    # (rows, m) block, which cost as much as the bfloat16 matmul itself).
    A_scan = torch.cat([A * -2.0, a_sq.unsqueeze(1)], dim=1).to(dtype)
    half = 0.5 if distance == "cosine" else 1.0  # 1 - cos = |q - a|^2 / 2 on unit rows
    n = queries.shape[0]
    out_d = torch.empty((n, k), dtype=torch.float32)
    out_i = torch.empty((n, k), dtype=torch.long)
    for start in range(0, n, chunk_size):
        Q = queries[start : start + chunk_size].to(dev, torch.float32) - center
        q_sq = Q.pow(2).sum(dim=1, keepdim=True)
        Q_scan = torch.cat([Q, torch.ones_like(q_sq)], dim=1).to(dtype)
        top, idx = (Q_scan @ A_scan.T).topk(short, dim=1, largest=False)
        if dtype != torch.float32:
            top, idx = _rerank(Q, A, a_sq, idx, k)
        d = top.float().add_(q_sq).clamp_min_(0).mul_(half)
        out_d[start : start + Q.shape[0]] = d.cpu()
        out_i[start : start + Q.shape[0]] = idx.cpu()
        if progress is not None:
            progress(min(start + chunk_size, n), n)
    return out_d, out_i


def _rerank(
    Q: torch.Tensor, A: torch.Tensor, a_sq: torch.Tensor, idx: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Float32 scores ``|a|^2 - 2 <q, a>`` of each row's shortlisted anchors ``idx`` ``(n, s)``, and
    the ``k`` smallest of them: ``(scores (n, k), anchor indices (n, k))``."""
    n, s = idx.shape
    dev = idx.device
    if dev.type not in ("cpu", "cuda"):  # sampled_addmm has CPU and CUDA kernels only (not MPS)
        Q, A, a_sq, idx = Q.cpu(), A.cpu(), a_sq.cpu(), idx.cpu()
    idx = idx.sort(dim=1).values  # CSR wants ascending columns per row
    crow = torch.arange(0, n * s + 1, s, device=idx.device)
    with warnings.catch_warnings():
        # A one-time "sparse CSR is in beta" notice; sampled_addmm has been stable since 1.13.
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta", category=UserWarning)
        pattern = torch.sparse_csr_tensor(
            crow, idx.reshape(-1), torch.zeros(n * s, dtype=Q.dtype, device=idx.device), size=(n, A.shape[0]),
            check_invariants=False,
        )
    # Only the n * s sampled dot products, in float32 (SDDMM): ~s/m of a full float32 scan.
    dots = torch.sparse.sampled_addmm(pattern, Q, A.T, beta=0.0).values().view(n, s)
    score = dots.mul_(-2.0).add_(a_sq[idx])
    top, pos = score.topk(k, dim=1, largest=False)
    return top.to(dev), idx.gather(1, pos).to(dev)
