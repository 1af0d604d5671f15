"""Growing a fitted map: add_images keeps every existing node bit for bit, places new ones where the
fit would, and sends the browser only the new nodes (one custom message, no echo of the trait)."""

from __future__ import annotations

import base64

import numpy as np
import pytest
import torch
from PIL import ImageOps

from ncut_widget import NcutWidget, add_images, explore, sample_images
from ncut_widget.engine import exact
from ncut_widget.features import extract_features
from ncut_widget.nodes import NodeBlock, next_block, split_blocks
from ncut_widget.widget import state as wire
from ncut_widget.widget.export import page_state
from ncut_widget.widget.pipeline import compute

torch.set_num_threads(1)

RES = (112, 224)


@pytest.fixture(scope="module")
def photos():
    return sample_images(2)


def _explore(photos, **kwargs):
    return explore(photos, resolutions=RES, n_eig=12, color="tsne", background=False, **kwargs)


def _capture(widget):
    sent = []
    widget._send = lambda msg, buffers=None: sent.append((msg, buffers))  # type: ignore[method-assign]
    return sent


def _assert_fitted_values(copy: np.ndarray, fitted: np.ndarray, model, image) -> None:
    """A copy of a fitted image, placed by ``add_images``, against the fit's values ``fitted``.

    The exact path's transform gives a fitted node back its entries to float32 rounding when the
    fit kept its affinities in float32 (the defaults here). 16-bit storage (``exact.storage_dtype``:
    from 8,192 nodes, or bfloat16 pairs forced) rounds each affinity by up to 2^-11 (1 + d / gamma)
    first, which moved entries of this fit by up to 1.9e-4 (1.4e-3 of its largest); no transform
    can know those roundings, so there the copy must get what the model's transform gives the
    image's own features, to float32 rounding.
    """
    ncut = model.ncut
    stored = exact.storage_dtype(len(ncut.anchor_eigvecs_), "cpu", None) if ncut.exact_ else torch.float32
    if stored != torch.float32:
        features = extract_features([image], resolutions=list(model.resolutions), layer=model.layer,
                                    backbone=model.backbone, device="cpu", progress=False)
        fitted = [g[0] for g in features.split(ncut.transform(features.nodes)[0].numpy())]
    for a, b in zip(fitted, copy, strict=True):
        np.testing.assert_allclose(b, a, atol=2e-5)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(((a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)).mean())


def test_existing_nodes_stay_bit_identical_in_python_and_on_the_wire(photos):
    w = _explore(photos)
    r0 = w.results
    n = r0.layout.n_nodes
    eig, xyz, rgb = r0.eigvecs.copy(), r0.X_3d.copy(), r0.rgb.copy()
    payload, meta = bytes(w.payload), dict(w.meta)
    eig_wire, labels = w._eig_wire.copy(), w._segment_labels.copy()
    w.selected = [3, n - 1]
    sim_before = w.similarity()

    w.add_images([ImageOps.mirror(photos[0]), photos[1]])

    r1 = w.results
    assert r1.layout.n_nodes == n + 2 * sum(h * wd for h, wd in r0.layout.grid_shapes)
    assert np.array_equal(r1.eigvecs[:n], eig) and np.array_equal(r1.X_3d[:n], xyz)
    assert np.array_equal(r1.rgb[:n], rgb)
    # The first payload is untouched: the browser decodes the existing nodes exactly as before.
    assert w.payload == payload and w.meta == meta
    assert np.array_equal(w._eig_wire[:n], eig_wire) and np.array_equal(w._segment_labels[:, :n], labels)
    assert w.selected == [3, n - 1]
    # Old nodes' scores only change through the new nodes' rows being there, not their values.
    assert np.array_equal(w.similarity()[:n], sim_before)
    assert [len(m) for m in w.selected_masks()] == [4, 4]
    assert [m.shape[0] for m in w.segment_masks()] == [4, 4]
    assert r1.layout.n_fitted_images == 2 and r1.layout.added[0].first == 2


def test_a_copy_of_a_fitted_image_gets_its_nodes_values_and_segments(photos):
    w = _explore(photos)
    w.add_images([photos[1]])
    r = w.results
    old = [g[1] for g in r.split(r.eigvecs)]
    new = [g[2] for g in r.split(r.eigvecs)]
    _assert_fitted_values(new, old, w.map_model, photos[1])
    # The ladder's own rotations label the copy: the same segments as the fitted image.
    for labels in w._segment_labels:
        assert all(np.array_equal(g[1], g[2]) for g in r.split(labels))
    # Fitted nodes keep their t-SNE places; a new node is placed by the coloring's propagation from
    # its nearest laid-out nodes, so the copy lands next to its original, not on it.
    spread = float(np.ptp(r.X_3d, axis=0).max())
    for a, b in zip(r.split(r.X_3d), r.split(r.rgb), strict=True):
        assert float(np.linalg.norm(a[2] - a[1], axis=-1).mean()) < 0.05 * spread
        assert float(np.abs(b[2] - b[1]).mean()) < 0.05


def test_a_flipped_copy_gets_its_mirrored_patches_eigenvectors():
    from ncut_widget import MirrorAveraged, extract_features

    photos = sample_images(4)  # two photos make too few parts for five eigenvectors to mean much
    # With mirror-equivariant features (MirrorAveraged) the copy's features are the mirrored
    # features, so a faithful placement gives it the mirrored patches' eigenvectors, all of them.
    w = _explore(photos, backbone=MirrorAveraged())
    w.add_images([ImageOps.mirror(photos[0])])
    r = w.results
    for grid in r.split(r.eigvecs):
        assert _cos(grid[0], grid[4][:, ::-1]) >= 0.99
    # The plain backbone is not equivariant (DINOv2's position embeddings: patch cosine about
    # 0.8 at layer 9). The coarse parts (leading eigenvectors) still match across the mirror, and
    # all of them are as close as the backbone's own features of the two copies are.
    w = _explore(photos)
    w.add_images([ImageOps.mirror(photos[0])])
    r = w.results
    feats = extract_features([photos[0], ImageOps.mirror(photos[0])], resolutions=RES, progress=False)
    for grid, fgrid in zip(r.split(r.eigvecs), feats.split(feats.nodes.numpy()), strict=True):
        orig, mirrored = grid[0], grid[4][:, ::-1]
        assert _cos(orig[..., :5], mirrored[..., :5]) >= 0.95
        feature_cos = _cos(fgrid[0], fgrid[1][:, ::-1])
        assert feature_cos < 0.9
        assert _cos(orig, mirrored) >= feature_cos - 0.05


def test_the_append_sends_only_the_new_chunk_once(photos):
    w = _explore(photos)
    n = int(w.meta["n_nodes"])
    sent = _capture(w)
    w.add_images([photos[0]])
    customs = [(m, b) for m, b in sent if m.get("method") == "custom"]
    assert len(customs) == 1
    content, buffers = customs[0][0]["content"], customs[0][1]
    assert content["type"] == "append" and content["meta"]["first_image"] == 2
    assert content["meta"]["offsets"][0] == n
    assert len(buffers) == 1 and bytes(buffers[0]) == w.appended[0]["payload"]
    assert len(buffers[0]) == content["meta"]["total_bytes"] < len(w.payload)
    states = [m["state"] for m, _ in sent if m.get("method") == "update"]
    assert all("appended" not in s and "payload" not in s and "meta" not in s for s in states)
    assert any(s.get("stage") == "Done" for s in states)
    assert content["meta"]["images"][0]["added"] is True


def test_new_values_use_the_first_payloads_scales_and_clip_into_them(photos):
    w = _explore(photos)
    base = w.meta
    w.add_images([ImageOps.mirror(photos[1])])
    r = w.results
    n = int(base["n_nodes"])
    chunk = w.appended[0]
    spec = chunk["meta"]["arrays"]["eigvecs"]
    m, k = spec["shape"]
    q = np.frombuffer(chunk["payload"], np.int8, m * k, spec["offset"]).reshape(m, k)
    scale = np.asarray(base["eig_scale"], np.float32)
    want = np.rint(r.eigvecs[n:, :k] / scale).clip(-127, 127).astype(np.int8)
    assert np.array_equal(q, want)
    pspec = chunk["meta"]["arrays"]["positions"]
    pos = np.frombuffer(chunk["payload"], "<u2", m * 3, pspec["offset"]).reshape(m, 3)
    lo, hi = np.asarray(base["pos_min"]), np.asarray(base["pos_max"])
    np.testing.assert_allclose(lo + pos / 65535 * (hi - lo), np.clip(r.X_3d[n:], lo, hi), atol=2 * (hi - lo).max() / 65535)


def test_progress_is_reported_in_the_widget(photos):
    w = _explore(photos)
    seen = []
    w.observe(lambda ch: seen.append(ch["new"]), names="stage")
    w.add_images([photos[0]])
    assert any(s.startswith("Features") or "feature" in s.lower() for s in seen), seen
    assert "Placing new nodes" in seen and seen[-1] == "Done"
    assert "(1 added)" in w.status


def test_a_widget_without_a_model_says_how_to_get_one(photos):
    w = _explore(photos)
    r = w.results
    other = NcutWidget()
    other.set_results(r)
    with pytest.raises(RuntimeError, match=r"explore\("):
        other.add_images([photos[0]])


def test_the_script_function_grows_results(photos):
    results, model = compute(photos, resolutions=RES, n_eig=12, color="pca", return_model=True)
    grown = add_images(results, model, [photos[0]])
    n = results.layout.n_nodes
    assert np.array_equal(grown.eigvecs[:n], results.eigvecs)
    first = [g[0] for g in grown.split(grown.eigvecs)]
    copy = [g[2] for g in grown.split(grown.eigvecs)]
    _assert_fitted_values(copy, first, model, photos[0])
    with pytest.raises(TypeError, match="MapModel"):
        add_images(results, object(), [photos[0]])
    with pytest.raises(ValueError, match="empty"):
        add_images(results, model, [])


def test_the_exported_state_carries_every_chunk(photos):
    w = _explore(photos)
    w.add_images([photos[0]])
    w.add_images([photos[1]])
    state = page_state(w)
    assert [c["meta"]["first_image"] for c in state["appended"]] == [2, 3]
    assert base64.b64decode(state["appended"][1]["payload"]) == w.appended[1]["payload"]
    assert w.appended[1]["meta"]["offsets"][0] == w.appended[0]["meta"]["offsets"][0] + w.appended[0]["meta"]["n_nodes"]


def test_blocks_split_in_image_order():
    shapes = [(2, 2), (3, 3)]
    first = NodeBlock(0, 2, (0, 8))
    second = next_block([first], shapes, 1)
    assert second == NodeBlock(2, 1, (26, 30))
    layout = wire.GridLayout(["a", "b"], shapes, [0, 8], ["x", "y"], [(4, 4), (4, 4)]).grow(["z"], [(4, 4)])
    assert layout.n_nodes == 39 and layout.n_fitted_images == 2
    values = np.arange(39)
    grids = split_blocks(values, layout.blocks, shapes)
    assert grids[0].shape == (3, 2, 2) and grids[1].shape == (3, 3, 3)
    assert grids[0][2].ravel().tolist() == [26, 27, 28, 29]
    assert grids[1][2].ravel().tolist() == list(range(30, 39))
    assert grids[1][1].ravel().tolist() == list(range(17, 26))
    with pytest.raises(ValueError, match="one row per node"):
        split_blocks(np.arange(38), layout.blocks, shapes)


def test_a_view_that_missed_an_append_gets_the_chunks_it_lacks(photos):
    w = _explore(photos)
    w.add_images([photos[0]])
    w.add_images([photos[1]])
    sent = _capture(w)
    w._on_view_message(w, {"type": "appended_have", "count": 1}, [])
    w._on_view_message(w, {"type": "something else"}, [])
    w._on_view_message(w, {"type": "appended_have", "count": 2}, [])
    assert [(m["content"]["type"], m["content"]["meta"]["first_image"]) for m, _ in sent] == [("append", 3)]
    assert bytes(sent[0][1][0]) == w.appended[1]["payload"]
