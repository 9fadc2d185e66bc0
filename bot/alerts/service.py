"""Accepting an alert: drop redeliveries, queue the rest. Never calls chat or Jira inline."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from bot.alerts.models import Alert

logger = logging.getLogger(__name__)

EnqueueAlert = Callable[[Alert], Awaitable[None]]


class Ingest:
    """Remembers each delivery id for a while and queues every alert it has not seen."""

    def __init__(self, *, redis: Redis, enqueue: EnqueueAlert, dedup_ttl_seconds: int) -> None:
        self.redis = redis
        self.enqueue = enqueue
        self.dedup_ttl_seconds = dedup_ttl_seconds

    async def accept(self, alert: Alert) -> bool:
        """Queue the alert; False when it is a redelivery that changes nothing."""
        key = f"ib:seen:{alert.source}:{alert.delivery_id}"
        if not await self.redis.set(key, 1, nx=True, ex=self.dedup_ttl_seconds):
            logger.info("redelivery dropped", extra={"delivery_id": alert.delivery_id})
            return False
        try:
            await self.enqueue(alert)
        except Exception:
            # Forget the delivery so the sender's retry is accepted rather than dropped.
            await self.redis.delete(key)
            raise
        return True
