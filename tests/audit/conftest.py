"""Running audit and trace CLI commands as a person would, against the test Redis."""

import asyncio

import pytest
import redis.asyncio as aioredis


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
    on_test_redis(redis_url, lambda client: client.flushdb())
    yield {"REDIS_URL": redis_url, "COLUMNS": "200"}
    on_test_redis(redis_url, lambda client: client.flushdb())
