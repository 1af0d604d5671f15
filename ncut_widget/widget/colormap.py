"""The browser's colors in Python, byte for byte, so static figures show what the widget shows.

Mirrors ``js/colormap.js`` (the similarity heatmap), the dimming of ``js/imagegrid.js`` (colormap
cells) and of ``js/view3d.js`` (3D points). ``tests/test_widget_colormap.py`` compares the
lookup table with the one node computes from the JS module.
"""

from __future__ import annotations

import numpy as np

# Polynomial fit of Google's Turbo colormap (Mikhailov 2019, Apache-2.0), as in js/colormap.js.
_R = (0.13572138, 4.6153926, -42.66032258, 132.13108234, -152.94239396, 59.28637943)
_G = (0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604)
_B = (0.1066733, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973)

HEAT_MIN = 0.0  # similarity at the heatmap's first color; lower values clamp to it
HEAT_MAX = 1.0  # similarity at its last color
GRID_DIM = 0.78  # js/imagegrid.js DIM: how far non-highlighted cells fade toward the background
VIEW3D_DIM = 0.8  # js/view3d.js: mix(uBg, c, 0.2), non-highlighted points are 80% background
BACKGROUND = (255, 255, 255)  # what static figures fade toward (the widget uses its page's color)


def _js_round(x: np.ndarray) -> np.ndarray:
    # Math.round: halves go up (numpy's rint goes to even).
    return np.floor(x + 0.5)


def _poly(c: tuple[float, ...], t: np.ndarray) -> np.ndarray:
    # Same Horner order as the JS, so the float64 results are the same bits.
    return c[0] + t * (c[1] + t * (c[2] + t * (c[3] + t * (c[4] + t * c[5]))))


def _heat_lut() -> np.ndarray:
    t = np.arange(256, dtype=np.float64) / 255
    channels = [_js_round(255 * np.minimum(1.0, np.maximum(0.0, _poly(c, t)))) for c in (_R, _G, _B)]
    lut = np.stack(channels, axis=1).astype(np.uint8)
    lut.flags.writeable = False
    return lut


HEAT_LUT = _heat_lut()
"""``(256, 3)`` uint8 heatmap colors, low to high (``js/colormap.js`` ``HEAT_LUT``, reshaped)."""


def heat_index(sim: np.ndarray) -> np.ndarray:
    """Similarity -> index into :data:`HEAT_LUT`, ``(N,)`` int64 in 0..255 (``heatIndex`` in JS)."""
    t = (np.asarray(sim, dtype=np.float64) - HEAT_MIN) / (HEAT_MAX - HEAT_MIN)
    return _js_round(np.clip(t, 0.0, 1.0) * 255).astype(np.int64)


def heat_colors(sim: np.ndarray) -> np.ndarray:
    """Similarity ``(N,)`` -> ``(N, 3)`` uint8 heatmap colors, as the colormap cells draw them."""
    return HEAT_LUT[heat_index(sim)]


def dim(colors: np.ndarray, mask: np.ndarray, amount: float, background: tuple[int, int, int] = BACKGROUND) -> np.ndarray:
    """Fade ``colors[mask]`` toward ``background`` by ``amount`` (``c + (bg - c) * amount``).

    Args:
        colors: ``(N, 3)`` uint8.
        mask: ``(N,)`` bool, the nodes to fade.
        amount: 0 keeps the color, 1 is the background.

    Returns:
        ``(N, 3)`` uint8; rounded like a canvas ``Uint8ClampedArray`` store (halves to even).
    """
    out = colors.astype(np.float64)
    bg = np.asarray(background, dtype=np.float64)
    out[mask] += (bg - out[mask]) * amount
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
