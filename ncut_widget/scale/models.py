"""Fitted models that travel to workers: a portable ``Ncut``, a fitted coloring, a fitted k-way rotation.

Each holds only small CPU tensors (anchors, their values, a rotation), so it pickles in a few
megabytes and applies to any rows independently -- the property that makes the dataset an
embarrassingly parallel ``map_blocks``. Every ``transform`` takes a torch tensor or numpy array
(computed at once) or a row-chunked ``dask.array.Array`` (returned lazily, same row chunks).
"""

from __future__ import annotations

import copy
import inspect
import pickle
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..engine.checks import as_node_matrix, check_int, resolve_device
from ..engine.precision import full_float32
from ..progress import ProgressFn, resolve_progress
from ._deps import is_dask_array

COLOR_METHODS = ("tsne", "umap", "pca")
# quantile_rgb's default lower quantile: the RGB scaling the colorings return.
_RGB_QUANTILE = 0.01
# Fit-time self-checks compare the fitted form with the coloring's own output on this many
# evenly spaced fit nodes: enough to catch a changed convention, cheap at any N.
_CHECK_ROWS = 512


def _as_device(device: str | torch.device) -> torch.device:
    # Not resolve_device: the client may have no GPU while the workers that run this do.
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"unknown device {device!r}: use 'cpu', 'cuda' or 'cuda:N'") from err


def _check_picklable(obj: object, what: str) -> int:
    """Pickle ``obj`` once (fail here, not on a worker); return the pickled size in bytes."""
    try:
        return len(pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL))
    except Exception as err:
        bad = [k for k, v in vars(obj).items() if not _pickles(v)]
        raise TypeError(f"{what} cannot be sent to workers: attribute(s) {bad} do not pickle ({err})") from err


def _pickles(value: object) -> bool:
    try:
        pickle.dumps(value)
    except Exception:
        return False
    return True


def portable_ncut(model: Any, device: str | torch.device = "cpu") -> Any:
    """A copy of a fitted :class:`~ncut_widget.Ncut` that is small and pickles cleanly.

    The copy keeps what ``transform`` needs (anchor features, anchor eigenvectors, gamma, ...)
    as compact CPU tensors; it drops the progress callback (tqdm bars and widget callbacks do
    not travel) and any eigenvectors of the fitted nodes that ``fit`` keeps for
    ``fit_transform`` (``N x n_eig``, the one large thing a fitted model may hold).

    Args:
        model: a fitted ``Ncut``.
        device: where the copy's ``transform`` computes (on the worker that runs it).

    Returns:
        A new ``Ncut``; ``transform`` gives the same eigenvectors as ``model.transform``.
        Pickled size: about ``4 * n_sample * (C + n_eig)`` bytes (the exact path keeps every
        fitted node as an anchor: ``4 * N * (C + n_eig)``).
    """
    from ..engine.ncut import Ncut

    if not isinstance(model, Ncut):
        raise TypeError(f"model must be a fitted ncut_widget.Ncut, got {type(model).__name__}")
    if not hasattr(model, "eigenvalues_"):
        raise ValueError("this Ncut is not fitted yet: call fit(X) first (on a sample of the dataset)")
    small = copy.copy(model)
    for key, value in vars(model).items():
        if isinstance(value, torch.Tensor):
            # clone: a view would pickle its whole base storage; detach/cpu: no graph, no CUDA.
            setattr(small, key, value.detach().to("cpu").clone())
    small.progress = None
    small._report = resolve_progress(None)
    small._fit_eigvecs = None
    small.device = _as_device(device)
    _check_picklable(small, "the fitted Ncut")
    return small


# ---------------------------------------------------------------------------- coloring


@dataclass(frozen=True, eq=False)
class FittedColoring:
    """A 3D coloring fitted once, applied to any eigenvectors: ``transform(E) -> (X_3d, rgb)``.

    Made by :func:`fit_coloring`. For t-SNE and UMAP the fitted form is the laid-out sample
    (``anchors`` and their 3D places ``anchor_xyz``) and every node is placed by the coloring's
    own propagation from its ``knn`` most similar anchors; for PCA it is the affine map
    ``X_3d = [x, 1] @ affine``. RGB is the fit's per-axis quantile scaling, frozen
    (``rgb_low`` / ``rgb_high``), so every node of a dataset gets the colour the fit gave it.

    Attributes:
        method: ``"tsne"``, ``"umap"`` or ``"pca"``.
        n_components: eigenvector columns ``K`` the coloring was fitted on (and expects).
        anchors: ``(m, K)`` float32 unit rows (``None`` for PCA).
        anchor_xyz: ``(m, 3)`` float32 layout of the anchors (``None`` for PCA).
        knn: anchors each node is placed from.
        affine: ``(K + 1, 3)`` float64 (PCA only, else ``None``).
        rgb_low, rgb_high: ``(3,)`` float32 per-axis values mapped to 0 and 1.
        device: where ``transform`` computes.
    """

    method: str
    n_components: int
    anchors: torch.Tensor | None
    anchor_xyz: torch.Tensor | None
    knn: int
    affine: torch.Tensor | None
    rgb_low: torch.Tensor
    rgb_high: torch.Tensor
    device: torch.device = torch.device("cpu")

    def to(self, device: str | torch.device) -> FittedColoring:
        """The same coloring computing on ``device`` (tensors stay on the CPU until used)."""
        return replace(self, device=_as_device(device))

    @full_float32
    def place(self, eigvecs: Any) -> torch.Tensor:
        """``(N, 3)`` float32 CPU layout of eigenvectors ``(N, K)`` (tensor or array)."""
        Xn = self._unit_rows(eigvecs)
        if self.affine is not None:
            ones = torch.ones((Xn.shape[0], 1), dtype=torch.float64)
            return (torch.cat([Xn.double(), ones], dim=1) @ self.affine).float()
        from ..color._common import _propagation_weights, propagation_rows
        from ..engine.propagate import knn_propagate

        m = self.anchors.shape[0]
        return knn_propagate(
            self.anchor_xyz,
            self.anchors,
            Xn,
            n_neighbors=self.knn,
            weight_fn=_propagation_weights,
            device=self.device,
            chunk_size=propagation_rows(self.device, m),
        )

    def rgb(self, X_3d: Any) -> torch.Tensor:
        """``(N, 3)`` float32 colours in ``[0, 1]`` of a layout ``(N, 3)``, with the fitted scaling."""
        X = as_node_matrix(X_3d, "X_3d")
        if X.shape[1] != 3:
            raise ValueError(f"X_3d must have 3 columns, got shape {tuple(X.shape)}")
        span = self.rgb_high - self.rgb_low
        flat = span <= 1e-12 * self.rgb_high.abs().clamp_min(1.0)
        rgb = ((X.cpu() - self.rgb_low) / torch.where(flat, torch.ones_like(span), span)).clamp_(0.0, 1.0)
        rgb[:, flat] = 0.5  # as quantile_rgb: an axis with no spread is mid-grey
        return rgb

    def transform(self, eigvecs: Any) -> tuple[Any, Any]:
        """``(X_3d (N, 3), rgb (N, 3))`` float32 of eigenvectors ``(N, K)``.

        A torch tensor or numpy array gives CPU tensors now; a row-chunked ``dask.array.Array``
        gives two lazy dask arrays with its row chunks (one task per chunk computes both).
        """
        if is_dask_array(eigvecs):
            from .blocks import map_row_blocks

            both = map_row_blocks(eigvecs, _color_block, self, width=6, dtype=np.float32, token="ncut-color")
            return both[:, :3], both[:, 3:]
        X_3d = self.place(eigvecs)
        return X_3d, self.rgb(X_3d)

    def _unit_rows(self, eigvecs: Any) -> torch.Tensor:
        X = as_node_matrix(eigvecs, "eigvecs")
        if X.shape[1] != self.n_components:
            raise ValueError(
                f"eigvecs has {X.shape[1]} columns, but this coloring was fitted on {self.n_components}"
            )
        norms = X.norm(dim=1)
        if bool((norms == 0).any()):
            raise ValueError(f"eigvecs has {int((norms == 0).sum())} all-zero rows: their direction is undefined")
        return F.normalize(X.cpu(), dim=1)


def _color_block(fitted: FittedColoring, block: np.ndarray) -> np.ndarray:
    X_3d, rgb = fitted.transform(block)
    return torch.cat([X_3d, rgb], dim=1).numpy()


def _color_function(method: str) -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    from .. import color

    if method not in COLOR_METHODS:
        raise ValueError(f"unknown coloring {method!r}: choose one of {COLOR_METHODS}")
    return {"tsne": color.tsne_color, "umap": color.umap_color, "pca": color.pca_color}[method]


@full_float32
def fit_coloring(
    eigvecs: Any,
    method: str = "tsne",
    num_sample: int | None = None,
    knn: int = 10,
    device: str | torch.device | None = None,
    seed: int = 0,
    progress: bool | ProgressFn | None = None,
    **kwargs: Any,
) -> tuple[FittedColoring, torch.Tensor, torch.Tensor]:
    """Run ``{method}_color`` on the fit nodes' eigenvectors and keep its fitted form.

    The coloring itself does the work (same sample, same layout, same propagation); this keeps
    the laid-out sample (or PCA's affine map) and the RGB scaling, and checks on a spread of fit
    nodes that the fitted form reproduces the coloring's output.

    Args:
        eigvecs: ``(N, K)`` eigenvectors of the fit nodes (tensor or array, ``K >= 3``).
        method: ``"tsne"`` (default), ``"umap"`` or ``"pca"``.
        num_sample: nodes laid out (``None``: the coloring's default).
        knn, device, seed, progress, **kwargs: passed to the coloring.

    Returns:
        ``(fitted, X_3d, rgb)``: the :class:`FittedColoring` (computing on the CPU; ``.to()``
        moves it) and the coloring's own ``(N, 3)`` float32 outputs for the fit nodes.
    """
    from ..color._common import check_color_inputs
    from ..engine.sampling import farthest_point_sampling

    fn = _color_function(method)
    if num_sample is None:
        num_sample = inspect.signature(fn).parameters["num_sample"].default
    X_3d, rgb = fn(eigvecs, num_sample=num_sample, knn=knn, device=device, seed=seed, progress=progress, **kwargs)
    Xn, num_sample, knn, dev = check_color_inputs(eigvecs, num_sample, knn, device)
    n = Xn.shape[0]
    anchors = anchor_xyz = affine = None
    if method == "pca":
        design = torch.cat([Xn.double(), torch.ones((n, 1), dtype=torch.float64)], dim=1)
        affine = torch.linalg.lstsq(design, X_3d.double()).solution
    elif num_sample >= n:
        anchors, anchor_xyz = Xn.clone(), X_3d.clone()
    else:
        # The same farthest point sample the coloring laid out (its sampled nodes keep their place).
        picked = farthest_point_sampling(Xn, num_sample, seed=seed, device=dev).cpu()
        anchors, anchor_xyz = Xn[picked].clone(), X_3d[picked].clone()
    lo, hi = np.quantile(X_3d.double().numpy(), [_RGB_QUANTILE, 1 - _RGB_QUANTILE], axis=0)
    fitted = FittedColoring(
        method=method,
        n_components=int(Xn.shape[1]),
        anchors=anchors,
        anchor_xyz=anchor_xyz,
        knn=knn,
        affine=affine,
        rgb_low=torch.from_numpy(lo).float(),
        rgb_high=torch.from_numpy(hi).float(),
    )
    # Checked on the coloring's device: another device's rounding may pick another near-tied
    # anchor among a node's knn and move it by more than the check allows.
    _check_reproduces(fitted.to(dev), Xn, X_3d, rgb, method)
    return fitted, X_3d, rgb


def _check_reproduces(fitted: FittedColoring, Xn: torch.Tensor, X_3d: torch.Tensor, rgb: torch.Tensor, method: str) -> None:
    """Fail loudly if the fitted form drifted from ``{method}_color`` (e.g. its conventions changed)."""
    n = Xn.shape[0]
    rows = torch.linspace(0, n - 1, min(n, _CHECK_ROWS)).round().long().unique()
    if fitted.anchors is not None:
        # Anchors keep their own layout in the coloring; compare the propagated nodes only.
        is_anchor = (Xn[rows] @ fitted.anchors.T).amax(dim=1) >= 1.0 - 1e-6
        rows = rows[~is_anchor]
    spread = float((X_3d.amax(0) - X_3d.amin(0)).max().clamp_min(1e-12))
    place_err = float((fitted.place(Xn[rows]) - X_3d[rows]).abs().max()) / spread if len(rows) else 0.0
    rgb_err = float((fitted.rgb(X_3d) - rgb).abs().max())
    if place_err > 1e-4 or rgb_err > 1e-4:
        raise RuntimeError(
            f"the fitted {method} coloring does not reproduce {method}_color (layout error "
            f"{place_err:.2g} of its spread, rgb error {rgb_err:.2g}): ncut_widget.color changed its "
            "sampling or scaling; update ncut_widget/scale/models.py to match"
        )


# ---------------------------------------------------------------------------- k-way


@dataclass(frozen=True, eq=False)
class FittedKway:
    """``kway_ncut``'s axis-aligning rotation, fitted once: ``transform(E) = normalize(E[:, :k]) @ R``.

    Attributes:
        rotation: ``(k, k)`` float32 CPU rotation from :func:`~ncut_widget.engine.kway.axis_align`.
        device: where ``transform`` computes.
    """

    rotation: torch.Tensor
    device: torch.device = torch.device("cpu")

    @property
    def n_clusters(self) -> int:
        return int(self.rotation.shape[0])

    def to(self, device: str | torch.device) -> FittedKway:
        """The same rotation computing on ``device``."""
        return replace(self, device=_as_device(device))

    def transform(self, eigvecs: Any) -> Any:
        """``(N, k)`` float32 rotated unit rows of eigenvectors ``(N, n_eig >= k)``, as ``kway_ncut``.

        Tensor/array in, CPU tensor out; a dask array in, a lazy dask array out (same row chunks).
        """
        if is_dask_array(eigvecs):
            from .blocks import map_row_blocks

            return map_row_blocks(
                eigvecs, _kway_block, self, width=self.n_clusters, dtype=np.float32, token="ncut-kway"
            )
        V = as_node_matrix(eigvecs, "eigvecs")
        if V.shape[1] < self.n_clusters:
            raise ValueError(
                f"eigvecs has {V.shape[1]} columns; this rotation needs at least {self.n_clusters}"
            )
        block = F.normalize(V[:, : self.n_clusters].to(self.device), dim=1)
        return (block @ self.rotation.to(self.device)).cpu()

    def labels(self, eigvecs: Any) -> Any:
        """``(N,)`` int64 segment of every node (``transform(E).argmax(1)``, as ``segment_labels``).

        Lazy (one int64 per row, same row chunks) for a dask array.
        """
        if is_dask_array(eigvecs):
            from .blocks import map_row_blocks

            return map_row_blocks(eigvecs, _labels_block, self, width=None, dtype=np.int64, token="ncut-labels")
        return self.transform(eigvecs).argmax(dim=1)


def _kway_block(fitted: FittedKway, block: np.ndarray) -> np.ndarray:
    return fitted.transform(block).numpy()


def _labels_block(fitted: FittedKway, block: np.ndarray) -> np.ndarray:
    return fitted.labels(block).numpy()


def fit_kway(
    eigvecs: Any,
    n_clusters: int,
    *,
    n_sample: int | None = None,
    max_iter: int = 100,
    seed: int = 0,
    device: str | torch.device | None = None,
) -> FittedKway:
    """Fit ``kway_ncut``'s rotation on (a sample of) eigenvectors ``(N, n_eig)``.

    ``FittedKway(...).transform(E)`` equals ``kway_ncut(E, n_clusters)`` for the same
    arguments; applied to other nodes it gives them the segments of the fit.

    Args:
        eigvecs: ``(N, n_eig)`` float eigenvectors, ``n_eig >= n_clusters``.
        n_clusters: segments, ``>= 2``.
        n_sample, max_iter, seed, device: as :func:`~ncut_widget.engine.kway.axis_align`
            (``n_sample=None``: its default).
    """
    from ..engine.kway import DEFAULT_FIT_SAMPLE, axis_align

    k = check_int(n_clusters, "n_clusters", minimum=2)
    n_sample = DEFAULT_FIT_SAMPLE if n_sample is None else n_sample
    dev = None if device is None else resolve_device(device)
    R = axis_align(eigvecs, k, n_sample=n_sample, max_iter=max_iter, seed=seed, device=dev)
    return FittedKway(rotation=R.detach().cpu().contiguous())
