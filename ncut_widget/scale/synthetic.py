"""Seed-shaped synthetic features of any size, generated block by block on the workers."""

from __future__ import annotations

import functools

import numpy as np

from ..engine.checks import check_int
from ._deps import require


def lazy_planted_features(
    n_nodes: int,
    dim: int = 768,
    *,
    images_per_block: int = 8,
    grids: tuple[int, ...] = (16, 32),
    noise: float = 0.6,
    seed: int = 0,
) -> object:
    """``(n_nodes, dim)`` float32 dask array of planted-part patch features, never held whole.

    Each block is :func:`~ncut_widget.engine.synthetic.planted_patch_features` of
    ``images_per_block`` images at ``grids`` (224 and 448 px for the defaults: 1,280 nodes an
    image) with the same parts and layouts in every block and fresh noise per block, so the
    dataset has the structure of one real one and any block can be regenerated on any worker.
    The last block is cut to reach ``n_nodes``.

    Returns:
        A dask array with row chunks of ``images_per_block * sum(g * g)`` rows; same arguments,
        same values, whatever the scheduler.
    """
    da = require("dask.array")
    dask = require("dask")
    n_nodes = check_int(n_nodes, "n_nodes", minimum=1)
    dim = check_int(dim, "dim", minimum=1)
    images_per_block = check_int(images_per_block, "images_per_block", minimum=1)
    rows = images_per_block * sum(g * g for g in grids)
    parts = []
    for b, start in enumerate(range(0, n_nodes, rows)):
        n = min(rows, n_nodes - start)
        block = dask.delayed(_planted_block, pure=True)(b, n, dim, images_per_block, tuple(grids), noise, seed)
        parts.append(da.from_delayed(block, shape=(n, dim), dtype=np.float32))
    return da.concatenate(parts, axis=0)


@functools.lru_cache(maxsize=2)
def _clean_block(images: int, grids: tuple[int, ...], dim: int, seed: int) -> object:
    """The noise-free block, the same for every block: made once per worker process."""
    from ..engine.synthetic import planted_patch_features

    return planted_patch_features(images, grids, dim, noise=0.0, seed=seed)[0]


def _planted_block(block: int, n: int, dim: int, images: int, grids: tuple[int, ...], noise: float, seed: int) -> np.ndarray:
    import torch

    clean = _clean_block(images, grids, dim, seed)
    # A generator of its own per block: reproducible anywhere, global RNG untouched.
    gen = torch.Generator().manual_seed(seed * 1_000_003 + block + 1)
    out = clean[:n] + noise * torch.randn((n, dim), generator=gen, dtype=torch.float32)
    return out.numpy()
