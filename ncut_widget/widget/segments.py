"""The segment ladder the widget shows: k-way NCUT segments at several granularities, one byte a node
per level, each segment drawn in the mean RGB of its nodes (so Segments and RGB modes agree).

Pure numpy/torch; the k-way solver is the engine's (:func:`ncut_widget.kway_ncut`, split into its
rotation fit and :func:`~ncut_widget.engine.kway.rotate`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from ..engine.kway import DEFAULT_FIT_SAMPLE, axis_align, rotate

# Coarse to fine; a level is kept when the eigenvectors have at least that many columns.
LADDER = (2, 3, 4, 6, 8, 12, 16, 24, 32)


@dataclass(frozen=True)
class SegmentLadder:
    """Segments at every level of the ladder.

    Attributes:
        ks: ``(L,)`` segment counts, ascending.
        labels: ``(L, N)`` uint8: ``labels[l, i]`` is node ``i``'s segment at ``ks[l]``.
        colors: per level, a ``(ks[l], 3)`` uint8 mean RGB of each segment's nodes (grey when a
            segment is empty).
        rotations: per level, the ``(ks[l], ks[l])`` float32 k-way rotation the labels came from
            (:func:`~ncut_widget.engine.kway.rotate`): nodes added later get labels of the same segments.
    """

    ks: tuple[int, ...]
    labels: np.ndarray
    colors: tuple[np.ndarray, ...]
    rotations: tuple[torch.Tensor, ...] = ()

    def level(self, k: int) -> int:
        """Index of ``k`` in :attr:`ks`; a ``ValueError`` names the available levels otherwise."""
        if k not in self.ks:
            raise ValueError(f"k={k} is not on the segment ladder; choose one of {list(self.ks)}")
        return self.ks.index(k)


def ladder_levels(n_eig: int, ladder: Sequence[int] = LADDER) -> tuple[int, ...]:
    """The levels of ``ladder`` that ``n_eig`` eigenvectors support (``2 <= k <= n_eig``)."""
    return tuple(int(k) for k in ladder if 2 <= k <= n_eig)


def segment_ladder(
    eigvecs: np.ndarray | torch.Tensor,
    rgb: np.ndarray,
    *,
    ladder: Sequence[int] = LADDER,
    seed: int = 0,
    progress: Callable[[str, int, int], None] | None = None,
) -> SegmentLadder:
    """Compute the k-way segments of every ladder level and their mean colours.

    Args:
        eigvecs: ``(N, n_eig)`` float eigenvectors (the full ones, not the wire's int8 copy).
        rgb: ``(N, 3)`` float colours in [0, 1] (the RGB mode's).
        ladder: candidate segment counts; those above ``n_eig`` (or above 255) are dropped.
        seed: passed to :func:`~ncut_widget.kway_ncut`; same input and seed give the same ladder.
        progress: ``progress("Segments", done, total)`` before each level and at the end (a
            widget job's callback: where it can cancel).

    Returns:
        A :class:`SegmentLadder`; with fewer than 2 eigenvectors it has no levels.
    """
    V = torch.as_tensor(eigvecs, dtype=torch.float32)
    n = V.shape[0]
    ks = tuple(k for k in ladder_levels(V.shape[1], ladder) if k <= 255)
    labels = np.empty((len(ks), n), dtype=np.uint8)
    colors = []
    rotations: list[torch.Tensor] = []
    rgb = np.asarray(rgb, dtype=np.float64)
    for level, k in enumerate(ks):
        if progress is not None:
            progress("Segments", level, len(ks))
        # kway_ncut(V, k, seed=seed), with its rotation kept for nodes added to the map later;
        # computed where the eigenvectors are (CUDA ones stay there), the labels come back.
        R = axis_align(V, k, n_sample=DEFAULT_FIT_SAMPLE, seed=seed)
        rotations.append(R.detach().cpu())
        lab = rotate(V, R).argmax(dim=1).cpu().numpy()
        labels[level] = lab
        counts = np.bincount(lab, minlength=k)
        sums = np.stack([np.bincount(lab, weights=rgb[:, c], minlength=k) for c in range(3)], axis=1)
        mean = np.where(counts[:, None] > 0, sums / np.maximum(counts, 1)[:, None], 0.5)
        colors.append(np.rint(np.clip(mean, 0.0, 1.0) * 255.0).astype(np.uint8))
    if progress is not None:
        progress("Segments", len(ks), len(ks))
    return SegmentLadder(ks=ks, labels=labels, colors=tuple(colors), rotations=tuple(rotations))
