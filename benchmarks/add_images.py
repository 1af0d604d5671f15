"""Growing a fitted map: time to add 10 images on CPU, bytes sent, and click -> highlight at 520 images.

Not a test: prints medians and ratios against a peer run back to back.

Part 1 (real offline DINOv2 ViT-S/14, CPU): ``explore`` on 20 images (the 10 bundled photos and their
mirror images) at (224, 448), then ``w.add_images`` of 10 more images (seeded crops), ``--repeats``
times (the map grows by 10 each time). Peer: a full refit (``compute``) of the fitted 20 + 10 images,
what growing replaces. Bytes: the append message's buffer and JSON meta, against the payload a
re-sent state of every node would be (``encode_state`` of the grown results).

Part 2 (headless Chromium, exported page): a map fitted on 20 images grown by 500 (a fixed random
patch projection as the backbone, so building it takes seconds) at ``--page-resolutions``; click ->
highlight timed as in ``benchmarks/widget.py`` on a cell of an added image; peer: the same clicks on
the 20-image map before growing.

Run: .venv/bin/python benchmarks/add_images.py [--repeats 3] [--clicks 15] [--skip-browser]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]


def _header() -> None:
    print(f"torch {torch.__version__}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"{torch.get_num_threads()} threads, load average {os.getloadavg()[0]:.2f} (1 min)")


def _recorder(captured: list, send):
    """A widget ``_send`` that records each message (and its buffers) before sending it."""

    def record(msg: dict, buffers=None) -> None:
        captured.append((msg, list(buffers or [])))
        send(msg, buffers)

    return record


def part_cpu(repeats: int) -> None:
    from PIL import ImageOps

    from ncut_widget import explore, sample_images
    from ncut_widget.widget import state as wire
    from ncut_widget.widget.pipeline import compute
    from tests.browser._grown import crops

    photos = sample_images()
    fitted = photos + [ImageOps.mirror(p) for p in photos]
    extra = crops(10 * repeats, seed=1, side=300)
    print(f"\n== add_images, real backbone, {len(fitted)} fitted images at (224, 448), CPU")
    t = time.perf_counter()
    w = explore(fitted, resolutions=(224, 448), background=False, device="cpu")
    print(f"explore (fit) on {len(fitted)} images: {time.perf_counter() - t:.1f} s, {w.meta['n_nodes']:,} nodes")
    times, sent = [], []
    for i in range(repeats):
        batch = extra[10 * i : 10 * i + 10]
        captured: list[tuple[dict, list]] = []
        w._send = _recorder(captured, w._send)
        t = time.perf_counter()
        w.add_images(batch)
        times.append(time.perf_counter() - t)
        del w._send  # back to the class's method
        customs = [(m, b) for m, b in captured if m.get("method") == "custom"]
        assert len(customs) == 1, "one append message per add_images"
        msg, buffers = customs[0]
        json_bytes = len(json.dumps(msg, separators=(",", ":")))
        buf_bytes = sum(len(b) for b in buffers)
        n_new = msg["content"]["meta"]["n_nodes"]
        sent.append((json_bytes, buf_bytes, n_new))
        others = [m for m, _ in captured if m.get("method") == "update"]
        print(f"  add 10 images #{i + 1}: {times[-1]:.2f} s; sent {buf_bytes:,} B buffer + {json_bytes:,} B JSON "
              f"for {n_new:,} nodes ({buf_bytes / n_new:.1f} B/node with thumbnails); "
              f"{len(others)} small trait updates (progress), none with payload/appended")
    results = w.results
    full = wire.encode_state(results.layout, results.eigvecs, results.X_3d, results.rgb, results.images, version=0)
    med = statistics.median(times)
    last_json, last_buf, _ = sent[-1]
    print(f"add 10 images: median {med:.2f} s over {repeats}")
    print(f"bytes for the last append: {last_buf + last_json:,}; re-sending every node instead: "
          f"{full.meta['total_bytes']:,} (x{full.meta['total_bytes'] / (last_buf + last_json):.1f} more)")

    t = time.perf_counter()
    compute(fitted + extra[:10], resolutions=(224, 448), device="cpu")
    refit = time.perf_counter() - t
    print(f"peer: refit on {len(fitted) + 10} images: {refit:.1f} s (1 run); add_images is x{refit / med:.1f} faster")


def part_browser(clicks: int, resolutions: tuple[int, int]) -> None:
    from playwright.sync_api import sync_playwright
    from widget import _CLICK_JS, _TWO_FRAMES_JS, CHROMIUM, CHROMIUM_ARGS

    from tests.browser._grown import grown_widget

    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing: skipping the browser part", file=sys.stderr)
        return
    print(f"\n== click -> highlight in the exported page, 20 fitted + 500 added images at {resolutions}")
    t = time.perf_counter()
    small = grown_widget(n_fitted=20, n_added=(), resolutions=resolutions)
    big = grown_widget(n_fitted=20, n_added=(250, 250), resolutions=resolutions)
    print(f"built both maps in {time.perf_counter() - t:.1f} s: {small.meta['n_nodes']:,} and {big._n_nodes():,} nodes")
    rows = {}
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for name, w in (("fitted 20", small), ("grown 520", big)):
                path = w.save_html(Path(tmp) / f"{name.replace(' ', '-')}.html")
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                errors: list[str] = []
                page.on("pageerror", lambda e, errors=errors: errors.append(str(e)))
                t = time.perf_counter()
                page.goto(path.as_uri(), timeout=300_000)
                page.wait_for_selector(".ncut-grid canvas.ncut-cell:not(.ncut-loading)", timeout=300_000)
                page.evaluate(_TWO_FRAMES_JS)
                load = time.perf_counter() - t
                # A colormap cell of the finest resolution; on the grown page, of an added image (page 1).
                n_cells = page.locator(".ncut-grid canvas.ncut-cell").count()
                cell = n_cells - 1
                out = page.evaluate(_CLICK_JS, {"cell": cell, "clicks": clicks})
                sim, work, drawn, _ = (list(c) for c in zip(*out, strict=True))
                rows[name] = statistics.median(work)
                print(f"  {name}: page {path.stat().st_size / 1e6:.1f} MB, load -> first draw {load:.1f} s, "
                      f"{n_cells} cells drawn; click -> highlight work median {statistics.median(work):.1f} ms "
                      f"(similarity {statistics.median(sim):.1f} ms), drawn incl. frame wait "
                      f"{statistics.median(drawn):.1f} ms [{clicks} clicks]{' ERRORS ' + str(errors) if errors else ''}")
                page.close()
        finally:
            browser.close()
    print(f"grown / fitted click work: x{rows['grown 520'] / rows['fitted 20']:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--clicks", type=int, default=15)
    parser.add_argument("--page-resolutions", type=int, nargs=2, default=(224, 448))
    parser.add_argument("--skip-cpu", action="store_true")
    parser.add_argument("--skip-browser", action="store_true")
    args = parser.parse_args()
    _header()
    if not args.skip_cpu:
        part_cpu(args.repeats)
    if not args.skip_browser:
        part_browser(args.clicks, tuple(args.page_resolutions))
    _header()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
