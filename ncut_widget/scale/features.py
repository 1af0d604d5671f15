"""Lazy backbone features of many image files: one task per (resolution, block of images).

Node order is :class:`~ncut_widget.MultiResFeatures`'s (every image at resolution 0, then every
image at resolution 1, ...), so a resolution's rows for images ``i0..i1`` are one contiguous
range, and each task's output is exactly one row chunk. The client reads only file headers
(for the original sizes); pixels are decoded on the workers, one block at a time.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..engine.checks import check_int
from ..features.multires import resolution_label
from ._deps import require


@dataclass(frozen=True, eq=False)
class LazyFeatures:
    """Features of ``n_images`` image files as lazy dask arrays, plus the layout of their nodes.

    Attributes:
        nodes: ``(N, C)`` float32 dask array; one row chunk per (resolution, block of
            ``images_per_task`` images), ``block * h * w`` rows.
        index: ``(N, 4)`` int32 dask array, same row chunks: ``(image, resolution, row, col)``.
        paths: image file per image (absolute paths, as strings).
        image_names: file stems.
        image_sizes: original ``(W, H)`` per image (read from the file headers).
        resolutions: input ``(H, W)`` per resolution (rounded to the backbone's patch size).
        grid_shapes: ``(h, w)`` feature grid per resolution.
        channels: ``C``.
        images_per_task: images per task (and per row chunk).
    """

    nodes: Any
    index: Any
    paths: list[str]
    image_names: list[str]
    image_sizes: list[tuple[int, int]]
    resolutions: list[tuple[int, int]]
    grid_shapes: list[tuple[int, int]]
    channels: int
    images_per_task: int
    _spec: dict[str, Any] = field(repr=False)

    @property
    def n_images(self) -> int:
        return len(self.paths)

    @property
    def n_nodes(self) -> int:
        return int(sum(self.n_images * h * w for h, w in self.grid_shapes))

    @property
    def offsets(self) -> list[int]:
        """First node of each resolution."""
        sizes = [self.n_images * h * w for h, w in self.grid_shapes]
        return [int(x) for x in np.concatenate([[0], np.cumsum(sizes)[:-1]])]

    @property
    def labels(self) -> list[str]:
        """``"224"`` or ``"224x448"`` per resolution, as ``MultiResFeatures.labels``."""
        return [resolution_label(r, g) for r, g in zip(self.resolutions, self.grid_shapes, strict=True)]

    def rows_of(self, resolution: int) -> slice:
        """Node rows of resolution ``resolution`` (a whole number of row chunks)."""
        h, w = self.grid_shapes[resolution]
        start = self.offsets[resolution]
        return slice(start, start + self.n_images * h * w)

    def select(self, images: Sequence[int]) -> LazyFeatures:
        """The same features for a subset of the images (e.g. the fit sample), in the given order."""
        ids = [check_int(i, "image index", minimum=0) for i in images]
        bad = [i for i in ids if i >= self.n_images]
        if bad:
            raise ValueError(f"image index {bad[0]} out of range 0..{self.n_images - 1}")
        if not ids:
            raise ValueError("select() needs at least one image")
        return _build(
            [self.paths[i] for i in ids],
            [self.image_sizes[i] for i in ids],
            self.resolutions,
            self.grid_shapes,
            self.channels,
            self.images_per_task,
            self._spec,
        )

    def layout(self) -> dict[str, Any]:
        """JSON-able description of the node layout (what a Zarr store records)."""
        return {
            "image_paths": list(self.paths),
            "image_names": list(self.image_names),
            "image_sizes": [list(s) for s in self.image_sizes],
            "resolutions": [list(r) for r in self.resolutions],
            "grid_shapes": [list(g) for g in self.grid_shapes],
            "labels": self.labels,
            "offsets": self.offsets,
            "n_images": self.n_images,
            "n_nodes": self.n_nodes,
            "channels": self.channels,
            "images_per_task": self.images_per_task,
        }


def list_images(images: str | Path | Sequence[str | Path]) -> tuple[list[str], list[tuple[int, int]], list[str]]:
    """Image files of a folder (sorted by name, by suffix) or a list of files, with their sizes.

    Only file headers are read. Returns ``(absolute paths, (W, H) sizes, skipped)`` where
    ``skipped`` holds ``"name: reason"`` for files that are not readable images.
    """
    from PIL import Image, UnidentifiedImageError

    from ..cli import IMAGE_SUFFIXES

    if isinstance(images, (str, Path)):
        folder = Path(images)
        if not folder.is_dir():
            raise ValueError(f"{folder} is not a folder of images")
        files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise ValueError(f"{folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    else:
        files = [Path(p) for p in images]
        if not files:
            raise ValueError("images is empty: give a folder or at least one image file")
    paths, sizes, skipped = [], [], []
    for path in files:
        try:
            with Image.open(path) as img:  # lazy: reads the header, not the pixels
                size = (int(img.size[0]), int(img.size[1]))
        except (UnidentifiedImageError, OSError, ValueError) as err:
            skipped.append(f"{path.name}: {err}")
            continue
        paths.append(str(path.resolve()))
        sizes.append(size)
    return paths, sizes, skipped


def lazy_features(
    images: str | Path | Sequence[str | Path],
    resolutions: int | Sequence[int | tuple[int, int]] = (224, 448),
    layer: int | Sequence[int] = 9,
    backbone: Any = None,
    device: str | torch.device = "cpu",
    images_per_task: int = 8,
    batch_size: int = 8,
) -> LazyFeatures:
    """Features of image files as a row-chunked dask array, computed by the workers.

    Each task reads ``images_per_task`` files and runs :func:`~ncut_widget.extract_features` on
    them at one resolution, so results equal ``extract_features(files, ...)``'s ``nodes`` row for
    row. The client loads the backbone once to learn its patch size and channels (one blank
    image per resolution) and reads file headers; no pixels.

    Args:
        images: a folder (its image files, sorted by name) or a list of image files.
            Unreadable files raise ``ValueError`` naming them (``list_images`` reports them
            without raising).
        resolutions, layer: as :func:`~ncut_widget.extract_features`.
        backbone: ``None`` or a name (each worker process loads it once), or a ``Backbone`` /
            module / callable (pickled into the graph once; it must pickle).
        device: where the workers run the backbone.
        images_per_task: images per task; a row chunk is ``images_per_task * h * w`` rows.
        batch_size: images per forward pass inside a task.

    Returns:
        :class:`LazyFeatures`.
    """
    from PIL import Image

    from ..features.backbones import resolve_backbone
    from ..features.extract import extract_features, parse_resolutions

    require("dask.array")
    images_per_task = check_int(images_per_task, "images_per_task", minimum=1)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    paths, sizes, skipped = list_images(images)
    if skipped:
        raise ValueError(f"{len(skipped)} file(s) are not readable images: {'; '.join(skipped[:5])}")
    net = resolve_backbone(backbone)
    # One blank image per resolution: the rounded sizes, grid shapes and channels the workers
    # will produce, found by the same code they run.
    probe = extract_features(
        Image.new("RGB", (32, 32), (128, 128, 128)),
        resolutions=parse_resolutions(resolutions),
        layer=layer,
        backbone=net,
        device="cpu",
        progress=False,
    )
    shipped: Any
    if backbone is None or isinstance(backbone, str):
        shipped = backbone  # a name: each worker process resolves (and caches) it
    else:
        dask = require("dask")
        shipped = dask.delayed(net, pure=True, traverse=False)  # one copy in the graph
    spec = {"backbone": shipped, "layer": layer, "device": str(device), "batch_size": batch_size}
    return _build(
        paths,
        sizes,
        [tuple(r) for r in probe.resolutions],
        [tuple(g) for g in probe.grid_shapes],
        probe.channels,
        images_per_task,
        spec,
    )


def _build(
    paths: list[str],
    sizes: list[tuple[int, int]],
    resolutions: list[tuple[int, int]],
    grid_shapes: list[tuple[int, int]],
    channels: int,
    per_task: int,
    spec: dict[str, Any],
) -> LazyFeatures:
    da = require("dask.array")
    dask = require("dask")
    node_parts, index_parts = [], []
    n = len(paths)
    for r, (size, (h, w)) in enumerate(zip(resolutions, grid_shapes, strict=True)):
        for i0 in range(0, n, per_task):
            i1 = min(i0 + per_task, n)
            rows = (i1 - i0) * h * w
            block = dask.delayed(_features_block, pure=True)(
                paths[i0:i1], size, (h, w), channels, spec["layer"], spec["backbone"], spec["device"],
                spec["batch_size"], dask_key_name=f"ncut-features-{dask.base.tokenize(paths[i0:i1], size, spec)}",
            )
            node_parts.append(da.from_delayed(block, shape=(rows, channels), dtype=np.float32))
            index_parts.append(
                da.from_delayed(
                    dask.delayed(_index_block, pure=True)(i0, i1, r, h, w), shape=(rows, 4), dtype=np.int32
                )
            )
    return LazyFeatures(
        nodes=da.concatenate(node_parts, axis=0),
        index=da.concatenate(index_parts, axis=0),
        paths=list(paths),
        image_names=[Path(p).stem for p in paths],
        image_sizes=[tuple(s) for s in sizes],
        resolutions=[tuple(r) for r in resolutions],
        grid_shapes=[tuple(g) for g in grid_shapes],
        channels=int(channels),
        images_per_task=per_task,
        _spec=spec,
    )


@functools.lru_cache(maxsize=4)
def _named_backbone(name: str | None) -> Any:
    """One backbone per worker process and name: loading weights per task would dominate."""
    from ..features.backbones import resolve_backbone

    return resolve_backbone(name)


def _features_block(
    paths: list[str],
    size: tuple[int, int],
    grid: tuple[int, int],
    channels: int,
    layer: Any,
    backbone: Any,
    device: str,
    batch_size: int,
) -> np.ndarray:
    """``(len(paths) * h * w, C)`` float32 features of one block of files at one resolution."""
    from ..features.extract import extract_features

    net = _named_backbone(backbone) if backbone is None or isinstance(backbone, str) else backbone
    feats = extract_features(
        list(paths), resolutions=[size], layer=layer, backbone=net, device=device,
        batch_size=batch_size, progress=False,
    )
    if tuple(feats.grid_shapes[0]) != tuple(grid) or feats.channels != channels:
        raise RuntimeError(
            f"the backbone gave {feats.grid_shapes[0]} x {feats.channels} features on a worker but "
            f"{grid} x {channels} on the client: it must behave the same everywhere"
        )
    return feats.nodes.numpy()


def _index_block(i0: int, i1: int, resolution: int, h: int, w: int) -> np.ndarray:
    """``((i1 - i0) * h * w, 4)`` int32 ``(image, resolution, row, col)`` in node order."""
    img, row, col = np.meshgrid(np.arange(i0, i1), np.arange(h), np.arange(w), indexing="ij")
    out = np.stack([img, np.full_like(img, resolution), row, col], axis=-1).reshape(-1, 4)
    return out.astype(np.int32)

