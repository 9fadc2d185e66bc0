"""Jira to chat: comments and status changes people make in Jira join the incident's timeline.

The thread shows them like any other event; the ticket sync skips them, and the bot's own
writes are recognised and dropped, so nothing echoes back and forth.
"""

from __future__ import annotations

import logging
from enum import StrEnum

from bot.incidents.flows import RequestSync
from bot.incidents.models import Event, EventKind
from bot.incidents.store import IncidentStore
from bot.tickets import messages
from bot.tickets.models import FROM_JIRA, ORIGIN, ChangeKind, JiraChange, to_labelled_incident
from bot.tickets.service import TicketService

logger = logging.getLogger(__name__)


class Inbound(StrEnum):
    """What became of a change made in Jira."""

    ADDED = "added"
    OWN = "own change"
    UNKNOWN_ISSUE = "not an incident's issue"
    DUPLICATE = "duplicate"


async def handle_jira_change(
    change: JiraChange, *, store: IncidentStore, tickets: TicketService, request_sync: RequestSync
) -> tuple[Inbound, str | None]:
    """Add a change people made in Jira to its incident's timeline, so the thread shows it.

    Changes the bot made itself are dropped, so nothing it writes comes back as an echo.
    Returns what happened and the incident id, when there is one.
    """
    if await _is_own(change, tickets):
        return Inbound.OWN, None
    incident_id = await _find_incident(change, tickets)
    if incident_id is None:
        return Inbound.UNKNOWN_ISSUE, None
    delivery = f"{change.kind}:{change.delivery_id}"
    if not await tickets.store.is_new_delivery(delivery):
        return Inbound.DUPLICATE, incident_id

    key = change.issue_key or (await tickets.store.get_pointer(incident_id)).key or "the issue"
    try:
        await store.append_event(incident_id, _to_event(change, key=key))
    except Exception:
        # Forget the delivery, so Jira's retry of it is taken rather than dropped.
        await tickets.store.forget_delivery(delivery)
        raise
    await request_sync(incident_id)
    logger.info("jira %s added", change.kind, extra={"incident_id": incident_id, "issue_key": key})
    return Inbound.ADDED, incident_id


def _to_event(change: JiraChange, *, key: str) -> Event:
    if change.kind is ChangeKind.COMMENT:
        text = messages.to_jira_comment_note(change, key=key)
    else:
        text = messages.to_jira_status_note(change, key=key)
    return Event(
        kind=EventKind.NOTE,
        actor=messages.to_jira_actor(change),
        text=text,
        data={ORIGIN: FROM_JIRA, "issue": key, "delivery_id": change.delivery_id},
    )


async def _is_own(change: JiraChange, tickets: TicketService) -> bool:
    accounts = tickets.bot_accounts | await tickets.store.get_account()
    if change.author_ids & accounts:
        return True
    return change.kind is ChangeKind.COMMENT and messages.is_bot_comment(change.text)


async def _find_incident(change: JiraChange, tickets: TicketService) -> str | None:
    found = await tickets.store.find_incident(key=change.issue_key, issue_id=change.issue_id)
    if found is not None:
        return found
    labelled = (to_labelled_incident(label) for label in change.labels)
    return next((incident_id for incident_id in labelled if incident_id), None)
