"""Seed-shaped synthetic patch features with planted parts, for tests, benchmarks and demos.

Mimics the tutorial's node list: ``n_images`` images seen at several grid resolutions, flattened
and concatenated. Each image holds a background and a few object parts drawn from one shared
pool of part prototypes; the same layout appears at every resolution, so a good NCUT links
parts across images and resolutions.
"""

from __future__ import annotations

import torch


@torch.no_grad()
def planted_patch_features(
    n_images: int = 20,
    grids: tuple[int, ...] = (16, 32),
    dim: int = 768,
    *,
    n_parts: int = 8,
    noise: float = 0.6,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return ``(features (N, dim) float32, part labels (N,) int64)`` on the CPU.

    ``N = n_images * sum(g * g for g in grids)``; rows are ordered resolution-major, then
    image, row, column (as ``torch.cat`` of flattened ``(n_images, g, g, dim)`` grids).
    Label 0 is background; parts are ellipses placed per image in unit coordinates.
    """
    gen = torch.Generator().manual_seed(seed)
    protos = torch.randn(n_parts + 1, dim, generator=gen, dtype=torch.float32)
    # A shared offset makes all features positively correlated, like real ViT tokens.
    common = torch.randn(dim, generator=gen, dtype=torch.float32) * 1.5
    # Per image: 2-3 ellipses (center, radii, part id) and a smooth low-rank "lighting" field.
    layouts = []
    for _ in range(n_images):
        n_obj = 2 + int(torch.randint(2, (1,), generator=gen))
        centers = torch.rand(n_obj, 2, generator=gen, dtype=torch.float32) * 0.6 + 0.2
        radii = torch.rand(n_obj, 2, generator=gen, dtype=torch.float32) * 0.2 + 0.1
        parts = torch.randint(1, n_parts + 1, (n_obj,), generator=gen)
        field = torch.randn(3, dim, generator=gen, dtype=torch.float32) * 0.5
        layouts.append((centers, radii, parts, field))
    feats, labels = [], []
    for g in grids:
        coords = (torch.arange(g, dtype=torch.float32) + 0.5) / g
        yy, xx = torch.meshgrid(coords, coords, indexing="ij")
        pos = torch.stack([yy.reshape(-1), xx.reshape(-1)], dim=1)
        for centers, radii, parts, field in layouts:
            lab = torch.zeros(g * g, dtype=torch.long)
            for c, r, p in zip(centers, radii, parts, strict=True):
                inside = (((pos - c) / r) ** 2).sum(1) <= 1.0
                lab[inside] = p
            basis = torch.stack([pos[:, 0] - 0.5, pos[:, 1] - 0.5, (pos[:, 0] - 0.5) * (pos[:, 1] - 0.5)], 1)
            f = protos[lab] + common + basis @ field + noise * torch.randn(g * g, dim, generator=gen, dtype=torch.float32)
            feats.append(f)
            labels.append(lab)
    return torch.cat(feats).float(), torch.cat(labels)
