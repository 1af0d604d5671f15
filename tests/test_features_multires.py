"""MultiResFeatures: the seed's node order, split, and the node <-> pixel index."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from ncut_widget.features import MultiResFeatures


@pytest.fixture
def seed_grids() -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(3, 4, 5, 6, generator=gen), torch.randn(3, 8, 10, 6, generator=gen)


def test_nodes_are_the_seeds_flatten_and_concatenate(seed_grids):
    feats1, feats2 = seed_grids
    f = MultiResFeatures.from_grids([feats1, feats2], resolutions=[56, (112, 140)])
    mixed_feats = torch.cat(
        [feats1.reshape(-1, feats1.shape[-1]), feats2.reshape(-1, feats2.shape[-1])], dim=0
    )
    assert f.nodes.dtype == torch.float32
    assert torch.equal(f.nodes, mixed_feats)
    assert f.n_nodes == 3 * 20 + 3 * 80 and f.n_images == 3 and f.channels == 6
    assert f.offsets == [0, 60] and f.grid_shapes == [(4, 5), (8, 10)]
    assert f.labels == ["56", "112x140"] and f.resolutions == [(56, 56), (112, 140)]
    assert torch.equal(f.grids[0], feats1) and torch.equal(f.grids[1], feats2)


def test_split_inverts_the_order_for_torch_and_numpy(seed_grids):
    feats1, feats2 = seed_grids
    f = MultiResFeatures.from_grids([feats1, feats2])
    n1 = int(np.prod(feats1.shape[:3]))
    rgb = torch.rand(f.n_nodes, 3, generator=torch.Generator().manual_seed(1))
    rgb1, rgb2 = f.split(rgb)  # the seed's reshape of rgb back to image grids
    assert torch.equal(rgb1, rgb[:n1].reshape(*feats1.shape[:3], 3))
    assert torch.equal(rgb2, rgb[n1:].reshape(*feats2.shape[:3], 3))
    back = f.split(f.nodes.numpy())
    assert all(isinstance(b, np.ndarray) for b in back)
    assert np.array_equal(back[1], feats2.numpy())
    scalars = f.split(np.arange(f.n_nodes))
    assert scalars[1].shape == (3, 8, 10) and scalars[1][2, 7, 9] == f.n_nodes - 1


def test_index_node_at_locate_and_pixel_box_agree(seed_grids):
    sizes = [(100, 50), (33, 70), (64, 64)]  # original (W, H), deliberately not grid multiples
    f = MultiResFeatures.from_grids(list(seed_grids), image_sizes=sizes)
    index = f.index
    assert index.shape == (f.n_nodes, 4) and index.dtype == torch.int64
    for node in range(f.n_nodes):
        image, res, row, col = (int(v) for v in index[node])
        assert f.node_at(image, res, row, col) == node
        assert f.locate(node) == (image, res, row, col)
        assert torch.equal(f.grids[res][image, row, col], f.nodes[node])
    # Every original pixel centre lies in exactly one box per (image, resolution), and that box
    # is the node whose grid cell covers it.
    for image, (W, H) in enumerate(sizes):
        for res, (h, w) in enumerate(f.grid_shapes):
            owner = np.full((H, W), -1)
            for row in range(h):
                for col in range(w):
                    node = f.node_at(image, res, row, col)
                    x0, y0, x1, y1 = f.pixel_box(node)
                    xs, ys = np.arange(W) + 0.5, np.arange(H) + 0.5
                    inside = ((ys >= y0) & (ys < y1))[:, None] & ((xs >= x0) & (xs < x1))[None]
                    assert (owner[inside] == -1).all()
                    owner[inside] = node
            assert (owner >= 0).all()
    assert f.pixel_box(f.node_at(2, 1, 7, 9)) == (64 * 9 / 10, 64 * 7 / 8, 64.0, 64.0)


def test_single_image_3d_grids_and_images_give_names_and_sizes():
    gen = torch.Generator().manual_seed(2)
    img = Image.new("L", (28, 14))
    img.info["name"] = "tiny"
    f = MultiResFeatures.from_grids(
        [torch.randn(1, 2, 8, generator=gen), torch.randn(2, 4, 8, generator=gen).numpy()],
        images=[img],
    )
    assert f.n_images == 1 and f.grid_shapes == [(1, 2), (2, 4)]
    assert f.image_names == ["tiny"] and f.image_sizes == [(28, 14)]
    assert f.images[0].mode == "RGB"
    assert f.labels == ["grid 1x2", "grid 2x4"]
    assert f.pixel_box(f.node_at(0, 1, 1, 3)) == (21.0, 7.0, 28.0, 14.0)


def test_from_grids_rejects_different_image_counts():
    with pytest.raises(ValueError, match="different image counts"):
        MultiResFeatures.from_grids([torch.zeros(2, 4, 4, 8), torch.zeros(3, 8, 8, 8)])


def test_from_grids_rejects_different_channel_widths():
    with pytest.raises(ValueError, match="different channel widths"):
        MultiResFeatures.from_grids([torch.zeros(2, 4, 4, 8), torch.zeros(2, 8, 8, 16)])


def test_from_grids_rejects_bad_types_and_ranks():
    with pytest.raises(TypeError, match="list of"):
        MultiResFeatures.from_grids(torch.zeros(2, 4, 4, 8))
    with pytest.raises(ValueError, match="empty"):
        MultiResFeatures.from_grids([])
    with pytest.raises(ValueError, match=r"\(n_images, h, w, C\)"):
        MultiResFeatures.from_grids([torch.zeros(4, 8)])
    with pytest.raises(ValueError, match="2 images given for features of 1"):
        MultiResFeatures.from_grids([torch.zeros(1, 2, 2, 3)], images=[Image.new("RGB", (4, 4))] * 2)


def test_split_rejects_wrong_length(seed_grids):
    f = MultiResFeatures.from_grids(list(seed_grids))
    with pytest.raises(ValueError, match=f"one row per node \\({f.n_nodes}\\), got {f.n_nodes - 1} rows"):
        f.split(torch.zeros(f.n_nodes - 1, 3))
    with pytest.raises(TypeError, match="torch.Tensor or numpy.ndarray"):
        f.split([0.0] * f.n_nodes)


def test_node_at_and_pixel_box_reject_out_of_range(seed_grids):
    f = MultiResFeatures.from_grids(list(seed_grids))
    with pytest.raises(ValueError, match="row 4 out of range 0..3"):
        f.node_at(0, 0, 4, 0)
    with pytest.raises(ValueError, match="resolution 2 out of range"):
        f.node_at(0, 2, 0, 0)
    with pytest.raises(ValueError, match="image sizes"):
        f.pixel_box(0)
    with pytest.raises(ValueError, match="out of range"):
        f.locate(f.n_nodes)
