"""Wire encoding of images added to a fitted map: one chunk per ``add_images``, only the new nodes.

A chunk is laid out like the first payload (docs/wire-format.md "Added images") and quantized with
the first payload's own scales: eigenvectors with its per-column ``eig_scale`` and positions in its
``pos_min``/``pos_max`` box, new values clipped into them. The first payload's bytes therefore never
change, and every node, old or new, dequantizes with one scale and one box.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from PIL import Image

from ..nodes import NodeBlock
from . import state as wire


def encode_addition(
    base: dict[str, Any],
    block: NodeBlock,
    names: Sequence[str],
    sizes: Sequence[tuple[int, int]],
    eigvecs: np.ndarray,
    X_3d: np.ndarray,
    rgb: np.ndarray,
    images: Sequence[Image.Image],
    segment_labels: np.ndarray | None,
) -> wire.EncodedState:
    """Quantize and lay out one block of added nodes against the first payload's ``meta``.

    Args:
        base: the widget's ``meta`` (the first payload's; its scales, box and ladder are reused).
        block: where the new images and nodes go (``GridLayout.added[-1]``).
        names, sizes: the new images' names and ``(width, height)``.
        eigvecs: ``(M, n_eig)`` float32 of the new nodes; the first ``base["k"]`` columns are sent.
        X_3d: ``(M, 3)`` float; rgb: ``(M, 3)`` float in [0, 1].
        images: the new originals, for thumbnails.
        segment_labels: ``(L, M)`` uint8 at the ladder's levels, or ``None`` without a ladder.

    Returns:
        The chunk's ``meta`` (``first_image``, ``n_nodes``, ``offsets``: absolute node ids of the
        block at each resolution, ``images`` marked ``added``, ``arrays``, ``thumbnails``,
        ``total_bytes``) and its payload.
    """
    n = int(eigvecs.shape[0])
    grids = [(int(r["h"]), int(r["w"])) for r in base["resolutions"]]
    if block.n_nodes(grids) != n or len(names) != block.count:
        raise ValueError(f"a block of {block.count} images has {block.n_nodes(grids)} nodes, got {n} rows")
    k = int(base["k"])
    positions, _, _ = wire._quantize_positions(
        np.asarray(X_3d, dtype=np.float64), box=(base["pos_min"], base["pos_max"])
    )
    colors = wire.rgb_bytes(rgb)
    eig_q, _ = wire.quantize_eigvecs(
        np.asarray(eigvecs[:, :k], dtype=np.float32), scale=np.asarray(base["eig_scale"], dtype=np.float32)
    )
    packer = wire._Packer()
    arrays = {
        "positions": {"offset": packer.add(positions.tobytes()), "dtype": "uint16", "shape": [n, 3]},
        "colors": {"offset": packer.add(colors.tobytes()), "dtype": "uint8", "shape": [n, 3]},
        "eigvecs": {"offset": packer.add(eig_q.tobytes()), "dtype": "int8", "shape": [n, k]},
    }
    if "segments" in base["arrays"]:
        levels = len(base["segments"]["ks"])
        labels = np.ascontiguousarray(segment_labels, dtype=np.uint8)
        if labels.shape != (levels, n):
            raise ValueError(f"segment labels have shape {labels.shape}, expected {(levels, n)}")
        arrays["segments"] = {"offset": packer.add(labels.tobytes()), "dtype": "uint8", "shape": [levels, n]}
    thumbnails = []
    for image in images:
        data = wire._thumbnail_bytes(image)
        thumbnails.append({"offset": packer.add(data), "length": len(data), "mime": "image/jpeg"})
    payload = packer.bytes()
    meta = {
        "first_image": int(block.first),
        "n_nodes": n,
        "offsets": [int(o) for o in block.offsets],
        "images": [
            {"name": name, "width": int(w), "height": int(h), "added": True}
            for name, (w, h) in zip(names, sizes, strict=True)
        ],
        "arrays": arrays,
        "thumbnails": thumbnails,
        "total_bytes": len(payload),
    }
    return wire.EncodedState(meta=meta, payload=payload)


def decode_addition(chunk: wire.EncodedState) -> tuple[np.ndarray, np.ndarray]:
    """A chunk as the browser holds it: ``(eigenvector codes (M, k) int8, segment labels (L, M) uint8)``.

    The codes dequantize with the first payload's ``eig_scale`` (they were quantized with it).
    """
    spec = chunk.meta["arrays"]["eigvecs"]
    n, k = spec["shape"]
    codes = np.frombuffer(chunk.payload, dtype=np.int8, count=n * k, offset=spec["offset"]).reshape(n, k)
    seg = chunk.meta["arrays"].get("segments")
    if seg is None:
        return codes, np.zeros((0, n), dtype=np.uint8)
    levels = seg["shape"][0]
    labels = np.frombuffer(chunk.payload, dtype=np.uint8, count=levels * n, offset=seg["offset"])
    return codes, labels.reshape(levels, n)
