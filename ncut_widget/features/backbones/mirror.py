"""Mirror-averaged features: a backbone made left-right equivariant by averaging with its mirror."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from .base import Backbone


class MirrorAveraged(Backbone):
    """``inner``'s features averaged with those of the mirrored input, mirrored back.

    ``f(x) = (g(x) + flip(g(flip(x)))) / 2`` with ``flip`` the left-right mirror of the image
    (and of the patch grid). ``f`` is exactly mirror-equivariant: the features of a mirrored
    photo are the mirrored features of the photo, so its patches land on the mirrored patches'
    eigenvectors, segments and colours. ViTs are not: DINOv2's position embeddings make the two
    sides of a symmetric object differ (patch cosine about 0.8 at layer 9), which shows up as
    parts that depend on which way a photo faces. Costs one extra forward pass per batch, run
    with the batch (twice the activations: halve ``batch_size`` where memory is tight).

    Args:
        inner: any ``backbone=`` argument (``None`` for the offline DINOv2 ViT-S/14, a hub name,
            ``(module, "layer_name")``, a ``Backbone`` or a callable).

    Example:
        ``explore(images, backbone=MirrorAveraged())``
    """

    def __init__(self, inner: Any = None) -> None:
        from . import resolve_backbone  # the package imports this module

        self.inner = resolve_backbone(inner)
        if isinstance(self.inner, MirrorAveraged):
            self.inner = self.inner.inner  # averaging twice is averaging once
        self.name = f"mirror_averaged({self.inner.name})"
        self.patch_size = self.inner.patch_size
        self.n_layers = self.inner.n_layers

    def features(self, x: torch.Tensor, layers: Sequence[int]) -> torch.Tensor:
        """``(B, 3, H, W)`` -> ``(B, h, w, C)``; one forward pass over the batch and its mirror."""
        both = self.inner.features(torch.cat([x, x.flip(-1)]), layers)
        n = x.shape[0]
        # (B, h, w, C): the grid's columns are axis 2.
        return (both[:n] + both[n:].flip(2)) / 2

    def to(self, device: torch.device) -> MirrorAveraged:
        self.inner.to(device)
        return self
