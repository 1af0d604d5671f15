"""extract_features and sample_images: inputs, resolutions, layers, progress, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ncut_widget.features import extract_features, sample_images
from ncut_widget.features.backbones import OfflineDinoV2
from ncut_widget.features.images import load_images
from ncut_widget.features.samples import SAMPLE_NAMES


@pytest.fixture(scope="module")
def backbone():
    return OfflineDinoV2()


@pytest.fixture(scope="module")
def photos():
    return sample_images(3)


def test_sample_images_are_real_named_rgb_photos_in_a_fixed_order():
    images = sample_images()
    assert len(images) == len(SAMPLE_NAMES) >= 8
    assert [im.info["name"] for im in images] == list(SAMPLE_NAMES)
    assert all(im.mode == "RGB" and min(im.size) >= 256 for im in images)
    # Photos, not flat test patterns: every one has a wide spread of intensities.
    assert all(np.asarray(im).std() > 20 for im in images)
    again = sample_images(2)
    assert np.array_equal(np.asarray(again[1]), np.asarray(images[1]))


def test_sample_images_rejects_bad_n():
    with pytest.raises(ValueError, match=f"between 1 and {len(SAMPLE_NAMES)}"):
        sample_images(len(SAMPLE_NAMES) + 1)
    with pytest.raises(ValueError, match="between 1"):
        sample_images(0)
    with pytest.raises(TypeError, match="n must be an int"):
        sample_images("3")


def test_every_input_kind_becomes_the_same_rgb_image(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (20, 30, 3), dtype=np.uint8)
    path = tmp_path / "photo.png"
    Image.fromarray(rgb).save(path)
    rgba = np.concatenate([rgb, np.full((20, 30, 1), 7, np.uint8)], axis=2)
    kinds = [
        Image.fromarray(rgb),
        str(path),
        path,
        rgb,
        rgba,
        torch.from_numpy(rgb).permute(2, 0, 1).contiguous(),
        torch.from_numpy(rgb).permute(2, 0, 1).float() / 255,
        Image.fromarray(rgba, "RGBA"),
    ]
    pils, names = load_images(kinds)
    for pil in pils:
        assert pil.mode == "RGB" and pil.size == (30, 20)
        assert np.array_equal(np.asarray(pil), rgb)
    assert names[1:3] == ["photo", "photo"] and names[0] == "image 0"
    gray, _ = load_images([rgb[:, :, 0]])
    assert np.array_equal(np.asarray(gray[0]), np.repeat(rgb[:, :, :1], 3, axis=2))


def test_empty_image_list_is_rejected():
    with pytest.raises(ValueError, match="images is empty"):
        extract_features([], progress=False)


def test_unsupported_image_type_is_rejected():
    with pytest.raises(TypeError, match="image 1: unsupported type int"):
        extract_features([np.zeros((20, 20, 3), np.uint8), 42], progress=False)
    with pytest.raises(ValueError, match="CxHxW"):
        extract_features([torch.zeros(5, 20, 20)], progress=False)
    with pytest.raises(TypeError, match="uint8 or float"):
        extract_features([np.zeros((20, 20, 3), np.int32)], progress=False)


def test_resolution_smaller_than_one_patch_is_rejected(photos, backbone):
    with pytest.raises(ValueError, match=r"10x10 is smaller than one 14x14 patch"):
        extract_features(photos[:1], resolutions=(224, 10), backbone=backbone, progress=False)
    with pytest.raises(TypeError, match="resolution"):
        extract_features(photos[:1], resolutions=["224"], backbone=backbone, progress=False)


def test_layer_out_of_range_is_rejected_by_extract(photos, backbone):
    with pytest.raises(ValueError, match=r"valid 0\.\.11"):
        extract_features(photos[:1], layer=12, backbone=backbone, progress=False)


def test_sizes_round_to_patch_multiples_and_grids_follow(photos, backbone):
    f = extract_features(
        photos[:2], resolutions=[(120, 230), 64], backbone=backbone, progress=False, device="cpu"
    )
    assert f.resolutions == [(126, 224), (70, 70)]  # 120 -> 126, 230 -> 224, 64 -> 70
    assert f.grid_shapes == [(9, 16), (5, 5)]
    assert f.labels == ["126x224", "70"]
    assert f.grids[0].shape == (2, 9, 16, 384) and f.grids[0].dtype == torch.float32
    assert f.image_names == ["astronaut", "chelsea"]
    assert f.image_sizes == [im.size for im in photos[:2]]


def test_batching_layers_and_progress(photos, backbone):
    calls = []
    kwargs = dict(resolutions=(56, 84), backbone=backbone, device="cpu")
    one = extract_features(photos, layer=[3, 9], batch_size=1, progress=lambda *a: calls.append(a), **kwargs)
    batched = extract_features(photos, layer=9, batch_size=2, progress=False, **kwargs)
    layer3 = extract_features(photos, layer=3, batch_size=3, progress=False, **kwargs)
    assert one.channels == 768
    # Batch size changes BLAS blocking, so float32 sums differ in the last bits (seen: 1e-4 after
    # 12 blocks on 2 threads); features are O(1), so 1e-3 still catches any real mix-up.
    for r in range(2):
        torch.testing.assert_close(one.grids[r][..., 384:], batched.grids[r], atol=1e-3, rtol=1e-3)
        torch.testing.assert_close(one.grids[r][..., :384], layer3.grids[r], atol=1e-3, rtol=1e-3)
    assert calls[0] == ("features", 0, 6) and calls[-1] == ("features", 6, 6)
    assert [c[1] for c in calls] == sorted(c[1] for c in calls)
    # Different layers and different sizes really give different features.
    assert not torch.allclose(one.grids[0][..., :384], one.grids[0][..., 384:], atol=1e-2)
