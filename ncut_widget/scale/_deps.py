"""The optional extra's imports, each failing with the command that installs it."""

from __future__ import annotations

import importlib
from types import ModuleType

_HINT = "pip install 'ncut-widget[dask]'"


def require(module: str) -> ModuleType:
    """Import ``module`` (e.g. ``"dask.array"``, ``"distributed"``, ``"zarr"``) or raise an
    ``ImportError`` that names the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as err:
        raise ImportError(
            f"ncut_widget.scale needs {module.split('.')[0]}, which is not installed: run `{_HINT}`"
        ) from err


def is_dask_array(X: object) -> bool:
    """True for a ``dask.array.Array``, checked without importing dask (the core never does)."""
    return type(X).__name__ == "Array" and type(X).__module__.startswith("dask.array")
