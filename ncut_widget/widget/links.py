"""Widgets linked by pixel region: a selection in one selects the same image region in the others.

A patch ``(row y, col x)`` of an ``h x w`` grid covers the box ``[y/h, (y+1)/h) x [x/w, (x+1)/w)``
of its image: ``extract_features`` resizes every image to the full input size (no crop) and the
grid tiles it evenly (``MultiResFeatures.pixel_box``). So a node maps, at every resolution of
another widget on the same images, to the patches whose boxes overlap its box; this works across
patch sizes (14 px vs 16 px) and grids. ``js/regionmap.js`` mirrors :func:`map_nodes` exactly.

The browser links its own gestures (``js/links.js``) and sends every linked model's new selection;
Python maps only the selections set from Python (see :func:`propagate`).
"""

from __future__ import annotations

import uuid
import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..nodes import locate_node, node_id

if TYPE_CHECKING:
    from .state import GridLayout
    from .widget import NcutWidget

# link_group -> the live widgets in it (kept in step by NcutWidget's link_group observer).
_groups: dict[str, weakref.WeakSet[NcutWidget]] = {}
# True while propagate() writes linked widgets: their own observers must not map back.
_propagating = False


def overlapping_cells(index: int, n: int, m: int) -> range:
    """Cells of an ``m``-cell axis whose span overlaps cell ``index`` of an ``n``-cell axis.

    Cell ``i`` of ``n`` spans ``[i/n, (i+1)/n)``; the overlapping cells ``j`` of ``m`` are
    ``floor(i*m/n) .. ceil((i+1)*m/n) - 1`` (integer arithmetic: exact for any sizes).
    """
    if not (0 <= index < n and m >= 1):
        raise ValueError(f"cell {index} is outside an axis of {n} cells (or the target has {m} cells)")
    return range(index * m // n, -(-(index + 1) * m // n))


def map_nodes(ids: Sequence[int], source: GridLayout, target: GridLayout) -> list[int]:
    """The ``target`` nodes whose pixel boxes overlap those of ``ids`` in ``source``, ascending.

    Args:
        ids: node ids of the source widget.
        source, target: the two widgets' layouts (``w.results.layout``: images, resolutions and
            the blocks of images added by ``add_images``); image i is the same picture in both
            (see :func:`check_linkable`).

    Returns:
        Sorted unique node ids of ``target``: for each source node, every overlapping patch of
        the same image at every resolution of ``target`` (none for an image ``target`` lacks,
        e.g. one added to the source only).
    """
    out: set[int] = set()
    n_target_images = len(target.image_names)
    for node in ids:
        r, image, row, col = locate_node(source.blocks, source.grid_shapes, int(node))
        if image >= n_target_images:
            continue
        sh, sw = source.grid_shapes[r]
        for t, (th, tw) in enumerate(target.grid_shapes):
            base = node_id(target.blocks, target.grid_shapes, t, image, 0, 0)
            cols = overlapping_cells(col, sw, tw)
            for y in overlapping_cells(row, sh, th):
                out.update(base + y * tw + x for x in cols)
    return sorted(out)


def check_linkable(widgets: Sequence[NcutWidget]) -> None:
    """Raise ``ValueError``/``TypeError`` unless every widget shows results of the same images (count and sizes)."""
    from .widget import NcutWidget

    if len(widgets) < 2:
        raise ValueError(f"link needs at least two widgets, got {len(widgets)}")
    for i, w in enumerate(widgets):
        if not isinstance(w, NcutWidget):
            raise TypeError(f"link takes NcutWidgets; argument {i} is a {type(w).__name__}")
        if not w.meta:
            raise ValueError(
                f"widget {i} has no results yet ({w.error or w.stage or 'nothing shown'}): "
                "call its wait() before linking"
            )
    if len({id(w) for w in widgets}) < len(widgets):
        raise ValueError("link got the same widget twice")

    def sizes(w: NcutWidget) -> list[tuple[int, int]]:
        return [(int(im["width"]), int(im["height"])) for im in w.meta["images"]]

    first = sizes(widgets[0])
    for i, w in enumerate(widgets[1:], start=1):
        other = sizes(w)
        if len(other) != len(first):
            raise ValueError(
                f"widget {i} shows {len(other)} images but widget 0 shows {len(first)}: linked widgets "
                "must show the same images"
            )
        bad = [k for k, (a, b) in enumerate(zip(first, other, strict=True)) if a != b]
        if bad:
            k = bad[0]
            raise ValueError(
                f"image {k} is {other[k][0]}x{other[k][1]} px in widget {i} but {first[k][0]}x{first[k][1]} "
                "px in widget 0: linked widgets must show the same images"
            )


def new_group() -> str:
    """A fresh group name, unique across kernels on one page (uuid4 reads the OS, not the global RNG)."""
    return f"link-{uuid.uuid4().hex[:12]}"


def link(widgets: Sequence[NcutWidget]) -> None:
    """Put ``widgets`` (and whatever they are already linked to) in one new link group."""
    check_linkable(widgets)
    members = set()
    for w in widgets:
        members.add(w)
        if w.link_group:
            members.update(_groups.get(w.link_group, ()))
    group = new_group()
    for w in members:
        w.link_group = group


def regroup(widget: NcutWidget, old: str, new: str) -> None:
    """Keep the registry in step with ``widget.link_group`` (called by its observer)."""
    if old and old in _groups:
        _groups[old].discard(widget)
        if not _groups[old]:
            del _groups[old]
    if new:
        _groups.setdefault(new, weakref.WeakSet()).add(widget)


def propagate(widget: NcutWidget, name: str, ids: Sequence[int]) -> None:
    """Map a Python-side change of ``widget.<name>`` (``selected``/``negative``) to its linked widgets.

    A change the browser sent (ipywidgets applies it inside ``_property_lock``) is skipped: the
    browser linked it already and sends the linked widgets' selections itself. Writes made here
    do not map again (``A -> B -> A`` is not the identity).
    """
    global _propagating
    if _propagating or not widget.link_group or name in widget._property_lock or widget._results is None:
        return
    others = [w for w in list(_groups.get(widget.link_group, ())) if w is not widget and w._results is not None]
    _propagating = True
    try:
        for other in others:
            setattr(other, name, map_nodes(ids, widget._results.layout, other._results.layout))
    finally:
        _propagating = False
