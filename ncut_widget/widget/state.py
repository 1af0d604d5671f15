"""Results -> compact binary widget state (quantized, laid out per docs/wire-format.md) and back.

Pure numpy + PIL: no widget, no torch graph. The browser decodes the same layout in js/codecs.js,
and :func:`similarity` here computes the very numbers js/similarity.js shows.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from ..nodes import NodeBlock, next_block, split_blocks

if TYPE_CHECKING:
    from .segments import SegmentLadder

# Per node: 6 (positions) + 3 (colors) + k (eigenvectors) + L (segment levels) bytes; k <= 30 and
# the 8 ladder levels 30 eigenvectors support keep it at 47.
MAX_WIRE_EIGVECS = 30
THUMBNAIL_SIDE = 320
_ALIGN = 8


@dataclass(frozen=True)
class GridLayout:
    """How nodes map to images: one entry per resolution, in node order."""

    labels: Sequence[str]
    grid_shapes: Sequence[tuple[int, int]]
    offsets: Sequence[int]
    image_names: Sequence[str]
    image_sizes: Sequence[tuple[int, int]]  # (width, height) of the originals
    # Images added to a fitted map (``add_images``), each a block after the first; () when never grown.
    added: tuple[NodeBlock, ...] = ()

    @property
    def blocks(self) -> tuple[NodeBlock, ...]:
        """Every block of images in node order: the fitted images (``offsets``), then each addition."""
        fitted = len(self.image_names) - sum(b.count for b in self.added)
        return (NodeBlock(0, fitted, tuple(int(o) for o in self.offsets)), *self.added)

    @property
    def n_fitted_images(self) -> int:
        """Images of the first block (those the map was fitted on)."""
        return self.blocks[0].count

    @property
    def n_nodes(self) -> int:
        return sum(b.n_nodes(self.grid_shapes) for b in self.blocks)

    def split(self, values: np.ndarray) -> list[np.ndarray]:
        """Per-node values ``(N, ...)`` -> per resolution ``(n_images, h, w, ...)`` (views unless grown)."""
        return split_blocks(np.asarray(values), self.blocks, self.grid_shapes)

    def grow(self, names: Sequence[str], sizes: Sequence[tuple[int, int]]) -> GridLayout:
        """This layout with ``len(names)`` images appended as a new block after every existing node."""
        block = next_block(self.blocks, self.grid_shapes, len(names))
        return replace(
            self,
            image_names=[*self.image_names, *names],
            image_sizes=[*self.image_sizes, *sizes],
            added=(*self.added, block),
        )


@dataclass(frozen=True)
class EncodedState:
    """The widget's binary payload and the ``meta`` dict that describes it."""

    meta: dict[str, Any]
    payload: bytes


def _quantize_positions(
    X_3d: np.ndarray, box: tuple[Sequence[float], Sequence[float]] | None = None
) -> tuple[np.ndarray, list[float], list[float]]:
    # ``box`` (an earlier payload's pos_min, pos_max): added nodes reuse it, clipped into it, so
    # the existing nodes' bytes and their dequantization never change.
    if box is None:
        lo = X_3d.min(axis=0)
        hi = X_3d.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
    else:
        lo = np.asarray(box[0], dtype=np.float64)
        span = np.asarray(box[1], dtype=np.float64) - lo
    q = np.rint((X_3d - lo) / span * 65535.0).clip(0, 65535).astype("<u2")
    return q, [float(v) for v in lo], [float(v) for v in lo + span]


def rgb_bytes(rgb: np.ndarray) -> np.ndarray:
    """``(N, 3)`` float colors in [0, 1] -> the ``(N, 3)`` uint8 sRGB bytes the browser shows."""
    return np.rint(np.clip(rgb, 0.0, 1.0) * 255.0).astype(np.uint8)


def quantize_eigvecs(eigvecs: np.ndarray, scale: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-column int8 quantization: ``v ≈ q * scale``. Returns ``(q (N, k) int8, scale (k,) float32)``.

    ``scale`` (an earlier payload's ``eig_scale``) is reused when given: values beyond ``127 * scale``
    clip to ±127 (nodes added to a fitted map).
    """
    if scale is None:
        peak = np.abs(eigvecs).max(axis=0)
        scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    scale = np.asarray(scale, dtype=np.float32)
    q = np.rint(eigvecs / scale).clip(-127, 127).astype(np.int8)
    return q, scale


def dequantize_eigvecs(q: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """Inverse of :func:`quantize_eigvecs`: ``(N, k)`` float32."""
    return q.astype(np.float32) * scale.astype(np.float32)[None, :]


def thumbnail(image: Image.Image) -> Image.Image:
    """An RGB copy of ``image`` whose longer side is at most ``THUMBNAIL_SIDE`` pixels."""
    thumb = image.convert("RGB")
    thumb.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE), Image.Resampling.LANCZOS)
    return thumb


def _thumbnail_bytes(image: Image.Image) -> bytes:
    out = io.BytesIO()
    thumbnail(image).save(out, format="JPEG", quality=85)
    return out.getvalue()


class _Packer:
    """Appends 8-byte-aligned sections so every typed-array view in the browser is aligned."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self.size = 0

    def add(self, data: bytes) -> int:
        pad = (-self.size) % _ALIGN
        if pad:
            self._parts.append(b"\0" * pad)
            self.size += pad
        offset = self.size
        self._parts.append(data)
        self.size += len(data)
        return offset

    def bytes(self) -> bytes:
        return b"".join(self._parts)


def encode_state(
    layout: GridLayout,
    eigvecs: np.ndarray,
    X_3d: np.ndarray,
    rgb: np.ndarray,
    images: Sequence[Image.Image] | None,
    *,
    version: int,
    max_eigvecs: int = MAX_WIRE_EIGVECS,
    segments: SegmentLadder | None = None,
) -> EncodedState:
    """Quantize and lay out one result for the browser.

    Args:
        layout: node ↔ image mapping.
        eigvecs: ``(N, n_eig)`` float; the first ``min(n_eig, max_eigvecs)`` columns are sent as int8.
        X_3d: ``(N, 3)`` float; sent as uint16 within its bounding box.
        rgb: ``(N, 3)`` float in [0, 1]; sent as uint8.
        images: the originals (one per image) for thumbnails, or ``None``.
        version: identifies this payload; the browser decodes each version once (a re-sent or
            re-shown payload of the same version keeps its views and camera).
        segments: the segment ladder (:func:`~ncut_widget.widget.segments.segment_ladder`), sent
            as ``(L, N)`` uint8 labels plus ``meta["segments"]`` (ks and per-level colours);
            ``None`` (or a ladder with no level) sends none.
    """
    n = layout.n_nodes
    k = min(eigvecs.shape[1], max_eigvecs)
    positions, pos_min, pos_max = _quantize_positions(np.asarray(X_3d, dtype=np.float64))
    colors = rgb_bytes(rgb)
    eig_q, eig_scale = quantize_eigvecs(np.asarray(eigvecs[:, :k], dtype=np.float32))

    packer = _Packer()
    arrays = {
        "positions": {"offset": packer.add(positions.tobytes()), "dtype": "uint16", "shape": [n, 3]},
        "colors": {"offset": packer.add(colors.tobytes()), "dtype": "uint8", "shape": [n, 3]},
        "eigvecs": {"offset": packer.add(eig_q.tobytes()), "dtype": "int8", "shape": [n, k]},
    }
    seg_meta = None
    if segments is not None and len(segments.ks):
        labels = np.ascontiguousarray(segments.labels, dtype=np.uint8)
        if labels.shape != (len(segments.ks), n):
            raise ValueError(f"segment labels have shape {labels.shape}, expected {(len(segments.ks), n)}")
        arrays["segments"] = {"offset": packer.add(labels.tobytes()), "dtype": "uint8", "shape": [len(segments.ks), n]}
        seg_meta = {
            "ks": [int(k) for k in segments.ks],
            # Per level, one [r, g, b] byte triple per segment: the mean RGB of its nodes.
            "colors": [np.asarray(c, dtype=np.uint8).tolist() for c in segments.colors],
        }
    thumbnails = []
    for image in images or []:
        data = _thumbnail_bytes(image)
        thumbnails.append({"offset": packer.add(data), "length": len(data), "mime": "image/jpeg"})
    payload = packer.bytes()
    meta = {
        "version": int(version),
        "n_nodes": n,
        "k": k,
        "n_eig": int(eigvecs.shape[1]),
        "total_bytes": len(payload),
        "images": [
            {"name": name, "width": int(w), "height": int(h)}
            for name, (w, h) in zip(layout.image_names, layout.image_sizes, strict=True)
        ],
        "resolutions": [
            {"label": label, "h": int(h), "w": int(w), "offset": int(off)}
            for label, (h, w), off in zip(layout.labels, layout.grid_shapes, layout.offsets, strict=True)
        ],
        "pos_min": pos_min,
        "pos_max": pos_max,
        "eig_scale": [float(s) for s in eig_scale],
        "arrays": arrays,
        "thumbnails": thumbnails,
    }
    if seg_meta is not None:
        meta["segments"] = seg_meta
    return EncodedState(meta=meta, payload=payload)


def decode_segments(state: EncodedState) -> tuple[tuple[int, ...], np.ndarray]:
    """The segment ladder as the browser sees it: ``(ks, labels (L, N) uint8)``; ``((), (0, N))`` if none."""
    spec = state.meta["arrays"].get("segments")
    n = int(state.meta["n_nodes"])
    if spec is None:
        return (), np.zeros((0, n), dtype=np.uint8)
    levels, count = spec["shape"]
    labels = np.frombuffer(state.payload, dtype=np.uint8, count=levels * count, offset=spec["offset"])
    return tuple(int(k) for k in state.meta["segments"]["ks"]), labels.reshape(levels, count)


def decode_eig_codes(state: EncodedState) -> tuple[np.ndarray, np.ndarray]:
    """The eigenvectors as the browser holds them: ``(codes (N, k) int8, scales (k,) float32)``."""
    spec = state.meta["arrays"]["eigvecs"]
    n, k = spec["shape"]
    codes = np.frombuffer(state.payload, dtype=np.int8, count=n * k, offset=spec["offset"]).reshape(n, k)
    return codes, np.asarray(state.meta["eig_scale"], dtype=np.float32)


def decode_eigvecs(state: EncodedState) -> np.ndarray:
    """The eigenvectors exactly as the browser sees them: ``(N, k)`` float32."""
    return dequantize_eigvecs(*decode_eig_codes(state))


# A node is kept only when its cosine to the positives beats its cosine to the negatives by this much.
NEGATIVE_MARGIN = 0.1
# The score of a node a negative click suppressed: below every threshold (thresholds are in [-1, 1]).
SUPPRESSED = -2.0


# The largest int16 query weight (js/similarity.js WEIGHT_MAX).
WEIGHT_MAX = 32767


def inverse_norms(codes: np.ndarray, scales: np.ndarray, n_view: int) -> np.ndarray:
    """``(N,)`` float32 ``1 / |row|`` of the dequantized rows in the first ``n_view`` columns (0 for a
    zero row): float64 sums column by column, as js/similarity.js ``invNorms`` adds them."""
    total = np.zeros(codes.shape[0], dtype=np.float64)
    for j in range(n_view):
        e = codes[:, j].astype(np.float64)
        total += e * e * (float(scales[j]) * float(scales[j]))
    inv = np.zeros_like(total)
    np.divide(1.0, np.sqrt(total), out=inv, where=total > 0)
    return inv.astype(np.float32)


def _query_scores(codes: np.ndarray, scales: np.ndarray, inv: np.ndarray, ids: Sequence[int], n_view: int) -> np.ndarray:
    """``(N,)`` float32 cosine of every row to the direction of the unit rows ``ids``, computed
    operation for operation as js/similarity.js ``compute`` does (bit-identical scores): the
    direction summed in float64 in selection order, int16 weights, an exact integer dot product,
    then ``f32(dot * unit * inv)``. Zeros when the direction is 0."""
    rows = np.asarray(ids, dtype=np.int64)
    s = [float(v) for v in scales[:n_view]]
    terms = codes[rows, :n_view].astype(np.float64) * np.asarray(s) * inv[rows].astype(np.float64)[:, None]
    c = np.add.accumulate(terms, axis=0)[-1]  # sequential, like the browser's loop (not pairwise)
    norm = 0.0
    for v in c:
        norm += float(v) * float(v)
    norm = float(np.sqrt(norm))
    zeros = np.zeros(codes.shape[0], dtype=np.float32)
    if not norm > 0:
        return zeros
    w = np.array([(s[j] * float(c[j])) / norm for j in range(n_view)], dtype=np.float32)
    peak = float(np.abs(w).max())
    if not peak > 0:
        return zeros
    factor = WEIGHT_MAX / peak
    q = np.floor(w.astype(np.float64) * factor + 0.5)
    # Float64 products of int8 codes and int16 weights sum exactly (far below 2**53) in any order.
    dot = codes[:, :n_view].astype(np.float64) @ q
    return ((dot * (peak / WEIGHT_MAX)) * inv.astype(np.float64)).astype(np.float32)


def similarity(
    codes: np.ndarray,
    scales: np.ndarray,
    selected: Sequence[int],
    n_eig_view: int,
    negative: Sequence[int] = (),
) -> np.ndarray:
    """The score every node is highlighted by (docs/wire-format.md "Similarity"), in the first ``n_eig_view`` columns.

    ``pos_i``: cosine of node i to the mean direction of the ``selected`` unit rows. Without
    ``negative`` the score is ``pos``. With negatives, ``neg_i`` is the same cosine to the
    negatives' mean direction, and the score is ``pos_i`` where ``pos_i - neg_i >= NEGATIVE_MARGIN``
    and :data:`SUPPRESSED` (-2, below any threshold) elsewhere. The selected nodes themselves
    score 1: a selection (a box, a lasso, a segment) is never dimmed. The query direction is
    applied as int16 weights (relative error under 2e-5); the numbers are bit-identical to the
    browser's.

    Args:
        codes: ``(N, k)`` int8 eigenvector codes as sent (see :func:`decode_eig_codes`).
        scales: ``(k,)`` float32 per-column scales (value = code * scale).
        selected: positive node ids (repeats count once, first occurrence first); empty gives zeros.
        n_eig_view: leading columns used, clipped to ``[1, k]``.
        negative: negative node ids (Alt-clicks in the browser).

    Returns:
        ``(N,)`` float32, in [-1, 1] or -2; the same numbers the browser shows.
    """
    n_view = int(min(max(n_eig_view, 1), codes.shape[1]))
    selected = list(dict.fromkeys(int(i) for i in selected))
    negative = list(dict.fromkeys(int(i) for i in negative))
    if len(selected) == 0:
        return np.zeros(codes.shape[0], dtype=np.float32)
    inv = inverse_norms(codes, scales, n_view)
    score = _query_scores(codes, scales, inv, selected, n_view)
    if len(negative) > 0:
        neg = _query_scores(codes, scales, inv, negative, n_view)
        score = np.where(score - neg >= np.float32(NEGATIVE_MARGIN), score, np.float32(SUPPRESSED)).astype(np.float32)
    score[np.asarray(selected, dtype=np.int64)] = 1.0
    return score
