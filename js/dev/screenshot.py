"""Screenshots a fixture page in headless Chromium (SwiftShader WebGL), for looking at the widget.

Usage: .venv/bin/python js/dev/screenshot.py PAGE.html OUT.png [--click-grid] [--click-at I,FX,FY]
    [--similarity] [--width PX] [--height PX] [--loading]
(--loading: the page has no payload, so do not wait for decoded cells; --click-at: click cell I of
the page (all panels' .ncut-cell canvases in order) at fractions FX, FY of its box; --similarity:
press every panel's Similarity button after the clicks; --width/--height: the viewport, default
1280 x 640)
"""

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--enable-unsafe-swiftshader"]


def _option(name: str, default: str) -> str:
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def main() -> None:
    page_path, out = Path(sys.argv[1]).resolve(), sys.argv[2]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        width = int(_option("--width", "1280"))
        height = int(_option("--height", "640"))
        page = browser.new_page(viewport={"width": width, "height": height})
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
        click_at = _option("--click-at", "")
        if click_at:
            index, fx, fy = click_at.split(",")
            cell = page.locator(".ncut-cell").nth(int(index))
            cell.scroll_into_view_if_needed()  # a click outside the viewport lands nowhere
            box = cell.bounding_box()
            page.mouse.click(box["x"] + box["width"] * float(fx), box["y"] + box["height"] * float(fy))
            page.wait_for_timeout(500)
        if "--similarity" in sys.argv:
            buttons = page.get_by_role("button", name="Similarity", exact=True)
            for i in range(buttons.count()):
                buttons.nth(i).click()
            page.wait_for_timeout(800)
        page.screenshot(path=out, full_page=True)
        browser.close()
    print("\n".join(logs) or "no console output")


if __name__ == "__main__":
    main()
