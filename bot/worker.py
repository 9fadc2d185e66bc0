"""Background jobs on saq, and the worker that runs them (in-process or on its own)."""

from __future__ import annotations

import logging
from typing import Any

from saq import CronJob, Worker

from bot.alerts.models import Alert
from bot.incidents import flows
from bot.runtime import Runtime

logger = logging.getLogger(__name__)


def _runtime(ctx: Any) -> Runtime:
    runtime: Runtime = ctx["runtime"]
    return runtime


async def handle_alert(ctx: Any, *, alert: dict[str, Any]) -> str:
    runtime = _runtime(ctx)
    placement = await flows.handle_alert(
        Alert.model_validate(alert),
        store=runtime.store,
        routing=runtime.routing,
        request_sync=runtime.jobs.request_sync,
    )
    return f"{placement.outcome} {placement.incident_id or ''}".strip()


async def sync_thread(ctx: Any, *, incident_id: str) -> None:
    runtime = _runtime(ctx)
    await flows.sync_thread(
        incident_id, store=runtime.store, chat=runtime.chat, redis=runtime.redis
    )


async def sweep(ctx: Any) -> int:
    """Re-queue the sync of every thread that lags behind, after outages outlasted retries."""
    runtime = _runtime(ctx)
    behind = await runtime.store.list_unsynced()
    for incident_id in behind:
        await runtime.jobs.request_sync(incident_id)
    if behind:
        logger.info("threads behind re-queued", extra={"count": len(behind)})
    return len(behind)


def build_worker(runtime: Runtime) -> Worker:
    async def startup(ctx: Any) -> None:
        ctx["runtime"] = runtime

    return Worker(
        runtime.queue,
        functions=[handle_alert, sync_thread],
        cron_jobs=[CronJob(sweep, cron="* * * * *", unique=True)],
        concurrency=runtime.settings.worker_concurrency,
        startup=startup,
    )
