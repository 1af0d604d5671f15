"""Any ``nn.Module`` read at a named layer, and plain callables."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from .base import Backbone, to_channels_last


class HookBackbone(Backbone):
    """Features from ``model``'s layer ``layer_name``.

    ``layer_name`` is a submodule name (``dict(model.named_modules())``, e.g. ``"layer3"``): a
    forward hook captures its output and the forward pass is cut short there. If it is not a
    submodule, it is taken as a torchvision FX node name (see
    ``torchvision.models.feature_extraction.get_graph_node_names``) and read with
    ``create_feature_extractor``.

    The captured output may be ``(B, C, h, w)``, ``(B, h, w, C)`` (see ``to_channels_last`` for
    the detection rule and ``channels_last``), or tokens ``(B, T, C)``; tokens need
    ``patch_size``, and the last ``h * w`` tokens are kept (leading class/register tokens are
    dropped).

    Args:
        model: the network; put in eval mode, gradients off.
        layer_name: where to read.
        patch_size: pixels per output cell (16 for ``layer3`` of a ResNet); ``None`` leaves input
            sizes unrounded.
        channels_last: layout of the captured 4-D output, ``None`` to detect.
    """

    def __init__(
        self,
        model: nn.Module,
        layer_name: str,
        *,
        patch_size: int | None = None,
        channels_last: bool | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"HookBackbone needs a torch.nn.Module, got {type(model).__name__}")
        if not isinstance(layer_name, str):
            raise TypeError(f"layer_name must be a str, got {type(layer_name).__name__}")
        self.model = model.eval().requires_grad_(False)
        self.name = f"{type(model).__name__}.{layer_name}"
        self.patch_size = _check_patch(patch_size)
        self.channels_last = channels_last
        modules = dict(model.named_modules())
        if layer_name in modules:
            self._module = modules[layer_name]
            self._extractor = None
        else:
            from torchvision.models.feature_extraction import (
                create_feature_extractor,
                get_graph_node_names,
            )

            try:
                nodes = get_graph_node_names(model)[1]
            except Exception as err:  # FX tracing fails on many models: report the names we know
                raise ValueError(
                    f"{type(model).__name__} has no submodule {layer_name!r} (submodules: "
                    f"{_preview(modules)}) and could not be traced for FX node names: {err}"
                ) from err
            if layer_name not in nodes:
                raise ValueError(
                    f"{type(model).__name__} has no submodule or FX node {layer_name!r}; "
                    f"submodules: {_preview(modules)}"
                )
            self._module = None
            self._extractor = create_feature_extractor(model, return_nodes=[layer_name])

    def features(self, x: torch.Tensor, layers: Sequence[int]) -> torch.Tensor:
        if self._extractor is not None:
            out = next(iter(self._extractor(x).values()))
        else:
            out = self._capture(x)
        return self._layout(out, x.shape[-2:])

    def _capture(self, x: torch.Tensor) -> torch.Tensor:
        captured: list[torch.Tensor] = []

        def hook(module: nn.Module, args: object, output: object) -> None:
            captured.append(output[0] if isinstance(output, (tuple, list)) else output)
            raise _Stop  # the rest of the network is not needed

        handle = self._module.register_forward_hook(hook)
        try:
            self.model(x)
        except _Stop:
            pass
        finally:
            handle.remove()
        if not captured:
            raise RuntimeError(f"layer {self.name!r} was not called during the forward pass")
        return captured[0]

    def _layout(self, out: torch.Tensor, hw: torch.Size) -> torch.Tensor:
        H, W = int(hw[0]), int(hw[1])
        if isinstance(out, torch.Tensor) and out.ndim == 3:
            if self.patch_size is None:
                raise ValueError(
                    f"{self.name} returns tokens {tuple(out.shape)}: pass patch_size so the "
                    "token grid can be laid out"
                )
            h, w = H // self.patch_size, W // self.patch_size
            if out.shape[1] < h * w:
                raise ValueError(f"{self.name} returned {out.shape[1]} tokens; a {h}x{w} grid needs {h * w}")
            return out[:, out.shape[1] - h * w :].reshape(out.shape[0], h, w, out.shape[2])
        return to_channels_last(
            out, (H, W), patch_size=self.patch_size, channels_last=self.channels_last
        )

    def to(self, device: torch.device) -> HookBackbone:
        self.model.to(device)
        if self._extractor is not None:
            self._extractor.to(device)
        return self


class CallableBackbone(Backbone):
    """A plain callable ``fn(x) -> (B, h, w, C) or (B, C, h, w)`` on the normalized batch.

    The layout rule is ``to_channels_last``'s; pass ``channels_last`` when it cannot tell.
    ``to(device)`` moves ``fn`` only when it is an ``nn.Module``.
    """

    def __init__(
        self,
        fn: Callable[[torch.Tensor], torch.Tensor],
        *,
        patch_size: int | None = None,
        channels_last: bool | None = None,
    ) -> None:
        if not callable(fn):
            raise TypeError(f"backbone must be callable, got {type(fn).__name__}")
        self.fn = fn
        self.name = getattr(fn, "__name__", type(fn).__name__)
        self.patch_size = _check_patch(patch_size)
        self.channels_last = channels_last
        if isinstance(fn, nn.Module):
            fn.eval()

    def features(self, x: torch.Tensor, layers: Sequence[int]) -> torch.Tensor:
        return to_channels_last(
            self.fn(x),
            (int(x.shape[-2]), int(x.shape[-1])),
            patch_size=self.patch_size,
            channels_last=self.channels_last,
        )

    def to(self, device: torch.device) -> CallableBackbone:
        if isinstance(self.fn, nn.Module):
            self.fn.to(device)
        return self


class _Stop(Exception):
    """Raised by the hook to end the forward pass once the layer has run."""


def _check_patch(patch_size: int | None) -> int | None:
    if patch_size is None:
        return None
    if isinstance(patch_size, bool) or not isinstance(patch_size, int) or patch_size < 1:
        raise ValueError(f"patch_size must be a positive int or None, got {patch_size!r}")
    return patch_size


def _preview(modules: dict[str, nn.Module]) -> str:
    names = [n for n in modules if n and "." not in n]
    return ", ".join(names[:20]) + (" ..." if len(names) > 20 else "")
