"""extract_features: images -> MultiResFeatures, one backbone pass per resolution."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from ..engine.checks import check_int, resolve_device
from ..progress import ProgressFn, resolve_progress
from .backbones import resolve_backbone, resolve_layers
from .images import load_images
from .multires import MultiResFeatures

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def preprocess(image: Image.Image, size: tuple[int, int]) -> torch.Tensor:
    """The seed's ``Compose([Resize((H, W)), ToTensor(), Normalize(IMAGENET_MEAN, IMAGENET_STD)])``
    on an RGB PIL image, bit for bit, without importing torchvision (its import pulls in
    ``torchvision.models`` and ``torch._dynamo``: 1.5-5 s of every fresh ``explore``).

    ``Resize`` on a PIL image is PIL's bilinear ``resize`` (antialiased by PIL); ``ToTensor`` is
    ``uint8 / 255`` in float32, channels first; ``Normalize`` subtracts and divides per channel.

    Returns:
        ``(3, H, W)`` float32 tensor.
    """
    h, w = size
    pixels = np.array(image.convert("RGB").resize((w, h), Image.BILINEAR), dtype=np.uint8)
    t = torch.from_numpy(pixels).permute(2, 0, 1).contiguous().to(torch.float32).div(255)
    mean = torch.as_tensor(IMAGENET_MEAN, dtype=torch.float32).view(-1, 1, 1)
    std = torch.as_tensor(IMAGENET_STD, dtype=torch.float32).view(-1, 1, 1)
    return t.sub_(mean).div_(std)


def parse_resolutions(resolutions: Any) -> list[tuple[int, int]]:
    """``224`` -> ``[(224, 224)]``; a sequence of ints and/or ``(H, W)`` pairs -> list of pairs.

    A flat tuple of ints such as the default ``(224, 448)`` is two square resolutions; write a
    single non-square size as ``[(224, 448)]``.
    """

    def is_int(v: Any) -> bool:
        return isinstance(v, (int, np.integer)) and not isinstance(v, bool)

    items = [resolutions] if is_int(resolutions) else resolutions
    if isinstance(items, (str, bytes)) or not isinstance(items, Sequence):
        raise TypeError(f"resolutions must be an int or a list of ints / (H, W) pairs, got {resolutions!r}")
    if not items:
        raise ValueError("resolutions is empty: give at least one size, e.g. (224, 448)")
    out = []
    for r in items:
        if is_int(r):
            pair = (int(r), int(r))
        elif isinstance(r, Sequence) and len(r) == 2 and all(is_int(v) for v in r):
            pair = (int(r[0]), int(r[1]))
        else:
            raise TypeError(f"each resolution must be an int or an (H, W) pair of ints, got {r!r}")
        if min(pair) < 1:
            raise ValueError(f"resolution {r!r} must be positive")
        out.append(pair)
    return out


def round_to_patch(size: tuple[int, int], patch_size: int | None) -> tuple[int, int]:
    """Round each side to the nearest multiple of ``patch_size`` (halves round up).

    Raises ``ValueError`` when a side is smaller than one patch.
    """
    if patch_size is None:
        return size
    if min(size) < patch_size:
        raise ValueError(
            f"resolution {size[0]}x{size[1]} is smaller than one {patch_size}x{patch_size} patch"
        )
    return tuple(((s + patch_size // 2) // patch_size) * patch_size for s in size)


def extract_features(
    images: Any,
    resolutions: int | Sequence[int | tuple[int, int]] = (224, 448),
    layer: int | Sequence[int] = 9,
    backbone: Any = None,
    device: str | torch.device | None = None,
    batch_size: int = 8,
    progress: bool | ProgressFn = True,
) -> MultiResFeatures:
    """Patch features of ``images`` at every resolution, as the seed tutorial computes them.

    Each image is resized to exactly ``(H, W)`` (``transforms.Resize((H, W))``, bilinear with
    antialiasing), converted with ``ToTensor`` and ImageNet-normalized (:func:`preprocess`: the
    same bits, without torchvision), then run through the
    backbone in batches under ``torch.no_grad``.

    Args:
        images: a list of PIL images, file paths, ``HxWx3`` uint8 numpy arrays or ``3xHxW``
            tensors (grayscale and RGBA are converted to RGB); a single image is accepted too.
        resolutions: an int (square) or ``(H, W)`` per resolution; the default ``(224, 448)`` is
            two square sizes. Sides that are not a multiple of the backbone's patch size are
            rounded to the nearest multiple (``230 -> 224`` for 14 px patches); ``.resolutions``
            of the result holds the sizes used.
        layer: 0-based layer index, or a list (concatenated along channels). For DINOv2 it is
            ``get_intermediate_layers(x, n=range(12), norm=True)[layer]``: block ``layer``'s
            output through the final LayerNorm, as in the seed. Ignored by hook/callable
            backbones, which have one output.
        backbone: ``None`` (offline DINOv2 ViT-S/14), a torch.hub DINOv2 name such as
            ``"dinov2_vitb14_reg"``, ``(module, "layer_name")``, a ``Backbone`` or a callable;
            see ``ncut_widget.features.backbones``.
        device: ``None`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda:0"``, ...
        batch_size: images per forward pass.
        progress: ``True`` for a tqdm bar over images x resolutions, ``False`` for none, or a
            ``progress(stage, done, total)`` callable.

    Returns:
        ``MultiResFeatures``: grids ``(n_images, H // p, W // p, C)`` float32 per resolution on
        the CPU (``C = 384 * len(layers)`` for the default), nodes in the seed's order.
    """
    pils, names = load_images(images)
    sizes = parse_resolutions(resolutions)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    report = resolve_progress(progress)
    dev = resolve_device(device)
    net = resolve_backbone(backbone)
    layers = resolve_layers(layer, net.n_layers)
    sizes = [round_to_patch(s, net.patch_size) for s in sizes]
    net.to(dev)

    total, done = len(pils) * len(sizes), 0
    report("features", 0, total)
    grids = []
    with torch.no_grad():
        for size in sizes:
            chunks = []
            for start in range(0, len(pils), batch_size):
                batch = torch.stack([preprocess(im, size) for im in pils[start : start + batch_size]])
                out = net.features(batch.to(dev), layers)
                chunks.append(out.float().cpu())
                done += batch.shape[0]
                report("features", done, total)
            grids.append(torch.cat(chunks))
    return MultiResFeatures(grids, pils, resolutions=sizes, image_names=names)
