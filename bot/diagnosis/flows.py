"""Diagnosing an incident: gather evidence, post the diagnosis, move the incident on."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence

from redis.exceptions import LockError

from bot.alerts.models import Alert
from bot.diagnosis.messages import build_diagnosis_message
from bot.diagnosis.models import NOT_AN_INCIDENT, UNKNOWN, Diagnosis
from bot.diagnosis.service import Diagnoser
from bot.errors import IllegalTransition
from bot.incidents import messages
from bot.incidents.models import Event, EventKind
from bot.incidents.states import State
from bot.incidents.store import IncidentStore
from bot.runbooks.catalogue import Catalogue
from bot.runbooks.models import Playbook

logger = logging.getLogger(__name__)

RequestSync = Callable[[str], Awaitable[None]]
# Called once a diagnosis is posted, with the state it moved the incident to (None: unmoved).
OnSettled = Callable[[str, Diagnosis, State | None], Awaitable[None]]

ACTOR = "incident-bot"
DIAGNOSABLE_STATES = frozenset({State.TRIGGERED, State.ACKNOWLEDGED, State.DIAGNOSING})
# Longer than any diagnosis (its evidence deadline plus Claude's), so a second run of the
# job waits its turn instead of diagnosing twice.
LOCK_SECONDS = 300


async def diagnose_incident(
    incident_id: str,
    alert: Alert,
    *,
    store: IncidentStore,
    diagnoser: Diagnoser,
    catalogue: Catalogue,
    request_sync: RequestSync,
    on_settled: OnSettled | None = None,
) -> Diagnosis | None:
    """Diagnose an open incident from its alert, post the diagnosis, then move it on.

    A playbook with steps leads to AWAITING_APPROVAL, an unknown cause to ESCALATED, no
    failure to a note; `on_settled` then proposes the first step or calls people in. Safe to
    run again: returns None, changing nothing, when the incident already has its diagnosis
    or has moved past diagnosing.
    """
    lock = store.redis.lock(f"ib:lock:diagnose:{incident_id}", timeout=LOCK_SECONDS)
    if not await lock.acquire(blocking=False):
        logger.info("diagnosis already running", extra={"incident_id": incident_id})
        return None
    try:
        return await _diagnose(
            incident_id,
            alert,
            store=store,
            diagnoser=diagnoser,
            catalogue=catalogue,
            request_sync=request_sync,
            on_settled=on_settled,
        )
    finally:
        try:
            await lock.release()
        except LockError:
            logger.warning("diagnosis lock expired while held", extra={"incident_id": incident_id})


async def _diagnose(
    incident_id: str,
    alert: Alert,
    *,
    store: IncidentStore,
    diagnoser: Diagnoser,
    catalogue: Catalogue,
    request_sync: RequestSync,
    on_settled: OnSettled | None,
) -> Diagnosis | None:
    if not await is_diagnosis_due(incident_id, store=store):
        logger.info("diagnosis not due", extra={"incident_id": incident_id})
        return None
    if not await _move(incident_id, State.DIAGNOSING, messages.to_diagnosing(), store=store):
        return None
    await request_sync(incident_id)

    diagnosis = await diagnoser.diagnose(alert, incident_id=incident_id)
    playbook = catalogue.get(diagnosis.playbook_id) if diagnosis.playbook_id else None
    await store.append_event(incident_id, to_diagnosis_event(diagnosis, playbook))
    state = await _settle(incident_id, diagnosis, playbook, store=store)
    await request_sync(incident_id)
    if on_settled is not None:
        await on_settled(incident_id, diagnosis, state)
    return diagnosis


async def is_diagnosis_due(incident_id: str, *, store: IncidentStore) -> bool:
    """Whether the incident waits for a diagnosis: open, not past diagnosing, none posted."""
    incident = await store.get(incident_id)
    if incident is None or incident.state not in DIAGNOSABLE_STATES:
        return False
    return not has_current_diagnosis(await store.get_events(incident_id))


def has_current_diagnosis(events: Sequence[Event]) -> bool:
    """Whether a diagnosis was posted since the incident was last (re)triggered."""
    for event in reversed(events):
        if event.kind is EventKind.DIAGNOSIS:
            return True
        if event.kind is EventKind.STATE_CHANGED and event.data.get("to") == State.TRIGGERED:
            return False
    return False


def to_diagnosis_event(diagnosis: Diagnosis, playbook: Playbook | None) -> Event:
    """The timeline event: the rendered reply, plus the fields the ticket sync reads."""
    message = build_diagnosis_message(diagnosis, playbook)
    return Event(
        kind=EventKind.DIAGNOSIS,
        actor=ACTOR,
        text=diagnosis.summary,
        data={
            "message": message.model_dump(mode="json"),
            "failure_class": diagnosis.failure_class,
            "confidence": diagnosis.confidence,
            "playbook_id": diagnosis.playbook_id,
        },
    )


async def _settle(
    incident_id: str, diagnosis: Diagnosis, playbook: Playbook | None, *, store: IncidentStore
) -> State | None:
    if diagnosis.failure_class == NOT_AN_INCIDENT:
        # Known limit: no state leads back from DIAGNOSING, so the incident stays there
        # until a person resolves it or escalates it.
        note = Event(kind=EventKind.NOTE, actor=ACTOR, text=messages.to_no_failure_found())
        await store.append_event(incident_id, note)
        return None
    if diagnosis.failure_class != UNKNOWN and playbook is not None and playbook.remediation:
        target = State.AWAITING_APPROVAL
        text = messages.to_awaiting_approval(playbook.title, len(playbook.remediation))
    else:
        target = State.ESCALATED
        text = diagnosis.summary
        if diagnosis.failure_class != UNKNOWN:
            text = messages.to_nothing_to_propose(diagnosis.failure_class)
    return target if await _move(incident_id, target, text, store=store) else None


async def _move(incident_id: str, target: State, text: str, *, store: IncidentStore) -> bool:
    # A person may resolve the incident while its evidence is gathered; that decision stands.
    try:
        await store.transition(incident_id, target, actor=ACTOR, text=text)
    except IllegalTransition as exc:
        logger.info("diagnosis left the state alone: %s", exc, extra={"incident_id": incident_id})
        return False
    return True
