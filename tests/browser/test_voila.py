"""Voila: a notebook served as an app shows the widget from its initial state; clicks highlight and
reach the kernel (a Label observing ``w.selected`` shows them)."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator

import nbformat
import pytest

from ._pixels import changed_fraction, is_blank, shot
from ._servers import REPO, JupyterServer, start_voila
from ._widget_dom import PHOTO, WidgetDom

pytestmark = pytest.mark.browser

NOTEBOOK = "voila_app.ipynb"
GRIDS = ((8, 8), (16, 16))
CELLS = [
    f"import sys\nsys.path.insert(0, {str(REPO / 'tests' / 'browser')!r})\nimport _synthetic\nimport ipywidgets",
    f"w = _synthetic.synthetic_widget(n_images=2, grids={GRIDS!r})\nw",
    # The selection as the kernel sees it, shown in the page.
    "echo = ipywidgets.Label('kernel selected: []')\n"
    "w.observe(lambda change: setattr(echo, 'value', f\"kernel selected: {change['new']}\"), 'selected')\n"
    "echo",
]
MIN_CHANGE = 0.02


@pytest.fixture(scope="module")
def voila(chromium, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    tmp = tmp_path_factory.mktemp("voila")
    root = tmp / "root"
    root.mkdir()
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in CELLS]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, root / NOTEBOOK)
    server = start_voila(tmp, NOTEBOOK)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def python_widget():
    """The same synthetic result in this process: its layout and similarity are the page's."""
    sys.path.insert(0, str(REPO / "tests" / "browser"))
    try:
        import _synthetic
    finally:
        sys.path.pop(0)
    return _synthetic.synthetic_widget(n_images=2, grids=GRIDS)


def _wait_for_widget(page, server: JupyterServer, timeout: float = 180.0):
    """The widget's root once Voila rendered it; on failure, the page's tracebacks and Voila's log."""
    root = page.locator(".ncut").first
    deadline = time.monotonic() + timeout
    while not root.is_visible():
        errors = page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr'], .jp-RenderedText[data-mime-type='application/vnd.jupyter.error']")
        texts = [t for t in errors.all_inner_texts() if "Error" in t or "Traceback" in t]
        if texts or time.monotonic() > deadline:
            raise AssertionError(
                f"no widget in the Voila page after {timeout} s; cell errors: {texts[-1][-3000:] if texts else 'none'}\n"
                f"page text: {page.inner_text('body')[-1500:]}\nvoila log:\n{server.log.read_text()[-3000:]}"
            )
        time.sleep(0.5)
    return root


def test_voila_renders_the_widget_and_a_click_highlights_and_reaches_the_kernel(voila, python_widget, open_page) -> None:
    page, log = open_page(voila.url(""), timeout_ms=120_000)
    meta = python_widget.meta
    dom = WidgetDom(_wait_for_widget(page, voila), meta)
    dom.wait_drawn(timeout=120)
    assert not is_blank(shot(dom.view3d())), "the 3D view shows only its background"
    echo = page.get_by_text(re.compile(r"^kernel selected: "))
    echo.wait_for()
    assert echo.inner_text() == "kernel selected: []"

    r = meta["resolutions"][1]
    others = dom.others(1)
    before = dom.shots(others)
    node = dom.click_patch(1, 1, r["h"] // 3, r["w"] // 3, on=PHOTO)

    dom.root.locator(".ncut-summary", has_text="1 selected").wait_for(timeout=15_000)
    assert dom.selected() == [node], f"data-selected {dom.selected()} after clicking node {node}"
    deadline = time.monotonic() + 15
    while True:
        changes = [changed_fraction(b, a) for b, a in zip(before, dom.shots(others), strict=True)]
        if max(changes) > MIN_CHANGE or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert max(changes) > MIN_CHANGE, f"clicking image 1 changed no pixels of image 0: {changes}"
    # The browser highlights what Python's similarity() puts at or above the threshold.
    expected = int((python_widget.similarity([node]) >= python_widget.threshold).sum())
    match = re.search(r"([\d,]+) of [\d,]+ nodes", dom.summary())
    assert match, f"no highlight count in {dom.summary()!r}"
    assert abs(int(match.group(1).replace(",", "")) - expected) <= 1, f"browser {dom.summary()!r}, python {expected}"
    # The click reached the kernel: the observer updated the label.
    page.get_by_text(f"kernel selected: [{node}]", exact=True).wait_for(timeout=30_000)
    assert log.page_errors == [], f"page errors in Voila: {log.page_errors}"
