"""The node order's grid layout, shared by features (``MultiResFeatures``) and the widget (``GridLayout``).

Nodes are every image at resolution 0 (row-major patches), then every image at resolution 1, ...;
``offsets[r]`` is resolution r's first node. A grown map (``add_images``) appends blocks of images
laid out the same way after every existing node (``NodeBlock``). Nothing here imports a stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch


def split_nodes(
    values: Any, offsets: Sequence[int], grid_shapes: Sequence[tuple[int, int]], n_images: int
) -> list[Any]:
    """Per-node values ``(N, ...)`` in node order -> per resolution ``(n_images, h, w, ...)`` views.

    The one place that knows the node order's grid layout (``MultiResFeatures.split`` and
    the widget's ``GridLayout.split`` both use it). Torch tensors and numpy arrays alike.
    """
    if not isinstance(values, (torch.Tensor, np.ndarray)):
        raise TypeError(f"values must be a torch.Tensor or numpy.ndarray, got {type(values).__name__}")
    n_nodes = int(offsets[-1]) + n_images * grid_shapes[-1][0] * grid_shapes[-1][1]
    if values.ndim == 0 or values.shape[0] != n_nodes:
        got = "a scalar" if values.ndim == 0 else f"{values.shape[0]} rows"
        raise ValueError(f"values must have one row per node ({n_nodes}), got {got}")
    return [
        values[o : o + n_images * h * w].reshape(n_images, h, w, *values.shape[1:])
        for o, (h, w) in zip(offsets, grid_shapes, strict=True)
    ]


@dataclass(frozen=True)
class NodeBlock:
    """Images ``first .. first + count - 1`` laid out as one unit: at resolution r their nodes start
    at ``offsets[r]`` (every image of the block at r, row-major patches, then the next resolution).

    A widget's first result is one block (image 0 on, ``offsets`` its resolutions' starts); each
    ``add_images`` appends a block after every existing node, so existing node ids never change.
    """

    first: int
    count: int
    offsets: tuple[int, ...]

    def n_nodes(self, grid_shapes: Sequence[tuple[int, int]]) -> int:
        """Nodes in this block: ``count * sum(h * w)`` over the resolutions."""
        return self.count * sum(h * w for h, w in grid_shapes)


def next_block(blocks: Sequence[NodeBlock], grid_shapes: Sequence[tuple[int, int]], count: int) -> NodeBlock:
    """The block ``count`` new images get after ``blocks``: image ids and node ids continue where they end."""
    if count < 1:
        raise ValueError(f"a block needs at least one image, got {count}")
    last = blocks[-1]
    start = last.offsets[0] + last.n_nodes(grid_shapes)
    offsets = [start]
    for h, w in grid_shapes[:-1]:
        offsets.append(offsets[-1] + count * h * w)
    return NodeBlock(first=last.first + last.count, count=count, offsets=tuple(offsets))


def split_blocks(values: Any, blocks: Sequence[NodeBlock], grid_shapes: Sequence[tuple[int, int]]) -> list[Any]:
    """Per-node values ``(N, ...)`` laid out in ``blocks`` -> per resolution ``(n_images, h, w, ...)``.

    One block gives views (:func:`split_nodes`); several give copies, images in id order.
    """
    if len(blocks) == 1:
        return split_nodes(values, blocks[0].offsets, grid_shapes, blocks[0].count)
    if not isinstance(values, (torch.Tensor, np.ndarray)):
        raise TypeError(f"values must be a torch.Tensor or numpy.ndarray, got {type(values).__name__}")
    n_nodes = sum(b.n_nodes(grid_shapes) for b in blocks)
    if values.ndim == 0 or values.shape[0] != n_nodes:
        got = "a scalar" if values.ndim == 0 else f"{values.shape[0]} rows"
        raise ValueError(f"values must have one row per node ({n_nodes}), got {got}")
    cat = torch.cat if isinstance(values, torch.Tensor) else np.concatenate
    out = []
    for r, (h, w) in enumerate(grid_shapes):
        parts = [
            values[b.offsets[r] : b.offsets[r] + b.count * h * w].reshape(b.count, h, w, *values.shape[1:])
            for b in blocks
        ]
        out.append(cat(parts))
    return out


def node_id(
    blocks: Sequence[NodeBlock], grid_shapes: Sequence[tuple[int, int]], res: int, image: int, row: int, col: int
) -> int:
    """The node of patch ``(row, col)`` of ``image`` at resolution ``res`` (js/layout.js ``nodeId``)."""
    h, w = grid_shapes[res]
    for b in blocks:
        if b.first <= image < b.first + b.count:
            return b.offsets[res] + (image - b.first) * h * w + row * w + col
    raise ValueError(f"image {image} is out of range: there are {blocks[-1].first + blocks[-1].count} images")


def locate_node(blocks: Sequence[NodeBlock], grid_shapes: Sequence[tuple[int, int]], node: int) -> tuple[int, int, int, int]:
    """``(res, image, row, col)`` of ``node`` (js/layout.js ``nodeInfo``); ``ValueError`` when out of range."""
    for b in blocks:
        for r, (h, w) in enumerate(grid_shapes):
            local = node - b.offsets[r]
            if 0 <= local < b.count * h * w:
                k, within = divmod(local, h * w)
                row, col = divmod(within, w)
                return r, b.first + k, row, col
    n = sum(b.n_nodes(grid_shapes) for b in blocks)
    raise ValueError(f"node {node} is out of range: there are {n} nodes")
