"""marimo: the widget in ``mo.ui.anywidget``, served by ``marimo run``; clicks highlight and reach Python.

How marimo hosts it (marimo 0.25): opening the widget's comm strips ``_esm`` (anywidget turns our
``pathlib.Path`` into file contents) from the state and serves it as a virtual file
(``/@file/<size>-<hash>.js``) the page imports; ``_css`` stays in the state and lands in the
``<marimo-anywidget>`` shadow root as an adopted style sheet; the binary ``payload`` trait travels
as a buffer of the open (or a later update) message and reaches the front end as a DataView. A
front-end change (a click writes ``selected``) calls ``widget.set_state`` and re-runs the cells
that read the element's value; a Python-side trait change goes to the page as an update.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator

import pytest

from ._pixels import changed_fraction, is_blank, shot
from ._servers import REPO, JupyterServer, start_marimo
from ._widget_dom import WidgetDom, node_id

pytestmark = pytest.mark.browser

GRIDS = ((8, 8), (16, 16))
MIN_CHANGE = 0.02

SYNTHETIC_APP = '''
import marimo

app = marimo.App()


@app.cell
def _():
    import sys

    sys.path.insert(0, {helpers!r})
    import _synthetic
    import marimo as mo

    w = _synthetic.synthetic_widget(n_images=2, grids={grids!r})
    view = mo.ui.anywidget(w)
    view
    return mo, view, w


@app.cell
def _(mo, view):
    mo.md(f"python selected: {{view.value['selected']}}")
    return


@app.cell
def _(mo, w):
    def select_from_python(_):
        w.selected = [{target}]
        return 1

    pick = mo.ui.button(label="Select from Python", on_click=select_from_python)
    pick
    return


if __name__ == "__main__":
    app.run()
'''

# explore() returns at once and computes in a thread: its payload reaches the page as a later update.
EXPLORE_APP = '''
import marimo

app = marimo.App()


@app.cell
def _():
    import marimo as mo
    import torch

    torch.set_num_threads(1)
    from ncut_widget import explore, sample_images

    w = explore(sample_images()[:2], resolutions=(112,))
    view = mo.ui.anywidget(w)
    payload_at_display = len(w.payload)
    view
    return mo, payload_at_display, view, w


@app.cell
def _(mo, payload_at_display):
    mo.md(f"payload bytes at display: {{payload_at_display}}")
    return


@app.cell
def _(mo, view):
    mo.md(f"python selected: {{view.value['selected']}}")
    return


if __name__ == "__main__":
    app.run()
'''


def _synthetic_widget():
    """The app's synthetic result, built here too: same layout and similarity as the page's."""
    sys.path.insert(0, str(REPO / "tests" / "browser"))
    try:
        import _synthetic
    finally:
        sys.path.pop(0)
    return _synthetic.synthetic_widget(n_images=2, grids=GRIDS)


@pytest.fixture(scope="module")
def python_widget():
    return _synthetic_widget()


@pytest.fixture
def marimo_app(chromium, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], JupyterServer]]:
    """``marimo_app(source)`` -> a running ``marimo run`` server for that app; stopped after the test."""
    servers = []

    def start(source: str) -> JupyterServer:
        tmp = tmp_path_factory.mktemp("marimo")
        (tmp / "root").mkdir()
        (tmp / "root" / "app.py").write_text(source)
        servers.append(start_marimo(tmp, "app.py"))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def _fail(page, server: JupyterServer, what: str) -> AssertionError:
    return AssertionError(f"{what}\npage text: {page.inner_text('body')[-2000:]}\nmarimo log:\n{server.log.read_text()[-3000:]}")


def _wait_for_widget(page, server: JupyterServer, timeout: float = 240.0):
    """The widget's root (inside the <marimo-anywidget> shadow root) once shown; fail at once when
    a cell fails (``.marimo-cell.has-error``), with the page's text (the cell's traceback) and the
    server log."""
    root = page.locator("marimo-anywidget .ncut").first
    deadline = time.monotonic() + timeout
    while not root.is_visible():
        if page.locator(".marimo-cell.has-error").count() or time.monotonic() > deadline:
            raise _fail(page, server, f"no widget in the marimo app after {timeout} s (or a cell failed)")
        time.sleep(0.5)
    return root


def _python_text(page, server: JupyterServer, expected: str, timeout: float = 30.0) -> None:
    line = page.get_by_text(expected, exact=True)
    try:
        line.wait_for(timeout=timeout * 1000)
    except Exception:
        raise _fail(page, server, f"the app never showed {expected!r}") from None


def _wait_changed(dom: WidgetDom, cells: list, before: list, timeout: float = 15.0) -> list[float]:
    deadline = time.monotonic() + timeout
    while True:
        changes = [changed_fraction(b, a) for b, a in zip(before, dom.shots(cells), strict=True)]
        if max(changes) > MIN_CHANGE or time.monotonic() > deadline:
            return changes
        time.sleep(0.2)


def _highlighted(summary: str) -> int:
    match = re.search(r"([\d,]+) of [\d,]+ nodes", summary)
    assert match, f"no highlight count in the summary {summary!r}"
    return int(match.group(1).replace(",", ""))


def test_marimo_click_highlights_and_reaches_python_and_back(marimo_app, python_widget, open_page) -> None:
    meta = python_widget.meta
    target = node_id(meta, 1, 1, 12, 3)  # image 1, finest grid: what the Python button selects
    server = marimo_app(SYNTHETIC_APP.format(helpers=str(REPO / "tests" / "browser"), grids=GRIDS, target=target))
    page, log = open_page(server.url(""), timeout_ms=120_000)
    dom = WidgetDom(_wait_for_widget(page, server), meta)
    dom.wait_drawn(timeout=120)
    assert not is_blank(shot(dom.view3d())), "the 3D view shows only its background"
    _python_text(page, server, "python selected: []")

    # Browser -> Python: a click on a patch of image 0 highlights image 1 and reaches w.selected.
    r = meta["resolutions"][0]
    others = dom.others(0)
    before = dom.shots(others)
    node = dom.click_patch(0, 0, r["h"] // 2, r["w"] // 3)
    dom.root.locator(".ncut-summary", has_text="1 selected").wait_for(timeout=15_000)
    assert dom.selected() == [node], f"data-selected {dom.selected()} after clicking node {node}"
    changes = _wait_changed(dom, others, before)
    assert max(changes) > MIN_CHANGE, f"clicking image 0 changed no pixels of image 1: {changes}"
    expected = int((python_widget.similarity([node]) >= python_widget.threshold).sum())
    assert abs(_highlighted(dom.summary()) - expected) <= 1, f"browser {dom.summary()!r}, python {expected}"
    _python_text(page, server, f"python selected: [{node}]")

    # Python -> browser: a button's handler sets w.selected in the app's kernel.
    others = dom.others(1)
    before = dom.shots(others)
    page.get_by_role("button", name="Select from Python").click()
    try:
        page.wait_for_function(
            "t => { const h = document.querySelector('marimo-anywidget');"
            " const r = h && h.shadowRoot && h.shadowRoot.querySelector('.ncut');"
            " return r && r.dataset.selected === String(t); }",
            arg=target, timeout=30_000,
        )
    except Exception:
        raise _fail(page, server, f"w.selected = [{target}] in Python left data-selected at {dom.selected()}") from None
    changes = _wait_changed(dom, others, before)
    assert max(changes) > MIN_CHANGE, f"selecting node {target} of image 1 from Python changed no pixels of image 0: {changes}"
    assert log.page_errors == [], f"page errors in marimo: {log.page_errors}"


def test_marimo_explore_results_arrive_after_display(marimo_app, open_page) -> None:
    """explore() shows progress first; its payload arrives later from its thread, as an update."""
    server = marimo_app(EXPLORE_APP.format())
    page, log = open_page(server.url(""), timeout_ms=120_000)
    root = _wait_for_widget(page, server)
    _python_text(page, server, "payload bytes at display: 0", timeout=60)
    # 2 sample photos at 112 px: one 8 x 8 grid each (the offline ViT-S/14).
    layout = {"images": [{}, {}], "resolutions": [{"h": 8, "w": 8, "offset": 0}]}
    dom = WidgetDom(root, layout)
    dom.wait_drawn(timeout=300)
    assert dom.root.locator(".ncut-summary").inner_text().startswith("128 nodes"), dom.summary()

    others = dom.others(1)
    before = dom.shots(others)
    node = dom.click_patch(0, 1, 3, 4)
    dom.root.locator(".ncut-summary", has_text="1 selected").wait_for(timeout=15_000)
    assert dom.selected() == [node]
    changes = _wait_changed(dom, others, before)
    assert max(changes) > MIN_CHANGE, f"clicking image 1 changed no pixels of image 0: {changes}"
    _python_text(page, server, f"python selected: [{node}]")
    assert log.page_errors == [], f"page errors in marimo: {log.page_errors}"

