"""The Nystrom path: a graph on the anchors that stands for the whole graph, and the extension of
its eigenvectors to every node.

**Cells.** Every node belongs to the cell of its nearest anchor, found in the anchors' top
``NEAREST_DIMS`` (32) principal directions (:class:`Reduction`, whose ``SCAN_DIMS`` = 64
directions, sorted by variance, the extension uses): there the search costs ``N x m x 32``
instead of ``N x m x C``, and noise in the other directions (most of a ViT feature's length, and
all of the synthetic features' isotropic noise) does not scatter a node into the cell of a far
anchor. Anchor ``a`` stands for the ``c_a`` nodes of its cell. The scan multiplies squared
distances out whole (``|q|^2 + |a|^2 - 2 q.a``, :func:`distance_operand`): in bfloat16 the
product's rounding is then a share of the distance, not of ``|q|^2``, and non-negative
bfloat16 scores are compared as integers (:func:`nearest_column`).

**Anchor graph.** Two nodes of cells ``a != b`` are given the affinity of their anchors, so the
cells' total affinity is ``c_a c_b W_ab``. Inside a cell that rule would give every pair
affinity 1, as if its nodes coincided; instead each node counts 1 with itself and
``e_i = exp(-d(i, a) / gamma)`` (its exact distance to the anchor) with the anchor, and two
non-anchor members ``sqrt(e_i e_j)``. Without that correction the graph's small eigenvalues came
out up to twice too large on noisy features (the clusters of per-image eigenvalues at
0.002-0.003 of a 10,240-node seed-shaped graph at 0.004-0.006), scrambling those eigenvectors.
The anchor-level eigenvectors are those of ``D^-1/2 K D^-1/2`` for this cell-aggregated ``K``.

**Extension.** A node's values come from the eigen-equation of the whole graph, with its
affinities to every anchor standing for those to the anchors' cells (Nystrom's formula)::

    u_i = sqrt(d_i) * sum_b c_b W(i, b) f_b / (lambda d_i - (1 - W(i, a_i))),
    d_i = sum_b c_b W(i, b) + 1 - W(i, a_i),     f_b = u_b / sqrt(D_b / c_b)

(the correction terms count the node's affinity 1 with itself rather than with its own anchor's
cell). ``W(i, a_i)`` to its own anchor is exact; the others use the distance in the principal
subspace plus the two residual lengths, leaving out the residuals' dot product. On the graphs
measured that omission moved the eigenvectors *closer* to the exact solution than exact
affinities did: the dropped term is the noise that 2,048 anchors cannot average out the way the
whole graph's N terms do (top-50 subspace of real DINOv2 features: 0.987 mean principal cosine
to the exact solution, against 0.923 for the previous nearest-anchors mean). A node identical to
an anchor (distance 0) gets that anchor's values.

**Denoising** (``denoise = s > 0``; ``Ncut``'s default is 0.8, see "Per eigenvector"). The exact eigenvectors of a
dense graph carry each node's own noise: a node's value is a mean over the whole graph divided by
a small eigenvalue, so the noise its affinities share is amplified. On seed-shaped features the
exact solution's top-9 eigenvectors hold only 99.63% of the planted parts' indicators, where a
local mean of anchor values (the reference library's nearest-anchors propagation) reaches
99.87-99.95%. With ``s > 0`` each node's value is ``(1 - s) u_i + s M_(a_i)``: the blend of
Nystrom's formula with the smoothed value of its own anchor's cell,
``M_a = sum_b c_b K_ab u_b / sum_b c_b K_ab`` under the sharp kernel ``K = W ** 8`` (bandwidth
``gamma / 8``) among the anchors. ``M`` is an ``m x k`` table computed once from the anchor
graph, so denoising costs one gather per node (the earlier per-node kernel mean over all anchors
cost 40% of the fit's time). Measured with float32 scans and every column blended alike (before
the per-eigenvector shares below; ``benchmarks/engine.py``; mean principal cosine to the exact
solution), ``s`` 0 -> 0.6 -> 0.8:

* 25,600 seed-shaped nodes: parts at top-9 0.9962 -> 0.9992 -> 0.9997 (ncut-pytorch 3.2.0:
  0.9987-0.9995 over runs); closeness top-9 / top-20 1.0000 / 0.8248 -> 0.9994 / 0.8116 ->
  0.9989 / 0.7810 (reference 0.9946 / 0.8046);
* 10,240 seed-shaped nodes: closeness 1.0000 / 0.9226 -> 0.9992 / 0.9206 (reference 0.9926 /
  0.8606);
* real DINOv2 ViT-S/14 features of the bundled photos, 25,600 nodes: closeness top-9 / 20 / 50
  0.9979 / 0.9978 / 0.9875 -> 0.9913 / 0.9901 / 0.9805 (reference 0.8647 / 0.8737 / 0.8294).

With every column blended alike, 0.6 balanced the parts against the finer eigenvectors (top-20),
which stronger smoothing blurred; a sharper kernel (``W ** 16``) captured fewer parts and blurred more. ``denoise=0`` gives the
graph's own eigenvectors.

**Per eigenvector** (:func:`column_shares`), the share is ``s_k = s * r_k``, with ``r_k`` in
``[0, 1]`` the part of column ``k`` the smoothing keeps: ``<M_k, u_k> / <u_k, u_k>`` over the
nodes (the cells weighted by their sizes). A column that varies smoothly across the anchors
(an object, a part, a layout) comes through the smoothing nearly whole (``r`` 0.97-1.00 for the
9 planted parts' eigenvectors of seed-shaped features) and is denoised at nearly ``s``; a
column that varies from anchor to anchor is not noise on a smooth eigenvector but the
eigenvector itself, which the smoothing would erase (``r`` 0.06-0.21, shares 0.04-0.12, for
the next 41, the spectrum's flat bulk past the parts), so it is left nearly as Nystrom's
formula gives it. The uniform blend replaced 60% of those columns by their near-zero smoothed
values: closeness at top-20 / top-50 fell from 0.8248 / 0.8113 to 0.8116 / 0.8007 (25,600
seed-shaped nodes, float32 scan); with the per-column share it is 0.8244 / 0.8113, with the
same parts (0.9992) and top-9 closeness (0.9994); bfloat16 scan: 0.8011 -> 0.8150 at top-20.
10,240 seed-shaped nodes, top-20: 0.9206 -> 0.9224 (bfloat16 0.9259 -> 0.9275). Real DINOv2
features (25,600 nodes), whose eigenvectors keep 0.4-1.0 of themselves (shares 0.22-0.60):
closeness top-9 / 20 / 50 0.9913 / 0.9901 / 0.9805 -> 0.9969 / 0.9971 / 0.9873 (0 gives
0.9979 / 0.9978 / 0.9875).

Per column, a larger ``s`` no longer blurs the finer eigenvectors (their shares stay small), so
the default is 0.8. ``s`` 0.6 -> 0.8 -> 0.9 on 25,600 seed-shaped nodes (float32 scan): parts at
top-9 0.9992 -> 0.9996 -> 0.9998 (ncut-pytorch 3.2.0: 0.9982-0.9995 over its runs), closeness
top-9 / top-20 0.9994 / 0.8244 -> 0.9989 / 0.8240 -> 0.9986 / 0.8239 (bfloat16 scan top-20
0.8150 -> 0.8147 -> 0.8145); 10,240 nodes: parts 0.9988 -> 0.9995, closeness 0.9993 / 0.9223
-> 0.9986 / 0.9221; real DINOv2 features: closeness 0.9969 / 0.9971 / 0.9873 -> 0.9957 /
0.9964 / 0.9870; k-way segments at k = 4 / 9 / 16 / 32: ARI 0.967 / 1.000 / 0.197 / 0.067 ->
0.967 / 1.000 / 0.202 / 0.070.

Memory stays linear in ``N``: blocks of ``chunk_size x m`` scores, never ``N x N``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from . import affinity as aff
from . import mkl_bf16
from .checks import check_finite
from .memory import check_memory, largest_fitting
from .propagate import scan_dtype
from .sampling import _orthonormal

# Principal directions of the anchors used for the node-to-anchor scan. On real DINOv2 features
# (384-d) the top-50 subspace matched the exact solution to 0.987 with 64 and 0.947 with 32
# (0.990 with 128 at twice the scan's cost).
SCAN_DIMS = 64
# Leading principal directions (of SCAN_DIMS) in which a node's nearest anchor, its cell, is
# chosen. The cells only weight the anchor graph; the extension still compares every node to
# every anchor in all SCAN_DIMS. Measured against 64 (mean principal cosine to the exact
# solution, top-9 / 20 / 50): 10,240 seed-shaped nodes 0.9986 / 0.9221 / 0.6840 -> 0.9986 /
# 0.9474 / 0.6900; 25,600: 0.9989 / 0.8240 / 0.8113 -> 0.9990 / 0.8164 / 0.8199, planted parts
# 0.9996 -> 0.9997; real DINOv2 features (25,600 nodes) 0.9957 / 0.9964 / 0.9870 -> 0.9957 /
# 0.9966 / 0.9862. 16 directions lost more (25,600: 0.8023 at top-20; DINOv2 0.9951). The scan's
# product halves: 34 float32 columns instead of 66 (36 instead of 68 in bfloat16).
NEAREST_DIMS = 32
# Subspace-iteration steps towards the anchors' top principal directions.
_POWER_STEPS = 3
# Sharpness of the denoising kernel among the anchors (module doc, "Denoising"): the anchor
# affinities squared this many times, i.e. to the 8th power (bandwidth gamma / 8). Powers 6
# and 12 captured fewer planted parts. Squarings, not pow(): 10x faster on AVX2.
DENOISE_SQUARINGS = 3


class PreparedRows:
    """Rows of ``X`` as the metric sees them, prepared only when indexed: L2-normalised (cosine)
    or shifted by ``center`` (euclidean). The Nystrom path reads nodes chunk by chunk, so the
    prepared ``(N, C)`` copy is never made (1.2 GB at 400,000 x 768).

    Supports ``len``, ``shape``, ``device`` and indexing by a slice or an index tensor.

    ``checked=False``: ``X``'s values have not been checked for NaN/Inf yet. The rows read by
    indexing and :meth:`scaled_rows` are checked as they are read, and :func:`own_anchors`
    checks every row it scans (:meth:`check_rows`), so a fit reads its 1.2 GB at 400,000 x 768
    once instead of twice (the upfront sum took 65 ms). A bad value anywhere raises
    :func:`~ncut_widget.engine.checks.check_finite`'s error about the whole ``X``, before
    anything is built from it.
    """

    def __init__(
        self, X: torch.Tensor, distance: str, center: torch.Tensor | None = None, *, checked: bool = True
    ) -> None:
        self.X = X
        self.distance = distance
        self.center = center
        self.checked = checked
        self.shape = X.shape
        self.device = X.device

    def _raw(self, idx: slice | torch.Tensor) -> torch.Tensor:
        # index_select: ~4x faster than advanced indexing for a gather of rows.
        return self.X[idx] if isinstance(idx, slice) else torch.index_select(self.X, 0, idx.to(self.X.device))

    def check_rows(self, row_values: torch.Tensor) -> None:
        """Raise ``check_finite``'s error when ``X`` is unchecked and any of ``row_values`` (one
        value per row read, non-finite for a row holding NaN or Inf) is not finite."""
        if not self.checked and not bool(torch.isfinite(row_values).all()):
            check_finite(self.X, "X")  # raises, unless only a row's norm overflowed

    def __len__(self) -> int:
        return self.X.shape[0]

    def __getitem__(self, idx: slice | torch.Tensor) -> torch.Tensor:
        rows = aff.prepare(self._raw(idx), self.distance)
        rows = rows if self.center is None else rows - self.center
        if not self.checked:
            self.check_rows(rows.sum(dim=1))
        return rows

    def scaled_rows(self, idx: slice | torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """``(raw rows (n, C), scale (n,) float32 or None)`` with ``self[idx] == scale[:, None] *
        raw - center`` up to rounding: the inverse row norms for cosine (as ``prepare``'s
        normalisation), ``None`` (ones) for euclidean."""
        raw = self._raw(idx).float()
        if self.distance != "cosine":
            if not self.checked:
                self.check_rows(raw.sum(dim=1))
            return raw, None
        norms = torch.linalg.vector_norm(raw, dim=1)
        self.check_rows(norms)
        return raw, norms.clamp_min_(1e-12).reciprocal_()

    def rows_into(self, sl: slice, out: torch.Tensor) -> torch.Tensor:
        """``self[sl]`` (float32, on ``out``'s device) written into the front rows of ``out``.

        The scan reads every node once, a chunk at a time: a fresh multi-MB chunk is
        page-faulted in on each allocation (~2 ms per 2,048 x 768 chunk, 3x the normalisation
        itself), a reused one is not. Same values as indexing.
        """
        raw = self.X[sl].to(out.device, torch.float32)
        buf = aff.prepare(raw, self.distance, out=out[: raw.shape[0]])
        # The centre lies with X, which may be the CPU when out is on a GPU (a transform of CPU rows).
        return buf if self.center is None else buf.sub_(self.center.to(buf.device))


@dataclass
class Reduction:
    """The anchors in their principal subspace: what the scan and the extension compare nodes to.

    Attributes:
        center: ``(C,)`` the anchors' mean (the subspace is centred on it).
        basis: ``(C, d)`` orthonormal principal directions (``None`` when ``C <= SCAN_DIMS``: the
            full space).
        anchors: ``(m, C)`` the prepared anchors, as given (not centred: a row equal to an anchor
            is then at distance exactly 0 from it).
        proj: ``(m, d)`` the centred anchors' coordinates in the basis.
        resid: ``(m,)`` their squared length left outside the basis.
        half: ``0.5`` for cosine (``1 - cos = |x - y|^2 / 2`` on unit rows), ``1.0`` for euclidean.
    """

    center: torch.Tensor
    basis: torch.Tensor | None
    anchors: torch.Tensor
    proj: torch.Tensor
    resid: torch.Tensor
    half: float

    @property
    def nearest_dims(self) -> int:
        """Leading coordinates the nearest-anchor scan compares: ``NEAREST_DIMS`` of a sorted
        basis (:func:`fit_reduction`), all of them in the full space (``basis is None``)."""
        d = self.proj.shape[1]
        return d if self.basis is None else min(NEAREST_DIMS, d)

    def project(
        self,
        Q: torch.Tensor,
        dtype: torch.dtype = torch.float32,
        scratch: torch.Tensor | None = None,
        out: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(coordinates (n, d), squared residual lengths (n,))`` of prepared rows ``Q``, centred;
        float32.

        ``dtype`` float32: without a centred copy of ``Q``: ``Q @ basis`` gives the coordinates
        (minus the centre's) and ``Q @ center`` the rest of
        ``|Q - center|^2 = |Q|^2 - 2 Q.center + |center|^2``. bfloat16 (where its products are
        fast): the rows are centred first (into ``scratch``, ``Q``'s shape, when given), so the
        rounding of the product's inputs scales with the centred rows; the coordinates then carry
        about the rounding the bfloat16 scan gives them anyway (5x faster at 2,048 x 768 x 64 on
        AMX). The lengths are float32 sums either way. ``out``: a float32 ``(n, d)`` tensor the
        coordinates are written into (and returned as), e.g. the scan's rows of all coordinates.
        """
        if self.basis is None:
            qp = torch.sub(Q, self.center, out=out) if out is not None else Q - self.center
            return qp, torch.zeros(Q.shape[0], dtype=Q.dtype, device=Q.device)
        if dtype != torch.float32:
            Qc = torch.sub(Q, self.center, out=scratch) if scratch is not None else Q - self.center
            low = Qc.to(dtype) @ self.basis.to(dtype)
            qp = out.copy_(low) if out is not None else low.float()
            length = torch.linalg.vector_norm(Qc, dim=1).square_()
        else:
            # The basis alone (64 columns) and Q . center as a product with a vector: with the
            # centre as a 65th column MKL took 1.80 ms instead of 1.27 + 0.13 ms per 2,048 x 768
            # rows with AVX2 kernels (1.29 against 1.09 + 0.13 with AVX-512 ones).
            qp = torch.mm(Q, self.basis, out=out).sub_(self.center @ self.basis)
            length = torch.linalg.vector_norm(Q, dim=1).square_().sub_(Q @ self.center, alpha=2)
            length.add_(self.center.dot(self.center))
        return qp, (length - qp.pow(2).sum(dim=1)).clamp_min_(0)


def fit_reduction(anchors: torch.Tensor, distance: str, seed: int, dims: int = SCAN_DIMS) -> Reduction:
    """Centre the prepared ``anchors`` ``(m, C)`` and find their top ``dims`` principal directions
    by subspace iteration from a start drawn from a generator seeded with ``seed``."""
    center = anchors.mean(dim=0)
    if anchors.shape[1] <= dims:
        return reduction(center, None, anchors, distance)
    A = anchors - center
    gen = torch.Generator().manual_seed(seed)
    basis = _orthonormal(torch.randn(A.shape[1], dims, generator=gen, dtype=torch.float32).to(A.device, A.dtype))
    for _ in range(_POWER_STEPS):
        basis = _orthonormal(A.T @ (A @ basis))
    # Rotated within the subspace so the directions come by decreasing variance (Rayleigh-Ritz on
    # the anchors' coordinates): the scan uses the leading NEAREST_DIMS. The subspace, and so every
    # distance in it, is unchanged. float64: the small Gram matrix's eigh is cheap either way.
    proj = A @ basis
    _, rot = torch.linalg.eigh((proj.T @ proj).double())
    basis = basis @ rot.flip(1).to(basis.dtype)
    return reduction(center, basis.contiguous(), anchors, distance)


def reduction(center: torch.Tensor, basis: torch.Tensor | None, anchors: torch.Tensor, distance: str) -> Reduction:
    """The :class:`Reduction` of prepared ``anchors`` centred on ``center``, in ``basis``
    (``None``: the full space)."""
    half = 0.5 if distance == "cosine" else 1.0
    A = anchors - center
    if basis is None:
        return Reduction(center, None, anchors, A, torch.zeros(A.shape[0], dtype=A.dtype, device=A.device), half)
    proj = A @ basis
    resid = (A.pow(2).sum(dim=1) - proj.pow(2).sum(dim=1)).clamp_min_(0)
    return Reduction(center, basis, anchors, proj, resid, half)


def scan_bytes(rows: int, m: int, c: int, d: int) -> int:
    """Peak bytes of one block of the scan or the extension: the ``rows x m`` scores (and their
    bfloat16 operands), the centred rows and their coordinates."""
    return rows * (8 * m + 4 * c + 8 * (d + 2)) + 2 * m * (d + 2)


def _check_block(rows: int, red: Reduction, device: torch.device, what: str) -> None:
    m, c, d = red.anchors.shape[0], red.anchors.shape[1], red.proj.shape[1]
    check_memory(
        scan_bytes(rows, m, c, d),
        device,
        what=f"{what} ({rows} rows x {m} anchors per chunk)",
        advice=lambda budget: f"Use chunk_size <= {largest_fitting(lambda r: scan_bytes(r, m, c, d), budget, rows)}.",
    )


def row_argmin(S: torch.Tensor, width: int = 64) -> torch.Tensor:
    """``S.argmin(dim=1)`` (first index among ties), 3-4x faster on CPU: each row's minimum over
    blocks of ``width`` columns first (a contiguous reduction), then the argmin inside the block
    that holds it."""
    n, m = S.shape
    full = m - m % width
    if full == 0 or S.device.type != "cpu":
        return S.argmin(dim=1)
    blocks = S[:, :full].reshape(n, full // width, width)  # a view when S is contiguous
    block_min, block = blocks.amin(dim=2).min(dim=1)
    rows = torch.arange(n, device=S.device)
    idx = block * width + blocks[rows, block].argmin(dim=1)
    if full < m:  # columns past the last whole block; ties keep the earlier (block) index
        tail_min, tail = S[:, full:].min(dim=1)
        idx = torch.where(tail_min < block_min, tail + full, idx)
    return idx


def split_parts(v: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``(n, 2)`` float32 ``[hi, lo]``: ``v`` rounded to ``dtype`` and the rest rounded to it
    (exactly 0 for float32): as two columns of a ``dtype`` product they carry ``v`` to about
    ``dtype``'s precision squared. The squared lengths in the score products are large next to
    the distances they make up; rounded once to bfloat16 (2^-9) they would shift whole rows of
    scores by more than the gaps between near anchors."""
    return mkl_bf16.split(v.unsqueeze(0), 2, dtype).T.float()


def distance_operand(
    coords: torch.Tensor,
    sq: torch.Tensor,
    dtype: torch.dtype,
    *,
    queries: bool,
    scale: float = 1.0,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """One side of a squared-distance product, ``queries @ anchors.T = scale * (|q|^2 + |a|^2 -
    2 q.a)``: ``[q, 1, |q|^2]`` for query rows (``queries=True``) and ``scale * [-2 a, |a|^2, 1]``
    for the anchors, ``(n, d + 2)``; in a low-precision ``dtype`` each length as two columns
    (:func:`split_parts`), ``(n, d + 4)``. ``sq`` may hold more than the squared coordinates
    (the extension adds the residual lengths). ``out`` (query rows only): a ``dtype`` tensor of
    that shape to write the operand into; the scan and the extension build one per 2,048-row
    block, and filling a reused buffer took half the time of a concatenation."""
    width = 1 if dtype == torch.float32 else 2
    if queries:
        d = coords.shape[1]
        if out is None:
            out = torch.empty((coords.shape[0], d + 2 * width), dtype=dtype, device=coords.device)
        out[:, :d].copy_(coords)
        out[:, d : d + width].fill_(1.0)
        if width == 1:
            out[:, d + 1].copy_(sq)
        else:
            out[:, d + 2 : d + 4].copy_(mkl_bf16.split(sq.unsqueeze(0), 2, dtype).T)
        return out
    ones = torch.ones((coords.shape[0], width), dtype=torch.float32, device=coords.device)

    def lengths(v: torch.Tensor) -> torch.Tensor:
        return v.unsqueeze(1) if width == 1 else split_parts(v, dtype)

    return torch.cat([coords * (-2.0 * scale), lengths(sq * scale), ones * scale], dim=1).to(dtype)


def nearest_column(S: torch.Tensor) -> torch.Tensor:
    """Each row's argmin of squared-distance scores ``S`` ``(n, m)``: ``(n,)`` int64.

    On the CPU, bfloat16 and float32 scores are compared as their int16 / int32 bit patterns:
    no float copy for bfloat16 (the copy and a float argmin took twice as long), and no NaN
    handling for float32 (0.91 ms instead of 1.38 ms per 2,048 x 2,048 block, with AVX-512 and
    AVX2 kernels alike). For values >= 0 that order is the numbers' order; scores below 0 are
    distances of ~0 pushed under by rounding: they still come before every positive one, in
    reverse order among themselves, i.e. a near-tie at distance 0 may pick any of its members.
    """
    bits = {torch.bfloat16: torch.int16, torch.float32: torch.int32}.get(S.dtype)
    if bits is not None and S.device.type == "cpu":
        return row_argmin(S.view(bits))
    return row_argmin(S)


@torch.no_grad()
def own_anchors(
    red: Reduction,
    P: torch.Tensor,
    *,
    chunk_size: int,
    device: torch.device,
    precision: str | None = "float32",
    progress: Callable[[int, int], None] | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each prepared row's cell: its nearest anchor in the leading ``red.nearest_dims`` principal
    directions (``NEAREST_DIMS``).

    Returns ``(own (N,) int64, exact distance to it (N,), coordinates (N, d), squared residual
    lengths (N,))``, all on ``device``, float32; the distance is the graph's (``1 - cos`` or
    squared euclidean) in the full space, to the chosen anchor. ``precision`` (``scan_dtype``)
    is that of the ``rows x m`` score product: in float32 an anchor finds itself; bfloat16
    rounding (~0.4% of a squared distance) can pick, among anchors that near-tie, one that is
    not the nearest, and the distance returned is then that anchor's.
    """
    n = P.shape[0]
    m, d = red.proj.shape
    rows = min(chunk_size, n)
    _check_block(rows, red, device, "the nearest-anchor scan")
    dtype = scan_dtype(device, precision)
    # Squared distances in the subspace, |q|^2 + |a|^2 - 2 q.a, in one product: rounded to
    # bfloat16 they keep ~3 digits of the distance itself, where |a|^2 - 2 q.a (the same argmin)
    # kept 3 digits of |q|^2, which dwarfs a near anchor's distance (measured at 100,000 seed-
    # shaped nodes: the scan's picks 81% instead of 75% those of float32).
    # In the leading red.nearest_dims directions only (NEAREST_DIMS); the coordinates kept for the
    # extension are all d.
    s = red.nearest_dims
    lead = red.proj[:, :s]
    A_scan = distance_operand(lead, lead.pow(2).sum(dim=1), dtype, queries=False).T.contiguous()
    own = torch.empty(n, dtype=torch.long, device=device)
    own_d = torch.empty(n, dtype=torch.float32, device=device)
    coords = torch.empty((n, d), dtype=torch.float32, device=device)
    resid = torch.empty(n, dtype=torch.float32, device=device)
    # One score buffer for every chunk: fresh 16 MB blocks are page-faulted in on every call.
    scores = torch.empty((rows, m), dtype=dtype, device=device)
    q_buf = torch.empty((rows, A_scan.shape[0]), dtype=dtype, device=device)
    diff = torch.empty((rows, red.anchors.shape[1]), dtype=torch.float32, device=device)
    rows_buf = torch.empty_like(diff)
    for start in range(0, n, chunk_size):
        sl = slice(start, start + chunk_size)
        Q = P.rows_into(sl, rows_buf) if isinstance(P, PreparedRows) else P[sl].to(device, torch.float32)
        r = Q.shape[0]
        # The coordinates land in their rows of ``coords`` directly, the operand in one buffer.
        qp, resid[sl] = red.project(Q, dtype, scratch=diff[:r], out=coords[sl])
        q_side = distance_operand(qp[:, :s], qp[:, :s].pow(2).sum(dim=1), dtype, queries=True, out=q_buf[:r])
        j = nearest_column(torch.mm(q_side, A_scan, out=scores[:r]))
        own[sl] = j
        gathered = torch.index_select(red.anchors, 0, j, out=diff[:r])
        dist = torch.linalg.vector_norm(torch.sub(Q, gathered, out=diff[:r]), dim=1)
        own_d[sl] = dist.square_().mul_(red.half)
        if progress is not None:
            progress(min(start + chunk_size, n), n)
    if isinstance(P, PreparedRows):  # a NaN or Inf in a row makes its residual length NaN or Inf
        P.check_rows(resid)
    return own, own_d, coords, resid


def cell_graph(
    W: torch.Tensor, own: torch.Tensor, own_d: torch.Tensor, anchors: torch.Tensor, gamma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The cell-aggregated affinity ``K`` (in place of ``W``, the ``m x m`` anchor affinities) and
    the cells' sizes ``c`` (see the module doc); ``anchors`` are the anchors' row indices.

    ``K_ab = c_a c_b W_ab`` (a != b); ``K_aa = c_a + sum_i e_i + (sum_i sqrt(e_i))^2`` over the
    cell's non-anchor members ``i``, ``e_i = exp(-d(i, a) / gamma)``.
    """
    m = W.shape[0]
    c = torch.bincount(own, minlength=m).to(W.dtype).clamp_min_(1)
    member = torch.ones(own.shape[0], dtype=torch.bool, device=own.device)
    member[anchors.to(own.device)] = False
    e = aff.scaled_exp_(own_d[member], -1.0 / gamma)  # boolean indexing copied: in place is safe
    sums = _cell_sums(own[member], torch.stack([e, e.sqrt()], dim=1), m).to(W.dtype)
    sum_e, sum_r = sums[:, 0], sums[:, 1]
    W.mul_(c.unsqueeze(1)).mul_(c.unsqueeze(0))
    W.diagonal().copy_(c + sum_e + sum_r * sum_r)
    return W, c


def _cell_sums(cells: torch.Tensor, values: torch.Tensor, m: int) -> torch.Tensor:
    """``(m, v)`` float64 sums of the rows of ``values`` ``(n, v)`` per cell ``cells`` ``(n,)``.

    Sorted by cell (stable) and summed by differences of a float64 running sum: the same order,
    so the same bits, on every run and device. ``index_add_`` on CUDA adds with float atomics,
    whose order (and so the last bits of the cell graph and every eigenvector) changes per run.
    """
    # On the CPU (N x 3 numbers): a GPU runs this cumsum along the rows as a serial loop.
    device = values.device
    cells, values = cells.cpu(), values.cpu()
    order = torch.sort(cells, stable=True).indices
    running = torch.zeros((cells.shape[0] + 1, values.shape[1]), dtype=torch.float64, device=values.device)
    torch.cumsum(values[order].double(), dim=0, out=running[1:])
    counts = torch.bincount(cells, minlength=m)
    ends = counts.cumsum(0)
    return (running[ends] - running[ends - counts]).to(device)


def column_shares(cells: torch.Tensor, smoothed: torch.Tensor, mass: torch.Tensor, denoise: float) -> torch.Tensor:
    """Each eigenvector's denoising share ``s_k = denoise * r_k`` (module doc, "Per
    eigenvector"): ``(k,)`` float32 in ``[0, denoise]``.

    Args:
        cells: ``(m, k)`` the cells' values ``u`` (Nystrom's formula on the anchors).
        smoothed: ``(m, k)`` their smoothed values ``M`` (:func:`smoothed_values`).
        mass: ``(m,)`` cell sizes: a cell's value stands for that many nodes.

    ``r_k = sum_a c_a M_ak u_ak / sum_a c_a u_ak^2``, clipped to ``[0, 1]``; a column that is 0
    on every cell (nothing to smooth) gets 0.
    """
    u, M, c = cells.double(), smoothed.double(), mass.double().unsqueeze(1)
    kept = (c * M * u).sum(dim=0)
    energy = (c * u * u).sum(dim=0)
    ratio = torch.where(energy > 0, kept / energy.clamp_min(1e-300), torch.zeros_like(kept))
    return (denoise * ratio.clamp(0.0, 1.0)).float()


def sharp_kernel(W: torch.Tensor) -> torch.Tensor:
    """``W ** 8`` (``2 ** DENOISE_SQUARINGS``), a new tensor: the denoising kernel among the anchors."""
    K = W.square()
    for _ in range(DENOISE_SQUARINGS - 1):
        K.square_()
    return K


def smoothed_values(sharp: torch.Tensor, mass: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """Each anchor cell's kernel mean of the cell values (module doc, "Denoising"): ``(m, k)``.

    Args:
        sharp: ``(m, m)`` :func:`sharp_kernel` of the anchors' affinities (consumed: scaled in
            place). Its diagonal is ~1 (distance 0), so no row sums to 0 whatever gamma is.
        mass: ``(m,)`` cell sizes ``c``; ``values``: ``(m, k)`` the cells' values ``u``.
    """
    K = sharp.mul_(mass.to(sharp.dtype).unsqueeze(0))
    return (K @ values.to(K.dtype)) / K.sum(dim=1, keepdim=True)


@torch.no_grad()
def extend(
    red: Reduction,
    P: torch.Tensor,
    *,
    anchor_values: torch.Tensor,
    mass: torch.Tensor,
    cell_degree: torch.Tensor,
    eigenvalues: torch.Tensor,
    gamma: float,
    chunk_size: int,
    device: torch.device,
    precision: str | None = None,
    own: tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
    anchor_out: torch.Tensor | None = None,
    smoothed: torch.Tensor | None = None,
    denoise: float | torch.Tensor = 0.0,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Eigenvector values of prepared rows ``P`` by the module doc's formula: ``(N, k)`` float32 CPU.

    Args:
        anchor_values: ``(m, k)`` eigenvector values on the anchors (``u``, unit columns over all
            nodes).
        mass: ``(m,)`` cell sizes ``c``; ``cell_degree``: ``(m,)`` the cells' total degrees ``D``.
        eigenvalues: ``(k,)``.
        precision: dtype of the ``rows x m`` score products (``scan_dtype``), here and in
            :func:`own_anchors`: bfloat16 scores change the affinities by ~1% each, far below
            what the subspace estimate leaves out (measured: the same eigenvectors to 4 digits).
        own: the rows' ``own_anchors`` result when already computed (the fitted nodes).
        anchor_out: ``(m, k)`` what a row identical to an anchor (distance 0) gets: that anchor's
            own extended values (``Ncut.anchor_eigvecs_``); ``None`` computes those rows too.
        smoothed: ``(m, k)`` the cells' smoothed values ``M`` (:func:`smoothed_values`), needed
            when ``denoise > 0``.
        denoise: share ``s`` in ``[0, 1)`` of each value taken from its own cell's smoothed
            value (module doc, "Denoising"): one for every column, or ``(k,)`` shares per
            column (:func:`column_shares`); 0 is Nystrom's formula alone.
    """
    n, k = P.shape[0], anchor_values.shape[1]
    m = red.proj.shape[0]
    rows = min(chunk_size, n)
    _check_block(rows, red, device, "the extension to nodes")
    dtype = scan_dtype(device, precision)
    if own is None:
        own = own_anchors(red, P, chunk_size=chunk_size, device=device, precision=precision)
    own_idx, own_d, coords, resid = own
    F = anchor_values.to(device, torch.float32)
    f = F / (cell_degree / mass).sqrt().unsqueeze(1)
    # One product gives each row's degree (against the masses) and numerators (against c * f).
    # Zero columns up to a multiple of 8: MKL's float32 kernels took 3.1 ms instead of 3.9 ms for
    # 2,048 x 2,048 @ 56 instead of @ 51 with AVX-512 (the same with AVX2), and the whole
    # extension at 400,000 nodes 1.37-1.59 s instead of 1.52-1.70 s.
    right = torch.cat([mass.unsqueeze(1), mass.unsqueeze(1) * f], dim=1)
    right = torch.nn.functional.pad(right, (0, -(k + 1) % 8))
    share = torch.as_tensor(denoise, dtype=torch.float32).to(device).expand(k)
    blend = bool((share > 0).any())
    if blend and smoothed is None:
        raise ValueError("extend: denoise > 0 needs the cells' smoothed values")
    M = smoothed.to(device, torch.float32) if blend else None
    keep = 1.0 - share
    lam = eigenvalues.to(device, torch.float32).clamp_min(1e-12)
    inv = -1.0 / gamma
    # Scores -d/gamma in one product (distance_operand, scaled by half / -gamma), times log2(e)
    # so that exp2 turns them into affinities (affinity.scaled_exp_: exp2 ran in about half
    # the time of exp):
    # d = half * (|p|^2 + r + |a_p|^2 + r_a - 2 p.a_p).
    A_scan = distance_operand(red.proj, red.proj.pow(2).sum(dim=1) + red.resid, dtype, queries=False,
                              scale=red.half * inv * aff.LOG2E).T.contiguous()
    scores = torch.empty((rows, m), dtype=torch.float32, device=device)
    # bfloat16: the score product only. Exponentials stored in bfloat16 and a bfloat16 product
    # with the anchor values made the extension ~25% faster (the whole fit 1.07x at 400,000)
    # but doubled the error of the eigenvectors of small eigenvalues, whose sums cancel to ~1%
    # of their terms (against the float32 formula: 1.9% of a column's largest value, not 1.1%).
    low = torch.empty((rows, m), dtype=dtype, device=device) if dtype != torch.float32 else None
    q_buf = torch.empty((rows, A_scan.shape[0]), dtype=dtype, device=device)
    row_ids = torch.arange(rows, device=device)
    out = torch.empty((n, k), dtype=torch.float32)
    for start in range(0, n, chunk_size):
        sl = slice(start, start + chunk_size)
        qp, rq = coords[sl], resid[sl]
        r = qp.shape[0]
        j, dj = own_idx[sl], own_d[sl]
        q_side = distance_operand(qp, qp.pow(2).sum(dim=1).add_(rq), dtype, queries=True, out=q_buf[:r])
        if low is None:
            S = torch.mm(q_side, A_scan, out=scores[:r])
        else:
            S = scores[:r].copy_(torch.mm(q_side, A_scan, out=low[:r]))
        S.exp2_()
        w_own = aff.scaled_exp_(dj.clone(), inv)
        # The own anchor's exact affinity (index_put_: as fast as scatter_ on float32 blocks,
        # where scatter_ copies a bfloat16 block whole).
        S.index_put_((row_ids[:r], j), w_own)
        sums = S @ right
        self_gap = 1.0 - w_own
        deg = sums[:, 0] + self_gap
        den = lam.unsqueeze(0) * deg.unsqueeze(1) - self_gap.unsqueeze(1)
        # For eigenvalues near 1 / degree the self-correction would dominate: floor it.
        den = torch.maximum(den, 0.5 * lam.unsqueeze(0) * deg.unsqueeze(1))
        u = sums[:, 1 : k + 1].mul_(deg.sqrt().unsqueeze(1)).div_(den)
        if M is not None:
            u.mul_(keep).addcmul_(M[j], share)
        out[start : start + r] = u.cpu()
        if progress is not None:
            progress(min(start + chunk_size, n), n)
    if anchor_out is not None:
        # A row identical to an anchor takes that anchor's values: found once for all rows, on
        # the CPU output (no check per chunk, which on a GPU would wait for each chunk).
        same = torch.nonzero(own_d == 0).squeeze(1)
        out[same.cpu()] = anchor_out.to("cpu", torch.float32)[own_idx[same].cpu()]
    return out
