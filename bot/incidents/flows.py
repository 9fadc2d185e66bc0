"""The multi-step work on an incident: placing an alert, keeping its thread in step."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from redis.asyncio import Redis
from redis.exceptions import LockError

from bot.alerts.models import Alert
from bot.audit.models import AuditKind
from bot.audit.store import AuditLog
from bot.chat.port import ChatPort
from bot.incidents import messages
from bot.incidents.models import Event, EventKind, Incident
from bot.incidents.routing import Routing
from bot.incidents.states import State
from bot.incidents.store import IncidentStore, Outcome, Placement

logger = logging.getLogger(__name__)

RequestSync = Callable[[str], Awaitable[None]]
RequestDiagnosis = Callable[[str, Alert], Awaitable[None]]


async def handle_alert(
    alert: Alert,
    *,
    store: IncidentStore,
    routing: Routing,
    request_sync: RequestSync,
    request_diagnosis: RequestDiagnosis,
    audit: AuditLog | None = None,
) -> Placement:
    """Open, join, reopen or resolve an incident for one alert, then sync its thread.

    An incident that opens or reopens is queued for diagnosis from this alert. Every alert
    accepted goes to `audit`, when given; the store audits each state change itself.

    Safe to run again for the same alert: the store remembers each delivery.
    """
    route = routing.route(alert)
    placement = await store.place_alert(alert, channel=route.channel or "incidents")
    incident_id = placement.incident_id
    if audit is not None and not placement.redelivered:
        data = alert.model_dump(mode="json", include={"delivery_id", "fingerprint", "title"})
        data["outcome"] = placement.outcome
        await audit.append(AuditKind.ALERT, actor=alert.source, incident_id=incident_id, data=data)
    if incident_id is None:
        logger.info("recovery for no open incident", extra={"fingerprint": alert.fingerprint})
        return placement

    if placement.outcome is Outcome.REOPENED:
        await store.transition(
            incident_id, State.TRIGGERED, actor=alert.source, text="re-triggered"
        )
    if placement.outcome in (Outcome.JOINED, Outcome.REOPENED, Outcome.OPENED):
        count = await store.count_alerts(incident_id)
        await store.update(incident_id, lambda incident: _with_alert_count(incident, count))
    if placement.outcome is Outcome.RESOLVING:
        await store.transition(incident_id, State.RESOLVED, actor=alert.source, text="recovered")

    logger.info(
        "alert placed",
        extra={"incident_id": incident_id, "outcome": placement.outcome, "source": alert.source},
    )
    await request_sync(incident_id)
    if placement.outcome in (Outcome.OPENED, Outcome.REOPENED):
        await request_diagnosis(incident_id, alert)
    return placement


def _with_alert_count(incident: Incident, count: int) -> Incident | None:
    # Counts read by concurrent jobs arrive in any order; the largest is the latest.
    if incident.alert_count >= count:
        return None
    return incident.model_copy(update={"alert_count": count})


async def sync_thread(
    incident_id: str, *, store: IncidentStore, chat: ChatPort, redis: Redis
) -> None:
    """Bring an incident's thread up to date: root, missing replies, then the root's edit.

    One holder at a time per incident; whoever holds the lock looks again after letting go,
    so an event appended while it worked is never left behind. Edits of the root made in
    quick succession are coalesced into one.
    """
    lock = redis.lock(f"ib:lock:sync:{incident_id}", timeout=120)
    while await lock.acquire(blocking=False):
        try:
            await _drain(incident_id, store=store, chat=chat)
        finally:
            try:
                await lock.release()
            except LockError:
                logger.warning("sync lock expired while held", extra={"incident_id": incident_id})
        if not await is_behind(incident_id, store=store):
            return


def to_batches(events: list[Event]) -> list[list[Event]]:
    """Group runs of firing alerts into one reply each, so an alert storm is one message."""
    batches: list[list[Event]] = []
    for event in events:
        if batches and event.kind is EventKind.ALERT and batches[-1][-1].kind is EventKind.ALERT:
            batches[-1].append(event)
        else:
            batches.append([event])
    return batches


async def is_behind(incident_id: str, *, store: IncidentStore) -> bool:
    incident = await store.get(incident_id)
    if incident is None:
        return False
    posted, rendered = await store.get_sync(incident_id)
    length = len(await store.get_events(incident_id, posted))
    return incident.thread is None or length > 0 or rendered < incident.version


async def _drain(incident_id: str, *, store: IncidentStore, chat: ChatPort) -> None:
    incident = await store.get(incident_id)
    if incident is None:
        return
    if incident.thread is None:
        thread = await chat.post_root(
            channel=incident.channel, message=messages.build_root(incident)
        )
        incident = await store.set_thread(incident_id, thread)
        await store.set_rendered(incident_id, incident.version)
    assert incident.thread is not None

    posted, rendered = await store.get_sync(incident_id)
    for batch in to_batches(await store.get_events(incident_id, posted)):
        await chat.post_reply(thread=incident.thread, message=messages.build_events(batch))
        posted += len(batch)
        await store.set_posted(incident_id, posted)

    latest = await store.get(incident_id)
    if latest is not None and rendered < latest.version:
        await chat.update_root(thread=incident.thread, message=messages.build_root(latest))
        await store.set_rendered(incident_id, latest.version)
