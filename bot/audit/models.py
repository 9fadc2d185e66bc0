"""Audit entries, the canonical form their hashes are taken over, and a chain check's result."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field, field_validator

GENESIS_HASH = "0" * 64


class AuditKind(StrEnum):
    """What an entry records; add a member for each new kind of event worth proving."""

    ALERT = "alert"
    STATE_CHANGE = "state_change"
    DIAGNOSIS = "diagnosis"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVAL_RESOLVED = "approval_resolved"
    CLICK_ALLOWED = "click_allowed"
    CLICK_REFUSED = "click_refused"
    ACTION_STARTED = "action_started"
    ACTION_FINISHED = "action_finished"
    VERIFICATION = "verification"
    ROLLBACK = "rollback"
    ESCALATION = "escalation"


def utcnow() -> datetime:
    return datetime.now(UTC)


class AuditEntry(BaseModel):
    """One link of the audit chain: `hash` covers every other field, `prev_hash` included."""

    seq: int = Field(ge=1)
    at: datetime = Field(default_factory=utcnow)
    actor: str
    kind: AuditKind
    incident_id: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str = GENESIS_HASH
    hash: str = ""

    @field_validator("at")
    @classmethod
    def _in_utc(cls, at: datetime) -> datetime:
        return at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)

    def to_json(self) -> str:
        """The entry as stored and exported: canonical JSON, hash included."""
        return to_canonical_json(self.model_dump(mode="json"))

    def with_hash(self) -> AuditEntry:
        return self.model_copy(update={"hash": to_hash(self.model_dump(mode="json"))})


class VerifyResult(BaseModel):
    """The outcome of walking the chain: intact, or the first entry at fault and why."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None
    last_hash: str | None = None


def to_canonical_json(fields: dict[str, Any]) -> str:
    """Sorted keys, no whitespace, UTF-8 text as is: one spelling per value."""
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def to_hash(fields: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON of every field except `hash` itself."""
    content = {name: value for name, value in fields.items() if name != "hash"}
    return hashlib.sha256(to_canonical_json(content).encode()).hexdigest()
