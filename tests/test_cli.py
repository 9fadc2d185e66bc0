"""`incident-bot serve` as a real process: embedded Redis, health checks, a clean Ctrl+C."""

import asyncio
import os
import signal
import sys

import httpx
import pytest

from bot.chaos.ports import get_free_ports

CONSOLE_LINE = "incident-bot console:"
STARTUP_LIMIT_SECONDS = 30
EXIT_LIMIT_SECONDS = 15
# Below uvicorn's 5 s graceful-shutdown limit: the stream must end because serve closed it.
STREAM_END_LIMIT_SECONDS = 3


def build_env(tmp_path, **extra):
    """Only what a fresh machine has, so no REDIS_URL or tokens leak in from the caller."""
    keep = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    return keep | {"DATA_DIR": str(tmp_path / "data")} | extra


async def start_cli(tmp_path, *args, **env):
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        *args,
        cwd=tmp_path,
        env=build_env(tmp_path, **env),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


class StderrReader:
    """Drains the process's stderr (so it never blocks on a full pipe) and keeps the lines."""

    def __init__(self, process):
        self.lines = []
        self.console_printed = asyncio.Event()
        self.task = asyncio.create_task(self._read(process.stderr))

    async def _read(self, stream):
        async for raw in stream:
            line = raw.decode(errors="replace")
            self.lines.append(line)
            if CONSOLE_LINE in line:
                self.console_printed.set()

    @property
    def text(self):
        return "".join(self.lines)


async def wait_until_healthy(client, process):
    while True:
        if process.returncode is not None:
            raise AssertionError("incident-bot serve exited during start-up")
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        # The port opens a moment after the console line; there is no event to await.
        await asyncio.sleep(0.1)


@pytest.fixture
async def served(tmp_path):
    [port] = get_free_ports(1)
    process = await start_cli(tmp_path, "serve", "--port", str(port))
    stderr = StderrReader(process)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
            async with asyncio.timeout(STARTUP_LIMIT_SECONDS):
                await stderr.console_printed.wait()
                await wait_until_healthy(client, process)
            yield process, client, stderr
    finally:
        await stop(process)
        await stderr.task


async def stop(process):
    """SIGTERM first, so a failed test does not leave the embedded Redis server behind."""
    if process.returncode is not None:
        return
    process.terminate()
    try:
        async with asyncio.timeout(EXIT_LIMIT_SECONDS):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM], ids=lambda sig: sig.name)
async def test_serve_stops_cleanly_on_signal_while_a_console_stream_is_open(served, stop_signal):
    process, client, stderr = served
    ready = await client.get("/readyz")

    async with client.stream("GET", "/console/events") as events:
        assert events.status_code == 200
        process.send_signal(stop_signal)
        async with asyncio.timeout(STREAM_END_LIMIT_SECONDS):
            async for _ in events.aiter_raw():
                pass
    async with asyncio.timeout(EXIT_LIMIT_SECONDS):
        code = await process.wait()

    assert ready.status_code == 200, ready.text
    assert code == 0, stderr.text
    assert f"{CONSOLE_LINE} http://127.0.0.1:" in stderr.text


async def test_serve_on_all_interfaces_without_console_token_exits_2(tmp_path):
    process = await start_cli(tmp_path, "serve", "--host", "0.0.0.0", "--port", "1")
    async with asyncio.timeout(STARTUP_LIMIT_SECONDS):
        _, stderr = await process.communicate()

    assert process.returncode == 2
    assert "CONSOLE_TOKEN" in stderr.decode()
