"""Ncut: Normalized Cuts on a node list ``(N, C)`` -- fit / transform / fit_transform.

Graph: W_ij = exp(-dist_ij / gamma) (see ``affinity.py``), normalized S = D^-1/2 W D^-1/2;
the eigenvectors of S's largest eigenvalues are returned (the first is ~constant-sign, value 1).

Two paths:

* exact (``n_sample >= N``): every node is an anchor; the dense ``N x N`` affinity is built
  once and kept as its upper half (float32: 1.3 GB at 25,600 nodes; float16, as ``"auto"`` keeps
  it from 8,192 nodes: 0.65 GB; ``exact.py``), and the top eigenpairs of ``D^-1/2 W D^-1/2``
  are found by block Krylov iteration to a residual tolerance (``eigsolve.py``).
* Nystrom (``n_sample < N``): ``n_sample`` anchors by farthest point sampling. Each node joins
  the cell of its nearest anchor (searched in the anchors' top 32 principal directions), so
  anchor ``a`` stands for ``c_a`` nodes; the cell-aggregated anchor graph is solved (which undoes
  FPS's bias against dense regions and keeps the eigenvalues those of the whole graph), then
  every node's values come from Nystrom's formula over all anchors, compared in the top 64
  directions (``nystrom.py``). Memory is
  ``O(N * (C + 64 + n_eig) + chunk_size * n_sample + n_sample^2)``: never ``N x N``.

Before either path allocates its quadratic buffers, their size is checked against the memory
budget (``memory.py``: half of what the device has available, or ``NCUT_WIDGET_MEMORY_BUDGET``);
beyond it ``fit`` raises a ``MemoryBudgetError`` (a ``ValueError``) saying what would fit.

``fit`` and ``transform`` run their float32 products at full precision even where the session
lowered it (TF32, bfloat16 through oneDNN, ``torch.autocast``: ``precision.py``), and give the
setting back.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from ..progress import ProgressFn, resolve_progress, scaled
from . import affinity as aff
from . import nystrom as nys
from .checks import (
    as_node_matrix,
    check_finite,
    check_int,
    check_open_unit,
    check_share,
    resolve_device,
)
from .eigsolve import (
    DENSE_EIGH_MAX,
    MAX_ITER,
    TOL,
    NcutConvergenceWarning,
    fix_signs,
    top_eigh,
    top_eigh_bytes,
)
from .exact import build_bytes, exact_affinity, storage_dtype
from .memory import check_memory, largest_fitting
from .precision import full_float32
from .propagate import check_scan_precision
from .sampling import farthest_point_sampling

# Default rows per chunk of the scan and the extension (chunk_size=None). CPU: a 2,048 x 2,048
# float32 score block (16 MB) stays in the last-level cache between the product, the
# exponentials and the second product. GPU: each chunk costs ~35 kernel launches from Python
# and one wait for its eigenvector rows to come back: 489 chunks of 2,048 rows for a million
# nodes, 123 of 8,192 (67 MB of scores at 2,048 anchors; the exact path's transform, whose
# blocks span every fitted node, 1.7 GB at 25,600 of them, so not larger).
CPU_CHUNK_ROWS = 2048
GPU_CHUNK_ROWS = 8192


def default_chunk_size(device: torch.device) -> int:
    """Rows per chunk ``Ncut(chunk_size=None)`` takes on ``device``: ``CPU_CHUNK_ROWS`` on the
    CPU, ``GPU_CHUNK_ROWS`` elsewhere."""
    return CPU_CHUNK_ROWS if torch.device(device).type == "cpu" else GPU_CHUNK_ROWS


class Ncut:
    """Normalized Cuts with a Nystrom approximation for large node lists.

    Args:
        n_eig: number of eigenvectors to return (``1 <= n_eig < N``).
        n_sample: number of FPS anchors. ``n_sample >= N`` takes the exact path (no
            approximation). Default 2048: on seed-shaped features (10,240 nodes) the planted
            parts' 9-D eigen-subspace matches the exact one to 0.998 mean principal cosine from
            1,024 anchors up (4,096 gains nothing), and 2,048 leaves margin for richer images.
            Must exceed ``n_eig``.
        n_neighbors: accepted so the tutorial's ``Ncut(..., n_neighbors=10, ...)`` runs unchanged;
            it has no effect: the Nystrom extension weighs every anchor by its affinity, which
            matched the exact eigenvectors better than any nearest-anchors average did
            (``nystrom.py``). A value other than 10 warns.
        d_gamma: target mean affinity of the graph in (0, 1); smaller = sharper graph. Gamma is
            solved (bisection-bracketed Newton) on 1,024 seeded-uniform nodes' pairs (then refined by Newton on
            all pairs in the exact path). ``None`` sets gamma to the median pairwise distance
            of those nodes; ``d_gamma_`` then records the resulting mean affinity. Default 0.5
            (the tutorial's value).
        distance: ``"cosine"`` (``1 - cos`` on L2-normalized features) or ``"euclidean"``
            (squared euclidean distance on raw features).
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, a ``torch.device`` or ``None`` (CUDA when
            available). Results always come back on the CPU.
        seed: seeds anchor sampling, the gamma sample and the eigensolver's start; same input
            and seed give the same output whatever the global RNG state.
        progress: ``None``/``False`` (silent), ``True`` (tqdm bars) or a callable
            ``progress(stage: str, done: int, total: int)``.
        chunk_size: query rows per block when measuring distances to anchors; peak extra memory
            is about ``chunk_size * n_sample * 8`` bytes. ``None`` (default): 2,048 on the CPU,
            8,192 on a GPU (:func:`default_chunk_size`). Results do not depend on it beyond
            float rounding.
        eig_max_iter: restart cycles allowed to the eigensolver's block Krylov iteration (graphs
            above 1,000 nodes or anchors); it usually converges in 1-3. Running out sets
            ``converged_`` to ``False`` and warns with :class:`NcutConvergenceWarning`.
        scan_precision: dtype of the pairwise score products: the Nystrom path's
            node-to-anchor scan and extension, and the exact path's all-pairs distances (on
            rows centred on their mean, ``exact.py``): ``"float32"``, ``"bfloat16"`` (faster on
            GPUs and AMX CPUs; emulated and slow elsewhere), ``"auto"`` (bfloat16 where fast) or
            ``None`` (the ``NCUT_WIDGET_SCAN`` environment variable, read at each fit/transform,
            else ``"auto"``). In bfloat16 the scan also projects the (centred) nodes on the
            anchors' principal directions in bfloat16. The distance of each node to its own
            anchor, the anchor graph and the eigensolver's sums are always float32. From 8,192
            nodes on, ``"auto"``'s exact path keeps the affinities in float16 (half the memory;
            ``exact.storage_dtype``), from 16,384 in bfloat16 where MKL multiplies its bfloat16
            pairs (AMX CPUs; ``engine/mkl_bf16.py``); ``"float32"`` keeps them in float32.
        denoise: largest share in ``[0, 1)`` of each node's value (Nystrom path) taken from
            the smoothed value of its own anchor's cell instead of Nystrom's formula
            (``nystrom.py``, "Denoising"; one gather per node). Each eigenvector gets this
            share times the part of it the smoothing keeps (``denoise_shares_``): smooth
            eigenvectors (objects, parts) are denoised, those the smoothing would erase are
            left as the graph gives them. Default 0.8: on 25,600 seed-shaped nodes the
            planted parts are captured better than by a nearest-anchors mean (top-9 0.9996,
            where the exact solution's own eigenvectors hold 0.9963 and ncut-pytorch 3.2.0's
            0.9982-0.9995) at 0.9989 / 0.8240 mean principal cosine to the exact top-9 /
            top-20 (0 gives 1.0000 / 0.8248; ncut-pytorch 3.2.0 0.9946-0.9951 / 0.7696-0.8122
            over runs). 0: the graph's eigenvectors as closely as the anchors allow. No
            effect on the exact path.

    Fitted attributes: ``eigenvalues_`` (n_eig,) float32 descending, ``gamma_`` (float),
    ``d_gamma_`` (float, mean affinity aimed at / reached), ``exact_`` (bool),
    ``anchor_indices_`` (m,) int64 rows of the fitted X, ``anchor_mass_`` (m,) float32 nodes per
    anchor, ``anchor_eigvecs_`` (m, n_eig) float32, ``converged_`` (bool, the eigensolver met its
    tolerance), ``n_iter_`` (int, eigensolver cycles), ``n_features_in_`` (int), ``n_nodes_`` (int),
    ``denoise_shares_`` (n_eig,) float32 in ``[0, denoise]``: each eigenvector's share taken from
    the smoothed values (zeros on the exact path and with ``denoise=0``).

    Raises (from ``fit``): ``MemoryBudgetError`` (a ``ValueError``) when the chosen path would
    not fit in the memory budget, naming the largest exact ``N`` / ``n_sample`` that would.
    """

    def __init__(
        self,
        n_eig: int = 50,
        n_sample: int = 2048,
        n_neighbors: int = 10,
        d_gamma: float | None = 0.5,
        distance: str = "cosine",
        device: str | torch.device | None = None,
        seed: int = 0,
        progress: bool | ProgressFn | None = None,
        chunk_size: int | None = None,
        eig_max_iter: int = MAX_ITER,
        scan_precision: str | None = None,
        denoise: float = 0.8,
    ) -> None:
        self.n_eig = check_int(n_eig, "n_eig", minimum=1)
        self.n_sample = check_int(n_sample, "n_sample", minimum=1)
        if self.n_sample <= self.n_eig:
            raise ValueError(f"n_sample ({self.n_sample}) must be larger than n_eig ({self.n_eig})")
        self.n_neighbors = check_int(n_neighbors, "n_neighbors", minimum=1)
        if self.n_neighbors != 10:
            warnings.warn(
                f"n_neighbors={self.n_neighbors} has no effect: the Nystrom extension weighs every "
                "anchor (ncut_widget.engine.nystrom); the argument is kept for compatibility.",
                UserWarning,
                stacklevel=2,
            )
        self.d_gamma = None if d_gamma is None else check_open_unit(d_gamma, "d_gamma")
        self.distance = aff.check_distance(distance)
        self.device = resolve_device(device)
        self.seed = check_int(seed, "seed", minimum=0)
        self.progress = progress
        self._report = resolve_progress(progress)
        self.chunk_size = (
            default_chunk_size(self.device) if chunk_size is None else check_int(chunk_size, "chunk_size", minimum=1)
        )
        self.eig_max_iter = check_int(eig_max_iter, "eig_max_iter", minimum=1)
        self.scan_precision = None if scan_precision is None else check_scan_precision(scan_precision, "scan_precision")
        self.denoise = check_share(denoise, "denoise")
        self._fit_eigvecs: torch.Tensor | None = None

    # ------------------------------------------------------------------ public API
    @full_float32
    def fit(self, X: Any) -> Ncut:
        """Fit on node features ``X`` ``(N, C)`` (torch tensor or numpy array, any real dtype)."""
        # Values are checked for NaN/Inf by the first pass that reads them all (see below).
        X = as_node_matrix(X, "X", check_values=False)
        n = X.shape[0]
        if self.n_eig >= n:
            raise ValueError(f"n_eig ({self.n_eig}) must be smaller than the number of nodes ({n})")
        self._check_fit_memory(n, X.shape[1], copied=X.device != self.device)
        X = X.to(self.device)
        # Squared distances do not change under a shift, but |x|^2 + |y|^2 - 2<x, y> in float32
        # loses the digits a large common offset carries: euclidean features are centred.
        self._center = X.mean(dim=0) if self.distance == "euclidean" else None
        # A mean (a sum) is finite only when every value is: that pass checks them. Else the
        # exact path checks them whole, and the Nystrom path as it reads them (PreparedRows).
        checked = self._center is not None and bool(torch.isfinite(self._center).all())
        if not checked and (self.n_sample >= n or self._center is not None):
            check_finite(X, "X")  # raises
        if self.n_sample >= n:
            P = aff.prepare(X, self.distance)
            self._fit_exact(P if self._center is None else P - self._center)
        else:  # prepared chunk by chunk, never as a whole copy
            self._fit_nystrom(nys.PreparedRows(X, self.distance, self._center, checked=checked))
        self.n_features_in_ = X.shape[1]
        self.n_nodes_ = n
        return self

    @full_float32
    def transform(self, X: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Embed new or fitted nodes ``X`` ``(M, C)``: ``(eigenvectors (M, n_eig), eigenvalues (n_eig,))``.

        Both float32 CPU tensors; the eigenvalues are the fit's (a copy of ``eigenvalues_``), so
        ``vecs, vals = model.transform(X)`` unpacks like ``fit_transform`` (and the seed library).
        A row-chunked ``dask.array`` gives lazy eigenvectors with the same row chunks (see
        ``docs/scale-out.md``; needs ``ncut-widget[dask]``).
        Each row depends only on that row and the fit. Nystrom path: Nystrom's formula over the
        anchors' cells (``nystrom.py``; exactly what ``fit_transform`` gives the fitted nodes; a
        row identical to an anchor gets that anchor's values). Exact path: the Nystrom formula over all fitted nodes,
        ``v(x) = sum_j w(x, j) u_j / (lambda sqrt(d(x) d_j))`` with float32 affinities, which
        gives a fitted node back its own eigenvector entries to float32 rounding where the fit
        kept its affinities in float32; where it kept them in 16 bits
        (:func:`~ncut_widget.engine.exact.storage_dtype`), to their rounding (each affinity
        within 2^-11 (1 + d / gamma) relative).
        """
        if not hasattr(self, "eigenvalues_"):
            raise ValueError("this Ncut is not fitted yet: call fit(X) or fit_transform(X) first")
        if type(X).__module__.startswith("dask."):  # a dask.array: lazy, one task per row chunk
            from ..scale.blocks import transform as transform_dask  # needs ncut-widget[dask]

            return transform_dask(self, X)
        X = as_node_matrix(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features per node, but this Ncut was fitted on {self.n_features_in_}"
            )
        center = None if self._center is None else self._center.to(X.device)
        if self.exact_:
            Q = aff.prepare(X, self.distance)
            return self._nystrom_formula(Q if center is None else Q - center), self.eigenvalues_.clone()
        return self._extend(nys.PreparedRows(X, self.distance, center), None), self.eigenvalues_.clone()

    def fit_transform(self, X: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Fit on ``X`` ``(N, C)`` and return ``(eigenvectors (N, n_eig), eigenvalues (n_eig,))``.

        Both float32 CPU tensors. Eigenvalues descend from ~1. Each eigenvector column has
        (about) unit L2 norm over the N nodes.

        Signs (:func:`~ncut_widget.engine.eigsolve.fix_signs`), decided on the anchor values
        ``F = anchor_eigvecs_`` with weights ``w = anchor_mass_`` (exact path: every node is an
        anchor of mass 1, and ``F`` is the returned eigenvectors): a column whose weighted sum
        ``|sum(w F)|`` is at least 5% of ``sum(w |F|)`` has a positive weighted sum; any other
        column has a positive entry at its largest ``|F|`` (lowest anchor index on ties). Column
        0 (one sign on a connected graph) is therefore positive on every anchor, and on every
        node, whose values are positive-weighted means of anchor values. The Nystrom path's
        per-node sums are not covered by the rule.

        Warns:
            NcutConvergenceWarning: the eigensolver ran out of ``eig_max_iter`` steps
            (``converged_`` is then ``False``).
        """
        self.fit(X)
        vecs = self._fit_eigvecs
        self._fit_eigvecs = None  # N x n_eig is the caller's now; don't pin it in the model
        return vecs, self.eigenvalues_.clone()

    # ------------------------------------------------------------------ internals
    def _eigensolve(self, S: Any, scale: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Top ``n_eig`` eigenpairs of ``diag(scale) S diag(scale)``; records ``converged_``/``n_iter_``,
        warns if not converged."""
        res = top_eigh(
            S, self.n_eig, seed=self.seed, tol=TOL, max_iter=self.eig_max_iter,
            progress=scaled(self._report, "eigensolve"), scale=scale,
        )
        self._report("eigensolve", 1, 1)  # the iteration usually stops before its max_iter total
        self.converged_ = res.converged
        self.n_iter_ = res.n_iter
        if not res.converged:
            warnings.warn(
                f"Ncut's eigensolver stopped at eig_max_iter={self.eig_max_iter} cycles before "
                f"converging: residuals |S v - lambda v| up to {res.residual:.1e} (tolerance "
                f"{TOL:.0e}). The eigenvectors may be inaccurate; raise eig_max_iter.",
                NcutConvergenceWarning,
                stacklevel=4,
            )
        return res.values, res.vectors

    def _check_fit_memory(self, n: int, c: int, copied: bool = False) -> None:
        """Refuse, before any quadratic allocation, a fit that would exceed the memory budget.
        ``copied``: the features are copied to the device first (e.g. from the CPU to a GPU),
        where that copy counts too."""
        k = self.n_eig
        copy = 4 * n * c if copied else 0
        if self.n_sample >= n:
            storage = self._exact_storage(n)
            check_memory(
                exact_fit_bytes(n, c, k, storage) + copy,
                self.device,
                what=(
                    f"the exact path (n_sample={self.n_sample} >= {n} nodes: a dense {n} x {n} "
                    f"{str(storage).removeprefix('torch.')} affinity)"
                ),
                advice=lambda budget: self._fit_advice(n, c, budget),
            )
            return
        m = self.n_sample
        check_memory(
            nystrom_fit_bytes(n, c, k, m, self.chunk_size) + copy,
            self.device,
            what=f"the Nystrom path ({m} anchors: a dense {m} x {m} anchor graph, {min(self.chunk_size, n)} x {m} scan blocks)",
            advice=lambda budget: self._fit_advice(n, c, budget),
        )

    def _fit_advice(self, n: int, c: int, budget: int) -> str:
        """What fits in ``budget`` for ``n`` nodes of width ``c``: the largest exact N and n_sample."""
        k = self.n_eig
        exact_max = largest_fitting(lambda size: exact_fit_bytes(size, c, k, self._exact_storage(size)), budget, n)
        m_max = largest_fitting(lambda m: nystrom_fit_bytes(n, c, k, m, self.chunk_size), budget, n - 1)
        exact = f"The exact path fits up to {exact_max} nodes in this budget"
        if m_max <= k:
            return (
                f"{exact}; for {n} nodes not even the Nystrom path fits (n_sample > n_eig={k} "
                f"anchors): free memory, lower chunk_size, or raise the budget."
            )
        return f"{exact}; for {n} nodes use the Nystrom path with n_sample <= {m_max} (default 2048)."

    def _exact_storage(self, n: int) -> torch.dtype:
        """The dtype the exact path would keep ``n`` nodes' affinities in (``exact.storage_dtype``)."""
        return storage_dtype(n, self.device, self.scan_precision)

    def _solve_gamma(self, P: torch.Tensor, n_nodes: int) -> tuple[float, torch.Tensor]:
        """``gamma`` from a seeded sample of pairs, and that sample's distances (1-D)."""
        D = aff.sample_distances(P, self.distance, seed=self.seed)
        if self.d_gamma is None:
            return aff.median_gamma(D), D
        return aff.solve_gamma(D, self.d_gamma, n_nodes), D

    def _fit_exact(self, P: torch.Tensor) -> None:
        n = P.shape[0]
        report = self._report
        report("affinity", 0, 1)
        gamma, _ = self._solve_gamma(P, n)
        W, gamma, deg = exact_affinity(
            P, self.distance, gamma, self.d_gamma, precision=self.scan_precision, progress=scaled(report, "affinity")
        )
        mean_w = float(deg.double().sum()) / (n * n)
        vals, vecs = self._eigensolve(W, scale=deg.rsqrt())
        del W
        vecs = fix_signs(vecs).cpu()
        self.exact_ = True
        self.gamma_ = gamma
        self.d_gamma_ = mean_w
        self.eigenvalues_ = vals.cpu()
        self.anchor_indices_ = torch.arange(n)
        self.anchor_mass_ = torch.ones(n, dtype=torch.float32)
        self.anchor_eigvecs_ = vecs
        self._anchor_feats = P
        self._anchor_degree = deg
        self._fit_eigvecs = vecs.clone()
        self.denoise_shares_ = torch.zeros(self.n_eig, dtype=torch.float32)

    def _fit_nystrom(self, P: nys.PreparedRows) -> None:
        n, m = P.shape[0], self.n_sample
        report = self._report
        report("sample anchors", 0, 1)
        anchors = farthest_point_sampling(P, m, seed=self.seed, device=self.device)
        Pa = P[anchors.to(P.device)]
        gamma, sample = self._solve_gamma(P, n)
        # The mean affinity gamma gives, on the same sample (d_gamma=None picks gamma by median).
        d_gamma = self.d_gamma if self.d_gamma is not None else _mean_affinity(sample, gamma, n)
        del sample
        red = nys.fit_reduction(Pa, self.distance, self.seed)
        report("sample anchors", 1, 1)
        own = nys.own_anchors(
            red, P, chunk_size=self.chunk_size, device=self.device, precision=self.scan_precision,
            progress=scaled(report, "nearest anchors"),
        )
        own[0][anchors] = torch.arange(m, device=own[0].device)  # each anchor is in its own cell
        own[1][anchors] = 0.0
        report("anchor graph", 0, 1)
        W = aff.affinity_(aff.self_distances(Pa, self.distance), gamma)
        # The denoising kernel (nystrom.py, "Denoising") from the anchors' own affinities, before
        # cell_graph scales W in place into the cell graph.
        sharp = nys.sharp_kernel(W) if self.denoise else None
        K, mass = nys.cell_graph(W, own[0], own[1], anchors, gamma)
        cell_degree = K.sum(dim=1)
        report("anchor graph", 1, 1)
        vals, G = self._eigensolve(K, scale=cell_degree.rsqrt())
        del K, W
        # G is an eigenvector of the cell graph; per-node values are G / sqrt(mass), so the
        # column's norm over all N nodes (sum of mass * value^2) is 1.
        F = (G / mass.sqrt().unsqueeze(1)).cpu()
        self.exact_ = False
        self.gamma_ = gamma
        self.d_gamma_ = d_gamma
        self.eigenvalues_ = vals.cpu()
        self.anchor_indices_ = anchors
        self.anchor_mass_ = mass.cpu()
        self._cell_degree = cell_degree
        # What the extension needs (a fitted model pickles with these, see scale.portable_ncut):
        # the subspace's coordinates and residuals are recomputed from them in ~1 ms.
        self._scan_center, self._scan_basis, self._scan_anchors = red.center, red.basis, red.anchors
        if not self.denoise:  # Nystrom's formula: an anchor's values are its cell's
            self._cell_values = self._smoothed = None
            self.denoise_shares_ = torch.zeros(self.n_eig, dtype=torch.float32)
            self.anchor_eigvecs_ = fix_signs(F, mass.cpu())
        else:
            # An anchor's own values are the blend of its cell's values and their smoothed
            # version; the extension is linear in each column, so the sign rule decided on
            # those flips the cell and smoothed values' columns alike.
            M = nys.smoothed_values(sharp, mass, G / mass.sqrt().unsqueeze(1)).cpu()
            del sharp
            # Each column's share: the column's part the smoothing keeps (nystrom.py, "Per
            # eigenvector"); signs do not change it.
            shares = nys.column_shares(F, M, mass.cpu(), self.denoise)
            raw = (1.0 - shares) * F + shares * M
            signs = torch.where((fix_signs(raw, mass.cpu()) * raw).sum(dim=0) < 0, -1.0, 1.0)
            self._cell_values, self._smoothed = F * signs, M * signs
            self.anchor_eigvecs_ = raw * signs
            self.denoise_shares_ = shares
        self._fit_eigvecs = self._extend(P, own)

    def _extend(self, Q: nys.PreparedRows | torch.Tensor, own: tuple[torch.Tensor, ...] | None) -> torch.Tensor:
        """Nystrom-path values of prepared rows ``Q`` (``nystrom.extend``)."""
        dev = self.device
        basis = None if self._scan_basis is None else self._scan_basis.to(dev)
        red = nys.reduction(self._scan_center.to(dev), basis, self._scan_anchors.to(dev), self.distance)
        cells = self.anchor_eigvecs_ if self._cell_values is None else self._cell_values
        return nys.extend(
            red,
            Q,
            anchor_values=cells,
            anchor_out=self.anchor_eigvecs_,
            smoothed=getattr(self, "_smoothed", None),  # absent from models pickled before it existed
            # Models pickled before the per-column shares blend every column alike.
            denoise=getattr(self, "denoise_shares_", self.denoise),
            mass=self.anchor_mass_.to(dev),
            cell_degree=self._cell_degree.to(dev),
            eigenvalues=self.eigenvalues_,
            gamma=self.gamma_,
            chunk_size=self.chunk_size,
            device=dev,
            precision=self.scan_precision,
            own=own,
            progress=scaled(self._report, "extend to nodes"),
        )

    def _nystrom_formula(self, Q: torch.Tensor) -> torch.Tensor:
        n_fit = self._anchor_feats.shape[0]
        rows = min(self.chunk_size, Q.shape[0])
        check_memory(
            8 * rows * n_fit,  # the (rows, n_fit) affinity block and its degree-scaled copy
            self.device,
            what=f"transform on the exact path ({rows} rows x {n_fit} fitted nodes per chunk)",
            advice=lambda budget: f"Set chunk_size <= {max(1, budget // (8 * n_fit))} on this model.",
        )
        # A portable model (scale.portable_ncut) holds its tensors on the CPU whatever its device.
        A = self._anchor_feats.to(self.device)
        F = self.anchor_eigvecs_.to(self.device)
        inv_sqrt_deg = self._anchor_degree.to(self.device).rsqrt()
        lam = self.eigenvalues_.to(self.device).clamp_min(1e-12)
        out = torch.empty((Q.shape[0], self.n_eig), dtype=torch.float32)
        report = scaled(self._report, "extend to nodes")
        for start in range(0, Q.shape[0], self.chunk_size):
            q = Q[start : start + self.chunk_size].to(self.device)
            W = aff.affinity_(aff.distances(q, A, self.distance), self.gamma_)
            dq = W.sum(dim=1, keepdim=True)
            out[start : start + q.shape[0]] = ((W * inv_sqrt_deg) @ F / (lam * dq.sqrt())).cpu()
            report(min(start + self.chunk_size, Q.shape[0]), Q.shape[0])
        return out

    def __repr__(self) -> str:
        return (
            f"Ncut(n_eig={self.n_eig}, n_sample={self.n_sample}, n_neighbors={self.n_neighbors}, "
            f"d_gamma={self.d_gamma}, distance={self.distance!r}, device={str(self.device)!r}, "
            f"seed={self.seed}, denoise={self.denoise})"
        )


def _gamma_bytes(n: int) -> int:
    """Working memory of the gamma solve: distances, mask, affinities and their products among
    the (at most GAMMA_SAMPLE) sampled nodes."""
    return 24 * min(n, aff.GAMMA_SAMPLE) ** 2


def exact_fit_bytes(n: int, c: int, n_eig: int, storage: torch.dtype = torch.float32) -> int:
    """Peak bytes of the exact path on ``n`` nodes of width ``c``: the affinity's upper half in
    ``storage`` and the build's scratch blocks (``exact.build_bytes``), the eigensolver's work buffers
    (or the dense copy ``top_eigh`` makes for ``n <= DENSE_EIGH_MAX``), the prepared features
    and the gamma sample."""
    eig = top_eigh_bytes(n, n_eig) + (4 * n * n if n <= DENSE_EIGH_MAX else 0)
    return build_bytes(n, c=c, storage=storage) + eig + 4 * n * c + _gamma_bytes(n)


def nystrom_fit_bytes(n: int, c: int, n_eig: int, m: int, chunk_size: int) -> int:
    """Peak bytes of the Nystrom path: the larger of a scan block and the dense ``m x m`` anchor
    graph with its eigensolver buffers, plus what grows linearly with ``n`` (each node's
    subspace coordinates, cell and distance, and the result; the features are prepared chunk
    by chunk)."""
    d = min(c, nys.SCAN_DIMS)
    # the m x m anchor affinities, the denoising kernel and the eigensolver's buffers
    quadratic = max(nys.scan_bytes(min(chunk_size, n), m, c, d), 12 * m * m + top_eigh_bytes(m, n_eig))
    return quadratic + n * (4 * d + 16 + 4 * n_eig) + _gamma_bytes(n)


def _mean_affinity(D: torch.Tensor, gamma: float, n: int) -> float:
    """Mean affinity ``gamma`` gives a graph of ``n`` nodes whose off-diagonal pairs are like
    the sampled distances ``D`` (self-pairs at 1)."""
    off = float(aff.scaled_exp_(D, -1.0 / gamma, out=torch.empty_like(D)).mean())
    return 1.0 / n + (1.0 - 1.0 / n) * off
