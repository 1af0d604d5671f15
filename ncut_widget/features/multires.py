"""MultiResFeatures: the one place that knows how graph nodes map to images and pixels.

Node order is the seed tutorial's: every image's grid at resolution 0 flattened row-major and
concatenated, then every image at resolution 1, and so on. ``nodes`` is stored once; ``grids``
are views into it, so the two can never disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..nodes import split_nodes
from .images import load_images


def resolution_label(res: tuple[int, int] | None, grid: tuple[int, int]) -> str:
    """``"224"`` for a square input, ``"224x448"`` (H x W) otherwise, ``"grid 16x16"`` when the
    input size is unknown."""
    if res is None:
        return f"grid {grid[0]}x{grid[1]}"
    return str(res[0]) if res[0] == res[1] else f"{res[0]}x{res[1]}"


def _as_grid(grid: Any, k: int) -> torch.Tensor:
    if isinstance(grid, np.ndarray):
        grid = torch.from_numpy(np.ascontiguousarray(grid))
    if not isinstance(grid, torch.Tensor):
        raise TypeError(f"grid {k} must be a torch.Tensor or numpy.ndarray, got {type(grid).__name__}")
    if grid.ndim == 3:  # one image: the seed's .squeeze(0) leaves (h, w, C)
        grid = grid.unsqueeze(0)
    if grid.ndim != 4:
        raise ValueError(f"grid {k} must be (n_images, h, w, C) or (h, w, C), got shape {tuple(grid.shape)}")
    if min(grid.shape) == 0:
        raise ValueError(f"grid {k} is empty: shape {tuple(grid.shape)}")
    if grid.is_complex() or grid.dtype == torch.bool:
        raise TypeError(f"grid {k} must hold real numbers, got {grid.dtype}")
    return grid.detach().to("cpu", torch.float32)


class MultiResFeatures:
    """Patch features of ``n_images`` images at several resolutions, with the node index.

    Build it with ``extract_features`` or ``MultiResFeatures.from_grids``.

    Attributes:
        nodes: ``(N, C)`` float32, the seed's ``mixed_feats`` order.
        grids: one ``(n_images, h, w, C)`` float32 view of ``nodes`` per resolution.
        images: the original images as RGB PIL images, or ``None``.
        image_names: ``list[str]``.
        image_sizes: original ``(W, H)`` per image, or ``None`` when unknown.
        resolutions: input ``(H, W)`` per resolution (``None`` entries when unknown).
        labels: e.g. ``"224"`` or ``"224x448"`` per resolution.
        grid_shapes: ``(h, w)`` per resolution.
        offsets: first node of each resolution.
        n_images, n_nodes, channels: ints.
    """

    def __init__(
        self,
        grids: Sequence[Any],
        images: Any = None,
        *,
        resolutions: Sequence[int | tuple[int, int] | None] | None = None,
        image_names: Sequence[str] | None = None,
        image_sizes: Sequence[tuple[int, int]] | None = None,
    ) -> None:
        if isinstance(grids, (torch.Tensor, np.ndarray)) or not isinstance(grids, Sequence):
            raise TypeError("grids must be a list of (n_images, h, w, C) tensors, one per resolution")
        if not grids:
            raise ValueError("grids is empty: give at least one resolution's features")
        tensors = [_as_grid(g, k) for k, g in enumerate(grids)]
        n, C = tensors[0].shape[0], tensors[0].shape[-1]
        for k, g in enumerate(tensors):
            if g.shape[0] != n:
                raise ValueError(
                    f"grids hold different image counts: grid 0 has {n} images, grid {k} has {g.shape[0]}"
                )
            if g.shape[-1] != C:
                raise ValueError(
                    f"grids have different channel widths: grid 0 has C={C}, grid {k} has C={g.shape[-1]}"
                )
        self.n_images = int(n)
        self.channels = int(C)
        self.grid_shapes = [(int(g.shape[1]), int(g.shape[2])) for g in tensors]
        sizes = [n * h * w for h, w in self.grid_shapes]
        self.offsets = [int(x) for x in np.concatenate([[0], np.cumsum(sizes)[:-1]])]
        self.n_nodes = int(sum(sizes))
        self.nodes = torch.cat([g.reshape(-1, C) for g in tensors], dim=0)
        self.grids = [
            self.nodes[o : o + s].view(n, h, w, C)
            for o, s, (h, w) in zip(self.offsets, sizes, self.grid_shapes, strict=True)
        ]
        self._set_resolutions(resolutions)
        self._set_images(images, image_names, image_sizes)
        self._index: torch.Tensor | None = None

    @classmethod
    def from_grids(
        cls,
        grids: Sequence[Any],
        images: Any = None,
        *,
        resolutions: Sequence[int | tuple[int, int] | None] | None = None,
        image_names: Sequence[str] | None = None,
        image_sizes: Sequence[tuple[int, int]] | None = None,
    ) -> MultiResFeatures:
        """Wrap features computed elsewhere, e.g. the seed's ``[feats1, feats2]``.

        Args:
            grids: per resolution, ``(n_images, h, w, C)`` (or ``(h, w, C)`` for one image)
                torch tensors or numpy arrays; all with the same ``n_images`` and ``C``.
            images: optional originals (anything ``extract_features`` accepts), one per image;
                they give ``image_sizes`` and names.
            resolutions: optional input sizes (int or ``(H, W)``), for labels.
            image_names: optional names (default: from ``images``, else ``"image i"``).
            image_sizes: optional original ``(W, H)`` per image when ``images`` is not given;
                ``pixel_box`` needs one of the two.
        """
        return cls(
            grids, images, resolutions=resolutions, image_names=image_names, image_sizes=image_sizes
        )

    def _set_resolutions(self, resolutions: Sequence[Any] | None) -> None:
        if resolutions is None:
            resolutions = [None] * len(self.grids)
        if len(resolutions) != len(self.grids):
            raise ValueError(f"{len(resolutions)} resolutions given for {len(self.grids)} grids")
        res = []
        for r in resolutions:
            if r is None:
                res.append(None)
            elif isinstance(r, (int, np.integer)) and not isinstance(r, bool):
                res.append((int(r), int(r)))
            elif isinstance(r, Sequence) and len(r) == 2:
                res.append((int(r[0]), int(r[1])))
            else:
                raise TypeError(f"a resolution must be an int, (H, W) or None, got {r!r}")
        self.resolutions: list[tuple[int, int] | None] = res
        self.labels = [resolution_label(r, g) for r, g in zip(res, self.grid_shapes, strict=True)]

    def _set_images(self, images: Any, names: Sequence[str] | None, sizes: Any) -> None:
        self.images: list[Image.Image] | None = None
        default_names = [f"image {i}" for i in range(self.n_images)]
        if images is not None:
            self.images, default_names = load_images(images)
            if len(self.images) != self.n_images:
                raise ValueError(f"{len(self.images)} images given for features of {self.n_images} images")
            sizes = [im.size for im in self.images]
        if sizes is not None:
            sizes = [(int(s[0]), int(s[1])) for s in sizes]
            if len(sizes) != self.n_images:
                raise ValueError(f"{len(sizes)} image_sizes given for {self.n_images} images")
        self.image_sizes: list[tuple[int, int]] | None = sizes
        names = default_names if names is None else [str(s) for s in names]
        if len(names) != self.n_images:
            raise ValueError(f"{len(names)} image_names given for {self.n_images} images")
        self.image_names: list[str] = names

    @property
    def index(self) -> torch.Tensor:
        """``(N, 4)`` int64: ``(image, resolution, row, col)`` of every node, in node order."""
        if self._index is None:
            parts = []
            for r, (h, w) in enumerate(self.grid_shapes):
                img, row, col = torch.meshgrid(
                    torch.arange(self.n_images), torch.arange(h), torch.arange(w), indexing="ij"
                )
                res = torch.full_like(img, r)
                parts.append(torch.stack([img, res, row, col], dim=-1).reshape(-1, 4))
            self._index = torch.cat(parts).to(torch.int64)
        return self._index

    def split(self, values: Any) -> list[Any]:
        """Per-node values ``(N, ...)`` -> per resolution ``(n_images, h, w, ...)``.

        Works on torch tensors and numpy arrays and returns the same kind (views, no copy):
        ``split(rgb)`` gives the seed's ``[rgb1, rgb2]``.
        """
        return split_nodes(values, self.offsets, self.grid_shapes, self.n_images)

    def node_at(self, image: int, resolution: int, row: int, col: int) -> int:
        """The node id of cell ``(row, col)`` of ``image`` at resolution index ``resolution``."""
        if not 0 <= resolution < len(self.grid_shapes):
            raise ValueError(f"resolution {resolution} out of range 0..{len(self.grid_shapes) - 1}")
        h, w = self.grid_shapes[resolution]
        for name, v, hi in (("image", image, self.n_images), ("row", row, h), ("col", col, w)):
            if not 0 <= v < hi:
                raise ValueError(f"{name} {v} out of range 0..{hi - 1}")
        return self.offsets[resolution] + (image * h + row) * w + col

    def locate(self, node: int) -> tuple[int, int, int, int]:
        """``(image, resolution, row, col)`` of ``node`` (the inverse of ``node_at``)."""
        if isinstance(node, bool) or not isinstance(node, (int, np.integer)):
            raise TypeError(f"node must be an int, got {type(node).__name__}")
        if not 0 <= node < self.n_nodes:
            raise ValueError(f"node {node} out of range 0..{self.n_nodes - 1}")
        r = int(np.searchsorted(self.offsets, node, side="right")) - 1
        h, w = self.grid_shapes[r]
        image, rest = divmod(int(node) - self.offsets[r], h * w)
        row, col = divmod(rest, w)
        return image, r, row, col

    def pixel_box(self, node: int) -> tuple[float, float, float, float]:
        """``(x0, y0, x1, y1)``: the node's cell in the ORIGINAL image's pixel coordinates, as
        floats (half-open: x0 <= x < x1). Each image is resized to the full input size and the
        grid tiles it evenly, so cell ``(row, col)`` of an ``h x w`` grid covers
        ``[col * W / w, (col + 1) * W / w) x [row * H / h, (row + 1) * H / h)`` of a ``W x H``
        original."""
        image, r, row, col = self.locate(node)
        if self.image_sizes is None:
            raise ValueError("pixel_box needs the original image sizes: pass images or image_sizes")
        W, H = self.image_sizes[image]
        h, w = self.grid_shapes[r]
        return (col * W / w, row * H / h, (col + 1) * W / w, (row + 1) * H / h)

    def __len__(self) -> int:
        return self.n_nodes

    def __repr__(self) -> str:
        grids = ", ".join(f"{lab}: {h}x{w}" for lab, (h, w) in zip(self.labels, self.grid_shapes, strict=True))
        return (
            f"MultiResFeatures({self.n_images} images, {self.n_nodes} nodes x {self.channels} "
            f"channels; {grids})"
        )
