"""Headless Chromium (Debian's package) driven by Playwright, for pages a person would open."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    """Path of the system Chromium; fails loudly when it is missing."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        raise RuntimeError("Chromium is not installed: run `make system-deps` (Debian `chromium`).")
    return path


@contextmanager
def page(width: int = 1400, height: int = 900) -> Iterator[Any]:
    """A Playwright page in a fresh headless Chromium profile."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            yield browser.new_page(viewport={"width": width, "height": height})
        finally:
            browser.close()


def drawn_charts(
    path: Any, timeout_ms: float = 30_000
) -> tuple[list[tuple[str, int, int]], list[str]]:
    """Open a report from the file system with the network cut off; once every chart is drawn,
    return ``(chart id, marks expected, marks drawn)`` per chart and the URLs it tried to fetch
    beyond the file itself."""
    fetched: list[str] = []

    def cut_off(route: Any) -> None:
        fetched.append(route.request.url)
        route.abort()

    with page() as tab:
        tab.route(lambda url: not url.startswith("file:"), cut_off)
        errors: list[str] = []
        tab.on("pageerror", lambda exc: errors.append(str(exc)))
        tab.goto(path.resolve().as_uri())
        tab.wait_for_function(
            "[...document.querySelectorAll('div.chart')].every("
            "(c) => c.hasAttribute('data-marks-drawn'))",
            timeout=timeout_ms,
        )
        charts = tab.eval_on_selector_all(
            "div.chart",
            "els => els.map(e => [e.id, +e.dataset.marksExpected, +e.dataset.marksDrawn])",
        )
    assert not errors, errors
    return [tuple(c) for c in charts], fetched
