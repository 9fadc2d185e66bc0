"""Keeping an incident's Jira issue in step with its timeline.

The timeline is the outbox: an event is recorded there before anything is sent, the ticket
pointer says how far the issue has caught up, and nothing moves the pointer past an event
until Jira has it. So a crash, a restart or an hour of Jira downtime only delays the issue.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from redis.asyncio.lock import Lock
from redis.exceptions import LockError

from bot.chat.models import Message
from bot.errors import BotError
from bot.incidents import messages as incident_messages
from bot.incidents.flows import RequestSync
from bot.incidents.models import Event, EventKind, Incident
from bot.incidents.states import State
from bot.incidents.store import IncidentStore
from bot.tickets import messages
from bot.tickets.models import (
    FROM_TICKET_SYNC,
    LABEL,
    ORIGIN,
    DeadLetter,
    NewTicket,
    TicketComment,
    TicketPointer,
    TicketRef,
    is_mirrored,
    to_incident_label,
)
from bot.tickets.policy import TicketPolicy
from bot.tickets.port import TicketRejected, TrackerUnavailable
from bot.tickets.service import TicketService
from bot.tickets.store import TicketStore

logger = logging.getLogger(__name__)


class SyncDeferred(BotError):
    """Jira must not be called for this incident before `until` (epoch seconds)."""

    def __init__(self, incident_id: str, *, until: float) -> None:
        super().__init__(f"ticket sync of {incident_id} deferred until {until:.0f}")
        self.incident_id = incident_id
        self.until = until

    @property
    def delay(self) -> float:
        return max(0.0, self.until - time.time())


async def sync_ticket(
    incident_id: str, *, store: IncidentStore, tickets: TicketService, request_sync: RequestSync
) -> None:
    """Bring the incident's issue up to date: create it once, comment, transition, describe.

    One holder at a time per incident; whoever holds the lock looks again after letting go.
    Raises SyncDeferred when Jira is unavailable or asked to wait: try again after `delay`.
    A refusal for good parks the sync on the dead-letter list and says so in the thread.
    """
    lock = tickets.store.lock(incident_id)
    while await lock.acquire(blocking=False):
        try:
            await _sync_once(
                incident_id, lock, store=store, tickets=tickets, request_sync=request_sync
            )
        finally:
            await _release(lock, incident_id)
        if not await is_ticket_behind(incident_id, store=store, tickets=tickets):
            return


async def is_ticket_behind(
    incident_id: str, *, store: IncidentStore, tickets: TicketService
) -> bool:
    """Whether the issue lags the incident and may be synced now (not parked, not on hold)."""
    incident = await store.get(incident_id)
    pointer = await tickets.store.get_pointer(incident_id)
    if incident is None or pointer.parked or pointer.hold_until > time.time():
        return False
    if pointer.key is None or pointer.state != incident.state:
        return True
    events = await store.get_events(incident_id)
    description = build_description(incident, events, policy=tickets.policy)
    return pointer.posted < len(events) or pointer.described != to_digest(description)


def build_description(incident: Incident, events: list[Event], *, policy: TicketPolicy) -> Message:
    diagnoses = [event for event in events if event.kind is EventKind.DIAGNOSIS]
    return messages.build_description(
        incident,
        diagnosis=diagnoses[-1] if diagnoses else None,
        thread_url=messages.to_thread_url(incident.thread, base_url=policy.base_url),
    )


def to_digest(message: Message) -> str:
    return hashlib.sha256(message.model_dump_json().encode()).hexdigest()[:16]


async def _sync_once(
    incident_id: str,
    lock: Lock,
    *,
    store: IncidentStore,
    tickets: TicketService,
    request_sync: RequestSync,
) -> None:
    pointer = await tickets.store.get_pointer(incident_id)
    incident = await store.get(incident_id)
    if incident is None or pointer.parked:
        return
    if pointer.hold_until > time.time():
        raise SyncDeferred(incident_id, until=pointer.hold_until)

    drain = _Drain(
        incident=incident,
        events=await store.get_events(incident_id),
        pointer=pointer,
        store=store,
        tickets=tickets,
        keep_alive=lock.reacquire,
    )
    try:
        await drain.run()
    except TrackerUnavailable as exc:
        raise await _defer(incident_id, drain.pointer, exc, tickets=tickets) from exc
    except TicketRejected as exc:
        await _park(incident_id, drain.pointer, exc, store=store, tickets=tickets)
        await request_sync(incident_id)


@dataclass
class _Drain:
    """One pass over an incident: issue, comments, status, description, in that order."""

    incident: Incident
    events: list[Event]
    pointer: TicketPointer
    store: IncidentStore
    tickets: TicketService
    keep_alive: Callable[[], Awaitable[bool]]

    async def run(self) -> None:
        await self._learn_identity()
        key = await self._ensure_issue()
        await self._post_comments(key)
        await self._apply_state(key)
        await self._update_description(key)
        if self.pointer.failures:
            await self._save(failures=0)

    async def _learn_identity(self) -> None:
        # Before the bot's first write, so webhooks can always tell its own changes apart.
        if not await self.tickets.store.get_account():
            await self.tickets.store.set_account(await self.tickets.tracker.get_identity())

    async def _ensure_issue(self) -> str:
        if self.pointer.key:
            return self.pointer.key
        found = await self.tickets.tracker.find_by_incident(self.incident.id)
        fields: dict[str, object] = {"creating": None}
        if found is None:
            self._check_creation_grace()
            description = build_description(self.incident, self.events, policy=self.tickets.policy)
            found = await self._create(self._to_new_ticket(description))
            fields |= {"described": to_digest(description), "state": State.TRIGGERED}
            logger.info("jira issue %s created", found.key, extra={"incident_id": self.incident.id})
        await self.tickets.store.set_issue(self.incident.id, found, fields)
        self.pointer = self.pointer.model_copy(
            update={"key": found.key, "issue_id": found.id, **fields}
        )
        return found.key

    async def _create(self, ticket: NewTicket) -> TicketRef:
        # Recorded before the call: a crash during it must not be taken for "never created".
        await self._save(creating=time.time())
        try:
            return await self.tickets.tracker.create(ticket)
        except TrackerUnavailable as exc:
            if not exc.may_have_applied:
                await self._save(creating=None)
            raise

    def _check_creation_grace(self) -> None:
        # A create whose answer never came may have worked without search showing it yet.
        if self.pointer.creating is None:
            return
        until = self.pointer.creating + self.tickets.policy.creation_grace_seconds
        if until > time.time():
            raise SyncDeferred(self.incident.id, until=until)

    def _to_new_ticket(self, description: Message) -> NewTicket:
        policy = self.tickets.policy
        project, issue_type = policy.get_project(self.incident)
        return NewTicket(
            incident_id=self.incident.id,
            project=project,
            issue_type=issue_type,
            summary=messages.to_summary(self.incident),
            description=description,
            labels=(LABEL, to_incident_label(self.incident.id)),
            priority=policy.priorities.get(self.incident.severity),
        )

    async def _post_comments(self, key: str) -> None:
        posted = await self._settle_sending(key)
        while posted < len(self.events):
            if any(is_mirrored(event) for event in self.events[posted:]):
                await self._pace()
            end, batch = self._take_batch(posted)
            if batch:
                await self._send(key, posted, end, batch)
            else:
                await self._save(posted=end)
            posted = end

    async def _settle_sending(self, key: str) -> int:
        """Find out whether a comment whose answer was lost reached Jira after all."""
        if not self.pointer.sending:
            return self.pointer.posted
        start, end = (int(part) for part in self.pointer.sending.split(":"))
        marker = messages.to_comment_marker(self.incident.id, start + 1, end)
        landed = await self.tickets.tracker.has_comment(key, marker)
        posted = end if landed else start
        await self._save(posted=posted, sending=None)
        return posted

    async def _pace(self) -> None:
        """Keep to Jira's per-issue write limits; what arrives meanwhile joins the comment."""
        interval = self.tickets.policy.comment_interval_seconds
        wait = self.pointer.last_comment_at + interval - time.time()
        if wait > 0:
            await asyncio.sleep(wait)
            self.events = await self.store.get_events(self.incident.id)

    def _take_batch(self, start: int) -> tuple[int, list[Message]]:
        """The events from `start` that fit in one comment: where they end, and their messages."""
        policy = self.tickets.policy
        batch: list[Message] = []
        size = 0
        end = start
        for event in self.events[start:]:
            if is_mirrored(event):
                # Known limit: one event larger than max_comment_chars is sent whole, and
                # Jira refuses comments over 32,767 characters.
                message = incident_messages.build_event(event)
                cost = _to_size(message)
                full = len(batch) >= policy.max_events_per_comment
                if batch and (full or size + cost > policy.max_comment_chars):
                    break
                batch.append(message)
                size += cost
            end += 1
        return end, batch

    async def _send(self, key: str, start: int, end: int, batch: list[Message]) -> None:
        await self.keep_alive()
        marker = messages.to_comment_marker(self.incident.id, start + 1, end)
        await self._save(sending=f"{start}:{end}")
        await self.tickets.tracker.comment(key, TicketComment(messages=tuple(batch), marker=marker))
        await self._save(posted=end, sending=None, last_comment_at=time.time())

    async def _apply_state(self, key: str) -> None:
        state = self.incident.state
        if self.pointer.state == state:
            return
        if name := self.tickets.policy.transitions.get(state):
            await self.tickets.tracker.transition(key, name)
        await self._save(state=state)

    async def _update_description(self, key: str) -> None:
        description = build_description(self.incident, self.events, policy=self.tickets.policy)
        digest = to_digest(description)
        if self.pointer.described == digest:
            return
        await self.tickets.tracker.update(key, description=description)
        await self._save(described=digest)

    async def _save(self, **fields: object) -> None:
        await self.tickets.store.update_pointer(self.incident.id, fields)
        self.pointer = self.pointer.model_copy(update=fields)


def _to_size(message: Message) -> int:
    parts = [message.text, *(s.text for s in message.sections), *(f.value for f in message.facts)]
    return sum(len(part) for part in parts) + 200


async def _defer(
    incident_id: str, pointer: TicketPointer, exc: TrackerUnavailable, *, tickets: TicketService
) -> SyncDeferred:
    failures = pointer.failures + 1
    delay = exc.retry_after
    if delay is None:
        # Exponential backoff with jitter; randomness here spreads retries, it guards nothing.
        ceiling = min(tickets.policy.max_backoff_seconds, 2.0 ** (failures - 1))
        delay = ceiling * random.uniform(0.5, 1.0)  # noqa: S311
    until = time.time() + delay
    await tickets.store.update_pointer(incident_id, {"failures": failures, "hold_until": until})
    logger.info(
        "jira unavailable (%s); next try in %.1f s",
        exc,
        delay,
        extra={"incident_id": incident_id, "failures": failures},
    )
    return SyncDeferred(incident_id, until=until)


async def _park(
    incident_id: str,
    pointer: TicketPointer,
    exc: TicketRejected,
    *,
    store: IncidentStore,
    tickets: TicketService,
) -> None:
    letter = DeadLetter(
        incident_id=incident_id,
        issue_key=pointer.key,
        operation=exc.operation,
        status=exc.status,
        error=exc.message,
    )
    await tickets.store.park(letter)
    note = Event(
        kind=EventKind.NOTE,
        text=messages.to_out_of_step_note(letter),
        data={ORIGIN: FROM_TICKET_SYNC},
    )
    await store.append_event(incident_id, note)
    logger.warning(
        "jira refused to %s: %s; ticket sync parked",
        exc.operation,
        exc.message,
        extra={"incident_id": incident_id, "status": exc.status},
    )


async def _release(lock: Lock, incident_id: str) -> None:
    try:
        await lock.release()
    except LockError:
        logger.warning("ticket lock expired while held", extra={"incident_id": incident_id})


async def retry_dead_letter(
    incident_id: str, *, store: TicketStore, request_sync: RequestSync
) -> DeadLetter | None:
    """Take the incident off the dead-letter list and sync its ticket again; None if not on it."""
    letter = await store.unpark(incident_id)
    if letter is not None:
        await request_sync(incident_id)
    return letter
