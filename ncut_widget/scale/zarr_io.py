"""The Zarr store ``ncut-widget fit`` writes, and reading any subset of its images back.

Layout (one group per resolution, so an image's rows are one contiguous range of every array
and a row chunk is ``images_per_task`` whole images)::

    results.zarr/
      .attrs["ncut_widget"]   format, version, complete, image paths/names/sizes, resolutions,
                              grid shapes, offsets, eigenvalues, fit parameters
      res_0/eigvecs  (n_images*h0*w0, n_eig) float32     res_0/X_3d  (.., 3) float32
      res_0/rgb      (.., 3) float32 in [0, 1]           res_0/labels (..,) int16 (segments)
      res_0/index    (.., 4) int32 (image, resolution, row, col)
      res_1/...

Global node ids are MultiResFeatures's: ``offsets[r] + (image * h + row) * w + col``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._deps import require

FORMAT = "ncut-widget-fit"
VERSION = 1
# name -> (columns or None for one value per row, dtype)
ARRAYS: dict[str, tuple[int | None, str]] = {
    "eigvecs": (-1, "float32"),  # -1: n_eig columns
    "X_3d": (3, "float32"),
    "rgb": (3, "float32"),
    "labels": (None, "int16"),
    "index": (4, "int32"),
}


def _create_array(group: Any, name: str, shape: tuple[int, ...], chunks: tuple[int, ...], dtype: str) -> Any:
    # zarr 3 names it create_array, zarr 2 create_dataset; both write the same data.
    create = getattr(group, "create_array", None) or group.create_dataset
    return create(name, shape=shape, chunks=chunks, dtype=dtype)


def create_store(path: str | os.PathLike, layout: dict[str, Any], n_eig: int, *, overwrite: bool = False) -> Any:
    """Create the empty arrays of a store for ``layout`` (``LazyFeatures.layout()``); return its root group.

    Zarr chunks are ``images_per_task`` images of one resolution: exactly the dask row chunks,
    so every task writes whole chunks and no two tasks touch one (no locks).
    """
    zarr = require("zarr")
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists: pass overwrite=True (--overwrite) to replace it")
    root = zarr.open_group(str(path), mode="w")
    per_task = layout["images_per_task"]
    for r, (h, w) in enumerate(layout["grid_shapes"]):
        group = root.create_group(f"res_{r}")
        rows, chunk = layout["n_images"] * h * w, per_task * h * w
        for name, (cols, dtype) in ARRAYS.items():
            width = n_eig if cols == -1 else cols
            shape, chunks = ((rows,), (chunk,)) if width is None else ((rows, width), (chunk, width))
            _create_array(group, name, shape, chunks, dtype)
    root.attrs["ncut_widget"] = {"format": FORMAT, "version": VERSION, "complete": False, **layout}
    return root


def store_tasks(root: Any, layout: dict[str, Any], arrays: dict[str, Any]) -> Any:
    """A lazy ``da.store`` of whole-dataset dask arrays (node order, ``ARRAYS`` names) into ``root``.

    Each resolution's rows are a slice on chunk boundaries, so this adds no tasks but the writes.
    """
    da = require("dask.array")
    sources, targets = [], []
    offsets = layout["offsets"]
    for r, (h, w) in enumerate(layout["grid_shapes"]):
        rows = slice(offsets[r], offsets[r] + layout["n_images"] * h * w)
        for name, arr in arrays.items():
            if name not in ARRAYS:
                raise ValueError(f"unknown array {name!r}: a store holds {sorted(ARRAYS)}")
            sources.append(arr[rows].astype(ARRAYS[name][1]))
            targets.append(root[f"res_{r}/{name}"])
    return da.store(sources, targets, lock=False, compute=False)


def mark_complete(root: Any, **meta: Any) -> None:
    """Record ``meta`` (JSON-able) and flag the store complete: readers refuse incomplete stores."""
    attrs = dict(root.attrs["ncut_widget"])
    attrs.update(meta)
    attrs["complete"] = True
    root.attrs["ncut_widget"] = attrs


class ZarrResults:
    """A store written by ``ncut-widget fit`` / :func:`~ncut_widget.scale.fit_folder`, opened lazily.

    Nothing is read but the attributes until asked; :meth:`results` reads only the rows of the
    chosen images.

    Attributes:
        path, n_images, n_nodes, n_eig, image_names, image_paths, image_sizes, resolutions,
        grid_shapes, labels (resolution labels), offsets, eigenvalues ``(n_eig,)`` float32,
        meta (every recorded attribute).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        zarr = require("zarr")
        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"no Zarr store at {self.path}")
        self._root = zarr.open_group(str(self.path), mode="r")
        meta = dict(self._root.attrs.get("ncut_widget", {}))
        if meta.get("format") != FORMAT:
            raise ValueError(f"{self.path} is not a store written by `ncut-widget fit` (no ncut_widget attributes)")
        if meta.get("version", 0) > VERSION:
            raise ValueError(f"{self.path} has format version {meta['version']}; this ncut_widget reads up to {VERSION}")
        if not meta.get("complete"):
            raise ValueError(f"{self.path} is incomplete: the run that wrote it did not finish (run it again)")
        self.meta = meta
        self.n_images: int = meta["n_images"]
        self.n_nodes: int = meta["n_nodes"]
        self.image_names: list[str] = list(meta["image_names"])
        self.image_paths: list[str] = list(meta["image_paths"])
        self.image_sizes = [tuple(s) for s in meta["image_sizes"]]
        self.resolutions = [tuple(r) for r in meta["resolutions"]]
        self.grid_shapes = [tuple(g) for g in meta["grid_shapes"]]
        self.labels: list[str] = list(meta["labels"])
        self.offsets: list[int] = list(meta["offsets"])
        self.eigenvalues = np.asarray(meta["eigenvalues"], dtype=np.float32)
        self.n_eig = int(self.eigenvalues.shape[0])

    def image_ids(self, images: Any = None) -> list[int]:
        """Image indices from ``None`` (all), an int, a slice, a range/list/array of ints, or names."""
        n = self.n_images
        if images is None:
            return list(range(n))
        if isinstance(images, slice):
            return list(range(n))[images]
        if isinstance(images, (str, int, np.integer)):
            images = [images]
        ids = []
        by_name = None
        for item in images:
            if isinstance(item, str):
                if by_name is None:
                    by_name = {name: i for i, name in enumerate(self.image_names)}
                if item not in by_name:
                    raise ValueError(f"no image named {item!r} in {self.path}")
                ids.append(by_name[item])
            elif isinstance(item, (int, np.integer)) and not isinstance(item, bool):
                if not -n <= item < n:
                    raise ValueError(f"image {item} out of range: the store has {n} images")
                ids.append(int(item) % n)
            else:
                raise TypeError(f"images must be ints or names, got {type(item).__name__}")
        if not ids:
            raise ValueError("no images selected")
        return ids

    def read(self, name: str, images: Any = None) -> np.ndarray:
        """Rows of array ``name`` for the chosen images, in their node order (resolution-major).

        Consecutive images are read as one range, so a block of images costs one read per
        resolution.
        """
        if name not in ARRAYS:
            raise ValueError(f"unknown array {name!r}: a store holds {sorted(ARRAYS)}")
        ids = self.image_ids(images)
        parts = []
        for r, (h, w) in enumerate(self.grid_shapes):
            arr = self._root[f"res_{r}/{name}"]
            per = h * w
            for start, stop in _runs(ids):
                parts.append(np.asarray(arr[start * per : stop * per]))
        return np.concatenate(parts, axis=0)

    def lazy(self, name: str) -> Any:
        """Array ``name`` over all nodes (global node order) as a dask array; reads nothing yet."""
        da = require("dask.array")
        if name not in ARRAYS:
            raise ValueError(f"unknown array {name!r}: a store holds {sorted(ARRAYS)}")
        return da.concatenate([da.from_zarr(self._root[f"res_{r}/{name}"]) for r in range(len(self.grid_shapes))])

    def results(self, images: Any = None, image_root: str | os.PathLike | None = None) -> Any:
        """The widget's :class:`~ncut_widget.widget.results.Results` for the chosen images.

        Args:
            images: see :meth:`image_ids` (e.g. ``range(50)``: the first 50 images).
            image_root: folder the image files are in now, when they moved since the run
                (files are looked up by name there).

        Returns:
            What ``NcutWidget.set_results`` takes: per-node eigenvectors, 3D layout and RGB of
            the chosen images (at every resolution), with the images themselves.
        """
        import torch

        from ..features import MultiResFeatures
        from ..features.images import load_images
        from ..widget.results import build_results

        ids = self.image_ids(images)
        files = [self._image_file(i, image_root) for i in ids]
        pils, _ = load_images(files)
        # Results need the node layout, not the features (the store has none): one zero
        # channel per node gives MultiResFeatures the grid shapes at 4 bytes a node.
        grids = [torch.zeros((len(ids), h, w, 1), dtype=torch.float32) for h, w in self.grid_shapes]
        layout = MultiResFeatures.from_grids(
            grids, images=pils, resolutions=self.resolutions, image_names=[self.image_names[i] for i in ids]
        )
        return build_results(layout, self.read("eigvecs", ids), self.read("X_3d", ids), self.read("rgb", ids))

    def _image_file(self, i: int, image_root: str | os.PathLike | None) -> str:
        path = Path(self.image_paths[i])
        if image_root is not None:
            path = Path(image_root) / path.name
        if not path.is_file():
            hint = (
                f" in image_root {str(image_root)!r}"
                if image_root is not None
                else " (moved? pass image_root=the folder they are in now)"
            )
            raise FileNotFoundError(f"image {i} ({self.image_names[i]}): no file {str(path)!r}{hint}")
        return str(path)

    def __repr__(self) -> str:
        return (
            f"ZarrResults({str(self.path)!r}: {self.n_nodes:,} nodes from {self.n_images:,} images at "
            f"{', '.join(self.labels)}, {self.n_eig} eigenvectors)"
        )


def _runs(ids: Sequence[int]) -> list[tuple[int, int]]:
    """``[3, 4, 5, 9, 10]`` -> ``[(3, 6), (9, 11)]``: ranges of consecutive ids, order kept."""
    runs: list[tuple[int, int]] = []
    for i in ids:
        if runs and runs[-1][1] == i:
            runs[-1] = (runs[-1][0], i + 1)
        else:
            runs.append((i, i + 1))
    return runs


def results_from_zarr(path: str | os.PathLike, images: Any = None, image_root: str | os.PathLike | None = None) -> Any:
    """``Results`` of some images of a ``ncut-widget fit`` store, for ``NcutWidget.set_results``.

    Reads only the chosen images' rows (e.g. ``images=range(50)``) and image files; see
    :meth:`ZarrResults.results`.
    """
    return ZarrResults(path).results(images, image_root=image_root)
