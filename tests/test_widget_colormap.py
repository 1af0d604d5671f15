"""The Python colormap is the browser's, byte for byte, and to_plotly() paints what the views paint."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ncut_widget import MultiResFeatures, NcutWidget
from ncut_widget.widget import colormap

REPO = Path(__file__).resolve().parent.parent


def _node(script: str) -> object:
    """Evaluate an ES module snippet from the repo root with node; its stdout parsed as JSON."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: cannot evaluate the js/ modules to compare colors")
    out = subprocess.run([node, "--input-type=module", "-e", script], cwd=REPO, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    return json.loads(out)


def test_heat_lut_equals_the_browsers_byte_for_byte():
    js = _node("import {HEAT_LUT} from './js/colormap.js'; console.log(JSON.stringify([...HEAT_LUT]))")
    np.testing.assert_array_equal(colormap.HEAT_LUT, np.asarray(js, dtype=np.uint8).reshape(256, 3))


def test_heat_range_matches_the_browsers():
    js = _node("import {HEAT_MIN, HEAT_MAX} from './js/colormap.js'; console.log(JSON.stringify([HEAT_MIN, HEAT_MAX]))")
    assert js == [colormap.HEAT_MIN, colormap.HEAT_MAX]


BACKGROUNDS = [(255, 255, 255), (0, 0, 0), (17, 20, 24), (230, 236, 246), (128, 128, 128)]


def test_dimming_matches_the_browsers_on_any_background():
    js = _node(
        "import {dimParams} from './js/contrast.js';"
        f"console.log(JSON.stringify({json.dumps(BACKGROUNDS)}.map(dimParams)))"
    )
    for bg, params in zip(BACKGROUNDS, js, strict=True):
        assert params["amount"] == colormap.DIM_AMOUNT
        assert colormap.dim_grey(bg) == pytest.approx(params["grey"], rel=1e-12, abs=1e-9)


def test_heat_index_clamps_and_rounds_like_math_round():
    idx = colormap.heat_index(np.array([-0.5, 0.0, 0.5 / 255, 1.5 / 255, 0.5, 1.0, 2.0]))
    np.testing.assert_array_equal(idx, [0, 0, 1, 2, 128, 255, 255])


def test_dim_moves_toward_the_dim_grey_and_rounds_like_a_canvas():
    grey = colormap.dim_grey()
    colors = np.array([[0, 100, 255], [10, 20, 30]], dtype=np.uint8)
    out = colormap.dim(colors, np.array([True, False]))
    np.testing.assert_array_equal(out[0], np.rint(colors[0] + (grey - colors[0].astype(float)) * 0.75))
    np.testing.assert_array_equal(out[1], colors[1])


@pytest.fixture
def widget() -> NcutWidget:
    gen = torch.Generator().manual_seed(1)
    images = [Image.new("RGB", (64, 48), (40 * i, 100, 200)) for i in range(2)]
    features = MultiResFeatures.from_grids(
        [torch.randn(2, 4, 4, 8, generator=gen), torch.randn(2, 8, 8, 8, generator=gen)], images=images
    )
    n = features.n_nodes
    return NcutWidget.from_results(features, torch.randn(n, 8, generator=gen),
                                   torch.randn(n, 3, generator=gen), torch.rand(n, 3, generator=gen))


def _cells(widget: NcutWidget) -> np.ndarray:
    """The per-node colors of to_plotly()'s colormap images, ``(N, 3)`` uint8 in node order."""
    fig = widget.to_plotly()
    n_res = len(widget.meta["resolutions"])
    images = [t for t in fig.data if t.type == "image"]
    per_res = []
    for r in range(n_res):
        # Traces per image: the photo, then one colormap per resolution.
        grids = [np.asarray(images[i * (1 + n_res) + 1 + r].z) for i in range(len(widget.meta["images"]))]
        per_res.append(np.stack(grids).reshape(-1, 3))
    return np.concatenate(per_res)


def _wire_colors(widget: NcutWidget) -> np.ndarray:
    """The RGB bytes the browser decodes from the payload, ``(N, 3)`` uint8."""
    spec = widget.meta["arrays"]["colors"]
    n = widget.meta["n_nodes"]
    return np.frombuffer(widget.payload, np.uint8, n * 3, spec["offset"]).reshape(n, 3)


def test_to_plotly_without_selection_shows_the_rgb_the_browser_gets(widget: NcutWidget):
    np.testing.assert_array_equal(_cells(widget), _wire_colors(widget))


def _points(widget: NcutWidget) -> np.ndarray:
    """The 3D scatter's per-node colors, ``(N, 3)``."""
    colors = widget.to_plotly().data[0].marker.color
    return np.array([re.findall(r"\d+", c) for c in colors], dtype=np.float64)


def _dimmed(colors: np.ndarray) -> np.ndarray:
    colors = colors.astype(np.float64)
    return np.rint(colors + (colormap.dim_grey((255, 255, 255)) - colors) * 0.75)


def test_to_plotly_in_similarity_mode_uses_the_heatmap(widget: NcutWidget):
    widget.selected = [3]
    widget.color_mode = "similarity"
    widget.threshold = 0.2
    sim = widget.similarity()
    hit = sim >= 0.2
    heat = colormap.HEAT_LUT[colormap.heat_index(sim)]
    np.testing.assert_array_equal(_cells(widget), heat)  # the grid shows the heatmap everywhere
    points = _points(widget)  # the 3D view dims what is not highlighted
    np.testing.assert_array_equal(points[hit], heat[hit])
    np.testing.assert_array_equal(points[~hit], _dimmed(heat[~hit]))


def test_to_plotly_in_rgb_mode_dims_what_is_not_highlighted(widget: NcutWidget):
    widget.selected = [3]
    widget.threshold = 0.2
    hit = widget.similarity() >= 0.2
    assert 0 < hit.sum() < len(hit)
    rgb = _wire_colors(widget)
    for shown in (_cells(widget), _points(widget)):
        np.testing.assert_array_equal(shown[hit], rgb[hit])
        np.testing.assert_array_equal(shown[~hit], _dimmed(rgb[~hit]))
