"""Lazy features of image files, the fit pipeline and its Zarr store, on dask's local schedulers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
pytest.importorskip("zarr")

from ncut_widget import Ncut, cli, extract_features, sample_images  # noqa: E402
from ncut_widget.scale import ZarrResults, fit_folder, lazy_features, list_images, results_from_zarr  # noqa: E402

RES = (28, 56)  # 2x2 and 4x4 grids of 14 px patches: 20 nodes an image, quick on one core


def make_images(folder: Path, n: int) -> list[Path]:
    """``n`` small variants of the bundled photos (crops, flips, sizes), saved as PNG/JPEG."""
    folder.mkdir(parents=True, exist_ok=True)
    photos = sample_images(10)
    paths = []
    for i in range(n):
        im = photos[i % 10]
        w, h = im.size
        j = i // 10
        c = j % 5  # crop a little more, up to 4/20 of each side
        im = im.crop((c * w // 20, c * h // 20, w - c * w // 30, h - c * h // 30)).resize((48 + 4 * (i % 3), 40 + 2 * (j % 4)))
        if j % 2:
            im = im.transpose(0)  # mirror
        path = folder / f"img_{i:03d}.{'jpg' if i % 4 == 3 else 'png'}"
        im.save(path)
        paths.append(path)
    return paths


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("images")
    make_images(d, 12)
    (d / "notes.txt").write_text("not an image")
    return d


def _vecs(out):
    return out[0] if isinstance(out, tuple) else out


def test_lazy_features_equal_extract_features(folder):
    paths, sizes, skipped = list_images(folder)
    assert len(paths) == 12 and not skipped and sizes[0] == (48, 40)
    feats = lazy_features(folder, resolutions=RES, images_per_task=5)
    assert feats.grid_shapes == [(2, 2), (4, 4)] and feats.channels == 384
    assert feats.nodes.shape == (12 * 20, 384)
    assert feats.nodes.chunks[0] == (20, 20, 8, 80, 80, 32)  # 5 + 5 + 2 images at each resolution
    want = extract_features([Path(p) for p in paths], resolutions=RES, progress=False)
    got = feats.nodes.compute(scheduler="threads")
    np.testing.assert_allclose(got, want.nodes.numpy(), atol=2e-4, rtol=0)  # batches differ: BLAS order
    assert np.array_equal(feats.index.compute(scheduler="sync"), want.index.numpy())
    assert feats.offsets == want.offsets and feats.labels == want.labels
    sub = feats.select([3, 7])
    np.testing.assert_allclose(
        sub.nodes.compute(scheduler="sync"),
        np.concatenate([g[[3, 7]].reshape(-1, 384).numpy() for g in want.grids]),
        atol=2e-4,
        rtol=0,
    )


def test_lazy_features_custom_backbone_travels_in_the_graph(folder):
    conv = torch.nn.Conv2d(3, 16, kernel_size=8, stride=8)
    with torch.no_grad():
        conv.weight.copy_(torch.linspace(-1, 1, conv.weight.numel()).view_as(conv.weight))
    feats = lazy_features(folder, resolutions=[64], backbone=conv, images_per_task=4)
    assert feats.grid_shapes == [(8, 8)] and feats.channels == 16
    want = extract_features(sorted(folder.glob("img_*")), resolutions=[64], backbone=conv, progress=False)
    np.testing.assert_allclose(feats.nodes.compute(scheduler="sync"), want.nodes.numpy(), atol=1e-5, rtol=0)


def test_lazy_features_name_unreadable_files(tmp_path):
    make_images(tmp_path, 2)
    (tmp_path / "broken.png").write_bytes(b"not a png")
    paths, _, skipped = list_images(tmp_path)
    assert len(paths) == 2 and skipped and skipped[0].startswith("broken.png")
    with pytest.raises(ValueError, match="broken.png"):
        lazy_features(tmp_path, resolutions=RES)
    with pytest.raises(ValueError, match="not a folder"):
        list_images(tmp_path / "missing")


@pytest.fixture(scope="module")
def store(folder, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("stores") / "results.zarr"
    with dask.config.set(scheduler="sync"):
        opened = fit_folder(
            folder, out, sample=6, resolutions=RES, n_eig=6, n_clusters=3, color="tsne",
            images_per_task=4, seed=1, progress=False, log=None,
        )
    assert isinstance(opened, ZarrResults)
    return out


def test_store_holds_the_in_memory_pipeline(folder, store):
    z = ZarrResults(store)
    assert z.n_images == 12 and z.n_nodes == 240 and z.n_eig == 6 and z.labels == ["28", "56"]
    paths, _, _ = list_images(folder)
    feats = extract_features([Path(p) for p in paths], resolutions=RES, progress=False)
    picked = z.meta["fit_images"]
    assert len(picked) == 6 and picked == sorted(picked)
    fit_nodes = torch.cat([g[picked].reshape(-1, 384) for g in feats.grids])
    model = Ncut(n_eig=6, n_sample=fit_nodes.shape[0], device="cpu", seed=1).fit(fit_nodes)
    want = _vecs(model.transform(feats.nodes)).numpy()
    eig = z.read("eigvecs")
    assert eig.shape == (240, 6) and eig.dtype == np.float32
    np.testing.assert_allclose(eig, want, atol=1e-3, rtol=0)
    np.testing.assert_allclose(z.eigenvalues, model.eigenvalues_.numpy(), atol=1e-5)
    assert np.array_equal(z.read("index"), feats.index.numpy())
    rgb, labels = z.read("rgb"), z.read("labels")
    assert rgb.min() >= 0 and rgb.max() <= 1 and rgb.std() > 0.05
    assert labels.dtype == np.int16 and set(np.unique(labels)) <= {0, 1, 2} and len(np.unique(labels)) >= 2
    assert z.meta["params"]["color"] == "tsne" and z.meta["params"]["n_clusters"] == 3
    json.dumps(z.meta)  # the attributes are plain JSON


def test_results_from_zarr_reads_a_subset(folder, store):
    z = ZarrResults(store)
    res = results_from_zarr(store, images=[4, 5, 6, 10])
    assert res.layout.image_names == ["img_004", "img_005", "img_006", "img_010"]
    assert res.eigvecs.shape == (4 * 20, 6) and len(res.images) == 4
    all_eig = z.read("eigvecs")
    # subset node order: resolution-major, then image, row, col -- as MultiResFeatures
    rows = [off + i * n + k for off, n in ((0, 4), (12 * 4, 16)) for i in (4, 5, 6, 10) for k in range(n)]
    assert np.array_equal(res.eigvecs, all_eig[rows])
    assert np.array_equal(res.X_3d, z.read("X_3d")[rows]) and np.array_equal(res.rgb, z.read("rgb")[rows])
    from ncut_widget import NcutWidget

    widget = NcutWidget.from_zarr(store, images=[4, 5, 6, 10])
    assert widget.meta["n_nodes"] == 80
    np.testing.assert_array_equal(widget.results.eigvecs, res.eigvecs)
    by_name = results_from_zarr(store, images=["img_010", "img_004"])
    assert by_name.layout.image_names == ["img_010", "img_004"]
    assert results_from_zarr(store, images=slice(0, 12, 4)).layout.image_names == ["img_000", "img_004", "img_008"]
    with pytest.raises(ValueError, match="out of range"):
        z.results(images=[12])
    with pytest.raises(ValueError, match="no image named"):
        z.results(images=["nope"])


def test_results_from_zarr_finds_moved_images(folder, store, tmp_path):
    moved = tmp_path / "moved"
    shutil.copytree(folder, moved)
    res = results_from_zarr(store, images=[1], image_root=moved)
    assert res.layout.image_names == ["img_001"]
    with pytest.raises(FileNotFoundError, match="image_root"):
        results_from_zarr(store, images=[1], image_root=tmp_path / "elsewhere")


def test_store_refuses_overwrite_and_incomplete_runs(folder, store, tmp_path):
    with pytest.raises(FileExistsError, match="overwrite"):
        fit_folder(folder, store, sample=2, resolutions=RES, n_eig=3, n_clusters=2, progress=False, log=None)
    broken = tmp_path / "broken.zarr"
    shutil.copytree(store, broken)
    import zarr

    root = zarr.open_group(str(broken), mode="a")
    root.attrs["ncut_widget"] = {**root.attrs["ncut_widget"], "complete": False}
    with pytest.raises(ValueError, match="incomplete"):
        ZarrResults(broken)
    with pytest.raises(FileNotFoundError):
        ZarrResults(tmp_path / "none.zarr")


def test_cli_fit_on_the_local_scheduler(folder, tmp_path, capsys):
    out = tmp_path / "cli.zarr"
    code = cli.main([
        "fit", str(folder), "--out", str(out), "--scheduler", "sync", "--sample", "4",
        "--resolutions", "28", "--n-eig", "4", "--n-clusters", "2", "--color", "pca", "--quiet",
    ])
    assert code == 0
    printed = capsys.readouterr().out
    assert "48 nodes from 12 images" in printed and "from_zarr(" in printed
    z = ZarrResults(out)
    assert z.n_nodes == 48 and z.meta["params"]["color"] == "pca" and z.read("labels").max() <= 1
    with pytest.raises(SystemExit, match="exists"):
        cli.main(["fit", str(folder), "--out", str(out), "--scheduler", "sync", "--quiet"])
    with pytest.raises(SystemExit, match="not a folder"):
        cli.main(["fit", str(tmp_path / "nope"), "--out", str(out)])
    assert cli.main(["--help"]) == 0
    assert "ncut-widget fit IMAGES_DIR" in capsys.readouterr().out
