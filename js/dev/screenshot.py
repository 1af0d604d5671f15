"""Screenshots a fixture page in headless Chromium (SwiftShader WebGL), for looking at the widget.

Usage: .venv/bin/python js/dev/screenshot.py PAGE.html OUT.png [--click-grid] [--loading] [--height=PX]
(--loading: the page has no payload, so do not wait for decoded cells; --height: viewport height,
default 640)
"""

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--enable-unsafe-swiftshader"]


def main() -> None:
    page_path, out = Path(sys.argv[1]).resolve(), sys.argv[2]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        height = next((int(a.split("=", 1)[1]) for a in sys.argv if a.startswith("--height=")), 640)
        page = browser.new_page(viewport={"width": 1280, "height": height})
        logs = []
        page.on("console", lambda m: logs.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: logs.append(f"pageerror: {e}"))
        page.goto(page_path.as_uri())
        ready = ".ncut-toolbar" if "--loading" in sys.argv else ".ncut-cell:not(.ncut-loading)"
        page.wait_for_selector(ready, timeout=20000)
        page.wait_for_timeout(800)
        if "--click-grid" in sys.argv:
            cell = page.locator(".ncut-cell").nth(2)
            box = cell.bounding_box()
            page.mouse.click(box["x"] + box["width"] * 0.45, box["y"] + box["height"] * 0.45)
            page.wait_for_timeout(500)
        page.screenshot(path=out, full_page=True)
        browser.close()
    print("\n".join(logs) or "no console output")


if __name__ == "__main__":
    main()
