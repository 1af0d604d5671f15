"""The one small interface every backbone meets, and the shared output-layout rule."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import torch


class Backbone(ABC):
    """Maps a normalized batch ``(B, 3, H, W)`` float32 to features ``(B, h, w, C)`` float32.

    Attributes:
        name: human-readable name, shown in errors and reprs.
        patch_size: pixels per grid cell, or ``None`` when the backbone does not say
            (then requested sizes are used as given, not rounded).
        n_layers: number of selectable layers for ``layer=``; ``None`` when the backbone has one
            fixed output (hooks, callables), in which case ``layer`` is ignored.
    """

    name: str = "backbone"
    patch_size: int | None = None
    n_layers: int | None = None

    @abstractmethod
    def features(self, x: torch.Tensor, layers: Sequence[int]) -> torch.Tensor:
        """``(B, 3, H, W)`` -> ``(B, h, w, C)``; ``layers`` are concatenated along ``C``."""

    @abstractmethod
    def to(self, device: torch.device) -> Backbone:
        """Move the weights to ``device``; returns ``self``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, patch_size={self.patch_size})"


def to_channels_last(
    out: torch.Tensor,
    input_hw: tuple[int, int],
    *,
    patch_size: int | None = None,
    channels_last: bool | None = None,
) -> torch.Tensor:
    """Return a 4-D backbone output as ``(B, h, w, C)``.

    ``channels_last=True`` means the output already is ``(B, h, w, C)``, ``False`` means
    ``(B, C, h, w)``. With ``None`` the layout is detected: when ``patch_size`` is known the grid
    must be ``(H // patch_size, W // patch_size)``; otherwise the grid is the pair of axes whose
    aspect ratio equals the input's (``h * W == w * H``) and that is no larger than the input.
    When both layouts fit (e.g. a 16 x 16 grid with 16 channels) a ``ValueError`` asks for an
    explicit ``channels_last``.
    """
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"the backbone must return a torch.Tensor, got {type(out).__name__}")
    if out.ndim != 4:
        raise ValueError(
            f"the backbone returned shape {tuple(out.shape)}; expected 4-D (B, h, w, C) or (B, C, h, w)"
        )
    if channels_last is None:
        H, W = input_hw

        def fits(h: int, w: int) -> bool:
            if patch_size is not None:
                return (h, w) == (H // patch_size, W // patch_size)
            return h * W == w * H and h <= H and w <= W

        last, first = fits(out.shape[1], out.shape[2]), fits(out.shape[2], out.shape[3])
        if last == first:
            raise ValueError(
                f"cannot tell whether backbone output {tuple(out.shape)} for a {H}x{W} input is "
                "(B, h, w, C) or (B, C, h, w): pass channels_last=True or False"
            )
        channels_last = last
    return out if channels_last else out.permute(0, 2, 3, 1)
