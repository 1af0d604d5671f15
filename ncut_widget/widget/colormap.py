"""The browser's colors in Python, byte for byte, so static figures show what the widget shows.

Mirrors ``js/colormap.js`` (the similarity heatmap) and ``js/contrast.js`` (the grey that
non-highlighted nodes fade toward, in the image grid and the 3D view alike).
``tests/test_widget_colormap.py`` compares both with what node computes from the JS modules.
"""

from __future__ import annotations

import numpy as np

# Polynomial fit of Google's Turbo colormap (Mikhailov 2019, Apache-2.0), as in js/colormap.js.
_R = (0.13572138, 4.6153926, -42.66032258, 132.13108234, -152.94239396, 59.28637943)
_G = (0.09140261, 2.19418839, 4.84296658, -14.18503333, 4.27729857, 2.82956604)
_B = (0.1066733, 12.64194608, -60.58204836, 110.36276771, -89.90310912, 27.34824973)

HEAT_MIN = 0.0  # similarity at the heatmap's first color; lower values clamp to it
HEAT_MAX = 1.0  # similarity at its last color
DIM_AMOUNT = 0.75  # js/contrast.js: how far a dimmed color moves toward the dim grey
# js/contrast.js solves the grey for a little more than its 2:1 minimum contrast, so that 8-bit
# rounding never takes a color under it.
_SOLVE_CONTRAST = 2.2
BACKGROUND = (255, 255, 255)  # static figures' background (the widget uses its page's color)


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


def _to_linear(byte: float) -> float:
    c = byte / 255
    return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4


def _from_linear(lin: float) -> float:
    c = lin * 12.92 if lin <= 0.0031308 else 1.055 * lin ** (1 / 2.4) - 0.055
    return min(255.0, max(0.0, c * 255))


def luminance(rgb: tuple[float, float, float]) -> float:
    """WCAG relative luminance of sRGB bytes, 0..1."""
    return 0.2126 * _to_linear(rgb[0]) + 0.7152 * _to_linear(rgb[1]) + 0.0722 * _to_linear(rgb[2])


def dim_grey(background: tuple[float, float, float] = BACKGROUND) -> float:
    """The grey (one byte value, 0..255, not rounded) that dimmed colors mix toward on
    ``background``: ``dimGrey`` of ``js/contrast.js`` (every dimmed color keeps >= 2:1 contrast)."""
    lb = luminance(background)
    a = DIM_AMOUNT
    if 1.05 / (lb + 0.05) >= (lb + 0.05) / 0.05:  # more room above the background than below
        need = min(1.0, _SOLVE_CONTRAST * (lb + 0.05) - 0.05)
        return min(255.0, _from_linear(need) / a)
    need = max(0.0, (lb + 0.05) / _SOLVE_CONTRAST - 0.05)
    return max(0.0, (_from_linear(need) - 255 * (1 - a)) / a)


def dim(colors: np.ndarray, mask: np.ndarray, background: tuple[float, float, float] = BACKGROUND) -> np.ndarray:
    """Dim ``colors[mask]`` as the widget dims non-highlighted nodes on ``background``:
    ``c + (grey - c) * DIM_AMOUNT`` with ``grey = dim_grey(background)`` (``dimColor`` in JS).

    Args:
        colors: ``(N, 3)`` uint8.
        mask: ``(N,)`` bool, the nodes to dim.
        background: the page's background bytes.

    Returns:
        ``(N, 3)`` uint8, rounded like a canvas ``Uint8ClampedArray`` store (halves to even).
    """
    out = colors.astype(np.float64)
    out[mask] += (dim_grey(background) - out[mask]) * DIM_AMOUNT
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
