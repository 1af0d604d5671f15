"""Segments in the widget: the ladder on the wire, the ``k`` trait, ``segment_masks``, Segments mode."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import traitlets
from PIL import Image

from ncut_widget import MultiResFeatures, NcutWidget
from ncut_widget.widget import state as wire
from ncut_widget.widget.segments import segment_ladder


def _layout(n_images: int = 2) -> wire.GridLayout:
    return wire.GridLayout(
        labels=["224", "448"],
        grid_shapes=[(4, 5), (8, 10)],
        offsets=[0, n_images * 20],
        image_names=[f"img{i}" for i in range(n_images)],
        image_sizes=[(50, 40)] * n_images,
    )


def _widget(n_eig: int = 12, **traits) -> NcutWidget:
    gen = torch.Generator().manual_seed(0)
    feats = [torch.randn(2, 4, 4, 8, generator=gen), torch.randn(2, 8, 8, 8, generator=gen)]
    images = [Image.new("RGB", (64, 48), (40 * i, 100, 200)) for i in range(2)]
    features = MultiResFeatures.from_grids(feats, images=images)
    n = features.n_nodes
    return NcutWidget.from_results(
        features, torch.randn(n, n_eig, generator=gen), torch.randn(n, 3, generator=gen),
        torch.rand(n, 3, generator=gen), **traits,
    )


def test_the_ladder_travels_as_one_byte_per_node_per_level():
    layout = _layout()
    n = layout.n_nodes
    rng = np.random.default_rng(0)
    eig = rng.normal(size=(n, 12)).astype(np.float32)
    rgb = rng.uniform(size=(n, 3)).astype(np.float32)
    ladder = segment_ladder(eig, rgb)
    enc = wire.encode_state(layout, eig, rng.normal(size=(n, 3)), rgb, None, version=1, segments=ladder)
    spec = enc.meta["arrays"]["segments"]
    assert spec["dtype"] == "uint8" and spec["shape"] == [len(ladder.ks), n] and spec["offset"] % 8 == 0
    ks, labels = wire.decode_segments(enc)
    assert ks == ladder.ks == (2, 3, 4, 6, 8, 12)
    np.testing.assert_array_equal(labels, ladder.labels)
    assert enc.meta["segments"]["ks"] == list(ladder.ks)
    for level, k in enumerate(ladder.ks):
        colors = np.array(enc.meta["segments"]["colors"][level])
        assert colors.shape == (k, 3)
        np.testing.assert_array_equal(colors, ladder.colors[level])


def test_without_a_ladder_there_is_no_segments_array():
    layout = _layout()
    rng = np.random.default_rng(1)
    eig = rng.normal(size=(layout.n_nodes, 5)).astype(np.float32)
    enc = wire.encode_state(layout, eig, eig[:, :3], np.full((layout.n_nodes, 3), 0.5), None, version=1)
    assert "segments" not in enc.meta["arrays"] and "segments" not in enc.meta
    ks, labels = wire.decode_segments(enc)
    assert ks == () and labels.shape == (0, layout.n_nodes)


def test_bytes_per_node_at_30_eigenvectors_stay_within_50():
    # 50 eigenvectors: 30 go on the wire, and the ladder has all 9 levels (up to 32 segments).
    layout = wire.GridLayout(
        labels=["a"], grid_shapes=[(40, 40)], offsets=[0], image_names=["x", "y"], image_sizes=[(1, 1)] * 2
    )
    n = layout.n_nodes
    rng = np.random.default_rng(2)
    eig = rng.normal(size=(n, 50)).astype(np.float32)
    rgb = rng.uniform(size=(n, 3))
    ladder = segment_ladder(eig, rgb)
    enc = wire.encode_state(layout, eig, rng.normal(size=(n, 3)), rgb, None, version=1, segments=ladder)
    assert len(ladder.ks) == 9 and enc.meta["k"] == 30
    per_node = len(enc.payload) / n
    assert per_node <= 50, per_node
    assert per_node >= 6 + 3 + 30 + 9


def test_the_widget_sends_the_ladder_and_starts_at_six_segments():
    w = _widget()
    assert w.meta["segments"]["ks"] == [2, 3, 4, 6, 8, 12]
    assert w.k == 6


def test_k_is_validated_against_the_ladder():
    w = _widget()
    w.k = 12
    assert w.k == 12
    with pytest.raises(traitlets.TraitError, match=r"not on this widget's segment ladder; choose one of \[2, 3, 4, 6, 8, 12\]"):
        w.k = 5
    assert w.k == 12


def test_a_k_given_at_construction_is_kept_when_on_the_ladder():
    assert _widget(k=3).k == 3
    assert _widget(k=7).k == 6  # not on the ladder: the default level


def test_segments_is_a_color_mode():
    w = _widget()
    w.color_mode = "segments"
    with pytest.raises(traitlets.TraitError, match="color_mode must be one of"):
        w.color_mode = "labels"


def test_segment_masks_are_the_wire_labels_per_resolution():
    w = _widget()
    masks = w.segment_masks()
    assert [m.shape for m in masks] == [(2, 4, 4), (2, 8, 8)]
    assert all(m.dtype == np.int64 for m in masks)
    ladder = segment_ladder(w.results.eigvecs, w.results.rgb)
    flat = np.concatenate([m.reshape(-1) for m in masks])
    np.testing.assert_array_equal(flat, ladder.labels[ladder.ks.index(6)])
    fine = w.segment_masks(12)
    assert max(int(m.max()) for m in fine) <= 11 and min(int(m.min()) for m in fine) >= 0
    with pytest.raises(ValueError, match="choose one of"):
        w.segment_masks(5)


def test_the_exported_page_restores_k(tmp_path):
    from ncut_widget.widget.export import page_state

    w = _widget()
    w.k = 3
    assert page_state(w)["traits"]["k"] == 3


def test_the_ladder_reports_progress_per_level():
    rng = np.random.default_rng(4)
    calls = []
    ladder = segment_ladder(rng.normal(size=(200, 6)), rng.uniform(size=(200, 3)), progress=lambda *a: calls.append(a))
    assert ladder.ks == (2, 3, 4, 6)
    assert calls == [("Segments", i, 4) for i in range(5)]


def test_segment_borders_is_off_by_default_and_travels_to_the_exported_page():
    from ncut_widget.widget.export import page_state

    w = _widget()
    assert w.segment_borders is False
    w.segment_borders = True
    assert page_state(w)["traits"]["segment_borders"] is True
    with pytest.raises(traitlets.TraitError):
        w.segment_borders = "yes"
