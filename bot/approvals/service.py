"""Approval requests from proposal to decision: create, decide clicks, expire, mark run.

Usage, from the flow that proposes a remediation step:

    request = await approvals.create_request(incident_id=..., playbook_id=..., step_id=...,
                                             title=..., action=resolved_action, risk=...,
                                             now=now)
    message = messages.build_approval_message(request, preview=preview, policy=policy)

and from the chat wiring, for the approve / reject / escalate buttons:

    outcome = await approvals.handle_click(click, now=now)
    # outcome.message goes to the clicker only; act on outcome.kind APPROVED exactly once.

Slack user groups: `Policy` matches `S…` members against `click.user_groups`, which the
Slack wiring fills (from one cached usergroups.list call, `SlackUserGroups`) before calling
`handle_click`; an empty tuple simply means no group membership counts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from bot.approvals import messages
from bot.approvals.models import (
    BOT_REQUESTER,
    ApprovalRequest,
    ClickAction,
    Refusal,
    RefusalReason,
    RequestStatus,
    Verdict,
    Vote,
    create_request_id,
    is_request_id,
)
from bot.approvals.policy import Policy, to_identity
from bot.approvals.store import ApprovalStore
from bot.chat.models import Message
from bot.chat.port import ButtonClick, ThreadRef
from bot.errors import BotError
from bot.runbooks.models import Action, Risk

logger = logging.getLogger(__name__)


class OutcomeKind(StrEnum):
    APPROVED = "approved"
    RECORDED = "recorded"
    REJECTED = "rejected"
    ESCALATE = "escalate"
    REFUSED = "refused"


@dataclass(frozen=True)
class ClickOutcome:
    """What a click did; `message` is the answer shown only to the person who clicked.

    APPROVED is returned to exactly one click per request, however many arrive at once.
    """

    kind: OutcomeKind
    message: Message
    request: ApprovalRequest | None = None
    refusal: Refusal | None = None
    waiting_for: int = 0


class RequestNotApproved(BotError):
    """A request was to be marked as run although it is not approved."""


class ApprovalService:
    """Creates approval requests and decides clicks on them under the approval policy."""

    def __init__(self, *, store: ApprovalStore, policy: Policy) -> None:
        self.store = store
        self.policy = policy

    async def create_request(
        self,
        *,
        incident_id: str,
        playbook_id: str,
        step_id: str,
        title: str,
        action: Action,
        risk: Risk,
        now: datetime,
        requester: str = BOT_REQUESTER,
        thread: ThreadRef | None = None,
        values: dict[str, str] | None = None,
    ) -> ApprovalRequest:
        """Store a pending request for a step, superseding the step's older pending one.

        `action` must be resolved already (placeholders filled): it is exactly what runs.
        """
        request = ApprovalRequest(
            id=create_request_id(),
            incident_id=incident_id,
            playbook_id=playbook_id,
            step_id=step_id,
            title=title,
            action=action,
            risk=risk,
            requester=requester,
            created_at=now,
            expires_at=now + timedelta(minutes=self.policy.get_open_minutes(risk)),
            attempt=await self.store.get_next_attempt(incident_id, step_id),
            thread=thread,
            values=values or {},
        )
        superseded = await self.store.create(request)
        logger.info(
            "approval requested for %s step %s: risk %s, attempt %d, supersedes %s",
            incident_id,
            step_id,
            risk,
            request.attempt,
            superseded or "nothing",
        )
        return request

    async def handle_click(self, click: ButtonClick, *, now: datetime) -> ClickOutcome:
        """Decide an approve, reject or escalate click atomically; refusals change nothing."""
        if not is_request_id(click.value):
            return self._to_refused(click, Refusal(RefusalReason.UNKNOWN_REQUEST, click.action))
        verdicts: list[Verdict] = []

        def decide(request: ApprovalRequest) -> ApprovalRequest | None:
            # Runs again on every compare-and-set retry, so the policy always sees the
            # request as it is stored at that moment.
            verdicts[:] = [self.policy.check(request, click, now=now)]
            if verdicts[0].refusal is not None:
                return None
            return to_decided(request, click, needed=verdicts[0].needed, now=now)

        stored = await self.store.update(click.value, decide)
        if stored is None:
            return self._to_refused(click, Refusal(RefusalReason.UNKNOWN_REQUEST, click.action))
        if verdicts[0].refusal is not None:
            return self._to_refused(click, verdicts[0].refusal, stored)
        outcome = to_outcome(stored, click, needed=verdicts[0].needed)
        logger.info(
            "approval click %s on %s by %s: %s",
            click.action,
            stored.id,
            to_identity(click),
            outcome.kind,
        )
        return outcome

    async def mark_executed(self, request_id: str, *, now: datetime) -> ApprovalRequest:
        """Record that an approved request ran; a second call changes nothing.

        Raises RequestNotApproved for any other status, KeyError for an unknown id.
        """

        def change(request: ApprovalRequest) -> ApprovalRequest | None:
            if request.status is RequestStatus.EXECUTED:
                return None
            if request.status is not RequestStatus.APPROVED:
                raise RequestNotApproved(f"{request_id} is {request.status}")
            return request.model_copy(update={"status": RequestStatus.EXECUTED, "executed_at": now})

        stored = await self.store.update(request_id, change)
        if stored is None:
            raise KeyError(request_id)
        return stored

    async def cancel(self, request_id: str, *, now: datetime) -> ApprovalRequest | None:
        """Close a pending request without running it (the incident resolved meanwhile)."""
        return await self._close(request_id, RequestStatus.CANCELLED, now=now)

    async def expire_due(self, now: datetime) -> list[ApprovalRequest]:
        """Expire every pending request whose time is up; returns the ones this call expired."""
        expired = []
        for request_id in await self.store.list_due(now):
            request = await self._close(request_id, RequestStatus.EXPIRED, now=now)
            if request is not None:
                expired.append(request)
        if expired:
            logger.info("approval requests expired: %d", len(expired))
        return expired

    async def get(self, request_id: str) -> ApprovalRequest | None:
        return await self.store.get(request_id) if is_request_id(request_id) else None

    async def _close(
        self, request_id: str, status: RequestStatus, *, now: datetime
    ) -> ApprovalRequest | None:
        closed: list[ApprovalRequest] = []

        def change(request: ApprovalRequest) -> ApprovalRequest | None:
            closed.clear()
            if not request.is_open or (
                status is RequestStatus.EXPIRED and now < request.expires_at
            ):
                return None
            closed.append(request.model_copy(update={"status": status, "decided_at": now}))
            return closed[0]

        await self.store.update(request_id, change)
        return closed[0] if closed else None

    def _to_refused(
        self, click: ButtonClick, refusal: Refusal, request: ApprovalRequest | None = None
    ) -> ClickOutcome:
        logger.info(
            "approval click %s by %s refused: %s", click.action, to_identity(click), refusal.reason
        )
        message = messages.build_refusal(refusal, request, policy=self.policy)
        return ClickOutcome(
            kind=OutcomeKind.REFUSED,
            message=message,
            request=request,
            refusal=refusal,
            waiting_for=refusal.waiting_for,
        )


def to_decided(
    request: ApprovalRequest, click: ButtonClick, *, needed: int, now: datetime
) -> ApprovalRequest:
    """The request with an allowed click recorded, and decided when it settles it."""
    vote = Vote(user=to_identity(click), at=now)
    if click.action == ClickAction.ESCALATE:
        return request.model_copy(update={"escalations": [*request.escalations, vote]})
    if click.action == ClickAction.REJECT:
        return request.model_copy(
            update={
                "rejections": [*request.rejections, vote],
                "status": RequestStatus.REJECTED,
                "decided_at": now,
            }
        )
    approvals = [*request.approvals, vote]
    update: dict[str, object] = {"approvals": approvals}
    if len(approvals) >= needed:
        update |= {"status": RequestStatus.APPROVED, "decided_at": now}
    return request.model_copy(update=update)


def to_outcome(request: ApprovalRequest, click: ButtonClick, *, needed: int) -> ClickOutcome:
    if click.action == ClickAction.ESCALATE:
        return ClickOutcome(OutcomeKind.ESCALATE, messages.build_escalated(request), request)
    if click.action == ClickAction.REJECT:
        return ClickOutcome(OutcomeKind.REJECTED, messages.build_rejected(request), request)
    if request.status is RequestStatus.APPROVED:
        return ClickOutcome(OutcomeKind.APPROVED, messages.build_approved(request), request)
    waiting_for = needed - len(request.approvals)
    message = messages.build_recorded(request, waiting_for=waiting_for)
    return ClickOutcome(OutcomeKind.RECORDED, message, request, waiting_for=waiting_for)
