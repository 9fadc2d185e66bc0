"""Incidents and the events in their timeline."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field

from bot.alerts.models import Severity
from bot.chat.port import ThreadRef
from bot.incidents.states import State


def utcnow() -> datetime:
    return datetime.now(UTC)


class EventKind(StrEnum):
    ALERT = "alert"
    ALERT_RESOLVED = "alert_resolved"
    STATE_CHANGED = "state_changed"
    NOTE = "note"
    DIAGNOSIS = "diagnosis"
    APPROVAL = "approval"
    ACTION = "action"
    ESCALATION = "escalation"


class Event(BaseModel):
    """One entry in an incident's timeline; each becomes a reply in its thread."""

    kind: EventKind
    at: datetime = Field(default_factory=utcnow)
    actor: str = "incident-bot"
    text: str = ""
    data: dict[str, Any] = Field(default_factory=dict)


class Incident(BaseModel):
    """An incident: the alerts that share a fingerprint, its state and where it is discussed."""

    id: str
    fingerprint: str
    title: str
    severity: Severity
    state: State = State.TRIGGERED
    source: str
    service: str | None = None
    team: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    channel: str
    first_alert_id: str
    alert_count: int = 1
    opened_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    acknowledged_by: str | None = None
    acknowledged_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    thread: ThreadRef | None = None
    version: int = 0

    @property
    def is_open(self) -> bool:
        return self.state is not State.RESOLVED
