"""NcutWidget in Python: from_results validation, traits, similarity/masks, messages, export."""

from __future__ import annotations

import base64
import dataclasses
import gc
import json
import re
import weakref
from pathlib import Path

import numpy as np
import pytest
import torch
import traitlets
from PIL import Image

from ncut_widget import MultiResFeatures, NcutWidget
from ncut_widget.widget import state as wire
from ncut_widget.widget import widget as widget_module
from ncut_widget.widget.results import Results, build_results


def _seed_like(n_images: int = 2, k: int = 12, seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    feats1 = torch.randn(n_images, 4, 4, 8, generator=gen)
    feats2 = torch.randn(n_images, 8, 8, 8, generator=gen)
    images = [Image.new("RGB", (64, 48), (40 * i, 100, 200)) for i in range(n_images)]
    features = MultiResFeatures.from_grids([feats1, feats2], images=images)
    n = features.n_nodes
    eig = torch.randn(n, k, generator=gen)
    xyz = torch.randn(n, 3, generator=gen)
    rgb = torch.rand(n, 3, generator=gen)
    return features, eig, xyz, rgb, images


@pytest.fixture
def widget() -> NcutWidget:
    features, eig, xyz, rgb, _ = _seed_like()
    return NcutWidget.from_results(features, eig, xyz, rgb)


def test_from_results_describes_the_layout(widget: NcutWidget):
    meta = widget.meta
    assert meta["n_nodes"] == 2 * 16 + 2 * 64
    assert meta["k"] == 12
    assert [r["offset"] for r in meta["resolutions"]] == [0, 32]
    assert [(r["h"], r["w"]) for r in meta["resolutions"]] == [(4, 4), (8, 8)]
    assert len(meta["thumbnails"]) == 2


def test_from_results_rejects_length_mismatch():
    features, eig, xyz, rgb, _ = _seed_like()
    with pytest.raises(ValueError, match=r"X_3d has shape \(159, 3\).*160 nodes"):
        NcutWidget.from_results(features, eig, xyz[:-1], rgb)


def test_from_results_rejects_nan_coordinates():
    features, eig, xyz, rgb, _ = _seed_like()
    xyz[5, 1] = float("nan")
    with pytest.raises(ValueError, match="X_3d contains NaN"):
        NcutWidget.from_results(features, eig, xyz, rgb)


def test_from_results_needs_images():
    features, eig, xyz, rgb, _ = _seed_like()
    bare = MultiResFeatures.from_grids(features.grids)
    with pytest.raises(ValueError, match="images are missing"):
        NcutWidget.from_results(bare, eig, xyz, rgb)


def test_selected_out_of_range_from_python_is_a_clear_error(widget: NcutWidget):
    with pytest.raises(traitlets.TraitError, match=r"out of range.*160 nodes"):
        widget.selected = [3, 160]
    widget.selected = [3, 159]
    assert widget.selected == [3, 159]


def test_similarity_and_masks_follow_selection_and_threshold(widget: NcutWidget):
    widget.selected = [7]
    widget.n_eig_view = 4
    sim = widget.similarity()
    assert sim.shape == (160,) and sim[7] == pytest.approx(1.0, abs=1e-5)
    sent = wire.decode_eig_codes(wire.EncodedState(widget.meta, widget.payload))
    np.testing.assert_array_equal(sim, wire.similarity(*sent, [7], 4))
    widget.threshold = 0.3
    masks = widget.selected_masks()
    assert [m.shape for m in masks] == [(2, 4, 4), (2, 8, 8)]
    flat = np.concatenate([m.reshape(-1) for m in masks])
    np.testing.assert_array_equal(flat, sim >= 0.3)
    widget.n_eig_view = 12
    assert not np.allclose(widget.similarity(), sim)


def test_payload_is_synced_state_sent_with_its_meta_in_one_message(widget: NcutWidget):
    # The payload is a binary trait: it is in the widget's state (saved notebooks, new views).
    state = widget.get_state()
    assert state["payload"] == widget.payload and len(widget.payload) == widget.meta["total_bytes"]
    sent = []
    # Capture what would go to the frontend.
    widget.send_state = lambda key=None: sent.append(set(key))  # type: ignore[method-assign]
    other = dataclasses.replace(widget.results, rgb=1.0 - widget.results.rgb)
    widget.set_results(other)
    assert len(sent) == 1 and {"meta", "payload"} <= sent[0]


def test_save_html_is_self_contained(widget: NcutWidget, tmp_path: Path):
    widget.selected = [2]
    page = widget.save_html(tmp_path / "page.html").read_text()
    assert not re.search(r"""<(script|link|img)[^>]+(src|href)=["']?(https?:)?//""", page)
    raw = re.search(r'<script type="application/json" id="ncut-state">(.*?)</script>', page, re.S).group(1)
    state = json.loads(raw)
    assert state["traits"]["selected"] == [2]
    assert base64.b64decode(state["payload"]) == widget.payload


def test_to_plotly_draws_embedding_and_every_colormap(widget: NcutWidget):
    fig = widget.to_plotly()
    kinds = [t.type for t in fig.data]
    assert kinds.count("scatter3d") == 1
    assert kinds.count("image") == 2 * (1 + 2)
    assert len(fig.data[0].x) == 160


def test_selecting_before_the_results_exist_says_they_are_not_ready():
    w = NcutWidget(stage="Normalized cut: eigensolve")
    with pytest.raises(traitlets.TraitError, match=r"results are not ready yet.*w\.wait\(\)"):
        w.selected = [123]
    w.selected = []  # nothing to check


def test_counts_in_the_status_line_have_thousands_separators():
    layout = wire.GridLayout(labels=["224", "448"], grid_shapes=[(16, 16), (32, 32)], offsets=[0, 245 * 256],
                             image_names=[f"p{i}" for i in range(245)], image_sizes=[(64, 48)] * 245)
    empty = np.zeros((0, 3), np.float32)
    results = Results(layout=layout, eigvecs=empty, X_3d=empty, rgb=empty, images=[])
    assert results.summary() == "313,600 nodes from 245 images at 224, 448"
    w = NcutWidget()
    widget_module._ProgressWrites(w)("Normalized cut: extend to nodes", 204_800, 313_600)
    assert w.status == "Normalized cut: extend to nodes: 204,800/313,600"


def test_results_do_not_keep_the_features():
    gen = torch.Generator().manual_seed(0)
    images = [Image.new("RGB", (64, 48), (40 * i, 100, 200)) for i in range(2)]
    features = MultiResFeatures.from_grids(
        [torch.randn(2, 4, 4, 8, generator=gen), torch.randn(2, 8, 8, 8, generator=gen)], images=images
    )
    n = features.n_nodes
    expected = [grid.copy() for grid in features.split(np.arange(n))]
    kept = weakref.ref(features)
    results = build_results(features, torch.randn(n, 5, generator=gen), torch.randn(n, 3, generator=gen),
                            torch.rand(n, 3, generator=gen))
    del features
    gc.collect()
    assert kept() is None
    for got, want in zip(results.split(np.arange(n)), expected, strict=True):
        np.testing.assert_array_equal(got, want)


def test_save_html_escapes_end_tags_in_any_case(tmp_path: Path, monkeypatch):
    features, eig, xyz, rgb, images = _seed_like()
    images[0].info["name"] = "</ScRiPt><script>alert(1)</script>"
    w = NcutWidget.from_results(features, eig, xyz, rgb, images=images)
    bundle = tmp_path / "static"
    bundle.mkdir()
    (bundle / "standalone.js").write_text('const a = "</ScRiPt>", b = /<\\/SCRIPT>/; // </script\n')
    (bundle / "widget.css").write_text('/* </StYlE> </sCrIpT> */ .ncut { color: red; }\n')
    monkeypatch.setattr(widget_module, "_bundle", lambda name: bundle / name)
    page = w.save_html(tmp_path / "page.html").read_text()
    # Only the page's own end tags remain: one </style>, two </script> (state and module).
    assert [m.lower() for m in re.findall(r"</(?:script|style)", page, re.IGNORECASE)] == [
        "</style", "</script", "</script"
    ]
    js = re.search(r'<script type="module">(.*?)</script>', page, re.S).group(1)
    assert js == 'const a = "<\\/ScRiPt>", b = /<\\/SCRIPT>/; // <\\/script\n'
    css = re.search(r"<style>.*?(/\* .*? \*/)", page, re.S).group(1)
    assert css == "/* <\\/StYlE> <\\/sCrIpT> */"
    raw = re.search(r'<script type="application/json" id="ncut-state">(.*?)</script>', page, re.S).group(1)
    state = json.loads(raw)
    assert state["traits"]["meta"]["images"][0]["name"] == "</ScRiPt><script>alert(1)</script>"
