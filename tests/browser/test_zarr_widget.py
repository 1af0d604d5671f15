"""A widget built from an ``ncut-widget fit`` Zarr store (``NcutWidget.from_zarr``): a click on a patch
highlights the similar patches of the other images, in the exported page."""

from __future__ import annotations

from pathlib import Path

import pytest

from ._pixels import changed_fraction
from ._widget_dom import WidgetDom

pytestmark = pytest.mark.browser
pytest.importorskip("zarr")
pytest.importorskip("dask")

RES = (56, 112)  # 4x4 and 8x8 grids of 14 px patches


@pytest.fixture(scope="module")
def zarr_page(chromium, tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """``ncut-widget fit`` on 16 small photos (the local synchronous scheduler), then a widget of 3
    of its images saved as a page. Depends on ``chromium`` so a machine without it skips first."""
    import dask
    import torch

    from ncut_widget import NcutWidget, cli, sample_images

    folder = tmp_path_factory.mktemp("zarr-images")
    photos = sample_images(8)
    for i in range(16):
        photo = photos[i % 8] if i < 8 else photos[i % 8].transpose(0)  # a mirrored copy of each
        photo.resize((120, 90)).save(folder / f"photo_{i:02d}.png")
    out = tmp_path_factory.mktemp("zarr") / "results.zarr"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # two cores, shared with Chromium
    try:
        with dask.config.set(scheduler="sync"):
            code = cli.main([
                "fit", str(folder), "--out", str(out), "--scheduler", "sync", "--sample", "8",
                "--resolutions", *map(str, RES), "--n-eig", "12", "--color", "pca", "--quiet",
            ])
        assert code == 0
        w = NcutWidget.from_zarr(out, images=[1, 9, 4])
    finally:
        torch.set_num_threads(threads)
    return w, w.save_html(tmp_path_factory.mktemp("zarr-page") / "zarr.html")


def test_click_on_a_widget_from_zarr_highlights_the_other_images(zarr_page, open_page) -> None:
    w, path = zarr_page
    assert w.meta["images"][0]["name"] == "photo_01" and len(w.meta["images"]) == 3
    page, log = open_page(Path(path).as_uri())
    dom = WidgetDom(page.locator(".ncut").first, w.meta)
    dom.wait_drawn()
    r = w.meta["resolutions"][1]
    before = dom.shots(dom.others(0))

    node = dom.click_patch(1, 0, r["h"] // 2, r["w"] // 2)

    page.wait_for_function("() => /1 selected/.test(document.querySelector('.ncut-summary').textContent)")
    assert dom.selected() == [node]
    changes = [changed_fraction(b, a) for b, a in zip(before, dom.shots(dom.others(0)), strict=True)]
    assert max(changes) > 0.02, f"a click on image 0 changed no pixels of images 1-2: {changes}"
    assert log.page_errors == [], log.page_errors
