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


def _js_heat_lut() -> np.ndarray:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: cannot evaluate js/colormap.js to compare the heatmap LUT")
    script = "import {HEAT_LUT} from './js/colormap.js'; console.log(JSON.stringify([...HEAT_LUT]))"
    out = subprocess.run([node, "--input-type=module", "-e", script], cwd=REPO, capture_output=True,
                         text=True, timeout=60, check=True).stdout
    return np.asarray(json.loads(out), dtype=np.uint8).reshape(256, 3)


def test_heat_lut_equals_the_browsers_byte_for_byte():
    np.testing.assert_array_equal(colormap.HEAT_LUT, _js_heat_lut())


def test_heat_range_and_dimming_match_the_js_constants():
    cmap = (REPO / "js" / "colormap.js").read_text()
    assert float(re.search(r"HEAT_MIN = ([\d.]+)", cmap).group(1)) == colormap.HEAT_MIN
    assert float(re.search(r"HEAT_MAX = ([\d.]+)", cmap).group(1)) == colormap.HEAT_MAX
    grid = (REPO / "js" / "imagegrid.js").read_text()
    assert float(re.search(r"const DIM = ([\d.]+)", grid).group(1)) == colormap.GRID_DIM
    view3d = (REPO / "js" / "view3d.js").read_text()
    keep = float(re.search(r"mix\(mix\(uBg, c, ([\d.]+)\), c, hi\)", view3d).group(1))
    assert 1.0 - keep == pytest.approx(colormap.VIEW3D_DIM)


def test_heat_index_clamps_and_rounds_like_math_round():
    idx = colormap.heat_index(np.array([-0.5, 0.0, 0.5 / 255, 1.5 / 255, 0.5, 1.0, 2.0]))
    np.testing.assert_array_equal(idx, [0, 0, 1, 2, 128, 255, 255])


def test_dim_fades_toward_the_background_and_rounds_like_a_canvas():
    colors = np.array([[0, 100, 255], [10, 20, 30]], dtype=np.uint8)
    out = colormap.dim(colors, np.array([True, False]), 0.5)
    np.testing.assert_array_equal(out, [[128, 178, 255], [10, 20, 30]])  # 127.5 -> 128 (even)


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


def test_to_plotly_in_similarity_mode_uses_the_heatmap(widget: NcutWidget):
    widget.selected = [3]
    widget.color_mode = "similarity"
    sim = widget.similarity()
    np.testing.assert_array_equal(_cells(widget), colormap.HEAT_LUT[colormap.heat_index(sim)])


def test_to_plotly_in_rgb_mode_dims_what_is_not_highlighted(widget: NcutWidget):
    widget.selected = [3]
    widget.threshold = 0.2
    hit = widget.similarity() >= 0.2
    assert 0 < hit.sum() < len(hit)
    cells = _cells(widget).astype(np.float64)
    rgb = _wire_colors(widget).astype(np.float64)
    np.testing.assert_array_equal(cells[hit], rgb[hit])
    expected = np.rint(rgb[~hit] + (255.0 - rgb[~hit]) * 0.78)
    np.testing.assert_array_equal(cells[~hit], expected)
    points = np.array([re.findall(r"\d+", c) for c in widget.to_plotly().data[0].marker.color], dtype=float)
    np.testing.assert_array_equal(points[~hit], np.rint(rgb[~hit] + (255.0 - rgb[~hit]) * 0.8))
    np.testing.assert_array_equal(points[hit], rgb[hit])
