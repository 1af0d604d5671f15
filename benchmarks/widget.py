"""Click -> highlight time and state size of the exported widget page, in headless Chromium.

Not a test: prints medians. Goals (issues): click -> highlight < 16 ms at 25,600 nodes and <= 40 ms
at 1,000,000 nodes (similarity <= 10 ms there), with the 3D view still orbiting, and a few tens of
bytes per node; timed in three scenarios: Similarity mode, Segments mode (a click selects a whole
segment) and an Alt-click adding a negative to a selection.

Each size builds a synthetic-but-structured result (images made of segments shared across images,
eigenvectors and 3D positions clustered by segment, so highlights look like real ones), wraps it in
NcutWidget.from_results, saves the self-contained page and opens it from file://. In the page, a click
event is dispatched on a colormap cell and timed with performance.now():
  similarity  the synchronous part (store.pick -> similarity over every node),
  work        similarity + the time from the start of the next animation frame (or the end of the
              click handler, if the frame began during it) to our
              requestAnimationFrame callback, queued after the views' draw callbacks: the highlight's
              own cost, without the idle wait for the frame boundary,
  drawn       click -> that callback, including the wait for the frame boundary,
  next frame  one frame later (the highlighted frame has been handed to the compositor; with
              SwiftShader this includes rasterizing the WebGL points on the CPU).

Run: .venv/bin/python benchmarks/widget.py [--sizes 25600 1000000] [--clicks 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from machine import cpu_description
from PIL import Image

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-unsafe-swiftshader",
]
# node count -> (n_images, grid per resolution); 10 * (16² + 48²) = 25,600; 16 * (112² + 224²) ≈ 1.0M.
LAYOUTS = {
    25_600: (10, [(16, 16), (48, 48)]),
    1_000_000: (16, [(112, 112), (224, 224)]),
}
N_CLASSES = 12
K = 30

# mode "click": a plain click (one node, or in Segments mode its whole segment); mode "negative":
# a plain click on a fixed patch first (untimed), then the timed Alt-click marks a negative.
_CLICK_JS = """async ({cell, clicks, mode}) => {
  const canvas = document.querySelectorAll('.ncut-grid canvas.ncut-cell')[cell];
  const frame = () => new Promise((resolve) => requestAnimationFrame(resolve));
  const at = (fx, fy, alt) => {
    const rect = canvas.getBoundingClientRect();
    return new MouseEvent('click', {clientX: rect.left + fx * rect.width, clientY: rect.top + fy * rect.height,
                                    bubbles: true, button: 0, altKey: alt});
  };
  const out = [];
  for (let i = 0; i < clicks; i++) {
    if (mode === 'negative') canvas.dispatchEvent(at(0.5, 0.5, false));
    await frame(); await frame();  // let the previous highlight settle
    const event = at((i * 0.37) % 1, (i * 0.61 + 0.2) % 1, mode === 'negative');
    const t0 = performance.now();
    canvas.dispatchEvent(event);
    const tSim = performance.now();
    const frameStart = await frame();  // the rAF timestamp: when this frame's callbacks began
    const tDrawn = performance.now();
    await frame();
    // A frame that began during the click handler must not count that overlap twice.
    out.push([tSim - t0, tSim - t0 + (tDrawn - Math.max(frameStart, tSim)), tDrawn - t0, performance.now() - t0]);
  }
  return out;
}"""

# What each timed scenario sets before saving the page, and the click mode it times.
SCENARIOS = {
    "similarity": ({"color_mode": "similarity"}, "click"),
    "segments": ({"color_mode": "segments", "k": 6}, "click"),
    "negative": ({"color_mode": "similarity"}, "negative"),
}

_TWO_FRAMES_JS = """() => new Promise((resolve) =>
  requestAnimationFrame(() => requestAnimationFrame(() => resolve(performance.now()))))"""


def synthetic_widget(n_images: int, grids: list[tuple[int, int]], seed: int = 0):
    """A structured NcutWidget: each image a Voronoi map of segments drawn from N_CLASSES classes."""
    from ncut_widget import MultiResFeatures, NcutWidget

    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(N_CLASSES, K)).astype(np.float32)
    centers3 = rng.normal(size=(N_CLASSES, 3)).astype(np.float32) * 3
    seeds = rng.random((n_images, 8, 2))
    seed_class = rng.integers(0, N_CLASSES, size=(n_images, 8))

    def labels(h: int, w: int) -> np.ndarray:  # (n_images, h, w) class of each patch
        yy, xx = np.meshgrid((np.arange(h) + 0.5) / h, (np.arange(w) + 0.5) / w, indexing="ij")
        pts = np.stack([yy, xx], -1).reshape(1, -1, 1, 2)
        nearest = ((pts - seeds[:, None]) ** 2).sum(-1).argmin(-1)  # (n_images, h*w)
        return np.take_along_axis(seed_class, nearest, 1).reshape(n_images, h, w)

    per_res = [labels(h, w).reshape(-1) for h, w in grids]
    cls = np.concatenate(per_res)
    n = cls.size
    eig = centers[cls] + rng.normal(scale=0.6, size=(n, K)).astype(np.float32)
    xyz = centers3[cls] + rng.normal(scale=0.5, size=(n, 3)).astype(np.float32)
    rgb = (xyz - xyz.min(0)) / np.ptp(xyz, 0)
    palette = (rng.random((N_CLASSES, 3)) * 255).astype(np.uint8)
    photos = [Image.fromarray(palette[labels(224, 224)[i]]) for i in range(n_images)]
    feats = MultiResFeatures.from_grids(
        [np.zeros((n_images, h, w, 1), np.float32) for h, w in grids], images=photos
    )
    return NcutWidget.from_results(feats, eig, xyz, rgb)


def _median(values: list[float]) -> float:
    return statistics.median(values)


def bench_size(browser, n_target: int, clicks: int, out_dir: Path, scenarios: list[str]) -> None:
    n_images, grids = LAYOUTS[n_target]
    t = time.perf_counter()
    w = synthetic_widget(n_images, grids)
    n = w.meta["n_nodes"]
    build_s = time.perf_counter() - t
    arrays = w.meta["arrays"]
    per_node = sum(np.prod(a["shape"]) * (2 if a["dtype"] == "uint16" else 1) for a in arrays.values()) / n
    print(f"\n== {n:,} nodes ({n_images} images, grids {grids}, k={w.meta['k']}, "
          f"segment ladder {w.meta['segments']['ks']}); built in {build_s:.1f} s")
    print(f"state: {per_node:.1f} bytes/node in arrays, payload {w.meta['total_bytes'] / n:.1f} bytes/node "
          f"(with thumbnails)")
    for i, name in enumerate(scenarios):
        traits, mode = SCENARIOS[name]
        for trait, value in traits.items():
            setattr(w, trait, value)
        page_path = w.save_html(out_dir / f"widget-{n_target}-{name}.html")
        if i == 0:
            print(f"page {page_path.stat().st_size / n:.1f} bytes/node (base64 + bundle)")
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
        t = time.perf_counter()
        page.goto(page_path.as_uri(), timeout=300_000)
        page.wait_for_selector(".ncut-grid canvas.ncut-cell:not(.ncut-loading)", timeout=300_000)
        page.evaluate(_TWO_FRAMES_JS)
        load_s = time.perf_counter() - t
        # A colormap cell of the finest resolution of image 0 (row 1 + last resolution).
        cell = len(grids) * n_images
        rows = page.evaluate(_CLICK_JS, {"cell": cell, "clicks": clicks, "mode": mode})
        sim, work, drawn, nxt = (list(col) for col in zip(*rows, strict=True))
        selected = page.evaluate("() => (document.querySelector('.ncut').dataset.selected || '').split(',').length")
        print(f"-- {name}: {mode} in {traits['color_mode']} mode (page load -> first draw {load_s:.1f} s; "
              f"last selection {selected:,} nodes)")
        print(f"   click -> highlight work (similarity + views' draw in the frame): median {_median(work):.1f} ms, "
              f"of which the click handler (similarity) {_median(sim):.1f} ms  [{clicks} clicks]")
        print(f"   drawn incl. waiting for the frame: median {_median(drawn):.1f} ms; "
              f"next frame: median {_median(nxt):.1f} ms")
        print(f"   work per click (ms): {' '.join(f'{v:.1f}' for v in work)}")
        if i == 0:
            bench_orbit(page)
        if errors:
            print(f"   PAGE ERRORS: {errors}")
        page.close()


def bench_orbit(page, steps: int = 12) -> None:
    """Drag across the 3D view with the real mouse; per step, time from the move to the frame after
    the next one (OrbitControls re-renders on its change event, inside the next frame)."""
    canvas = page.locator(".ncut-3d canvas")
    box = canvas.bounding_box()
    before = canvas.screenshot()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx, cy)
    page.mouse.down()
    times = []
    for i in range(1, steps + 1):
        t0 = page.evaluate("performance.now()")
        page.mouse.move(cx + i * 8, cy + i * 3)
        times.append(page.evaluate(_TWO_FRAMES_JS) - t0)
    page.mouse.up()
    orbited = before != canvas.screenshot()
    print(f"orbit drag: median {statistics.median(times):.0f} ms per step (move -> 2 frames, "
          f"includes ~2 CDP round trips), worst {max(times):.0f} ms over {steps} steps; view moved: {orbited}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=sorted(LAYOUTS), choices=sorted(LAYOUTS))
    parser.add_argument("--clicks", type=int, default=15)
    parser.add_argument("--scenarios", nargs="+", default=list(SCENARIOS), choices=list(SCENARIOS))
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: install chromium to run this benchmark", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # The page's work runs on the CPU (JavaScript, and SwiftShader's software WebGL).
        print(f"{time.strftime('%Y-%m-%d %H:%M')}  CPU: {cpu_description()}  Chromium {browser.version} "
              "(SwiftShader WebGL)", flush=True)
        for n in args.sizes:
            bench_size(browser, n, args.clicks, Path(tmp), args.scenarios)
        browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
