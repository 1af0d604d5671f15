"""Pictures of a widget for places without a kernel: a self-contained HTML page and a plotly figure."""

from __future__ import annotations

import base64
import html
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import colormap
from . import state as wire

if TYPE_CHECKING:
    from .widget import NcutWidget

# Traits the page restores; everything else is derived in the browser.
_PAGE_TRAITS = ("meta", "selected", "negative", "n_eig_view", "threshold", "color_mode", "k", "segment_borders",
                "stage", "progress", "status", "error", "title", "link_group")

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ margin: 0; padding: 16px; font-family: system-ui, -apple-system, "Segoe UI", sans-serif;
  background: var(--jp-layout-color0, #fff); color: var(--jp-ui-font-color1, #1f2328); }}
@media (prefers-color-scheme: dark) {{ body {{ background: #111418; color: #e6e6e6; }} }}
{css}
</style>
</head>
<body>
<div id="ncut-root"></div>
<script type="application/json" id="ncut-state">{state}</script>
<script type="module">{js}</script>
</body>
</html>
"""


# HTML ends a <script> or <style> element at "</script" / "</style" in any letter case.
_END_TAG = re.compile(r"</(?=(?:script|style))", re.IGNORECASE)


def _inline_safe(text: str) -> str:
    """Make JS or CSS safe to inline in a <script>/<style> element: ``</script`` and ``</style``,
    in any case, become ``<\\/script`` / ``<\\/style`` (the same text to JS strings, template
    literals, regular expressions and comments, and to CSS, where ``\\/`` is ``/``)."""
    return _END_TAG.sub(r"<\\/", text)


def page_state(widget: NcutWidget) -> dict[str, Any]:
    """The traits and the base64 payload that the exported page's in-page model serves."""
    return {
        "traits": {name: getattr(widget, name) for name in _PAGE_TRAITS},
        "payload": base64.b64encode(widget.payload).decode("ascii"),
        # Images added to the map (w.add_images): each chunk's meta and its base64 payload.
        "appended": [
            {"meta": c["meta"], "payload": base64.b64encode(c["payload"]).decode("ascii")} for c in widget.appended
        ],
    }


def save_html(widget: NcutWidget, path: str | Path, title: str = "ncut_widget") -> Path:
    """Write one HTML file holding the bundle, the CSS and the state: no network, works from file://."""
    return save_page([widget], path, title=title)


def save_page(widgets: Sequence[NcutWidget], path: str | Path, title: str = "ncut_widget", columns: int = 1) -> Path:
    """:func:`save_html` for several widgets: one file, the panels in a grid of ``columns``, linked
    by their ``link_group`` as in the notebook (js/standalone.js)."""
    from .widget import _bundle

    if not widgets:
        raise ValueError("save_page needs at least one widget")
    for widget in widgets:
        widget.results  # noqa: B018 - a clear error before results exist
    content: dict[str, Any] = (
        page_state(widgets[0]) if len(widgets) == 1
        else {"panels": [page_state(w) for w in widgets], "columns": int(columns)}
    )
    state = json.dumps(content, separators=(",", ":")).replace("<", "\\u003c")
    js = _bundle("standalone.js").read_text(encoding="utf-8")
    css = _bundle("widget.css").read_text(encoding="utf-8")
    page = _PAGE.format(title=html.escape(title), css=_inline_safe(css), state=state, js=_inline_safe(js))
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    return out


def to_plotly(widget: NcutWidget, max_points: int = 50_000) -> Any:
    """A static plotly figure: 3D embedding on top, then photos and one colormap row per resolution."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    results = widget.results
    layout = results.layout
    n_images = len(layout.image_names)
    n_rows = 1 + len(layout.labels)
    per_node, points, sizes = _node_colors(widget)

    specs = [[{"type": "scene", "colspan": n_images}] + [None] * (n_images - 1)]
    specs += [[{"type": "image"}] * n_images for _ in range(n_rows)]
    fig = make_subplots(
        rows=n_rows + 1, cols=n_images, specs=specs, row_heights=[0.4] + [0.6 / n_rows] * n_rows,
        vertical_spacing=0.02, horizontal_spacing=0.01,
    )
    step = max(1, len(results.X_3d) // max_points)
    xyz = results.X_3d[::step]
    fig.add_trace(
        go.Scatter3d(
            x=xyz[:, 0], y=xyz[:, 1], z=xyz[:, 2], mode="markers",
            marker={"size": sizes[::step], "color": [f"rgb({r},{g},{b})" for r, g, b in points[::step]]},
            hoverinfo="skip", showlegend=False,
        ),
        row=1, col=1,
    )
    grids = results.split(per_node)  # (n_images, h, w, 3) uint8 per resolution
    for i, image in enumerate(results.images):
        fig.add_trace(go.Image(z=np.asarray(wire.thumbnail(image)), name=layout.image_names[i]), row=2, col=i + 1)
        for r, grid in enumerate(grids):
            fig.add_trace(go.Image(z=np.asarray(grid[i]), name=f"{layout.image_names[i]} @ {layout.labels[r]}"),
                          row=3 + r, col=i + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    background = "rgb({},{},{})".format(*colormap.BACKGROUND)  # the dimming is solved for it
    fig.update_layout(height=300 + 180 * n_rows, margin={"l": 10, "r": 10, "t": 30, "b": 10},
                      paper_bgcolor=background, plot_bgcolor=background, scene={"bgcolor": background},
                      title="NCUT eigen-embedding and colormaps (rows: photos, " + ", ".join(layout.labels) + ")")
    return fig


# js/view3d.js point sizes: highlighted points grow, the others shrink (base size 2 here).
_POINT_SIZE = 2.0
_POINT_SCALE = (0.8, 1.8)


def _node_colors(widget: NcutWidget) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What the widget's views show for every node, from the bytes the browser gets.

    Returns ``(cells (N, 3) uint8, points (N, 3) uint8, point sizes (N,) float)``. Without a
    selection both are the RGB colormap. With one, cells follow ``js/imagegrid.js`` (similarity
    mode: the heatmap; rgb mode: non-highlighted cells dimmed) and points follow
    ``js/view3d.js`` (heatmap or RGB, non-highlighted points dimmed in both modes); dimming is
    ``js/contrast.js``'s on the figure's background.
    """
    rgb = wire.rgb_bytes(widget.results.rgb)
    n = rgb.shape[0]
    if not widget.selected:
        return rgb, rgb, np.full(n, _POINT_SIZE)
    sim = widget.similarity()
    faded = sim < widget.threshold
    if widget.color_mode == "similarity":
        cells = colormap.heat_colors(sim)
        points = colormap.dim(cells, faded)
    else:
        cells = colormap.dim(rgb, faded)
        points = cells
    sizes = _POINT_SIZE * np.where(faded, *_POINT_SCALE)
    return cells, points, sizes
