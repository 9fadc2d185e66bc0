"""Approval requests: one proposed remediation step waiting for the people allowed to run it.

A request is created when the bot (or a person) proposes a step; its button carries only
the request's id, so what runs is always what was resolved and stored at proposal time.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from bot.approvals.freeze import ActiveFreeze
from bot.chat.port import ThreadRef
from bot.runbooks.models import Action, Risk

BOT_REQUESTER = "incident-bot"
# token_urlsafe(24) gives 32 characters; anything else on a button was not made by us.
REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{32}$")


class ClickAction(StrEnum):
    """The `action` of the three buttons under an approval request."""

    APPROVE = "approve"
    REJECT = "reject"
    ESCALATE = "escalate"


class RequestStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    CANCELLED = "cancelled"
    EXECUTED = "executed"


class Vote(BaseModel):
    """One person's click on a request: who, and when."""

    model_config = ConfigDict(frozen=True)

    user: str
    at: datetime


class ApprovalRequest(BaseModel):
    """A remediation step as proposed, and the clicks it has collected so far.

    `requester` and every `Vote.user` are identities as `Policy` sees them: a Slack user id
    (`U…`), `console:<name>`, `teams:<object id>`, or `incident-bot` for the bot itself.
    """

    model_config = ConfigDict(frozen=True)

    id: str
    incident_id: str
    playbook_id: str
    step_id: str
    title: str
    action: Action
    risk: Risk
    requester: str = BOT_REQUESTER
    created_at: datetime
    expires_at: datetime
    attempt: int = Field(ge=1)
    thread: ThreadRef | None = None
    # The placeholder values the action was filled from; its verification and rollback
    # are filled from the same ones when it runs.
    values: dict[str, str] = Field(default_factory=dict)
    status: RequestStatus = RequestStatus.PENDING
    approvals: list[Vote] = Field(default_factory=list)
    rejections: list[Vote] = Field(default_factory=list)
    escalations: list[Vote] = Field(default_factory=list)
    decided_at: datetime | None = None
    executed_at: datetime | None = None

    @property
    def approvers(self) -> list[str]:
        return [vote.user for vote in self.approvals]

    @property
    def is_open(self) -> bool:
        return self.status is RequestStatus.PENDING


def create_request_id() -> str:
    """An unguessable id for a button's value."""
    return secrets.token_urlsafe(24)


def is_request_id(value: str) -> bool:
    return REQUEST_ID.fullmatch(value) is not None


class RefusalReason(StrEnum):
    UNKNOWN_ACTION = "unknown-action"
    UNKNOWN_REQUEST = "unknown-request"
    EXPIRED = "expired"
    SUPERSEDED = "superseded"
    CLOSED = "closed"
    RESOLVED = "resolved"
    ALREADY_APPROVED = "already-approved"
    ALREADY_ESCALATED = "already-escalated"
    OBSERVE_ONLY = "observe-only"
    NOBODY_MAY = "nobody-may"
    NOT_ALLOWED = "not-allowed"
    REQUESTER = "requester"
    FROZEN = "frozen"


@dataclass(frozen=True)
class Refusal:
    """Why a click changes nothing; `roles` are the ones that would have been allowed."""

    reason: RefusalReason
    action: str
    roles: tuple[str, ...] = ()
    freeze: ActiveFreeze | None = None
    waiting_for: int = 0


@dataclass(frozen=True)
class Verdict:
    """A click's fate under the policy, and how many distinct approvals the request needs."""

    refusal: Refusal | None
    needed: int
