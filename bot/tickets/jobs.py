"""The ticket sync as a saq job, its scheduled follow-ups, and the sweep of lagging tickets."""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from saq.queue.redis import RedisQueue

from bot.runtime import RETRIES, Runtime
from bot.tickets import flows

logger = logging.getLogger(__name__)

SWEEP_LIMIT = 200
SWEEP_HISTORY_SECONDS = 3600


async def sync_ticket(ctx: Any, *, incident_id: str) -> str:
    """Sync one incident's issue; when Jira says wait, schedule the next try and finish."""
    runtime: Runtime = ctx["runtime"]
    if runtime.tickets is None:
        return "jira sync is off"
    try:
        await flows.sync_ticket(
            incident_id,
            store=runtime.store,
            tickets=runtime.tickets,
            request_sync=runtime.jobs.request_sync,
        )
    except flows.SyncDeferred as deferred:
        await enqueue_ticket_sync(runtime.queue, incident_id, at=deferred.until)
        return f"deferred {deferred.delay:.1f} s"
    return "in step"


async def enqueue_ticket_sync(
    queue: RedisQueue, incident_id: str, *, at: float | None = None
) -> None:
    """Queue a ticket sync, now or at `at` (epoch seconds).

    A later one is keyed by incident and second, so every job deferred to the same moment
    (one per event that arrived meanwhile) becomes a single try.
    """
    if at is None or at <= time.time():
        await queue.enqueue("sync_ticket", incident_id=incident_id, **RETRIES)
        return
    second = math.ceil(at)
    await queue.enqueue(
        "sync_ticket",
        incident_id=incident_id,
        key=f"ticket:{incident_id}:{second}",
        scheduled=second,
        **RETRIES,
    )


async def requeue_lagging_tickets(runtime: Runtime) -> int:
    """Queue the ticket sync of every recent incident whose issue lags; returns how many."""
    if runtime.tickets is None:
        return 0
    # Incidents opened long before the first sweep (Jira sync just turned on) get an issue
    # only when they change: the sweep does not open a batch of issues for history.
    oldest = await runtime.tickets.store.get_since() - SWEEP_HISTORY_SECONDS
    recent = await runtime.store.list_recent(SWEEP_LIMIT)
    lagging = [
        incident.id
        for incident in recent
        if incident.opened_at.timestamp() >= oldest
        and await flows.is_ticket_behind(incident.id, store=runtime.store, tickets=runtime.tickets)
    ]
    for incident_id in lagging:
        await enqueue_ticket_sync(runtime.queue, incident_id)
    if lagging:
        logger.info("lagging tickets re-queued", extra={"count": len(lagging)})
    return len(lagging)
