"""Input validation shared by the engine, coloring and widget: clear messages, early."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch


def as_node_matrix(X: Any, name: str = "X", *, min_rows: int = 1, check_values: bool = True) -> torch.Tensor:
    """Return ``X`` as a float32 ``(N, C)`` tensor after checking type, shape and values.

    Accepts a torch tensor or a numpy array of any real floating (or integer) dtype.
    Raises ``TypeError`` for other types and ``ValueError`` for wrong rank, emptiness,
    too few rows, or NaN/Inf values (:func:`check_finite`; ``check_values=False`` leaves that
    to a caller that reads every value anyway).
    """
    if isinstance(X, np.ndarray):
        if not (np.issubdtype(X.dtype, np.floating) or np.issubdtype(X.dtype, np.integer)):
            raise TypeError(f"{name} must hold real numbers, got numpy dtype {X.dtype}")
        X = torch.from_numpy(np.ascontiguousarray(X))
    elif not isinstance(X, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor or numpy.ndarray, got {type(X).__name__}")
    if X.is_complex() or X.dtype == torch.bool:
        raise TypeError(f"{name} must hold real numbers, got dtype {X.dtype}")
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (N, C), got shape {tuple(X.shape)}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {tuple(X.shape)}")
    if X.shape[0] < min_rows:
        raise ValueError(f"{name} has {X.shape[0]} rows (nodes); at least {min_rows} are needed")
    X = X.detach()
    if X.dtype != torch.float32:
        X = X.to(torch.float32)
    return check_finite(X, name) if check_values else X


def check_finite(X: torch.Tensor, name: str = "X") -> torch.Tensor:
    """Return ``X`` when every entry is finite, else raise ``ValueError`` naming the kind (NaN or
    Inf) and how many of its rows hold one."""
    # One sum is ~25x cheaper than isfinite() over every entry: it is finite when all entries
    # are (barring overflow near 1e38, which falls through to the exact check below).
    if math.isfinite(float(X.sum())):
        return X
    finite = torch.isfinite(X)
    if not bool(finite.all()):
        bad = int((~finite).any(dim=1).sum())
        kind = "NaN" if bool(torch.isnan(X).any()) else "Inf"
        raise ValueError(f"{name} contains {kind} values in {bad} of {X.shape[0]} rows")
    return X


def check_int(value: Any, name: str, *, minimum: int | None = None) -> int:
    """Return ``value`` as an int, or raise naming ``name`` when it is not one or too small."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value


def check_open_unit(value: Any, name: str) -> float:
    """Return ``value`` as a float strictly inside (0, 1), or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number in (0, 1), got {type(value).__name__}")
    value = float(value)
    if not (0.0 < value < 1.0) or math.isnan(value):
        raise ValueError(f"{name} must be inside (0, 1), got {value}")
    return value


def check_share(value: Any, name: str) -> float:
    """Return ``value`` as a float in ``[0, 1)``, or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise TypeError(f"{name} must be a number in [0, 1), got {type(value).__name__}")
    value = float(value)
    if not (0.0 <= value < 1.0):  # also refuses NaN
        raise ValueError(f"{name} must be in [0, 1), got {value}")
    return value


def resolve_device(device: str | torch.device | None) -> torch.device:
    """Map ``None`` to CUDA when available (else CPU); validate explicit device strings."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if isinstance(device, torch.device):
        dev = device
    elif isinstance(device, str):
        try:
            dev = torch.device(device)
        except RuntimeError as err:
            raise ValueError(
                f"unknown device {device!r}: use 'cpu', 'cuda', 'cuda:N' or None"
            ) from err
    else:
        raise TypeError(f"device must be a str, torch.device or None, got {type(device).__name__}")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {device!r} asked for CUDA, but no CUDA GPU is available here")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device {device!r}: only {torch.cuda.device_count()} CUDA device(s) are available"
            )
    elif dev.type not in ("cpu", "mps"):
        raise ValueError(f"unsupported device {device!r}: use 'cpu', 'cuda', 'cuda:N' or None")
    return dev
