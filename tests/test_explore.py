"""explore(): the whole path on real photos, progress reporting, and failures shown in the widget."""

from __future__ import annotations

import numpy as np
import pytest

from ncut_widget import explore, sample_images


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
    assert any(s.startswith("Normalized cut") for s in stages)
    assert "2 images at 112, 224" in w.status


def test_explore_is_deterministic(photos):
    a = explore(photos, resolutions=(112,), n_eig=8, color="pca", background=False)
    b = explore(photos, resolutions=(112,), n_eig=8, color="pca", background=False)
    np.testing.assert_array_equal(a.results.X_3d, b.results.X_3d)
    a.selected = b.selected = [10]
    np.testing.assert_array_equal(a.similarity(), b.similarity())


def test_explore_failure_is_shown_in_the_widget_and_raised_by_wait(photos):
    w = explore(photos, resolutions=(112,), backbone="no_such_model", background=True)
    with pytest.raises(ValueError, match="unknown backbone 'no_such_model'"):
        w.wait(timeout=120)
    assert "unknown backbone" in w.error and w.stage == "Failed"


def test_explore_rejects_bad_arguments_at_once(photos):
    with pytest.raises(ValueError, match="unknown color 'rainbow'"):
        explore(photos, color="rainbow")
    with pytest.raises(ValueError, match="non-empty list"):
        explore([])
    with pytest.raises(ValueError, match="unknown device 'gpu0'"):
        explore(photos, device="gpu0")
