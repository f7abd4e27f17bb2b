"""Helpers for the UI's browser tests: a real uvicorn server in a thread, Debian's chromium.

A test module builds its fixtures from these, at the scope it needs::

    @pytest.fixture(scope="module")
    def browser():
        with chromium() as launched:
            yield launched

    @pytest.fixture
    def page(browser):
        with checked_page(browser) as pg:
            yield pg
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from logwright.testing.serve import serve_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
"""The chromium binary Playwright drives (None: the browser tests skip)."""
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).resolve().parents[3] / "test-artifacts" / "ui"
"""Where the browser tests save their screenshots."""


@contextlib.contextmanager
def serve(uri: str, read_only: bool = False) -> Iterator[str]:
    """The web UI over store ``uri`` on a free 127.0.0.1 port (uvicorn in a thread); yields its URL.

    Args:
        uri: the store.
        read_only: start it as ``logwright ui --read-only`` does.
    """
    from logwright.server.app import create_app

    with serve_app(create_app(uri, read_only=read_only)) as url:
        yield url


def screenshot(page: object, name: str) -> None:
    """Save a full-page screenshot of a Playwright page as ``test-artifacts/ui/<name>.png``."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """Debian's chromium, launched headless by Playwright; yields the Playwright ``Browser``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextlib.contextmanager
def checked_page(browser: Any, grant: Sequence[str] = (), origin: str | None = None) -> Iterator[Any]:
    """A fresh 1400x1000 page in its own context; yields it, then fails on what should not have happened.

    After the block it asserts that no script error was raised, no dialog opened and no
    user-supplied script set ``window.__pwned``.

    Args:
        browser: a Playwright ``Browser`` (see :func:`chromium`).
        grant: permissions to grant the context (``"clipboard-read"`` ...).
        origin: the origin ``grant`` applies to.
    """
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    if grant:
        context.grant_permissions(list(grant), origin=origin)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: (errors.append("dialog: " + dialog.message), dialog.dismiss()))
    yield page
    pwned = page.evaluate("() => window.__pwned")
    context.close()
    assert pwned is None, "a user-supplied script ran in the UI's page"
    assert errors == []
