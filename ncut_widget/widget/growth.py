"""Growing a fitted map: new images placed into existing results without refitting anything.

A :class:`MapModel` is what :func:`~ncut_widget.explore` keeps besides the results: the backbone
and its settings (to extract the new images' features the same way), the fitted
:class:`~ncut_widget.Ncut` in its portable form (anchors only; ``transform`` places new nodes in
the fitted eigenvectors), the fitted coloring (the coloring's own propagation into the existing
3D layout, and its frozen RGB scaling) and the segment ladder's k-way rotations. No features of
the fitted images are kept. :func:`add_images` appends the new images' nodes after the existing
ones, so existing node ids and values never change.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from .results import Results

if TYPE_CHECKING:
    from ..scale.models import FittedColoring
    from .segments import SegmentLadder


@dataclass(frozen=True, eq=False)
class MapModel:
    """What placing new images into a fitted map needs (made by :func:`~ncut_widget.explore`).

    Attributes:
        backbone: the resolved backbone (or torch.hub name) the map's features came from.
        resolutions: ``(h, w)`` input sizes, as the fit used them.
        layer: backbone layer(s) of the features.
        device: where features and transforms compute (``None``: CUDA when available).
        ncut: the fitted ``Ncut`` in portable form (:func:`~ncut_widget.scale.models.portable_ncut`).
        coloring: the fitted 3D layout + RGB (:func:`~ncut_widget.scale.models.fit_coloring`).
        segment_ks: the ladder's segment counts, ascending; ``()`` without a ladder.
        segment_rotations: per level, the ``(k, k)`` float32 k-way rotation the ladder used.
    """

    backbone: Any
    resolutions: tuple[tuple[int, int], ...]
    layer: int | Sequence[int]
    device: str | None
    ncut: Any
    coloring: FittedColoring
    segment_ks: tuple[int, ...] = ()
    segment_rotations: tuple[torch.Tensor, ...] = ()

    def with_ladder(self, ladder: SegmentLadder) -> MapModel:
        """This model with the segment ladder's rotations (new nodes get the same segments)."""
        return replace(self, segment_ks=tuple(ladder.ks), segment_rotations=tuple(ladder.rotations))

    def segment_labels(self, eigvecs: np.ndarray) -> np.ndarray:
        """``(L, M)`` uint8 segment of each of ``M`` new nodes at every ladder level.

        ``eigvecs``: ``(M, n_eig)`` float32, as :func:`add_images` placed them. The same rotation
        and argmax as :func:`~ncut_widget.widget.segments.segment_ladder` gave the fitted nodes.
        """
        from ..engine.kway import rotate

        out = np.empty((len(self.segment_ks), eigvecs.shape[0]), dtype=np.uint8)
        V = torch.as_tensor(eigvecs, dtype=torch.float32)
        for level, R in enumerate(self.segment_rotations):
            out[level] = rotate(V, R).argmax(dim=1).numpy()
        return out


def add_images(
    results: Results,
    model: MapModel,
    images: Any,
    progress: Callable[[str, int, int], None] | bool | None = None,
) -> Results:
    """Place new images into a fitted map: ``results`` with their nodes appended.

    Features come from the model's backbone at its resolutions and layer; ``Ncut.transform``
    places them in the fitted eigenvectors; the fitted coloring's propagation places them in the
    existing 3D layout and gives them its RGB. Nothing of ``results`` is recomputed: the first
    ``results.layout.n_nodes`` rows of every array are ``results``' own, bit for bit, and new
    nodes follow as one block (``layout.added[-1]``).

    Args:
        results: the map (e.g. ``w.results``).
        model: its :class:`MapModel` (``w.map_model``, or ``compute(..., return_model=True)``).
        images: PIL images, paths, ``(H, W, 3)`` uint8 arrays or ``(3, H, W)`` tensors (at least one).
        progress: ``progress(stage, done, total)`` (stages "Features …" and "Placing new nodes").

    Returns:
        New :class:`Results`: ``eigvecs (N + M, n_eig)``, ``X_3d (N + M, 3)``, ``rgb (N + M, 3)``
        float32, the images appended (``layout.added`` marks them).
    """
    from ..features import extract_features
    from ..features.images import load_images
    from ..progress import resolve_progress

    if not isinstance(results, Results):
        raise TypeError(f"results must be ncut_widget Results (e.g. w.results), got {type(results).__name__}")
    if not isinstance(model, MapModel):
        raise TypeError(
            f"model must be a MapModel (w.map_model of a widget made by explore(), or "
            f"compute(..., return_model=True)), got {type(model).__name__}"
        )
    photos, names = load_images(images)
    if not photos:
        raise ValueError("images is empty: give at least one image to add")
    report = resolve_progress(progress)
    features = extract_features(
        photos, resolutions=list(model.resolutions), layer=model.layer, backbone=model.backbone,
        device=model.device, progress=report,
    )
    if [tuple(s) for s in features.grid_shapes] != [tuple(s) for s in results.layout.grid_shapes]:
        raise ValueError(
            f"the model makes patch grids {features.grid_shapes} but the results have "
            f"{list(results.layout.grid_shapes)}: this model was not fitted on these results"
        )
    if results.eigvecs.shape[1] != model.ncut.n_eig:
        raise ValueError(
            f"the results have {results.eigvecs.shape[1]} eigenvectors but the model's Ncut makes "
            f"{model.ncut.n_eig}: this model was not fitted on these results"
        )
    report("Placing new nodes", 0, 2)
    eig, _ = model.ncut.transform(features.nodes)
    report("Placing new nodes", 1, 2)
    X_3d, rgb = model.coloring.transform(eig)
    report("Placing new nodes", 2, 2)
    layout = results.layout.grow(names, [p.size for p in photos])
    return Results(
        layout=layout,
        eigvecs=np.concatenate([results.eigvecs, eig.numpy().astype(np.float32, copy=False)]),
        X_3d=np.concatenate([results.X_3d, X_3d.numpy().astype(np.float32, copy=False)]),
        rgb=np.concatenate([results.rgb, rgb.numpy().astype(np.float32, copy=False)]),
        images=[*results.images, *photos],
    )
