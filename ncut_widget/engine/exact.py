"""The exact path's graph: every pair's affinity, stored once (the upper half), in two passes.

``W`` is symmetric, so only its row blocks right of the diagonal are computed and kept
(:class:`UpperBlocks`): half the pairwise matrix products, half the exponentials and half the
memory of a dense ``N x N`` (1.3 GB instead of 2.6 GB at 25,600 nodes in float32). The
eigensolver multiplies by ``W`` straight from those blocks (:meth:`UpperBlocks.rmatmul`), and
the degree normalisation ``D^-1/2 W D^-1/2`` is applied to the thin blocks it multiplies, never
to ``W``. From ``BF16_MIN_NODES`` nodes on, ``"auto"`` stores the blocks in float16
(:func:`storage_dtype`): 0.65 GB at 25,600 nodes; in bfloat16 where MKL multiplies bfloat16
pairs (AMX CPUs), which the eigensolver's products then read as stored.

Pass 1 computes the distances block by block, a tile of columns at a time on a CPU
(``BUILD_TILE_COLS``), and while each tile is in cache the two sums of the Newton step that
moves ``gamma`` from its sample estimate to the all-pairs target mean affinity. Pass 2 turns the
stored distances into affinities in place, tile by tile, and sums the degrees.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from . import affinity as aff
from . import mkl_bf16
from .propagate import scan_choice, scan_dtype

# Fewest nodes for which "auto" multiplies the pairs in bfloat16 (where that is fast). Below,
# the product is cheap and the rounding weighs more (||dS|| ~ eps / sqrt(N)): on 2,560
# seed-shaped nodes the top-50 subspace came out at 0.9989 mean principal cosine of float32's
# (10,240 and 25,600 nodes: 0.99996 and 0.99997).
BF16_MIN_NODES = 8192
# Rows per block. 512 x 25,600 float32 (52 MB) blocks keep each matrix product large enough to
# run at full speed and the per-block Python overhead (~100 blocks per product) negligible.
BLOCK_ROWS = 512
# Columns per bfloat16 pair-product tile (see _pair_distances).
TILE_COLS = 8192
# Columns of a block both build passes take at a time on a CPU (exact_affinity): a 512 x 2,048
# float32 tile (4 MB) stays in cache from its product through the clamp, the float16 copy and
# the Newton step's sums, where whole blocks (52 MB at 25,600 nodes) went through memory for
# each. Ten representative blocks of the 25,600-node graph (AMD EPYC, AVX2): 0.70-0.74 s
# against 0.77-0.81 s, the same float16 bits. On a GPU whole blocks.
BUILD_TILE_COLS = 2048
# Storage of the affinities where they need not be float32 (storage_dtype).
LOW_STORAGE = torch.float16
# Fewest nodes for which the affinities of bfloat16 pairs multiplied by MKL are stored in
# bfloat16 (storage_dtype). Its 8 bits weigh less the larger the graph: the top-50 subspace of
# seed-shaped graphs at 0.99930 / 0.99990 mean principal cosine of a residual-1e-7 float32
# solve at 10,240 / 25,600 nodes (float16 storage: 0.99988 / 0.99993), while the eigensolve it
# speeds up grows as N^2 (10,240 nodes: 1.36 s against 1.71 s for the whole call).
BF16_STORE_MIN_NODES = 16384
# Parts the eigensolver's float32 vectors are split into for MKL's bfloat16 products with
# bfloat16-stored blocks (mkl_bf16.split): two keep each entry to 2^-16, far below the
# blocks' own rounding (2^-8); three gave the same eigenpairs at 25,600 nodes, 20% slower.
VECTOR_PARTS = 2
# Columns of a block the eigensolver's two products take at a time (UpperBlocks.rmatmul; the
# pair products have their own TILE_COLS above): a
# 512 x 2,048 float32 tile (4 MB) stays in cache between them, so each block is read from
# memory once per product with the matrix instead of twice. One 16-column product with the
# 25,600-node graph on an AMD EPYC (AVX2, 2 cores): float16 storage 0.30-0.31 s against
# 0.38-0.41 s whole-block, float32 0.28 against 0.32-0.34 s (1,024 and 4,096 columns: within
# 0.02 s of 2,048; 8,192: as slow as whole blocks). CPUs only.
EIG_TILE_COLS = 2048


def pair_dtype(n: int, device: torch.device | str, precision: str | None) -> torch.dtype:
    """The dtype :func:`exact_affinity` multiplies the pairs of ``n`` nodes in on ``device``:
    ``propagate.scan_dtype(device, precision)``, except that ``"auto"`` keeps float32 below
    ``BF16_MIN_NODES`` nodes."""
    if n < BF16_MIN_NODES and scan_choice(precision) == "auto":
        return torch.float32
    return scan_dtype(device, precision)


def storage_dtype(n: int, device: torch.device | str, precision: str | None) -> torch.dtype:
    """The dtype :func:`exact_affinity` keeps the affinities of ``n`` nodes in on ``device``.

    * bfloat16 from ``BF16_STORE_MIN_NODES`` nodes on where the pairs are multiplied in
      bfloat16 by MKL (:func:`.mkl_bf16.applies`: a CPU, with AMX at full speed): the
      eigensolver's products then read the blocks as they are stored, with no widening pass
      (:meth:`UpperBlocks.rmatmul`). bfloat16 rounds an affinity by at most 2^-8 relative.
      Measured at 25,600 seed-shaped nodes (2 cores, AMX), alternating in fresh processes: the
      eigensolve 2.1-2.4 s instead of 2.8-3.4 s, the whole call 3.7-4.0 s instead of 4.2-5.0
      s (a slower hour: 4.9-6.3 s against 6.9-7.6 s); eigenvalues within 1.6e-5 and the
      top-9/20/50 subspaces at 1.00000 / 0.99999 / 0.99990 mean principal cosine of a
      residual-1e-7 float32 solve (float16 storage: 5.3e-6, 1.00000 / 1.00000 / 0.99993).
    * float16 where the pairs are multiplied in bfloat16 otherwise (fewer nodes, CUDA, a CPU
      torch without MKL), and wherever ``"auto"`` picks from ``BF16_MIN_NODES`` nodes on
      (float32 products too: CPUs without fast bfloat16). float16 keeps each distance between the two passes and
      each affinity after them, rounding an affinity by at most ``2^-11 (1 + d / gamma)``
      relative (2^-25 absolute below float16's normal range). It halves the memory, the pages
      the build faults in and the bytes every eigensolver product reads (each block widened to
      float32 in cache first). With AVX2 kernels and float32 products the whole call ran as
      fast as with float32 storage (9.0-11.1 s against 10.5-11.0 s, alternating) at 1.49 GB
      peak instead of 2.1 GB, eigenvalues within 2.6e-6 and the top-50 subspace at 0.999999
      mean principal cosine of the float32-stored graph's.
    * float32 otherwise (``"float32"`` forced, or fewer nodes).
    """
    pair = pair_dtype(n, device, precision)
    if n >= BF16_STORE_MIN_NODES and mkl_bf16.applies(device, pair):
        return torch.bfloat16
    auto_large = n >= BF16_MIN_NODES and scan_choice(precision) == "auto"
    return LOW_STORAGE if auto_large or pair == torch.bfloat16 else torch.float32


class UpperBlocks:
    """A symmetric ``n x n`` matrix stored as its row blocks from the diagonal rightwards.

    Block ``b`` holds rows ``starts[b] : starts[b] + rows_b`` and columns ``starts[b] : n``: its
    left square is the (full, symmetric) diagonal block, the rest lies above the diagonal and
    stands for its mirror image below it as well. Blocks are float32, float16 or bfloat16
    (``storage``); the operator multiplies and returns float32 (``dtype``), widening 16-bit
    blocks one at a time into a float32 buffer of the first (largest) block's size, except
    bfloat16 blocks on a CPU with MKL's bfloat16 product, which it multiplies as stored.
    """

    def __init__(
        self, blocks: list[torch.Tensor], starts: list[int], n: int, wide: torch.Tensor | None = None
    ) -> None:
        self.blocks = blocks
        self.starts = starts
        self.shape = (n, n)
        self.storage = blocks[0].dtype
        self.dtype = torch.float32
        self.device = blocks[0].device
        # float32 buffer (flat, at least the first block's size) float16 blocks widen into.
        self._wide = wide

    def _widened(self, U: torch.Tensor) -> torch.Tensor:
        """``U`` in float32: itself, or copied into the one reused float32 buffer."""
        if U.dtype == torch.float32:
            return U
        if self._wide is None:
            self._wide = torch.empty(self.blocks[0].numel(), dtype=torch.float32, device=self.device)
        return self._wide[: U.numel()].view_as(U).copy_(U)

    def rmatmul(self, Bt: torch.Tensor) -> torch.Tensor:
        """``Bt @ W`` for float32 ``Bt`` ``(b, n)``; returns ``(b, n)`` float32.

        Each block's rows feed every column from its start on (``Bt[:, rows] @ U``, in row
        layout) and, as the mirror image of the part right of its diagonal square, receive from
        every row below (``U[:, r:] @ B[below]``, in column layout). Those two forms ran
        fastest of the four layouts on 2 cores at 16 columns (0.25 s against 0.27 s for a
        float32 product at 25,600 nodes; AVX2: 0.29 s against 0.35 s). Both run tile by tile
        (``EIG_TILE_COLS``), so the second reads the tile from cache.
        """
        if mkl_bf16.applies(self.device, self.storage):
            return self._rmatmul_mkl(Bt)
        n = self.shape[0]
        Bt = Bt.contiguous()
        B = Bt.T.contiguous()
        sent = torch.zeros_like(Bt)
        received = torch.zeros((n, Bt.shape[0]), dtype=Bt.dtype, device=Bt.device)
        for start, U in zip(self.starts, self.blocks, strict=True):
            r, width = U.shape
            mine = Bt[:, start : start + r]
            # Both products per tile of EIG_TILE_COLS columns, while it is in cache (16-bit tiles
            # widened into the float32 buffer one at a time); on a GPU whole blocks, where each
            # tile would cost kernel launches and no cache is that small.
            step = EIG_TILE_COLS if self.device.type == "cpu" else width
            for c0 in range(0, width, step):
                c1 = min(width, c0 + step)
                tile = self._widened(U[:, c0:c1])
                sent[:, start + c0 : start + c1].addmm_(mine, tile)
                below = max(c0, r)  # columns right of the diagonal square
                if below < c1:
                    received[start : start + r].addmm_(tile[:, below - c0 :], B[start + below : start + c1])
        return sent.add_(received.T)

    def _rmatmul_mkl(self, Bt: torch.Tensor) -> torch.Tensor:
        """:meth:`rmatmul` for bfloat16 blocks on the CPU, read as stored: ``Bt`` split into
        ``VECTOR_PARTS`` bfloat16 parts (:func:`.mkl_bf16.split`), multiplied by MKL with
        float32 accumulation and results, the parts' products summed. The same two forms per
        block as the float32 path; no widening pass, so each block is read twice in bfloat16
        instead of once in float16 and twice in float32."""
        n, b = self.shape[0], Bt.shape[0]
        A = mkl_bf16.split(Bt, VECTOR_PARTS)
        AT = A.T.contiguous()
        sent = torch.zeros((A.shape[0], n), dtype=torch.float32)
        received = torch.zeros((n, A.shape[0]), dtype=torch.float32)
        for start, U in zip(self.starts, self.blocks, strict=True):
            r = U.shape[0]
            mkl_bf16.addmm_(sent[:, start:], A[:, start : start + r], U)
            if start + r < n:
                mkl_bf16.addmm_(received[start : start + r], U[:, r:], AT[start + r :])
        return sent.add_(received.T).view(VECTOR_PARTS, b, n).sum(dim=0)

    def to_dense(self) -> torch.Tensor:
        """The full ``n x n`` matrix in float32 (for small ``n`` only)."""
        n = self.shape[0]
        W = torch.empty((n, n), dtype=torch.float32, device=self.device)
        for start, U in zip(self.starts, self.blocks, strict=True):
            r = U.shape[0]
            W[start : start + r, start:] = U
            W[start + r :, start : start + r] = U[:, r:].T
        return W


def upper_bytes(n: int, rows: int = BLOCK_ROWS, storage: torch.dtype = torch.float32) -> int:
    """Bytes of an :class:`UpperBlocks` of size ``n`` stored in ``storage``: the upper half and
    the diagonal blocks, and for float16 the float32 block its products widen into."""
    r = min(rows, n)
    item = torch.finfo(storage).bits // 8
    return item * (n * (n + r) // 2 + r * r) + (4 * r * n if item < 4 else 0)


def build_bytes(n: int, rows: int = BLOCK_ROWS, c: int = 0, storage: torch.dtype = torch.float32) -> int:
    """Peak bytes of :func:`exact_affinity` beyond the ``(n, c)`` features: the stored half, the
    float32 tile the distances land in and its scratch for the exponentials of pass 1, a tile of
    low-precision products, and the centred copies of the features the bfloat16 path multiplies
    (float32 and bfloat16). The tiles are counted block-sized, as on a GPU; a CPU's are
    ``BUILD_TILE_COLS`` wide, so there this is an upper bound."""
    r = min(rows, n)
    return upper_bytes(n, rows, storage) + 6 * r * n + 6 * n * c


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
            keeps float32 below ``BF16_MIN_NODES`` nodes (:func:`pair_dtype`), and from there
            keeps the affinities in float16 whatever the products (:func:`storage_dtype`).
        progress: ``progress(done, total)`` over the two passes' blocks.

    Returns:
        ``(W, gamma, degree)``: the affinities as :class:`UpperBlocks` (stored float32,
        float16 or bfloat16: :func:`storage_dtype`), the gamma used and the ``(N,)`` float32
        row sums of ``W`` as stored.
    """
    n = P.shape[0]
    pair = pair_dtype(n, P.device, precision)
    storage = storage_dtype(n, P.device, precision)
    starts = list(range(0, n, rows))
    r0 = min(rows, n)
    # Both passes go through each block a tile of columns at a time (BUILD_TILE_COLS on a CPU,
    # at least the rows: the diagonal square lies in the first tile), computed into or widened
    # into one float32 tile buffer.
    step = min(n, max(BUILD_TILE_COLS, r0) if P.device.type == "cpu" else n)
    tile_buf = torch.empty(r0 * step, dtype=torch.float32, device=P.device)
    # Below float32, the distances wait between the passes in float16 in units of the starting
    # gamma (d / gamma, ~0-20 on any features): raw squared euclidean distances pass float16's
    # largest value (65,504) on features of norm ~200 and would come back infinite (affinity 0).
    # An affinity stored in bfloat16 is written over its distance's float16 bits.
    low = storage != torch.float32
    unit = 1.0 / gamma if low else 1.0
    between = LOW_STORAGE if low else torch.float32
    pair_distances = _pair_distances(P, distance, pair, rows, tile_buf, scale=unit)
    total_steps = 2 * len(starts)
    blocks: list[torch.Tensor] = []
    scratch = torch.empty(r0 * step, dtype=torch.float32, device=P.device) if d_gamma is not None else None
    total = slope = 0.0
    inv = -1.0 / (gamma * unit)
    for b, start in enumerate(starts):
        r = min(rows, n - start)
        U = torch.empty((r, n - start), dtype=between, device=P.device)
        block_sum = block_dot = 0.0
        for c0 in range(0, n - start, step):
            c1 = min(n - start, c0 + step)
            D = pair_distances(slice(start, start + r), start + c0, start + c1)
            if c0 == 0:
                D[:, :r].fill_diagonal_(0.0)
            U[:, c0:c1].copy_(D)
            if scratch is None:
                continue
            e = aff.scaled_exp_(D, inv, out=scratch[: D.numel()].view_as(D))
            # Row sums in float32, added in float64 (a float64 sum of the tile converts it
            # whole: 30x slower); sum(e * d) as one dot product, with no pass writing e * d.
            block_sum += float(e.sum(dim=1).double().sum())
            block_dot += float(torch.dot(e.view(-1), D.view(-1)))
            if c0 == 0:  # the diagonal square counts once in the sums over the block and its mirror
                square_sum, square_dot = e[:, :r].sum(dim=1), (e[:, :r] * D[:, :r]).sum(dim=1)
        if scratch is not None:
            total += _twice_off_diagonal(block_sum, square_sum)
            slope += _twice_off_diagonal(block_dot, square_dot)
        blocks.append(U)
        if progress is not None:
            progress(b + 1, total_steps)
    del scratch
    if d_gamma is not None:
        mean = total / (n * n)
        dmean = slope / unit / gamma / (n * n)  # d mean / d log(gamma)
        if dmean > 0 and abs(mean - d_gamma) >= 1e-7:
            gamma = gamma * math.exp((d_gamma - mean) / dmean)
    inv = -1.0 / (gamma * unit)
    degree = torch.zeros(n, dtype=torch.float32, device=P.device)
    for b, (start, U) in enumerate(zip(starts, blocks, strict=True)):
        r = U.shape[0]
        stored = blocks[b] = U if storage == between else U.view(storage)
        for c0 in range(0, U.shape[1], step):
            c1 = min(U.shape[1], c0 + step)
            E = U[:, c0:c1] if not low else tile_buf[: r * (c1 - c0)].view(r, c1 - c0).copy_(U[:, c0:c1])
            aff.scaled_exp_(E, inv)
            if low:
                # The degrees of the affinities as stored (rounded), so that the normalised
                # graph's leading eigenvalue stays 1 to float32 rounding.
                E.copy_(stored[:, c0:c1].copy_(E))
            degree[start : start + r] += E.sum(dim=1)
            right = max(c0, r)  # columns right of the diagonal square stand for their mirror too
            if right < c1:
                degree[start + right : start + c1] += E[:, right - c0 :].sum(dim=0)
        if progress is not None:
            progress(len(starts) + b + 1, total_steps)
    return UpperBlocks(blocks, starts, n), gamma, degree


def _pair_distances(
    P: torch.Tensor,
    distance: str,
    dtype: torch.dtype,
    rows: int,
    out: torch.Tensor,
    scale: float = 1.0,
) -> Callable[[slice, int, int], torch.Tensor]:
    """``block(sl, c0, c1)``: the float32 distances of ``P[sl]`` (at most ``rows`` rows) to
    ``P[c0:c1]`` times ``scale``, multiplied in ``dtype`` (see :func:`exact_affinity`'s
    ``precision``), in a view of the flat float32 buffer ``out``."""
    if dtype == torch.float32:
        sq = aff.sq_norms(P, distance)

        def exact_block(sl: slice, c0: int, c1: int) -> torch.Tensor:
            U = out[: (sl.stop - sl.start) * (c1 - c0)].view(sl.stop - sl.start, c1 - c0)
            norms = (sq[sl], sq[c0:c1]) if sq is not None else ()
            return aff.distances(P[sl], P[c0:c1], distance, *norms, out=U, scale=scale)

        return exact_block
    n = len(P)
    half = scale * (0.5 if distance == "cosine" else 1.0)  # 1 - cos = |x - y|^2 / 2 on unit rows
    C = P - P.mean(dim=0)
    hsq = C.pow(2).sum(dim=1).mul_(half)
    low = C.to(dtype)
    del C
    # The right operand stored transposed: MKL/oneDNN ran the 512 x 768 @ 768 x N products
    # ~15% faster from it than from a transposed view of the rows.
    lowT = low.T.contiguous()
    # Columns in tiles of TILE_COLS, the odd-sized one first: oneDNN compiles a kernel for each
    # new product shape, and one shape per block (N / 512 of them) cost ~0.35 s of a cold call
    # at 25,600 nodes; tiles need at most TILE_COLS / 512 + 2 (a CPU asks for BUILD_TILE_COLS at a
    # time, one such tile). One buffer for every tile: a fresh one per block is page-faulted in.
    # MKL's products (mkl_bf16.applies) land in float32 as asked for: no tiles of their own, and
    # no bfloat16 rounding of the products on top of their operands'.
    mkl = mkl_bf16.applies(P.device, dtype)
    # No wider than what the caller asks for at a time (out's size).
    tile = None if mkl else torch.empty(min(rows, n) * min(TILE_COLS, n, out.numel() // min(rows, n)), dtype=dtype, device=P.device)

    def block(sl: slice, c0: int, c1: int) -> torch.Tensor:
        r, cols = sl.stop - sl.start, c1 - c0
        U = out[: r * cols].view(r, cols)
        if tile is None:
            mkl_bf16.addmm_(U, low[sl], lowT[:, c0:c1], beta=0.0)
        else:
            edges = [0, *range(cols % TILE_COLS or TILE_COLS, cols + 1, TILE_COLS)]
            for a, b in zip(edges[:-1], edges[1:], strict=True):
                w = b - a
                U[:, a:b].copy_(torch.mm(low[sl], lowT[:, c0 + a : c0 + b], out=tile[: r * w].view(r, w)))
        # In place, same dtypes: a mixed-dtype add went through copies at 1.7x the time.
        torch.add(hsq[c0:c1], U, alpha=-2.0 * half, out=U)
        return U.add_(hsq[sl].unsqueeze(1)).clamp_min_(0)

    return block


def _twice_off_diagonal(block_sum: float, square_row_sums: torch.Tensor) -> float:
    """Sum of a block with its mirror image: everything twice, the diagonal square once."""
    return 2.0 * block_sum - float(square_row_sums.double().sum())
