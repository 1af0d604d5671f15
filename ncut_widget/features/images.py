"""Turn what users pass as images into RGB PIL images with names."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


def as_image_list(images: Any) -> list[Any]:
    """A single image (PIL, path, 3-D array or tensor) becomes ``[image]``; sequences and 4-D
    batches become lists. Raises ``ValueError`` when there are no images."""
    single = isinstance(images, (Image.Image, str, os.PathLike)) or (
        isinstance(images, (np.ndarray, torch.Tensor)) and images.ndim in (2, 3)
    )
    if single:
        return [images]
    if isinstance(images, (np.ndarray, torch.Tensor)) or isinstance(images, Sequence):
        items = list(images)
    else:
        raise TypeError(
            "images must be a list of PIL images, file paths, HxWx3 uint8 arrays or 3xHxW "
            f"tensors; got {type(images).__name__}"
        )
    if not items:
        raise ValueError("images is empty: give at least one image")
    return items


def to_rgb(image: Any, index: int = 0) -> tuple[Image.Image, str]:
    """Return ``(RGB PIL image, name)`` for one image.

    Accepts a PIL image (any mode), a file path, a numpy array ``HxW`` / ``HxWx{1,3,4}`` (uint8,
    or float in [0, 1]) or a tensor ``{1,3,4}xHxW`` (uint8, or float in [0, 1]). Grayscale is
    replicated and RGBA drops alpha. The name is ``image.info["name"]``, the file stem, or
    ``"image {index}"``.
    """
    name = f"image {index}"
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if not path.is_file():
            raise ValueError(f"image {index}: no such file {str(path)!r}")
        try:
            with Image.open(path) as opened:
                pil = opened.convert("RGB")
        except (OSError, SyntaxError, ValueError) as err:  # PIL's errors for unreadable/corrupt files
            raise ValueError(f"image {index}: {str(path)!r} is not a readable image ({err})") from err
        pil.info["name"] = path.stem
        return pil, path.stem
    if isinstance(image, Image.Image):
        info_name = image.info.get("name")
        file_name = getattr(image, "filename", "")
        name = str(info_name) if info_name else (Path(file_name).stem if file_name else name)
        pil = image.convert("RGB") if image.mode != "RGB" else image.copy()
    elif isinstance(image, torch.Tensor):
        if image.ndim != 3 or image.shape[0] not in _MODES:
            raise ValueError(
                f"image {index}: a tensor image must be CxHxW with C in (1, 3, 4), got shape {tuple(image.shape)}"
            )
        pil = _from_array(image.detach().cpu().permute(1, 2, 0).numpy(), index)
    elif isinstance(image, np.ndarray):
        if image.ndim == 2:
            image = image[:, :, None]
        if image.ndim != 3 or image.shape[2] not in _MODES:
            raise ValueError(
                f"image {index}: an array image must be HxW or HxWxC with C in (1, 3, 4), got shape {image.shape}"
            )
        pil = _from_array(image, index)
    else:
        raise TypeError(
            f"image {index}: unsupported type {type(image).__name__}; use a PIL image, a file "
            "path, an HxWx3 uint8 numpy array or a 3xHxW tensor"
        )
    pil.info["name"] = name
    return pil, name


def _from_array(arr: np.ndarray, index: int) -> Image.Image:
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"image {index} is empty: shape {arr.shape}")
    if arr.dtype == np.uint8:
        pass
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all() or arr.min() < 0 or arr.max() > 1:
            raise ValueError(f"image {index}: float pixels must be finite and in [0, 1]")
        arr = np.round(arr * 255).astype(np.uint8)
    else:
        raise TypeError(f"image {index}: pixels must be uint8 or float in [0, 1], got {arr.dtype}")
    arr = np.ascontiguousarray(arr)
    channels = arr.shape[2]
    pil = Image.fromarray(arr[:, :, 0] if channels == 1 else arr)
    return pil.convert("RGB")


def load_images(images: Any) -> tuple[list[Image.Image], list[str]]:
    """Convert ``images`` (see ``as_image_list`` / ``to_rgb``) to RGB PIL images and names."""
    pils, names = [], []
    for i, image in enumerate(as_image_list(images)):
        pil, name = to_rgb(image, i)
        pils.append(pil)
        names.append(name)
    return pils, names
