"""What the ticket sync reads and writes: new issues, comments, its pointer, dead letters."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from bot.chat.models import Message
from bot.incidents.models import Event, utcnow
from bot.incidents.states import State

LABEL = "incident-bot"
PROPERTY = "incident-bot"

# Events carry their origin in `data`; the ones that came from Jira, or that report on the
# ticket sync itself, are shown in the thread but never written back to Jira.
ORIGIN = "origin"
FROM_JIRA = "jira"
FROM_TICKET_SYNC = "ticket-sync"
_UNMIRRORED = frozenset({FROM_JIRA, FROM_TICKET_SYNC})


def to_incident_label(incident_id: str) -> str:
    """The label that marks an incident's issue; it is set in the create request itself."""
    return f"{LABEL}-{incident_id}"


def to_labelled_incident(label: str) -> str | None:
    """The incident id a label of ours names (`incident-bot-INC-7` -> `INC-7`), else None."""
    prefix = f"{LABEL}-"
    return label.removeprefix(prefix) if label.startswith(f"{prefix}INC-") else None


def is_mirrored(event: Event) -> bool:
    """Whether a timeline event becomes (part of) a Jira comment."""
    return event.data.get(ORIGIN) not in _UNMIRRORED


class TicketRef(BaseModel):
    """A Jira issue: its key (OPS-12) and its numeric id, which webhooks sometimes name alone."""

    model_config = ConfigDict(frozen=True)

    key: str
    id: str = ""


class NewTicket(BaseModel):
    """Everything the create request sends."""

    model_config = ConfigDict(frozen=True)

    incident_id: str
    project: str
    issue_type: str
    summary: str
    description: Message
    labels: tuple[str, ...]
    priority: str | None = None


class TicketComment(BaseModel):
    """One comment: the thread messages of several coalesced events, then a marker line.

    The marker names the incident and the events, so a comment whose answer was lost can be
    found on the issue instead of being written twice.
    """

    model_config = ConfigDict(frozen=True)

    messages: tuple[Message, ...]
    marker: str


class TicketPointer(BaseModel):
    """How far an incident's issue has caught up; kept as a Redis hash.

    `posted` counts timeline events already handled; `sending` is the `start:end` range of a
    comment whose outcome is unknown; `state` is the incident state the issue's status
    reflects; `described` is the digest of the description last written; `creating` is when
    a create was last tried; `hold_until` is when Jira may be called again.
    """

    key: str | None = None
    issue_id: str = ""
    posted: int = 0
    sending: str | None = None
    state: State | None = None
    described: str | None = None
    creating: float | None = None
    hold_until: float = 0.0
    failures: int = 0
    parked: bool = False
    last_comment_at: float = 0.0


class DeadLetter(BaseModel):
    """An operation Jira refused for good; the incident's ticket sync waits behind it."""

    incident_id: str
    issue_key: str | None = None
    operation: str
    status: int | None = None
    error: str
    at: datetime = Field(default_factory=utcnow)


class ChangeKind(StrEnum):
    COMMENT = "comment"
    STATUS = "status"


class JiraChange(BaseModel):
    """A change people made in Jira, parsed from a webhook, before it joins a timeline."""

    model_config = ConfigDict(frozen=True)

    kind: ChangeKind
    delivery_id: str
    issue_key: str | None = None
    issue_id: str | None = None
    labels: tuple[str, ...] = ()
    author_ids: frozenset[str] = frozenset()
    author_name: str = "someone"
    text: str = ""
    from_status: str = ""
    to_status: str = ""
