"""Scale out on Dask: fit on a sample, transform a dataset no single machine holds.

Nystrom makes every node an independent transform of a small fitted model, so the whole
dataset is an embarrassingly parallel ``map_blocks`` over row chunks: no shuffle, memory per
worker bounded by the chunk size. This subpackage needs the optional extra
``pip install 'ncut-widget[dask]'`` (dask.array, dask.distributed, zarr); ``import
ncut_widget`` never imports it.

* :func:`transform` -- ``Ncut`` eigenvectors of a row-chunked ``dask.array`` (lazy).
* :func:`transform_all` -- eigenvectors, 3D place, RGB and segment in one task per chunk.
* :func:`fit_coloring` / :class:`FittedColoring` -- the 3D layout + RGB of a coloring, fitted
  once and applied to any eigenvectors (lazy on dask arrays).
* :func:`fit_kway` / :class:`FittedKway` -- ``kway_ncut``'s rotation, fitted once.
* :func:`lazy_features` -- backbone features of a folder of image files as a dask array.
* :func:`fit_folder` -- the ``ncut-widget fit`` pipeline: sample, fit, transform all, write Zarr.
* :func:`results_from_zarr` / :class:`ZarrResults` -- browse any subset of a written store.
* :func:`local_cluster` / :func:`get_client` -- a loopback ``LocalCluster`` or a scheduler.

Names are imported lazily so that the error for a missing extra names the extra.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_PUBLIC = {
    "transform": "ncut_widget.scale.blocks",
    "transform_all": "ncut_widget.scale.blocks",
    "portable_ncut": "ncut_widget.scale.models",
    "FittedColoring": "ncut_widget.scale.models",
    "fit_coloring": "ncut_widget.scale.models",
    "FittedKway": "ncut_widget.scale.models",
    "fit_kway": "ncut_widget.scale.models",
    "LazyFeatures": "ncut_widget.scale.features",
    "lazy_features": "ncut_widget.scale.features",
    "list_images": "ncut_widget.scale.features",
    "fit_folder": "ncut_widget.scale.pipeline",
    "ZarrResults": "ncut_widget.scale.zarr_io",
    "results_from_zarr": "ncut_widget.scale.zarr_io",
    "local_cluster": "ncut_widget.scale.cluster",
    "get_client": "ncut_widget.scale.cluster",
    "lazy_planted_features": "ncut_widget.scale.synthetic",
}

__all__ = [
    "FittedColoring",
    "FittedKway",
    "LazyFeatures",
    "ZarrResults",
    "fit_coloring",
    "fit_folder",
    "fit_kway",
    "get_client",
    "lazy_features",
    "lazy_planted_features",
    "list_images",
    "local_cluster",
    "portable_ncut",
    "results_from_zarr",
    "transform",
    "transform_all",
]

if TYPE_CHECKING:
    from .blocks import transform, transform_all
    from .cluster import get_client, local_cluster
    from .features import LazyFeatures, lazy_features, list_images
    from .models import FittedColoring, FittedKway, fit_coloring, fit_kway, portable_ncut
    from .pipeline import fit_folder
    from .synthetic import lazy_planted_features
    from .zarr_io import ZarrResults, results_from_zarr


def __getattr__(name: str) -> Any:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'ncut_widget.scale' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_PUBLIC))
