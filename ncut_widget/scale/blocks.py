"""Lazy transforms of row-chunked dask arrays: one ``map_blocks`` task per row chunk.

The fitted model enters the graph once (one ``dask.delayed`` key that every task depends on),
so a scheduler ships it to each worker once rather than once per task.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ._deps import is_dask_array, require


def _check_dask_matrix(X: Any, name: str) -> Any:
    if not is_dask_array(X):
        raise TypeError(f"{name} must be a dask.array.Array, got {type(X).__name__}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N, C), got shape {X.shape}")
    kind = np.dtype(X.dtype).kind
    if kind not in "fiu":
        raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
    if X.numblocks[1] > 1:
        # A node's features must sit in one block; rechunking columns keeps the row chunks.
        X = X.rechunk({1: -1})
    return X


def map_row_blocks(
    X: Any,
    fn: Callable[[Any, np.ndarray], np.ndarray],
    model: Any,
    *,
    width: int | None,
    dtype: Any,
    token: str,
) -> Any:
    """``fn(model, block)`` on every row chunk of the 2-D dask array ``X``, lazily.

    Args:
        X: ``(N, C)`` row-chunked dask array (column chunks are merged first).
        fn: maps ``(model, (n, C) numpy block)`` to an ``(n, width)`` (or ``(n,)``) numpy array.
        model: the small fitted object ``fn`` needs; pickled once into the graph.
        width: output columns, or ``None`` for one value per row.
        dtype: output dtype.
        token: key prefix of the output (shows in dask's progress and dashboard).

    Returns:
        A dask array with ``X``'s row chunks: ``(N, width)`` or ``(N,)``.
    """
    dask = require("dask")
    X = _check_dask_matrix(X, "X")
    shipped = dask.delayed(model, pure=True, traverse=False)
    if width is None:
        return X.map_blocks(
            _apply, shipped, fn, dtype=dtype, drop_axis=1, chunks=(X.chunks[0],),
            meta=np.empty((0,), dtype=dtype), token=token,
        )
    return X.map_blocks(
        _apply, shipped, fn, dtype=dtype, chunks=(X.chunks[0], (width,)),
        meta=np.empty((0, width), dtype=dtype), token=token,
    )


def _apply(block: np.ndarray, model: Any, fn: Callable[[Any, np.ndarray], np.ndarray], block_info: Any = None) -> np.ndarray:
    """Run one block; errors name the rows of the whole array they came from."""
    if not block.flags.writeable:  # zarr/dask blocks can be read-only; torch.from_numpy warns on those
        block = block.copy()
    try:
        return fn(model, block)
    except (ValueError, TypeError) as err:
        where = ""
        if block_info and 0 in block_info:
            start, stop = block_info[0]["array-location"][0]
            where = f"rows {start}:{stop} of the dask array: "
        raise type(err)(f"{where}{err}") from err


def _ncut_block(model: Any, block: np.ndarray) -> np.ndarray:
    if block.shape[0] == 0:
        return np.empty((0, model.n_eig), dtype=np.float32)
    out = model.transform(torch.from_numpy(block))
    # Ncut.transform returns (eigenvectors, eigenvalues); older versions returned the tensor.
    vecs = out[0] if isinstance(out, tuple) else out
    return vecs.numpy()


def transform(model: Any, X: Any, *, device: str | torch.device = "cpu") -> tuple[Any, torch.Tensor]:
    """Eigenvectors of a fitted :class:`~ncut_widget.Ncut` for a row-chunked dask array, lazily.

    Every row is transformed on its own (Nystrom: the affinity-weighted mean of its nearest
    anchors' values), so each row chunk is one independent task: no shuffle, and a worker holds
    one chunk (``rows * (C + n_eig) * 4`` bytes plus the ``chunk_size * n_sample`` distance
    block) besides the model. Values equal ``model.transform`` on the same rows in memory.

    Args:
        model: a fitted ``Ncut`` (fit it on a sample that fits in memory).
        X: ``(N, C)`` dask array, any real dtype, chunked along rows (any column chunking;
            columns are merged into one chunk). ``C`` must be the fitted one.
        device: where the workers compute (``"cpu"``, ``"cuda"``, ...).

    Returns:
        ``(eigenvectors, eigenvalues)``: a lazy ``(N, n_eig)`` float32 dask array with ``X``'s
        row chunks, and the fitted ``(n_eig,)`` float32 eigenvalues (a CPU tensor).
    """
    from .models import portable_ncut

    small = portable_ncut(model, device)
    X = _check_dask_matrix(X, "X")
    if not np.isnan(X.shape[1]) and X.shape[1] != small.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features per node, but this Ncut was fitted on {small.n_features_in_}"
        )
    vecs = map_row_blocks(X, _ncut_block, small, width=small.n_eig, dtype=np.float32, token="ncut-eigvecs")
    return vecs, small.eigenvalues_.clone()


def _all_block(models: tuple[Any, Any, Any], block: np.ndarray) -> np.ndarray:
    """Eigenvectors, 3D place, RGB and segment of every row, side by side (float32)."""
    model, coloring, kway = models
    vecs = _ncut_block(model, block)
    parts = [vecs]
    if coloring is not None:
        X_3d, rgb = coloring.transform(vecs)
        parts += [X_3d.numpy(), rgb.numpy()]
    if kway is not None:
        # segment ids < 2**24 are exact in float32
        parts.append(kway.labels(vecs).numpy().astype(np.float32)[:, None])
    return np.concatenate(parts, axis=1)


def transform_all(
    model: Any,
    X: Any,
    *,
    coloring: Any = None,
    kway: Any = None,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Every per-node output of a row-chunked dask array in ONE task per chunk.

    The same values as :func:`transform`, ``coloring.transform`` and ``kway.labels`` chained,
    but each chunk's features go through the whole chain in one task: nothing waits in worker
    memory between steps (chained, the features of a chunk and its eigenvectors are separate
    results with several dependents each, and the scheduler may run ahead of them).

    Args:
        model: a fitted ``Ncut``.
        X: ``(N, C)`` row-chunked dask array of features.
        coloring: a :class:`~ncut_widget.scale.FittedColoring` or ``None``.
        kway: a :class:`~ncut_widget.scale.FittedKway` or ``None``.
        device: where the workers compute.

    Returns:
        Lazy dask arrays with ``X``'s row chunks: ``"eigvecs"`` ``(N, n_eig)`` float32, and
        with a coloring ``"X_3d"``, ``"rgb"`` ``(N, 3)`` float32, with k-way ``"labels"``
        ``(N,)`` int64.
    """
    from .models import portable_ncut

    small = portable_ncut(model, device)
    X = _check_dask_matrix(X, "X")
    if not np.isnan(X.shape[1]) and X.shape[1] != small.n_features_in_:
        raise ValueError(
            f"X has {X.shape[1]} features per node, but this Ncut was fitted on {small.n_features_in_}"
        )
    k = small.n_eig
    if coloring is not None:
        coloring = coloring.to(device)
        if coloring.n_components != k:
            raise ValueError(f"the coloring was fitted on {coloring.n_components} eigenvectors, but this Ncut gives {k}")
    if kway is not None:
        kway = kway.to(device)
    width = k + (6 if coloring is not None else 0) + (1 if kway is not None else 0)
    both = map_row_blocks(X, _all_block, (small, coloring, kway), width=width, dtype=np.float32, token="ncut-all")
    out = {"eigvecs": both[:, :k]}
    if coloring is not None:
        out["X_3d"], out["rgb"] = both[:, k : k + 3], both[:, k + 3 : k + 6]
    if kway is not None:
        out["labels"] = both[:, width - 1].astype(np.int64)
    return out
