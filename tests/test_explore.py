"""explore(): the whole path on real photos, progress reporting, and failures shown in the widget."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import traitlets
from ipywidgets.widgets.widget import _instances

from ncut_widget import NcutWidget, explore, sample_images


@pytest.fixture(scope="module")
def photos():
    return sample_images(2)


def test_explore_in_background_reports_progress_and_fills_the_widget(photos):
    stages = []
    w = explore(photos, resolutions=(112, 224), n_eig=12, color="pca", background=True)
    w.observe(lambda change: stages.append(change["new"]), names="stage")
    w.wait(timeout=300)
    assert w.error == ""
    assert w.stage == "Done"
    assert w.meta["n_nodes"] == 2 * (8 * 8 + 16 * 16)
    assert w.meta["k"] == 12
    # Progress writes are coalesced (the widget shows the latest), so a fast stage may never be
    # the trait's value; what must hold is that progress showed before the results did.
    assert stages[-1] == "Done" and len(set(stages)) > 1, stages
    assert w.status == "640 nodes from 2 images at 112, 224"


def test_compute_reports_every_stage_to_its_progress_callback(photos):
    from ncut_widget.widget.pipeline import compute

    seen = []
    compute(photos, resolutions=(112,), n_eig=8, color="pca", progress=lambda s, d, t: seen.append(s))
    assert any(s.startswith("Normalized cut") for s in seen), sorted(set(seen))
    assert any("feature" in s.lower() for s in seen), sorted(set(seen))


def test_explore_is_deterministic(photos):
    a = explore(photos, resolutions=(112,), n_eig=8, color="pca", background=False)
    b = explore(photos, resolutions=(112,), n_eig=8, color="pca", background=False)
    np.testing.assert_array_equal(a.results.X_3d, b.results.X_3d)
    a.selected = b.selected = [10]
    np.testing.assert_array_equal(a.similarity(), b.similarity())


def test_explore_failure_is_shown_in_the_widget_and_raised_by_wait(photos):
    def broken(batch):
        raise RuntimeError("the model ran out of memory")

    w = explore(photos, resolutions=(112,), backbone=broken, background=True)
    with pytest.raises(RuntimeError, match="ran out of memory"):
        w.wait(timeout=120)
    assert "ran out of memory" in w.error and w.stage == "Failed"
    with pytest.raises(traitlets.TraitError, match="the computation failed"):
        w.selected = [1]


def _widgets() -> int:
    return sum(isinstance(w, NcutWidget) for w in list(_instances.values()))


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"color": "rainbow"}, ValueError, "unknown color 'rainbow'"),
        ({"device": "gpu0"}, ValueError, "unknown device 'gpu0'"),
        ({"resolutions": (3,)}, ValueError, r"resolution 3x3 is smaller than one 14x14 patch"),
        ({"resolutions": (224, (448, 2))}, ValueError, r"448x2 is smaller than one 14x14 patch"),
        ({"resolutions": ("big",)}, TypeError, "each resolution must be an int"),
        ({"layer": 99}, ValueError, "layer 99 is out of range"),
        ({"backbone": "no_such_model"}, ValueError, "unknown backbone 'no_such_model'"),
        ({"n_eig": 0}, ValueError, "n_eig"),
        ({"n_sample": 10, "n_eig": 20}, ValueError, r"n_sample \(10\) must be larger than n_eig"),
    ],
)
def test_explore_rejects_bad_arguments_in_the_cell(photos, kwargs, error, message):
    before = _widgets()
    with pytest.raises(error, match=message):
        explore(photos, **kwargs)
    assert _widgets() == before  # no widget reading "Failed", no thread


def test_explore_rejects_bad_images_in_the_cell(photos, tmp_path: Path):
    before = _widgets()
    with pytest.raises(ValueError, match="images is empty"):
        explore([])
    with pytest.raises(ValueError, match="image 0: no such file 'not an image'"):
        explore(["not an image"])
    fake = tmp_path / "notes.jpg"
    fake.write_text("not a JPEG")
    with pytest.raises(ValueError, match=r"image 1: '.*notes.jpg' is not a readable image"):
        explore([photos[0], fake])
    with pytest.raises(TypeError, match="image 1: unsupported type dict"):
        explore([photos[0], {"pixels": 1}])
    assert _widgets() == before


def test_explore_names_images_from_paths(photos, tmp_path: Path):
    paths = []
    for name, photo in zip(("coffee", "cat"), photos, strict=True):
        photo.save(tmp_path / f"{name}.png")
        paths.append(tmp_path / f"{name}.png")
    w = explore(paths, resolutions=(56,), n_eig=4, color="pca", background=False)
    assert [image["name"] for image in w.meta["images"]] == ["coffee", "cat"]
