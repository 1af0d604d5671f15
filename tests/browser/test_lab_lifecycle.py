"""JupyterLab 4 over a widget's life: many widgets on one page, a lost WebGL context, theme switches,
a kernel restart, two displays of one widget, and a grid of ten photos.

Every notebook here builds its widgets with ``NcutWidget.from_results`` on random features (a few
hundred nodes, noise photos): SwiftShader draws them quickly and nothing needs a model. Each test
shuts its kernel down when it ends.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator

import numpy as np
import pytest
from playwright.sync_api import Locator, Page

from ._kernel import KernelProbe
from ._lab import forget_workspace
from ._notebook import run_notebook, wait_for_output
from ._pixels import changed_fraction, is_blank, shot
from ._widget_dom import PHOTO, WidgetDom, node_id

pytestmark = pytest.mark.browser

SETUP = '''
import numpy as np
from PIL import Image
from ncut_widget import MultiResFeatures, NcutWidget

def tiny(n_images=2, sides=(4, 8), seed=0, k=12, photo=(64, 48)):
    """from_results on random features: n_images * sum(s * s) nodes, noise photos of photo=(W, H)."""
    rng = np.random.default_rng(seed)
    grids = [np.zeros((n_images, s, s, 1), np.float32) for s in sides]
    photos = [Image.fromarray(rng.integers(0, 256, (photo[1], photo[0], 3), dtype=np.uint8)) for _ in range(n_images)]
    features = MultiResFeatures.from_grids(grids, images=photos)
    n = features.n_nodes
    f32 = np.float32
    return NcutWidget.from_results(
        features, rng.normal(size=(n, k)).astype(f32), rng.normal(size=(n, 3)).astype(f32), rng.random((n, 3)).astype(f32)
    )
'''
ROOTS = ".jp-OutputArea-output .ncut"
MIN_CHANGE = 0.002  # share of a 3D view's pixels that must change for "it drew something new"

# Records every WebGL context the page creates, whoever creates it.
TRACK_WEBGL = """() => {
  const contexts = (window.__testGL = []);
  const getContext = HTMLCanvasElement.prototype.getContext;
  HTMLCanvasElement.prototype.getContext = function (type, ...rest) {
    const ctx = getContext.call(this, type, ...rest);
    if (ctx && /webgl/.test(type) && !contexts.includes(ctx)) contexts.push(ctx);
    return ctx;
  };
}"""
# Loses every live context as a GPU reset would (remembering them); RESTORE_WEBGL gives them back.
LOSE_WEBGL = """() => {
  window.__testLost = window.__testGL.filter((gl) => !gl.isContextLost()).map((gl) => [gl, gl.getExtension("WEBGL_lose_context")]);
  for (const [, ext] of window.__testLost) ext.loseContext();
  return window.__testLost.length;
}"""
RESTORE_WEBGL = "() => { for (const [, ext] of window.__testLost) ext.restoreContext(); }"
LIVE_WEBGL = "() => window.__testGL.filter((gl) => !gl.isContextLost()).length"


# --- helpers --------------------------------------------------------------------------------------
def _close(page: Page) -> None:
    """Shut the notebook's kernel down (each test starts its own) and close the page."""
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()")
    page.close()


def _wait_count(locator: Locator, n: int, log, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while locator.count() < n:
        if time.monotonic() > deadline:
            raise AssertionError(
                f"only {locator.count()} of {n} widgets appeared after {timeout} s; page errors: "
                f"{log.page_errors}, console errors: {log.console_errors}"
            )
        time.sleep(0.5)


def _wait_not_blank(view: Locator, what: str, timeout: float = 60.0) -> np.ndarray:
    deadline = time.monotonic() + timeout
    while is_blank(image := shot(view)):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} still shows one flat colour after {timeout} s")
        time.sleep(0.3)
    return image


def _wait_changed(view: Locator, before: np.ndarray, what: str, timeout: float = 30.0) -> np.ndarray:
    deadline = time.monotonic() + timeout
    while changed_fraction(before, after := shot(view)) <= MIN_CHANGE:
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not change in {timeout} s")
        time.sleep(0.3)
    return after


def _click_cell_center(root: Locator, res: int, image: int) -> None:
    cell = root.locator(f'canvas.ncut-cell[data-res="{res}"][data-image="{image}"]')
    cell.scroll_into_view_if_needed()
    box = cell.bounding_box()
    assert box is not None
    root.page.mouse.click(round(box["x"] + box["width"] / 2), round(box["y"] + box["height"] / 2))


def _distinct_colours(image: np.ndarray) -> int:
    return len(np.unique((image.reshape(-1, 3) // 8).astype(np.int32) @ np.array([1024, 32, 1])))


def _assert_cells_show_patches(dom: WidgetDom, when: str) -> None:
    """Every cell has a real backing store and shows its patches (or its noise photo), not one colour."""
    for res in range(PHOTO, len(dom.meta["resolutions"])):
        for image in range(dom.n_images):
            cell = dom.cell(res, image)
            width, height = cell.evaluate("(c) => [c.width, c.height]")
            assert width > 1 and height > 1, f"{when}: cell (res {res}, image {image}) is {width}x{height} pixels"
            colours = _distinct_colours(shot(cell))
            assert colours >= 8, f"{when}: cell (res {res}, image {image}) shows {colours} colours"


def _theme(page: Page, name: str) -> None:
    """Switch JupyterLab's theme and wait until the page has it (JupyterLab marks it on <body>)."""
    light = "true" if name == "JupyterLab Light" else "false"
    page.evaluate(f"() => window.jupyterapp.commands.execute('apputils:change-theme', {{theme: {name!r}}})")
    page.wait_for_function(f"() => document.body.dataset.jpThemeLight === '{light}'")
    page.wait_for_timeout(500)  # the theme's CSS applies, then one frame with the shell hidden


def _luminance(rgb: np.ndarray) -> np.ndarray:
    """WCAG relative luminance of sRGB bytes (last axis: r, g, b)."""
    c = rgb.astype(np.float64) / 255
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4) @ np.array([0.2126, 0.7152, 0.0722])


def _visible_fraction(view: Locator) -> float:
    """Share of a 3D view's pixels that stand out from its background (WCAG contrast >= 1.5)."""
    pixels = shot(view).reshape(-1, 3)
    values, counts = np.unique(pixels, axis=0, return_counts=True)
    lum, bg = _luminance(pixels), float(_luminance(values[counts.argmax()]))
    ratio = (np.maximum(lum, bg) + 0.05) / (np.minimum(lum, bg) + 0.05)
    return float((ratio >= 1.5).mean())


@pytest.fixture
def notebook(lab_server, open_page) -> Iterator[Callable[..., tuple]]:
    """``notebook(name, cells, before_run=None)`` -> (page, log) of a fresh JupyterLab page with only
    that notebook open; its kernel is shut down and the page closed after the test."""
    pages = []

    def open_(name: str, cells: list[str], before_run: Callable[[Page], None] | None = None) -> tuple:
        forget_workspace(lab_server)
        page, log = run_notebook(open_page, lab_server, name, [SETUP, *cells], before_run)
        pages.append(page)
        return page, log

    yield open_
    for page in pages:
        _close(page)
    forget_workspace(lab_server)


# --- many widgets, one WebGL context --------------------------------------------------------------
N_WIDGETS = 20


def test_twenty_widgets_draw_with_one_webgl_context_that_survives_loss(notebook) -> None:
    console: list[str] = []

    def instrument(page: Page) -> None:
        page.evaluate(TRACK_WEBGL)
        page.on("console", lambda msg: console.append(msg.text))

    page, log = notebook(
        "many.ipynb", [f"ws = [tiny(2, seed=i) for i in range({N_WIDGETS})]\nfor w in ws:\n    display(w)"], instrument
    )
    roots = page.locator(ROOTS)
    _wait_count(roots, N_WIDGETS, log)
    views = [roots.nth(i).locator(".ncut-3d canvas") for i in range(N_WIDGETS)]
    for i, view in enumerate(views):
        _wait_not_blank(view, f"the 3D view of widget {i}")
    # The browser keeps ~16 live contexts: one per view would have dropped the oldest views.
    assert page.evaluate(LIVE_WEBGL) == 1, "the 3D views should share one WebGL context"
    # Every widget evaluates its own bundle; none of them may warn about three.js copies.
    warnings = [text for text in console if "Multiple instances of Three.js" in text]
    assert warnings == [], f"{len(warnings)} three.js warnings with {N_WIDGETS} widgets"

    # A GPU reset: the context is lost, then restored; the views draw again, clicks show in 3D.
    first, last = views[0], views[-1]
    assert page.evaluate(LOSE_WEBGL) == 1
    page.wait_for_function("() => window.__testLost.every(([gl]) => gl.isContextLost())")
    page.evaluate(RESTORE_WEBGL)
    page.wait_for_function("() => window.__testLost.every(([gl]) => !gl.isContextLost())")
    before = _wait_not_blank(first, "widget 0's 3D view after the context came back")
    _click_cell_center(roots.nth(0), 0, 1)
    assert not is_blank(_wait_changed(first, before, "widget 0's 3D view after a click"))

    # A loss the browser never restores: a new context takes over and the views keep drawing.
    page.evaluate(LOSE_WEBGL)
    page.wait_for_function("() => window.__testLost.every(([gl]) => gl.isContextLost())")
    before = shot(last)
    _click_cell_center(roots.nth(N_WIDGETS - 1), 1, 0)
    _wait_changed(last, before, "the last widget's 3D view after a click with its context lost for good")
    assert page.evaluate(LIVE_WEBGL) == 1
    for i, view in enumerate(views):
        _wait_not_blank(view, f"the 3D view of widget {i} on the new context")
    assert log.errors_since_run() == [], f"page errors: {log.errors_since_run()}"


# --- theme switches -------------------------------------------------------------------------------
def _meta_and_dom(page: Page, lab_server, name: str, nth: int = 0) -> tuple[KernelProbe, WidgetDom]:
    wait_for_output(page, ".ncut")
    probe = KernelProbe(lab_server, name)
    dom = WidgetDom(page.locator(ROOTS).nth(nth), probe.eval("w.meta"))
    dom.wait_drawn()
    return probe, dom


def test_grid_cells_keep_their_patches_through_theme_switches(notebook, lab_server) -> None:
    page, log = notebook("theme.ipynb", ["w = tiny(3)\nw"])
    probe, dom = _meta_and_dom(page, lab_server, "theme.ipynb")
    try:
        # JupyterLab's theme switch hides its whole shell for one frame once the new CSS is in; a
        # redraw pending then (here: a click's) used to size every canvas from that 0-size layout,
        # leaving 1x1 canvases, one flat colour each. Reproduced deterministically:
        page.evaluate(
            """() => new Promise((resolve) => {
              const cell = document.querySelector('.ncut-cell[data-res="0"][data-image="1"]');
              const r = cell.getBoundingClientRect();
              const at = { bubbles: true, clientX: r.left + 3, clientY: r.top + 3, button: 0, isPrimary: true, pointerId: 1 };
              cell.dispatchEvent(new PointerEvent("pointerdown", at));
              cell.dispatchEvent(new PointerEvent("pointerup", at));
              cell.dispatchEvent(new MouseEvent("click", at));
              const shell = window.jupyterapp.shell;
              shell.hide();
              requestAnimationFrame(() => { shell.show(); requestAnimationFrame(() => requestAnimationFrame(resolve)); });
            })"""
        )
        dom.root.locator(".ncut-summary", has_text="1 selected").wait_for()
        page.wait_for_timeout(300)
        _assert_cells_show_patches(dom, "after a redraw while the shell was hidden")

        # The real thing, both ways, with the selection dimming the other patches: every cell keeps
        # its patches, and the dimmed ones are repainted for the new background.
        dimmed = dom.cell(0, 2)
        light = shot(dimmed)
        _theme(page, "JupyterLab Dark")
        _assert_cells_show_patches(dom, "in the dark theme")
        assert changed_fraction(light, shot(dimmed)) > 0.2, "the dimmed patches were not repainted for the dark theme"
        _theme(page, "JupyterLab Light")
        _assert_cells_show_patches(dom, "back in the light theme")
        assert log.errors_since_run() == [], f"page errors: {log.errors_since_run()}"
    finally:
        _theme(page, "JupyterLab Light")
        probe.close()


def test_similarity_mode_keeps_every_3d_point_visible_on_the_dark_theme(notebook, lab_server) -> None:
    page, log = notebook("dark.ipynb", ["w = tiny(3)\nw"])
    probe, dom = _meta_and_dom(page, lab_server, "dark.ipynb")
    view = dom.view3d()
    try:
        _theme(page, "JupyterLab Dark")
        page.wait_for_timeout(300)
        everything = _visible_fraction(view)  # RGB colours, nothing selected: every point drawn plainly
        assert everything > 0.002, f"the 3D view shows almost nothing in the dark theme ({everything:.4f})"
        dom.root.get_by_role("button", name="Similarity").click()
        probe.run("w.selected = [3]")
        dom.root.locator(".ncut-summary", has_text="1 selected").wait_for()
        page.wait_for_timeout(300)
        # Most points are below the threshold, dimmed (and drawn at 0.8x size, 0.64x the area): they
        # must still stand out from the background, not sink into it as near-black.
        shown = _visible_fraction(view)
        assert shown > 0.45 * everything, f"similarity mode shows {shown:.4f} of the view, plain RGB {everything:.4f}"
    finally:
        _theme(page, "JupyterLab Light")
        probe.close()


# --- kernel restart -------------------------------------------------------------------------------
def test_kernel_restart_marks_the_output_which_stays_browsable(notebook, lab_server) -> None:
    page, log = notebook("restart.ipynb", ["w = tiny(2)\nw"])
    probe, dom = _meta_and_dom(page, lab_server, "restart.ipynb")
    probe.close()
    banner = dom.root.locator(".ncut-banner")
    assert not banner.is_visible(), "a banner shows while the kernel is fine"

    # As the Restart Kernel command does once its dialog is accepted.
    page.evaluate("() => window.jupyterapp.shell.currentWidget.sessionContext.restartKernel()")
    banner.wait_for(state="visible", timeout=60_000)
    assert re.search(r"kernel restarted.*no longer connected.*re-run the cell", banner.inner_text(), re.S)
    assert dom.root.get_attribute("data-kernel") == "restarted"

    # Still browsable: similarity runs in the browser.
    r = dom.meta["resolutions"][1]
    others = dom.shots(dom.others(1))
    node = dom.click_patch(1, 1, r["h"] // 2, r["w"] // 2)
    dom.root.locator(".ncut-summary", has_text="1 selected").wait_for()
    assert dom.selected() == [node]
    after = dom.shots(dom.others(1))
    assert max(changed_fraction(b, a) for b, a in zip(others, after, strict=True)) > 0.02
    assert log.errors_since_run() == [], f"page errors after the restart: {log.errors_since_run()}"

    # Re-running the cells reconnects: a fresh output, no banner, clicks reach the new kernel.
    page.wait_for_function("() => window.jupyterapp.shell.currentWidget.sessionContext.kernelDisplayStatus === 'idle'")
    page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
    fresh = page.locator(f'{ROOTS}[data-kernel="connected"]')
    fresh.wait_for(timeout=120_000)
    probe = KernelProbe(lab_server, "restart.ipynb")
    try:
        dom = WidgetDom(fresh.first, probe.eval("w.meta"))
        dom.wait_drawn()
        assert not dom.root.locator(".ncut-banner").is_visible()
        node = dom.click_patch(0, 0, 1, 2)
        probe.wait_for("w.selected", lambda v: v == [node])
    finally:
        probe.close()


# --- two displays of one widget -------------------------------------------------------------------
def test_two_displays_of_one_widget_stay_linked_both_ways(notebook, lab_server) -> None:
    page, log = notebook("twice.ipynb", ["w = tiny(2)\ndisplay(w)\ndisplay(w)"])
    _wait_count(page.locator(ROOTS), 2, log, timeout=120)
    probe, one = _meta_and_dom(page, lab_server, "twice.ipynb", 0)
    two = WidgetDom(page.locator(ROOTS).nth(1), one.meta)
    two.wait_drawn()
    try:
        # Turn the first display's camera away from its initial pose.
        view = one.view3d()
        view.scroll_into_view_if_needed()
        box = view.bounding_box()
        start = shot(view)
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(cx, cy)
        page.mouse.down()
        page.mouse.move(cx + 80, cy + 30, steps=6)
        page.mouse.up()
        turned = _wait_changed(view, start, "the first display's 3D view after a drag")

        # A click in the second display: both displays and the kernel follow.
        r = one.meta["resolutions"][0]
        node = two.click_patch(0, 1, 1, 2)
        probe.wait_for("w.selected", lambda v: v == [node])
        for dom in (one, two):
            dom.root.locator(".ncut-summary", has_text="1 selected").wait_for()
            assert dom.selected() == [node]
        # A click in the first display too.
        node = one.click_patch(0, 0, r["h"] - 1, 0)
        probe.wait_for("w.selected", lambda v: v == [node])
        page.wait_for_function(
            f"() => [...document.querySelectorAll('{ROOTS}')].every((el) => el.dataset.selected === '{node}')"
        )
        # Python's selection reaches both.
        other = node_id(one.meta, 1, 1, 2, 3)
        probe.run(f"w.selected = [{other}]")
        page.wait_for_function(
            f"() => [...document.querySelectorAll('{ROOTS}')].every((el) => el.dataset.selected === '{other}')"
        )
        # Back to no selection: the first display looks as it did after the drag (same camera).
        probe.run("w.selected = []")
        for dom in (one, two):
            dom.root.locator(".ncut-summary", has_text="click a point or a patch").wait_for()
        page.wait_for_timeout(300)
        moved = changed_fraction(turned, shot(view))
        assert moved < MIN_CHANGE, f"the first display's camera moved ({moved:.4f} of its pixels changed)"
        # Each display's camera is its own: resetting the second one leaves the first as it is.
        two.root.get_by_role("button", name="Reset view").click()
        page.wait_for_timeout(300)
        moved = changed_fraction(turned, shot(view))
        assert moved < MIN_CHANGE, f"resetting the second display moved the first one's camera ({moved:.4f})"
        # The displays share one state in the browser (one decode, one similarity per click): a
        # view option set in one shows in the other.
        one.root.get_by_label("Blend photo").check()
        page.wait_for_function("(box) => box.checked", arg=two.root.get_by_label("Blend photo").element_handle())
        assert log.errors_since_run() == [], f"page errors: {log.errors_since_run()}"
    finally:
        probe.close()


# --- ten photos: the grid fits, hover and click agree ---------------------------------------------
def test_ten_photos_fit_the_pane_and_hover_names_what_a_click_picks(notebook, lab_server) -> None:
    # Portrait photos: tall cells, so two bands of 56 px cells do not fit the pane's height.
    page, log = notebook("ten.ipynb", ["w = tiny(10, sides=(8, 16), photo=(48, 64))\nw"])
    probe, dom = _meta_and_dom(page, lab_server, "ten.ipynb")
    try:
        pane = dom.root.locator(".ncut-grid-pane")
        sizes = pane.evaluate("(p) => [p.scrollWidth, p.clientWidth]")
        assert sizes[0] <= sizes[1], f"the grid is {sizes[0]} px wide in a {sizes[1]} px pane: it scrolls sideways"
        right = pane.evaluate("(p) => p.getBoundingClientRect().right")
        for image in range(dom.n_images):
            box = dom.cell(1, image).bounding_box()
            assert box["x"] + box["width"] <= right, f"image {image}'s cells stick out of the pane"

        # Hover a hair right of a column boundary that falls between two whole pixels: a click's
        # whole-pixel position lies left of it, but hover and click must name the same patch.
        res = 1
        r = dom.meta["resolutions"][res]
        cell = dom.cell(res, 3)
        cell.scroll_into_view_if_needed()
        box = cell.bounding_box()
        col = next(c for c in range(1, r["w"]) if 0.15 < (box["x"] + c / r["w"] * box["width"]) % 1 < 0.85)
        x = box["x"] + col / r["w"] * box["width"] + 0.1
        y = box["y"] + (r["h"] // 2 + 0.5) / r["h"] * box["height"]
        page.mouse.move(x, y)
        tooltip = dom.root.locator(".ncut-grid-pane .ncut-tooltip")
        tooltip.wait_for(state="visible")
        hovered = re.search(r"row ([\d,]+), col ([\d,]+)", tooltip.inner_text())
        assert hovered, f"no row/col in the tooltip {tooltip.inner_text()!r}"
        assert int(hovered.group(2)) == col, f"hovering right of column {col}'s left edge names col {hovered.group(2)}"
        page.mouse.down()
        page.mouse.up()
        expected = node_id(dom.meta, res, 3, int(hovered.group(1)), col)
        probe.wait_for("w.selected", lambda v: v == [expected])
        assert dom.selected() == [expected]
        assert log.errors_since_run() == [], f"page errors: {log.errors_since_run()}"
    finally:
        probe.close()
