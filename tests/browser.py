"""Headless Chromium for browser tests, and a web server on the test's own event loop.

    async with serve_in_loop(app) as base_url, open_page(tmp_path) as page:
        await page.goto(f"{base_url}/console")

The browser is Debian's chromium driven by Playwright (no browser download). When no
Chromium is found, `open_page` skips the test and says how to install one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import uvicorn
from starlette.types import ASGIApp

if TYPE_CHECKING:
    from playwright.async_api import ConsoleMessage, Page

DEBIAN_CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
NO_CHROMIUM = (
    "browser test skipped: no Chromium found (neither `chromium` on PATH nor "
    f"{DEBIAN_CHROMIUM}); install it with `apt-get install -y chromium` (.ci/run does)"
)
# Playwright's own default is 30 s; a local page that takes 10 s is already broken.
TIMEOUT_MILLISECONDS = 10_000
SHUTDOWN_TIMEOUT_SECONDS = 5.0


def find_chromium() -> str | None:
    if found := shutil.which("chromium"):
        return found
    return DEBIAN_CHROMIUM if os.access(DEBIAN_CHROMIUM, os.X_OK) else None


@contextlib.asynccontextmanager
async def open_page(
    profile_dir: Path, *, expected_errors: Sequence[str] = ()
) -> AsyncIterator[Page]:
    """Open one page in a fresh headless Chromium profile; skips the test without Chromium.

    Fails the test when the page logs a JavaScript error or an error to its console, other
    than one containing a text of `expected_errors` (a refusal the test provokes).
    """
    executable = find_chromium()
    if executable is None:
        pytest.skip(NO_CHROMIUM)
    from playwright.async_api import async_playwright

    errors: list[str] = []
    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(profile_dir),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            context.set_default_timeout(TIMEOUT_MILLISECONDS)
            page = context.pages[0] if context.pages else await context.new_page()
            page.on("pageerror", lambda error: errors.append(f"page error: {error}"))
            page.on("console", lambda note: _record_console_error(note, errors, expected_errors))
            yield page
        finally:
            await context.close()
    assert not errors, "the page reported errors:\n" + "\n".join(errors)


def _record_console_error(note: ConsoleMessage, errors: list[str], expected: Sequence[str]) -> None:
    if note.type == "error" and not any(text in note.text for text in expected):
        errors.append(f"console error: {note.text}")


class _LoopServer(uvicorn.Server):
    """A uvicorn server that reports when it listens and leaves signals to pytest."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening.set()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serve_in_loop(app: ASGIApp) -> AsyncIterator[str]:
    """Serve `app` on a free loopback port in the running event loop; yield its base URL.

    The app shares the test's loop, so it can use the test's redis client. Close open
    streams (ConsoleChat.close) before the block ends, or shutdown waits for them.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=int(SHUTDOWN_TIMEOUT_SECONDS),
    )
    server = _LoopServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        listening = asyncio.create_task(server.listening.wait())
        await asyncio.wait({task, listening}, return_when=asyncio.FIRST_COMPLETED)
        listening.cancel()
        if task.done():
            raise RuntimeError(f"server on port {port} did not start") from task.exception()
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        async with asyncio.timeout(SHUTDOWN_TIMEOUT_SECONDS * 2):
            await task
        sock.close()
