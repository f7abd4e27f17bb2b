"""Helpers for the UI's browser tests: a real uvicorn server in a thread, Debian's chromium."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

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
