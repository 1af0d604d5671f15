"""The exact path's graph: every pair's affinity, stored once (the upper half), in two passes.

``W`` is symmetric, so only its row blocks right of the diagonal are computed and kept
(:class:`UpperBlocks`): half the pairwise matrix products, half the exponentials and half the
memory of a dense ``N x N`` (1.3 GB instead of 2.6 GB at 25,600 nodes). The eigensolver
multiplies by ``W`` straight from those blocks (:meth:`UpperBlocks.rmatmul`), and the degree
normalisation ``D^-1/2 W D^-1/2`` is applied to the thin blocks it multiplies, never to ``W``.

Pass 1 computes the distances block by block and, while each block is in cache, the two sums
of the Newton step that moves ``gamma`` from its sample estimate to the all-pairs target mean
affinity. Pass 2 turns the stored distances into affinities in place and sums the degrees.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from . import affinity as aff
from .propagate import scan_choice, scan_dtype

# Fewest nodes for which "auto" multiplies the pairs in bfloat16 (where that is fast). Below,
# the product is cheap and the rounding weighs more (||dS|| ~ eps / sqrt(N)): on 2,560
# seed-shaped nodes the top-50 subspace came out at 0.9989 mean principal cosine of float32's
# (10,240 and 25,600 nodes: 0.99996 and 0.99997).
BF16_MIN_NODES = 8192
# Rows per block. 512 x 25,600 float32 (52 MB) blocks keep each matrix product large enough to
# run at full speed and the per-block Python overhead (~100 blocks per product) negligible.
BLOCK_ROWS = 512
# Columns per bfloat16 product tile (see _pair_distances).
TILE_COLS = 8192


class UpperBlocks:
    """A symmetric ``n x n`` float32 matrix stored as its row blocks from the diagonal rightwards.

    Block ``b`` holds rows ``starts[b] : starts[b] + rows_b`` and columns ``starts[b] : n``: its
    left square is the (full, symmetric) diagonal block, the rest lies above the diagonal and
    stands for its mirror image below it as well.
    """

    def __init__(self, blocks: list[torch.Tensor], starts: list[int], n: int) -> None:
        self.blocks = blocks
        self.starts = starts
        self.shape = (n, n)
        self.dtype = blocks[0].dtype
        self.device = blocks[0].device

    def rmatmul(self, Bt: torch.Tensor) -> torch.Tensor:
        """``Bt @ W`` for ``Bt`` ``(b, n)`` (equal to ``(W @ Bt.T).T``: ``W`` is symmetric).

        Computed as ``W @ B`` with ``B = Bt.T`` in column layout: with a thin ``B`` (16-48
        columns) MKL ran ``U @ B`` 2.3x and ``U.T @ B`` 1.2x faster than ``Bt @ U.T`` /
        ``Bt @ U`` on 2 cores.
        """
        n = self.shape[0]
        B = Bt.T.contiguous()
        out = torch.zeros((n, Bt.shape[0]), dtype=Bt.dtype, device=Bt.device)
        for start, U in zip(self.starts, self.blocks, strict=True):
            r = U.shape[0]
            # This block's rows feed every row from `start` on (W[start:, rows] = U.T)...
            out[start:].addmm_(U.T, B[start : start + r])
            # ...and, as the mirror image of its part right of the diagonal block, the block's
            # own rows receive from every row below it.
            if start + r < n:
                out[start : start + r].addmm_(U[:, r:], B[start + r :])
        return out.T

    def to_dense(self) -> torch.Tensor:
        """The full ``n x n`` matrix (for small ``n`` only)."""
        n = self.shape[0]
        W = torch.empty((n, n), dtype=self.dtype, device=self.device)
        for start, U in zip(self.starts, self.blocks, strict=True):
            r = U.shape[0]
            W[start : start + r, start:] = U
            W[start + r :, start : start + r] = U[:, r:].T
        return W


def upper_bytes(n: int, rows: int = BLOCK_ROWS) -> int:
    """Bytes of an :class:`UpperBlocks` of size ``n``: the upper half and the diagonal blocks."""
    r = min(rows, n)
    return 4 * (n * (n + r) // 2 + r * r)


def build_bytes(n: int, rows: int = BLOCK_ROWS, c: int = 0) -> int:
    """Peak bytes of :func:`exact_affinity` beyond the ``(n, c)`` features: the stored half, one
    block-sized scratch for the exponentials of pass 1 and a block of low-precision products,
    and the centred copies of the features the bfloat16 path multiplies (float32 and bfloat16)."""
    r = min(rows, n)
    return upper_bytes(n, rows) + 6 * r * n + 6 * n * c


@torch.no_grad()
def exact_affinity(
    P: torch.Tensor,
    distance: str,
    gamma: float,
    d_gamma: float | None,
    *,
    rows: int = BLOCK_ROWS,
    precision: str | None = "float32",
    progress: Callable[[int, int], None] | None = None,
) -> tuple[UpperBlocks, float, torch.Tensor]:
    """Affinities ``exp(-dist / gamma)`` between all rows of the prepared features ``P``.

    Args:
        P: ``(N, C)`` prepared features (``affinity.prepare``), on the compute device.
        distance: ``"cosine"`` or ``"euclidean"``.
        gamma: the starting gamma (from a sample of pairs).
        d_gamma: target mean affinity over all ``N^2`` ordered pairs (self-pairs included), or
            ``None`` to keep ``gamma``. One Newton step in ``log(gamma)`` on all pairs, from the
            sample estimate (within ~1e-3 in mean affinity), lands within ~1e-6.
        rows: rows per block.
        precision: the pairwise products' dtype (``propagate.scan_dtype``: ``"float32"``,
            ``"bfloat16"``, ``"auto"`` or ``None`` for ``NCUT_WIDGET_SCAN``). bfloat16 (8x float32's
            speed on AMX) multiplies the rows *centred* on their mean, with the squared norms in
            float32: ``dist = half * (|c_i|^2 + |c_j|^2 - 2 c_i . c_j)``. The rounding then
            scales with the centred rows, not with the offset all features share (ViT tokens'
            and the seed-shaped features'): measured on 10,240 seed-shaped nodes, eigenvalues
            within 2.5e-6 and top-9/20/50 subspaces at 1.0000/1.0000/0.99996 mean principal
            cosine of the float32 graph's (uncentred bfloat16: 0.99635 at top-50). ``"auto"``
            keeps float32 below ``BF16_MIN_NODES`` nodes.
        progress: ``progress(done, total)`` over the two passes' blocks.

    Returns:
        ``(W, gamma, degree)``: the affinities as :class:`UpperBlocks`, the gamma used and the
        ``(N,)`` float32 row sums of ``W``.
    """
    n = P.shape[0]
    dtype = scan_dtype(P.device, precision)
    if n < BF16_MIN_NODES and scan_choice(precision) == "auto":
        dtype = torch.float32
    pair_distances = _pair_distances(P, distance, dtype, rows)
    starts = list(range(0, n, rows))
    total_steps = 2 * len(starts)
    blocks: list[torch.Tensor] = []
    scratch = torch.empty(min(rows, n) * n, dtype=torch.float32, device=P.device) if d_gamma is not None else None
    total = slope = 0.0
    inv = -1.0 / gamma
    for step, start in enumerate(starts):
        r = min(rows, n - start)
        sl = slice(start, start + r)
        U = pair_distances(sl, start)
        U[:, :r].fill_diagonal_(0.0)
        blocks.append(U)
        if scratch is not None:
            # Sum over the block and its mirror image: the diagonal square counts once.
            e = torch.mul(U, inv, out=scratch[: U.numel()].view_as(U)).exp_()
            # Row sums in float32, added in float64 (a float64 sum of the block converts it whole:
            # 30x slower).
            total += 2.0 * float(e.sum(dim=1).double().sum()) - float(e[:, :r].sum(dim=1).double().sum())
            # sum(e * d) as one dot product: no pass writing e * d.
            square = float((e[:, :r] * U[:, :r]).sum(dim=1).double().sum())
            slope += 2.0 * float(torch.dot(e.view(-1), U.view(-1))) - square
        if progress is not None:
            progress(step + 1, total_steps)
    del scratch
    if d_gamma is not None:
        mean = total / (n * n)
        dmean = slope / gamma / (n * n)  # d mean / d log(gamma)
        if dmean > 0 and abs(mean - d_gamma) >= 1e-7:
            gamma = gamma * math.exp((d_gamma - mean) / dmean)
    inv = -1.0 / gamma
    degree = torch.zeros(n, dtype=torch.float32, device=P.device)
    for step, (start, U) in enumerate(zip(starts, blocks, strict=True)):
        r = U.shape[0]
        U.mul_(inv).exp_()
        degree[start : start + r] += U.sum(dim=1)
        if start + r < n:
            degree[start + r :] += U[:, r:].sum(dim=0)
        if progress is not None:
            progress(len(starts) + step + 1, total_steps)
    return UpperBlocks(blocks, starts, n), gamma, degree


def _pair_distances(
    P: torch.Tensor, distance: str, dtype: torch.dtype, rows: int
) -> Callable[[slice, int], torch.Tensor]:
    """``block(sl, start)``: the float32 distances of ``P[sl]`` (at most ``rows`` rows) to
    ``P[start:]``, multiplied in ``dtype`` (see :func:`exact_affinity`'s ``precision``)."""
    if dtype == torch.float32:
        sq = aff.sq_norms(P, distance)
        return lambda sl, start: aff.distances(P[sl], P[start:], distance, *((sq[sl], sq[start:]) if sq is not None else ()))
    half = 0.5 if distance == "cosine" else 1.0  # 1 - cos = |x - y|^2 / 2 on unit rows
    C = P - P.mean(dim=0)
    hsq = C.pow(2).sum(dim=1).mul_(half)
    low = C.to(dtype)
    del C
    # The right operand stored transposed: MKL/oneDNN ran the 512 x 768 @ 768 x N products
    # ~15% faster from it than from a transposed view of the rows.
    lowT = low.T.contiguous()
    n = len(P)
    # Columns in tiles of TILE_COLS, the odd-sized one first: oneDNN compiles a kernel for each
    # new product shape, and one shape per block (N / 512 of them) cost ~0.35 s of a cold call
    # at 25,600 nodes; tiles need at most TILE_COLS / 512 + 2. One buffer for every tile: a fresh
    # one per block is page-faulted in.
    tile = torch.empty(min(rows, n) * min(TILE_COLS, n), dtype=dtype, device=P.device)

    def block(sl: slice, start: int) -> torch.Tensor:
        r, cols = sl.stop - sl.start, n - start
        U = torch.empty((r, cols), dtype=torch.float32, device=P.device)
        edges = [0, *range(cols % TILE_COLS or TILE_COLS, cols + 1, TILE_COLS)]
        for a, b in zip(edges[:-1], edges[1:], strict=True):
            w = b - a
            U[:, a:b].copy_(torch.mm(low[sl], lowT[:, start + a : start + b], out=tile[: r * w].view(r, w)))
        # In place, same dtypes: a mixed-dtype add went through copies at 1.7x the time.
        torch.add(hsq[start:], U, alpha=-2.0 * half, out=U)
        return U.add_(hsq[sl].unsqueeze(1)).clamp_min_(0)

    return block

