"""Browser fixtures: one headless Chromium per session, one JupyterLab and one Notebook 7 server.

Every test here is marked ``browser``; they skip only when Debian's Chromium is absent (CI installs
it with ``make browser-deps``). Playwright drives /usr/bin/chromium: never its own downloaded build.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ._servers import JupyterServer, start_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    # WebGL (the 3D view) through SwiftShader on machines without a GPU.
    "--enable-unsafe-swiftshader",
]
VIEWPORT = {"width": 1400, "height": 1000}


@dataclass
class PageLog:
    """What a page did besides drawing: every request URL, console errors, uncaught exceptions."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    errors_before_run: int = 0

    def errors_since_run(self) -> list[str]:
        return self.page_errors[self.errors_before_run :]


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: install Debian's chromium (make browser-deps) for browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def open_page(chromium) -> Iterator[Callable[..., tuple[object, PageLog]]]:
    """``open_page(url)`` -> (page, log) in a fresh context; contexts close when the module ends."""
    contexts = []

    def open_(url: str, viewport: dict | None = None, timeout_ms: int = 60_000) -> tuple[object, PageLog]:
        context = chromium.new_context(viewport=viewport or VIEWPORT)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(timeout_ms)
        log = PageLog()
        page.on("request", lambda req: log.requests.append(req.url))
        page.on("console", lambda msg: msg.type == "error" and log.console_errors.append(msg.text))
        page.on("pageerror", lambda err: log.page_errors.append(str(err)))
        page.goto(url)
        return page, log

    yield open_
    for context in contexts:
        context.close()


def _server(kind: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    server = start_server(kind, tmp_path_factory.mktemp(kind))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def lab_server(chromium, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    yield from _server("lab", tmp_path_factory)


@pytest.fixture(scope="session")
def notebook_server(chromium, tmp_path_factory: pytest.TempPathFactory) -> Iterator[JupyterServer]:
    yield from _server("notebook", tmp_path_factory)
