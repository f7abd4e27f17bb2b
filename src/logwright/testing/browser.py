"""Helpers for the UI's browser tests: a real uvicorn server in a thread, Debian's chromium."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

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
    import uvicorn

    from logwright.server.app import create_app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(create_app(uri, read_only=read_only), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.time() + 15
    while not server.started and time.time() < deadline:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def screenshot(page: object, name: str) -> None:
    """Save a full-page screenshot of a Playwright page as ``test-artifacts/ui/<name>.png``."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]
