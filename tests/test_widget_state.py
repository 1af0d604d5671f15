"""The binary widget state: layout, quantization error, chunking, and the similarity contract."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ncut_widget.widget import state as wire


def _layout(n_images: int = 2) -> wire.GridLayout:
    return wire.GridLayout(
        labels=["224", "448"],
        grid_shapes=[(4, 5), (8, 10)],
        offsets=[0, n_images * 20],
        image_names=[f"img{i}" for i in range(n_images)],
        image_sizes=[(50, 40)] * n_images,
    )


def _random_result(n: int, k: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    eig = rng.normal(size=(n, k)).astype(np.float32)
    xyz = rng.normal(size=(n, 3)).astype(np.float32) * 7
    rgb = rng.uniform(size=(n, 3)).astype(np.float32)
    return eig, xyz, rgb


def test_layout_counts_nodes_in_feature_order():
    assert _layout(2).n_nodes == 2 * 20 + 2 * 80


def test_encode_round_trips_within_quantization_error():
    layout = _layout()
    eig, xyz, rgb = _random_result(layout.n_nodes, 50)
    images = [Image.new("RGB", (50, 40), (200, 10, 10)), Image.new("RGB", (50, 40), (10, 200, 10))]
    enc = wire.encode_state(layout, eig, xyz, rgb, images, version=7)
    meta = enc.meta
    assert meta["k"] == wire.MAX_WIRE_EIGVECS and meta["n_eig"] == 50 and meta["version"] == 7
    for spec in meta["arrays"].values():
        assert spec["offset"] % 8 == 0
    pos = meta["arrays"]["positions"]
    q = np.frombuffer(enc.payload, np.uint16, layout.n_nodes * 3, pos["offset"]).reshape(-1, 3)
    lo, hi = np.array(meta["pos_min"]), np.array(meta["pos_max"])
    xyz_back = lo + q / 65535.0 * (hi - lo)
    assert np.abs(xyz_back - xyz).max() <= (hi - lo).max() / 65535.0
    col = meta["arrays"]["colors"]
    rgb_back = np.frombuffer(enc.payload, np.uint8, layout.n_nodes * 3, col["offset"]).reshape(-1, 3)
    assert np.abs(rgb_back / 255.0 - rgb).max() <= 0.5 / 255 + 1e-6
    eig_back = wire.decode_eigvecs(enc)
    assert eig_back.shape == (layout.n_nodes, 30)
    assert np.abs(eig_back - eig[:, :30]).max() <= np.abs(eig[:, :30]).max() / 127
    for thumb in meta["thumbnails"]:
        blob = enc.payload[thumb["offset"] : thumb["offset"] + thumb["length"]]
        assert blob[:2] == b"\xff\xd8"  # JPEG


def test_bytes_per_node_stay_under_40():
    layout = _layout()
    eig, xyz, rgb = _random_result(layout.n_nodes, 50)
    enc = wire.encode_state(layout, eig, xyz, rgb, None, version=1)
    assert len(enc.payload) / layout.n_nodes <= 40


def test_similarity_is_cosine_to_mean_direction():
    eig, _, _ = _random_result(300, 12, seed=3)
    sel = [5, 17]
    codes, scales = wire.quantize_eigvecs(eig)
    sim = wire.similarity(codes, scales, sel, n_eig_view=6)
    sent = wire.dequantize_eigvecs(codes, scales).astype(np.float64)
    q = sent[:, :6] / np.linalg.norm(sent[:, :6], axis=1, keepdims=True)
    c = q[sel].mean(0)
    others = np.setdiff1d(np.arange(300), sel)
    # int16 query weights: within 2e-5 of the largest weight each, so well within 1e-4 overall.
    np.testing.assert_allclose(sim[others], (q @ c / np.linalg.norm(c))[others], atol=1e-4)
    # The selected nodes themselves score 1 (never dimmed), whatever their cosine to the mean.
    assert (sim[sel] == 1.0).all() and sim.max() <= 1.0 + 1e-6


def test_similarity_of_one_node_to_itself_is_one_and_depends_on_n_eig_view():
    eig, _, _ = _random_result(200, 10, seed=1)
    codes, scales = wire.quantize_eigvecs(eig)
    coarse = wire.similarity(codes, scales, [3], 2)
    fine = wire.similarity(codes, scales, [3], 10)
    assert coarse[3] == pytest.approx(1.0, abs=1e-5) and fine[3] == pytest.approx(1.0, abs=1e-5)
    assert not np.allclose(coarse, fine)
    assert np.all(wire.similarity(codes, scales, [], 5) == 0)
