"""Click -> similarity -> repaint time of the widget in headless Chromium, at 25,600 and 1,000,000 nodes.

Builds synthetic pages with js/dev/make_fixture.mjs (run `npm run build` first), clicks patches in the
image grid and times, in the page: the synchronous part (store -> similarity -> view updates), the
frame that repaints the grid and the 3D view, and the start of the frame after it. WebGL runs on
SwiftShader (CPU) here, so the 3D part is slower than on a GPU.

Usage: .venv/bin/python benchmarks/widget_click.py [--sizes 25600,1000000]
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "out"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--enable-unsafe-swiftshader"]
# nodes -> (images, grid sides): 20 * (16^2 + 32^2) = 25,600; 100 * 100^2 = 1,000,000.
LAYOUTS = {25_600: (20, "16,32"), 1_000_000: (100, "100")}
K = 30

MEASURE = """async ([cellIndex, fx, fy]) => {
  const cell = document.querySelectorAll('.ncut-cell')[cellIndex];
  const r = cell.getBoundingClientRect();
  const frame = () => new Promise((res) => requestAnimationFrame(() => res(performance.now())));
  await frame();
  const t0 = performance.now();
  const painted = frame();  // queued after the views' own frame callbacks
  cell.dispatchEvent(new MouseEvent('click', {bubbles: true, clientX: r.left + fx * r.width,
                                              clientY: r.top + fy * r.height}));
  const t1 = performance.now();
  const t2 = await painted;
  const t3 = await frame();
  return [t1 - t0, t2 - t0, t3 - t0];
}"""


def bench(page_path: Path, n_clicks: int = 8) -> dict[str, float]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(page_path.as_uri())
        page.wait_for_selector(".ncut-cell:not(.ncut-loading)", timeout=300_000)
        page.wait_for_timeout(1500)
        n_images = page.locator(".ncut-colname").count()
        rows = []
        for i in range(n_clicks + 1):
            cell = n_images + (i % n_images)  # first resolution row
            rows.append(page.evaluate(MEASURE, [cell, 0.15 + 0.7 * (i % 5) / 4, 0.3 + 0.1 * (i % 3)]))
        browser.close()
    rows = rows[1:]  # the first click also builds the n_eig_view cache
    return {name: statistics.median(r[j] for r in rows) for j, name in enumerate(["sync", "painted", "next_frame"])}


def main() -> None:
    sizes = [25_600, 1_000_000]
    if "--sizes" in sys.argv:
        sizes = [int(s) for s in sys.argv[sys.argv.index("--sizes") + 1].split(",")]
    OUT.mkdir(parents=True, exist_ok=True)
    for n in sizes:
        images, res = LAYOUTS[n]
        page = OUT / f"click_{n}.html"
        subprocess.run(["node", "js/dev/make_fixture.mjs", "--images", str(images), "--res", res, "--k", str(K),
                        "--out", str(page)], cwd=ROOT, check=True)
        t = bench(page)
        print(f"{n:>9,} nodes, k={K}: similarity+view updates {t['sync']:.1f} ms, "
              f"repainted frame {t['painted']:.1f} ms, next frame {t['next_frame']:.1f} ms (medians)")


if __name__ == "__main__":
    main()
