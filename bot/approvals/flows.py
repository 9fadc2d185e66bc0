"""Remediation from proposal to outcome: propose a step, run it once approved, or escalate.

    remediation = Remediation(store=..., approvals=..., runner=..., catalogue=..., audit=...,
                              traces=..., jobs=runtime.jobs, oncall_group=settings.oncall_group)
    await remediation.handle_diagnosed(incident_id, diagnosis, state, alert=alert)  # proposes
    await remediation.run_approved(request_id)  # the `run_action` job, after an approval

Nothing here changes an outside system before `run_approved`, and that re-checks the kill
switch and the request's status first; the runner's idempotency key makes a retried job or
a second worker run a step once.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.actions.models import ActionRefused, RunContext, RunOutcome, RunStatus
from bot.actions.params import to_filled_spec
from bot.actions.service import ActionRunner
from bot.alerts.models import Alert
from bot.approvals import messages
from bot.approvals.models import ApprovalRequest, RequestStatus
from bot.approvals.policy import Policy
from bot.approvals.records import record_outcome, to_request_summary
from bot.approvals.service import ApprovalService
from bot.audit.models import AuditKind
from bot.audit.store import AuditLog
from bot.chat.models import Message
from bot.diagnosis.collectors.alert import to_alert_context
from bot.diagnosis.models import Diagnosis
from bot.errors import BotError, IllegalTransition
from bot.incidents.models import Event, EventKind
from bot.incidents.states import State
from bot.incidents.store import IncidentStore
from bot.runbooks.catalogue import Catalogue
from bot.runbooks.models import Playbook, RemediationStep
from bot.traces.models import StepKind
from bot.traces.store import TraceRecorder

logger = logging.getLogger(__name__)

ACTOR = "incident-bot"


class RemediationJobs(Protocol):
    """The background jobs the flow queues (implemented by `bot.runtime.Jobs`)."""

    async def request_sync(self, incident_id: str) -> None: ...

    async def request_run(self, request_id: str) -> None: ...

    async def request_timer(self, request_id: str, *, at: int) -> None: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Remediation:
    """Proposes playbook steps, acts on approved ones and escalates, with audit and trace."""

    store: IncidentStore
    approvals: ApprovalService
    runner: ActionRunner
    catalogue: Catalogue
    audit: AuditLog
    traces: TraceRecorder
    jobs: RemediationJobs
    oncall_group: str = ""
    # PLAYBOOK_VALUES: defaults for every step's placeholders; the alert's values win.
    values: dict[str, str] = field(default_factory=dict)

    @property
    def policy(self) -> Policy:
        return self.approvals.policy

    async def handle_diagnosed(
        self, incident_id: str, diagnosis: Diagnosis, state: State | None, *, alert: Alert
    ) -> None:
        """Record a posted diagnosis, then propose its first step or call people in."""
        playbook = self.catalogue.get(diagnosis.playbook_id) if diagnosis.playbook_id else None
        await self.audit.append(
            AuditKind.DIAGNOSIS,
            actor=ACTOR,
            incident_id=incident_id,
            data=diagnosis.model_dump(mode="json", include={"failure_class", "confidence"})
            | {"playbook_id": diagnosis.playbook_id, "state": state},
        )
        if state is State.AWAITING_APPROVAL and playbook is not None and playbook.remediation:
            values = self.values | to_alert_context(alert, incident_id) | diagnosis.values
            await self.propose(incident_id, playbook, playbook.remediation[0], values=values)
        elif state is State.ESCALATED:
            reason = messages.to_unknown_reason(diagnosis.summary)
            await self.escalate(incident_id, reason=reason, playbook=playbook)

    async def propose(
        self,
        incident_id: str,
        playbook: Playbook,
        step: RemediationStep,
        *,
        values: dict[str, str],
    ) -> ApprovalRequest | None:
        """Post a step with its dry-run preview behind the approval buttons, and set its timer.

        A step whose parameters cannot be filled is not proposed: the incident escalates.
        """
        try:
            action = to_filled_spec(step.action, values, step_id=step.id)
            preview = await self.runner.preview(
                step, incident_id=incident_id, ctx=RunContext(values)
            )
            preview_text = preview.summary
        except ActionRefused as exc:
            reason = messages.to_unproposable_reason(step.title, str(exc))
            await self.escalate(incident_id, reason=reason, playbook=playbook)
            return None
        except BotError as exc:
            # The preview only reads; a system that cannot answer now does not block the
            # proposal, and what runs is still decided at approval.
            preview_text = messages.to_preview_failed(str(exc))

        incident = await self.store.get(incident_id)
        request = await self.approvals.create_request(
            incident_id=incident_id,
            playbook_id=playbook.id,
            step_id=step.id,
            title=step.title,
            action=action,
            risk=step.risk,
            now=utcnow(),
            thread=incident.thread if incident else None,
            values=values,
        )
        message = messages.build_approval_message(request, preview=preview_text, policy=self.policy)
        await self._post(incident_id, EventKind.APPROVAL, message, request_id=request.id)
        summary = to_request_summary(request) | {"observe_only": self.policy.is_observing}
        await self.audit.append(
            AuditKind.APPROVAL_REQUESTED, actor=ACTOR, incident_id=incident_id, data=summary
        )
        await self.traces.add_step(
            incident_id, StepKind.APPROVAL, "approval.requested", input=summary, output=preview_text
        )
        await self.jobs.request_timer(request.id, at=math.ceil(request.expires_at.timestamp()))
        await self.jobs.request_sync(incident_id)
        return request

    async def start(self, request: ApprovalRequest, *, actor: str) -> None:
        """An approval just settled the request: move the incident on and queue the run.

        An incident resolved meanwhile stays resolved, and the step does not run.
        """
        try:
            await self._move(
                request.incident_id, State.REMEDIATING, actor=actor, text=request.title
            )
        except IllegalTransition as exc:
            logger.info(
                "approved step not run: %s", exc, extra={"incident_id": request.incident_id}
            )
            return
        await self.jobs.request_run(request.id)
        await self.jobs.request_sync(request.incident_id)

    async def run_approved(self, request_id: str) -> str:
        """Run an approved request's step once, then post, audit and trace what it did."""
        request = await self.approvals.get(request_id)
        if request is None or request.status is not RequestStatus.APPROVED:
            logger.info("run skipped for %s: not approved", request_id)
            return "skipped"
        if self.policy.is_observing:
            reason = messages.to_kill_switch_reason(request)
            await self.escalate(request.incident_id, reason=reason)
            return "observe-only"

        step, playbook = self._get_step(request)
        approvers = ",".join(request.approvers)
        await self.audit.append(
            AuditKind.ACTION_STARTED,
            actor=approvers,
            incident_id=request.incident_id,
            data=to_request_summary(request),
        )
        outcome = await self.runner.run(
            step,
            incident_id=request.incident_id,
            attempt=request.attempt,
            ctx=RunContext(request.values, actor=approvers),
        )
        if outcome.duplicate and outcome.status is RunStatus.RUNNING:
            return "already running"
        await self._finish(request, playbook, outcome)
        return str(outcome.status)

    async def confirm(self, request_id: str, *, succeeded: bool, actor: str) -> str:
        """A person marked a waiting step done (or not working): verify and carry on."""
        request = await self.approvals.get(request_id)
        if request is None:
            return "unknown"
        step, playbook = self._get_step(request)
        outcome = await self.runner.confirm(
            step,
            incident_id=request.incident_id,
            attempt=request.attempt,
            ctx=RunContext(request.values, actor=actor),
            succeeded=succeeded,
        )
        if outcome.duplicate:
            return "duplicate"
        await self._finish(request, playbook, outcome)
        return str(outcome.status)

    async def expire(self, request_id: str) -> str:
        """The timer of one request: escalate every request that nobody approved in time.

        A request whose incident resolved meanwhile is cancelled instead, without a post.
        """
        if await self.cancel_if_resolved(request_id) is not None:
            return "cancelled"
        request = await self.approvals.get(request_id)
        if request is None or not request.is_open:
            return "decided"
        now = utcnow()
        if now < request.expires_at:
            # Woken early (clocks differ between hosts): look again when it is due.
            await self.jobs.request_timer(request_id, at=math.ceil(request.expires_at.timestamp()))
            return "early"

        # The sweep below also expires other incidents' due requests; spare the resolved ones.
        for due_id in await self.approvals.store.list_due(now):
            await self.cancel_if_resolved(due_id)
        for expired in await self.approvals.expire_due(now):
            await self._post(
                expired.incident_id, EventKind.APPROVAL, messages.build_expired(expired)
            )
            await self.audit_resolved(expired, actor=ACTOR)
            reason = messages.to_expired_reason(expired)
            await self.escalate(expired.incident_id, reason=reason, playbook=self._find(expired))
        return "expired"

    async def cancel_if_resolved(self, request_id: str) -> ApprovalRequest | None:
        """Cancel an open request whose incident is resolved; returns it when this call did.

        Resolution (a recovery alert, `/incident resolve`) does not reach this flow, so the
        click and timer paths call this first: a late click is then answered "resolved" and
        the timer posts nothing.
        """
        request = await self.approvals.get(request_id)
        if request is None or not request.is_open:
            return None
        incident = await self.store.get(request.incident_id)
        if incident is None or incident.is_open:
            return None
        cancelled = await self.approvals.cancel(request_id, now=utcnow())
        if cancelled is not None:
            logger.info(
                "approval request %s cancelled: incident resolved",
                request_id,
                extra={"incident_id": request.incident_id},
            )
            await self.audit_resolved(cancelled, actor=ACTOR)
        return cancelled

    async def escalate(
        self,
        incident_id: str,
        *,
        reason: str,
        actor: str = ACTOR,
        playbook: Playbook | None = None,
    ) -> bool:
        """Mark the incident escalated and call the on-call group in; False once resolved."""
        try:
            await self._move(incident_id, State.ESCALATED, actor=actor, text=reason)
        except IllegalTransition as exc:
            logger.info("no escalation: %s", exc, extra={"incident_id": incident_id})
            return False
        team = playbook.escalation.team if playbook else None
        mentions = [messages.to_member(name) for name in (self.oncall_group, team) if name]
        await self._post(
            incident_id, EventKind.ESCALATION, messages.build_escalation(reason, mentions)
        )
        data = {"reason": reason, "mentions": mentions}
        await self.audit.append(
            AuditKind.ESCALATION, actor=actor, incident_id=incident_id, data=data
        )
        await self.traces.add_step(incident_id, StepKind.ESCALATION, "escalation", input=data)
        await self.jobs.request_sync(incident_id)
        return True

    async def _finish(
        self, request: ApprovalRequest, playbook: Playbook | None, outcome: RunOutcome
    ) -> None:
        incident_id = request.incident_id
        if request.status is RequestStatus.APPROVED:
            await self.approvals.mark_executed(request.id, now=utcnow())
        await self._post(incident_id, EventKind.ACTION, messages.build_outcome(request, outcome))
        await record_outcome(request, outcome, audit=self.audit, traces=self.traces)
        if outcome.status is RunStatus.WAITING:
            await self.jobs.request_sync(incident_id)
            return
        if not outcome.verified:
            await self._roll_back_earlier(request)
            reason = messages.to_failed_fix_reason(request, outcome)
            await self.escalate(incident_id, reason=reason, playbook=playbook)
            return

        following = to_next_step(playbook, request.step_id)
        if playbook is not None and following is not None:
            await self._move(incident_id, State.AWAITING_APPROVAL, text=following.title)
            await self.propose(incident_id, playbook, following, values=request.values)
        else:
            await self._move(
                incident_id, State.RESOLVED, text=messages.to_verified_text(request.title)
            )
        await self.jobs.request_sync(incident_id)

    async def _roll_back_earlier(self, failed: ApprovalRequest) -> None:
        """Undo, newest first, the incident's earlier steps that ran and verified.

        The fix as a whole did not work, so a change made on its way (a raised memory
        setting, say) is taken back rather than left behind for the people called in.
        """
        earlier = [
            request
            for request in await self.approvals.store.list_for_incident(failed.incident_id)
            if request.id != failed.id and request.status is RequestStatus.EXECUTED
        ]
        for request in sorted(earlier, key=lambda request: request.created_at, reverse=True):
            step, _ = self._get_step(request)
            outcome = await self.runner.roll_back(
                step,
                incident_id=request.incident_id,
                attempt=request.attempt,
                ctx=RunContext(request.values, actor=ACTOR),
            )
            if outcome is not None:
                message = messages.build_outcome(request, outcome)
                await self._post(request.incident_id, EventKind.ACTION, message)
                await record_outcome(request, outcome, audit=self.audit, traces=self.traces)

    async def audit_resolved(self, request: ApprovalRequest, *, actor: str) -> None:
        """Audit a request that was just decided: approved, rejected, expired or cancelled."""
        data = {"request_id": request.id, "status": request.status, "approvers": request.approvers}
        await self.audit.append(
            AuditKind.APPROVAL_RESOLVED, actor=actor, incident_id=request.incident_id, data=data
        )

    async def _move(
        self, incident_id: str, target: State, *, text: str, actor: str = ACTOR
    ) -> None:
        await self.store.transition(incident_id, target, actor=actor, text=text)

    async def _post(self, incident_id: str, kind: EventKind, message: Message, **data: Any) -> None:
        event = Event(
            kind=kind,
            actor=ACTOR,
            text=message.text,
            data={"message": message.model_dump(mode="json"), **data},
        )
        await self.store.append_event(incident_id, event)

    def _find(self, request: ApprovalRequest) -> Playbook | None:
        return self.catalogue.get(request.playbook_id)

    def _get_step(self, request: ApprovalRequest) -> tuple[RemediationStep, Playbook | None]:
        """The step as stored at proposal time: its action is exactly what was approved."""
        playbook = self._find(request)
        steps = {step.id: step for step in playbook.remediation} if playbook else {}
        step = steps.get(request.step_id)
        if step is None:
            raise BotError(f"{request.playbook_id} has no step {request.step_id} any more")
        return step.model_copy(update={"action": request.action}), playbook


def to_next_step(playbook: Playbook | None, step_id: str) -> RemediationStep | None:
    steps = playbook.remediation if playbook else []
    ids = [step.id for step in steps]
    index = ids.index(step_id) + 1 if step_id in ids else len(ids)
    return steps[index] if index < len(steps) else None
