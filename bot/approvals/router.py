"""The one click handler for Slack, Teams and the console: every button lands here.

Approve, reject and escalate go to the approval service, acknowledge and resolve to the
incident commands, done and did-not-work (a step a person carries out) to the remediation
flow. A click only records and queues: outside systems are called from jobs, so the chat
platform's deadline for an answer (Slack: three seconds) never depends on them. Every click
is audited, allowed or refused; a refusal answers only the clicker and changes nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.actions.models import RunStatus
from bot.approvals import messages
from bot.approvals.flows import Remediation
from bot.approvals.models import RequestStatus
from bot.approvals.policy import to_identity
from bot.approvals.service import ClickOutcome, OutcomeKind
from bot.audit.models import AuditKind
from bot.chat.models import Message
from bot.chat.port import ButtonClick
from bot.incidents.commands import IncidentCommands

logger = logging.getLogger(__name__)

INCIDENT_ACTIONS = frozenset({"ack", "resolve"})
CONFIRM_ACTIONS = {messages.CONFIRM_DONE: True, messages.CONFIRM_FAILED: False}


class ConfirmJobs(Protocol):
    async def request_confirm(self, request_id: str, *, succeeded: bool, actor: str) -> None: ...


class ClickRouter:
    """Routes a button click by its action; pass `handle_click` as every platform's on_click."""

    def __init__(
        self, *, remediation: Remediation, commands: IncidentCommands, jobs: ConfirmJobs
    ) -> None:
        self.remediation = remediation
        self.commands = commands
        self.jobs = jobs

    async def handle_click(self, click: ButtonClick) -> Message | None:
        if click.action in INCIDENT_ACTIONS:
            return await self._handle_incident_click(click)
        if click.action in CONFIRM_ACTIONS:
            return await self._handle_confirm_click(click)
        await self.remediation.cancel_if_resolved(click.value)
        outcome = await self.remediation.approvals.handle_click(click, now=datetime.now(UTC))
        request = outcome.request
        incident_id = request.incident_id if request else None
        await self._audit(click, incident_id=incident_id, outcome=outcome)
        if request is None or outcome.kind in (OutcomeKind.REFUSED, OutcomeKind.RECORDED):
            return outcome.message

        actor = to_identity(click)
        if outcome.kind is OutcomeKind.APPROVED:
            await self.remediation.audit_resolved(request, actor=actor)
            await self.remediation.start(request, actor=actor)
        elif outcome.kind is OutcomeKind.REJECTED:
            await self.remediation.audit_resolved(request, actor=actor)
            reason = messages.to_rejected_reason(request)
            await self.remediation.escalate(request.incident_id, reason=reason, actor=actor)
        elif outcome.kind is OutcomeKind.ESCALATE:
            reason = messages.to_escalate_click_reason(request)
            await self.remediation.escalate(request.incident_id, reason=reason, actor=actor)
        return outcome.message

    async def _handle_incident_click(self, click: ButtonClick) -> Message | None:
        # The click is audited here; the state change it causes is audited by the store.
        answer = await self.commands.handle_click(click)
        incident = await self.remediation.store.get(click.value)
        incident_id = incident.id if incident else None
        await self._append(AuditKind.CLICK_ALLOWED, click, incident_id, answer=answer)
        return answer

    async def _handle_confirm_click(self, click: ButtonClick) -> Message:
        request = await self.remediation.approvals.get(click.value)
        policy = self.remediation.policy
        recorded = None
        if request is not None and request.status is RequestStatus.EXECUTED:
            recorded = await self.remediation.runner.get_outcome(
                request.incident_id, request.step_id, request.attempt
            )
        if request is None or recorded is None or recorded.status is not RunStatus.WAITING:
            incident_id = request.incident_id if request else None
            await self._append(AuditKind.CLICK_REFUSED, click, incident_id, reason="not-waiting")
            return messages.build_not_waiting()
        if not policy.is_member(click, policy.get_roles(request.risk)):
            await self._append(
                AuditKind.CLICK_REFUSED, click, request.incident_id, reason="not-allowed"
            )
            return messages.build_confirm_refused(request, policy=policy)

        succeeded = CONFIRM_ACTIONS[click.action]
        await self._append(AuditKind.CLICK_ALLOWED, click, request.incident_id)
        await self.jobs.request_confirm(request.id, succeeded=succeeded, actor=to_identity(click))
        return messages.build_confirm_recorded(succeeded=succeeded)

    async def _audit(
        self, click: ButtonClick, *, incident_id: str | None, outcome: ClickOutcome
    ) -> None:
        if outcome.kind is OutcomeKind.REFUSED:
            reason = outcome.refusal.reason if outcome.refusal else "refused"
            await self._append(AuditKind.CLICK_REFUSED, click, incident_id, reason=reason)
        else:
            await self._append(AuditKind.CLICK_ALLOWED, click, incident_id, result=outcome.kind)

    async def _append(
        self, kind: AuditKind, click: ButtonClick, incident_id: str | None, **data: Any
    ) -> None:
        if isinstance(data.get("answer"), Message):
            data["answer"] = data["answer"].text
        data |= {"action": click.action, "value": click.value, "platform": click.platform}
        await self.remediation.audit.append(
            kind, actor=to_identity(click), incident_id=incident_id, data=data
        )
        logger.info("click %s by %s: %s", click.action, to_identity(click), kind)
