"""Widgets linked by pixel region: the mapping, NcutWidget.link's checks, and Python-side propagation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ncut_widget import MultiResFeatures, NcutWidget
from ncut_widget.widget.links import map_nodes, overlapping_cells

torch.set_num_threads(1)


def _pixels(i: int, n: int, length: int) -> set[int]:
    step = length // n
    return set(range(i * step, (i + 1) * step))


def _brute(i: int, n: int, m: int) -> list[int]:
    """Cells of m whose pixels meet cell i of n, on an axis of n * m pixels (every cell whole pixels)."""
    length = n * m
    mine = _pixels(i, n, length)
    return [j for j in range(m) if _pixels(j, m, length) & mine]


@pytest.mark.parametrize(("n", "m"), [(16, 14), (14, 16), (16, 32), (32, 16), (7, 3), (3, 7), (5, 5), (1, 9), (9, 1), (13, 17)])
def test_overlapping_cells_is_the_brute_force_overlap(n: int, m: int) -> None:
    for i in range(n):
        assert list(overlapping_cells(i, n, m)) == _brute(i, n, m)


def test_overlapping_cells_rejects_a_cell_outside_the_axis() -> None:
    with pytest.raises(ValueError, match="cell 4 is outside an axis of 4 cells"):
        overlapping_cells(4, 4, 3)


def _widget(grids: list[tuple[int, int]], n_images: int = 2, size: tuple[int, int] = (224, 224), **traits):
    photos = [Image.new("RGB", size, (40 * i, 90, 160)) for i in range(n_images)]
    feats = MultiResFeatures.from_grids(
        [np.zeros((n_images, h, w, 1), np.float32) for h, w in grids], images=photos,
        image_names=[f"im{i}" for i in range(n_images)],
    )
    rng = np.random.default_rng(len(grids) + grids[0][0])
    n = feats.n_nodes
    return NcutWidget.from_results(
        feats, rng.normal(size=(n, 6)).astype(np.float32), rng.normal(size=(n, 3)).astype(np.float32),
        rng.random((n, 3)).astype(np.float32), **traits,
    )


def test_map_nodes_is_every_overlapping_patch_at_every_target_resolution() -> None:
    a = _widget([(16, 16), (32, 32)])  # 14 px patches at 224 and 448
    b = _widget([(14, 14), (28, 28)])  # 16 px patches at 224 and 448
    for res, image, row, col in [(0, 1, 5, 9), (1, 0, 31, 0), (0, 0, 0, 15), (1, 1, 17, 22)]:
        src = a.meta["resolutions"][res]
        node = src["offset"] + image * src["h"] * src["w"] + row * src["w"] + col
        want = sorted(
            dst["offset"] + image * dst["h"] * dst["w"] + y * dst["w"] + x
            for dst in b.meta["resolutions"]
            for y in _brute(row, src["h"], dst["h"])
            for x in _brute(col, src["w"], dst["w"])
        )
        assert map_nodes([node], a.results.layout, b.results.layout) == want
    assert map_nodes([], a.results.layout, b.results.layout) == []
    with pytest.raises(ValueError, match="out of range"):
        map_nodes([a.meta["n_nodes"]], a.results.layout, b.results.layout)


def test_link_checks_the_widgets_show_the_same_images() -> None:
    a = _widget([(4, 4)])
    with pytest.raises(ValueError, match="widget 1 shows 3 images but widget 0 shows 2"):
        NcutWidget.link(a, _widget([(4, 4)], n_images=3))
    with pytest.raises(ValueError, match=r"image 0 is 200x224 px in widget 1 but 224x224 px"):
        NcutWidget.link(a, _widget([(4, 4)], size=(200, 224)))
    with pytest.raises(TypeError, match="argument 1 is a str"):
        NcutWidget.link(a, "b")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="the same widget twice"):
        NcutWidget.link(a, a)
    with pytest.raises(ValueError, match="has no results yet"):
        NcutWidget.link(a, NcutWidget())
    assert a.link_group == ""  # nothing linked by a failed call
    assert NcutWidget.link(a, _widget([(2, 2)])) is None


def test_a_selection_set_in_python_selects_the_same_region_in_linked_widgets() -> None:
    a = _widget([(16, 16), (32, 32)])
    b = _widget([(14, 14)])
    c = _widget([(7, 7)])
    NcutWidget.link(a, b)
    NcutWidget.link(b, c)  # c joins a and b's group
    assert a.link_group == b.link_group == c.link_group != ""
    a.selected = [3]
    assert b.selected == map_nodes([3], a.results.layout, b.results.layout)
    assert c.selected == map_nodes([3], a.results.layout, c.results.layout)
    assert a.selected == [3]  # b's and c's new selections are not mapped back
    b.negative = [0]
    assert a.negative == map_nodes([0], b.results.layout, a.results.layout)
    assert c.negative == map_nodes([0], b.results.layout, c.results.layout)
    other = _widget([(4, 4)])
    other.selected = [1]
    assert a.selected == [3]  # not linked


def test_a_selection_from_the_browser_is_not_mapped_again_in_python() -> None:
    a = _widget([(16, 16)])
    b = _widget([(14, 14)])
    NcutWidget.link(a, b)
    # The browser linked the gesture itself and sends both models' new state; ipywidgets applies
    # each inside _property_lock.
    a.set_state({"selected": [5]})
    assert a.selected == [5] and b.selected == []
    b.set_state({"selected": [7, 8]})
    assert a.selected == [5] and b.selected == [7, 8]


def test_linked_selections_give_each_widget_its_own_similarity() -> None:
    a = _widget([(16, 16)])
    b = _widget([(14, 14)])
    NcutWidget.link(a, b)
    a.selected = [20]
    sim_b = b.similarity()
    assert sim_b.shape == (b.meta["n_nodes"],) and sim_b.dtype == np.float32
    np.testing.assert_array_equal(sim_b[b.selected], 1.0)
    np.testing.assert_array_equal(sim_b, b.similarity(map_nodes([20], a.results.layout, b.results.layout)))


def test_map_nodes_follows_images_added_to_either_map() -> None:
    from ncut_widget.nodes import node_id

    a = _widget([(16, 16), (32, 32)]).results.layout.grow(["added"], [(64, 48)])
    b = _widget([(14, 14), (28, 28)]).results.layout.grow(["added"], [(64, 48)])
    # Image 2 is the added one in both: its nodes come after every fitted node.
    node = node_id(a.blocks, a.grid_shapes, 1, 2, 17, 22)
    assert node >= a.blocks[1].offsets[0]
    want = sorted(
        node_id(b.blocks, b.grid_shapes, t, 2, y, x)
        for t, (h, w) in enumerate(b.grid_shapes)
        for y in _brute(17, 32, h)
        for x in _brute(22, 32, w)
    )
    assert map_nodes([node], a, b) == want
    # A fitted image still maps into the fitted block, and an image the target lacks maps to nothing.
    fitted = node_id(a.blocks, a.grid_shapes, 0, 1, 3, 4)
    assert all(n < b.blocks[1].offsets[0] for n in map_nodes([fitted], a, b))
    assert map_nodes([node], a, _widget([(14, 14), (28, 28)]).results.layout) == []
