"""Ncut: Normalized Cuts on a node list ``(N, C)`` -- fit / transform / fit_transform.

Graph: W_ij = exp(-dist_ij / gamma) (see ``affinity.py``), normalized S = D^-1/2 W D^-1/2;
the eigenvectors of S's largest eigenvalues are returned (the first is ~constant-sign, value 1).

Two paths:

* exact (``n_sample >= N``): every node is an anchor; the dense ``N x N`` S is built once in
  float32 (2.6 GB at 25,600 nodes) and its top eigenpairs found by block subspace iteration.
* Nystrom (``n_sample < N``): ``n_sample`` anchors by farthest point sampling. Each node is
  assigned to its nearest anchor, so anchor ``a`` stands for ``c_a`` nodes; the anchor graph is
  solved with those masses (which undoes FPS's bias against dense regions and keeps the
  eigenvalues those of the whole graph), then every node gets the affinity-weighted mean of the
  values of its ``n_neighbors`` nearest anchors. Memory is ``O(N * (C + n_neighbors) +
  chunk_size * n_sample + n_sample^2)``: never ``N x N``.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from ..progress import ProgressFn, resolve_progress, scaled
from . import affinity as aff
from .checks import as_node_matrix, check_int, check_open_unit, resolve_device
from .eigsolve import fix_signs, top_eigh
from .propagate import nearest_anchors
from .sampling import farthest_point_sampling

# Rows per block when the exact path scans its N x N distance matrix for gamma.
_SCAN_ROWS = 2048


class Ncut:
    """Normalized Cuts with a Nystrom approximation for large node lists.

    Args:
        n_eig: number of eigenvectors to return (``1 <= n_eig < N``).
        n_sample: number of FPS anchors. ``n_sample >= N`` takes the exact path (no
            approximation). Default 2048: on seed-shaped features (10,240 nodes) the planted
            parts' 9-D eigen-subspace matches the exact one to 0.998 mean principal cosine from
            1,024 anchors up (4,096 gains nothing), and 2,048 leaves margin for richer images.
            Must exceed ``n_eig``.
        n_neighbors: nearest anchors each node averages over (Nystrom path and ``transform``).
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
            is about ``chunk_size * n_sample * 4`` bytes.

    Fitted attributes: ``eigenvalues_`` (n_eig,) float32 descending, ``gamma_`` (float),
    ``d_gamma_`` (float, mean affinity aimed at / reached), ``exact_`` (bool),
    ``anchor_indices_`` (m,) int64 rows of the fitted X, ``anchor_mass_`` (m,) float32 nodes per
    anchor, ``anchor_eigvecs_`` (m, n_eig) float32, ``n_features_in_`` (int), ``n_nodes_`` (int).
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
        chunk_size: int = 2048,
    ) -> None:
        self.n_eig = check_int(n_eig, "n_eig", minimum=1)
        self.n_sample = check_int(n_sample, "n_sample", minimum=1)
        if self.n_sample <= self.n_eig:
            raise ValueError(f"n_sample ({self.n_sample}) must be larger than n_eig ({self.n_eig})")
        self.n_neighbors = check_int(n_neighbors, "n_neighbors", minimum=1)
        self.d_gamma = None if d_gamma is None else check_open_unit(d_gamma, "d_gamma")
        self.distance = aff.check_distance(distance)
        self.device = resolve_device(device)
        self.seed = check_int(seed, "seed", minimum=0)
        self.progress = progress
        self._report = resolve_progress(progress)
        self.chunk_size = check_int(chunk_size, "chunk_size", minimum=1)
        self._fit_eigvecs: torch.Tensor | None = None

    # ------------------------------------------------------------------ public API
    def fit(self, X: Any) -> Ncut:
        """Fit on node features ``X`` ``(N, C)`` (torch tensor or numpy array, any real dtype)."""
        X = as_node_matrix(X, "X")
        n = X.shape[0]
        if self.n_eig >= n:
            raise ValueError(f"n_eig ({self.n_eig}) must be smaller than the number of nodes ({n})")
        P = aff.prepare(X.to(self.device), self.distance)
        if self.n_sample >= n:
            self._fit_exact(P)
        else:
            self._fit_nystrom(P)
        self.n_features_in_ = X.shape[1]
        self.n_nodes_ = n
        return self

    def transform(self, X: Any) -> torch.Tensor:
        """Eigenvectors ``(M, n_eig)`` float32 (CPU) for new or fitted nodes ``X`` ``(M, C)``.

        Each row depends only on that row and the fit. Nystrom path: the affinity-weighted mean
        of the anchor values of its ``n_neighbors`` nearest anchors (exactly what ``fit_transform``
        gives the fitted nodes). Exact path: the Nystrom formula over all fitted nodes,
        ``v(x) = sum_j w(x, j) u_j / (lambda sqrt(d(x) d_j))``, which gives a fitted node back its
        own eigenvector entries.
        """
        if not hasattr(self, "eigenvalues_"):
            raise ValueError("this Ncut is not fitted yet: call fit(X) or fit_transform(X) first")
        X = as_node_matrix(X, "X")
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features per node, but this Ncut was fitted on {self.n_features_in_}"
            )
        Q = aff.prepare(X, self.distance)
        if self.exact_:
            return self._nystrom_formula(Q)
        dist, idx = nearest_anchors(
            self._anchor_feats,
            Q,
            self.n_neighbors,
            distance=self.distance,
            chunk_size=self.chunk_size,
            device=self.device,
            progress=scaled(self._report, "extend to nodes"),
        )
        return self._weighted_mean(dist, idx)

    def fit_transform(self, X: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Fit on ``X`` ``(N, C)`` and return ``(eigenvectors (N, n_eig), eigenvalues (n_eig,))``.

        Both float32 CPU tensors. Eigenvalues descend from ~1. Each eigenvector column has
        (about) unit L2 norm over the N nodes; column 0 is positive on every node, every other
        column has a positive sum over the nodes (over anchors weighted by their mass in the
        Nystrom path).
        """
        self.fit(X)
        vecs = self._fit_eigvecs
        self._fit_eigvecs = None  # N x n_eig is the caller's now; don't pin it in the model
        return vecs, self.eigenvalues_.clone()

    # ------------------------------------------------------------------ internals
    def _solve_gamma(self, P: torch.Tensor, n_nodes: int) -> float:
        D = aff.sample_distances(P, self.distance, seed=self.seed)
        if self.d_gamma is None:
            return aff.median_gamma(D)
        return aff.solve_gamma(D, self.d_gamma, n_nodes)

    def _fit_exact(self, P: torch.Tensor) -> None:
        n = P.shape[0]
        report = self._report
        report("affinity", 0, 3)
        gamma = self._solve_gamma(P, n)
        D = _pairwise_symmetric(P, self.distance)
        report("affinity", 1, 3)
        if self.d_gamma is not None:
            gamma = _refine_gamma(D, gamma, self.d_gamma)
        W = aff.affinity_(D, gamma)  # in place: the only N x N matrix we hold
        del D
        deg = W.sum(dim=1)
        mean_w = float(deg.double().sum()) / (n * n)
        s = deg.rsqrt()
        W.mul_(s.unsqueeze(1)).mul_(s.unsqueeze(0))
        report("affinity", 3, 3)
        vals, vecs = top_eigh(W, self.n_eig, seed=self.seed, progress=scaled(report, "eigensolve"))
        report("eigensolve", 1, 1)  # the iteration usually stops before its max_iter total
        del W
        vecs = fix_signs(vecs).cpu()
        self.exact_ = True
        self.gamma_ = gamma
        self.d_gamma_ = mean_w
        self.eigenvalues_ = vals.cpu()
        self.anchor_indices_ = torch.arange(n)
        self.anchor_mass_ = torch.ones(n)
        self.anchor_eigvecs_ = vecs
        self._anchor_feats = P
        self._anchor_degree = deg
        self._fit_eigvecs = vecs.clone()

    def _fit_nystrom(self, P: torch.Tensor) -> None:
        n, m = P.shape[0], self.n_sample
        report = self._report
        report("sample anchors", 0, 1)
        anchors = farthest_point_sampling(P, m, seed=self.seed, device=self.device)
        Pa = P[anchors.to(P.device)]
        gamma = self._solve_gamma(P, n)
        report("sample anchors", 1, 1)
        dist, idx = nearest_anchors(
            Pa,
            P,
            self.n_neighbors,
            distance=self.distance,
            chunk_size=self.chunk_size,
            device=self.device,
            progress=scaled(report, "nearest anchors"),
        )
        # Each anchor stands for the nodes whose nearest anchor it is (itself at least).
        mass = torch.bincount(idx[:, 0], minlength=m).clamp_min_(1).to(self.device, torch.float32)
        report("anchor graph", 0, 1)
        W = aff.affinity_(aff.distances(Pa, Pa, self.distance), gamma)
        deg = W @ mass  # degree in the whole graph: anchor b counts as mass[b] nodes
        scale = (mass / deg).sqrt_()
        W.mul_(scale.unsqueeze(1)).mul_(scale.unsqueeze(0))
        report("anchor graph", 1, 1)
        vals, G = top_eigh(W, self.n_eig, seed=self.seed, progress=scaled(report, "eigensolve"))
        report("eigensolve", 1, 1)  # the iteration usually stops before its max_iter total
        del W
        # G is an eigenvector of the mass-weighted graph; per-node values are G / sqrt(mass),
        # so the column's norm over all N nodes (sum of mass * value^2) is 1.
        F = G / mass.sqrt().unsqueeze(1)
        F = fix_signs(F, mass).cpu()
        self.exact_ = False
        self.gamma_ = gamma
        self.d_gamma_ = self.d_gamma if self.d_gamma is not None else _mean_affinity_estimate(P, gamma, self)
        self.eigenvalues_ = vals.cpu()
        self.anchor_indices_ = anchors
        self.anchor_mass_ = mass.cpu()
        self.anchor_eigvecs_ = F
        self._anchor_feats = Pa
        self._fit_eigvecs = self._weighted_mean(dist, idx)

    def _weighted_mean(self, dist: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        # exp(-(d - d_min)/gamma): the per-row shift cancels in the normalization and keeps
        # far-away queries from underflowing to 0/0.
        w = torch.exp((dist - dist[:, :1]) * (-1.0 / self.gamma_))
        w = w / w.sum(dim=1, keepdim=True)
        out = torch.empty((idx.shape[0], self.n_eig), dtype=torch.float32)
        F = self.anchor_eigvecs_
        for start in range(0, idx.shape[0], self.chunk_size):
            sl = slice(start, start + self.chunk_size)
            out[sl] = torch.einsum("nk,nkd->nd", w[sl], F[idx[sl]])
        return out

    def _nystrom_formula(self, Q: torch.Tensor) -> torch.Tensor:
        A = self._anchor_feats
        F = self.anchor_eigvecs_.to(self.device)
        inv_sqrt_deg = self._anchor_degree.rsqrt()
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
            f"seed={self.seed})"
        )


def _pairwise_symmetric(P: torch.Tensor, distance: str) -> torch.Tensor:
    """``(N, N)`` distances with a zero diagonal, computing only blocks on or above the diagonal
    and mirroring them (half the matmul work of one ``P @ P.T``)."""
    n = P.shape[0]
    D = torch.empty((n, n), dtype=torch.float32, device=P.device)
    sq = aff.sq_norms(P, distance)
    for i in range(0, n, _SCAN_ROWS):
        rows = slice(i, i + _SCAN_ROWS)
        block = aff.distances(P[rows], P[i:], distance, *((sq[rows], sq[i:]) if sq is not None else ()))
        D[rows, i:] = block
        D[i + _SCAN_ROWS :, rows] = block[:, _SCAN_ROWS:].T
    D.fill_diagonal_(0.0)
    return D


def _refine_gamma(D: torch.Tensor, gamma: float, d_gamma: float, *, tol: float = 1e-6) -> float:
    """One Newton step in log(gamma) on ALL pairs of ``D`` (N x N, diagonal 0): mean(W) = d_gamma.

    The sample-based gamma is within ~1e-3 of the target in mean affinity, so one step lands
    within ~1e-6 (Newton is quadratic); one blockwise pass, no second N x N buffer.
    """
    n = D.shape[0]
    total = slope = 0.0
    for start in range(0, n, _SCAN_ROWS):
        block = D[start : start + _SCAN_ROWS]
        w = torch.exp(block * (-1.0 / gamma))
        total += float(w.sum(dim=1).double().sum())
        slope += float((w.mul_(block)).sum(dim=1).double().sum()) / gamma  # d mean / d log(gamma)
    mean, slope = total / (n * n), slope / (n * n)
    if abs(mean - d_gamma) < tol or slope <= 0:
        return gamma
    return gamma * math.exp((d_gamma - mean) / slope)


def _mean_affinity_estimate(P: torch.Tensor, gamma: float, model: Ncut) -> float:
    """Mean affinity reached by ``gamma`` on the same node sample gamma was picked from."""
    D = aff.sample_distances(P, model.distance, seed=model.seed)
    n = P.shape[0]
    off = float(torch.exp(D * (-1.0 / gamma)).mean())
    return 1.0 / n + (1.0 - 1.0 / n) * off
