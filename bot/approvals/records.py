"""What the audit log and the trace keep of an approval request and of running its step."""

from __future__ import annotations

from typing import Any

from bot.actions.models import RunOutcome
from bot.approvals.models import BOT_REQUESTER, ApprovalRequest
from bot.audit.models import AuditKind
from bot.audit.store import AuditLog
from bot.traces.models import StepKind
from bot.traces.store import TraceRecorder


def to_request_summary(request: ApprovalRequest) -> dict[str, Any]:
    """The request as the audit log and the trace keep it: what runs, at what risk."""
    return {
        "request_id": request.id,
        "playbook_id": request.playbook_id,
        "step_id": request.step_id,
        "risk": request.risk,
        "attempt": request.attempt,
        "action": request.action.model_dump(mode="json"),
        "expires_at": request.expires_at.isoformat(),
    }


async def record_outcome(
    request: ApprovalRequest, outcome: RunOutcome, *, audit: AuditLog, traces: TraceRecorder
) -> None:
    """Audit a finished run (action, verification, rollback) and trace each outside call."""
    incident_id = request.incident_id
    result = outcome.model_dump(mode="json", exclude={"details"})
    await audit.append(
        AuditKind.ACTION_FINISHED, actor=BOT_REQUESTER, incident_id=incident_id, data=result
    )
    if outcome.verification is not None:
        verification = outcome.verification.model_dump(mode="json")
        await audit.append(
            AuditKind.VERIFICATION, actor=BOT_REQUESTER, incident_id=incident_id, data=verification
        )
    if outcome.rollback is not None or outcome.rolled_back:
        rollback = {"rolled_back": outcome.rolled_back, "error": outcome.error}
        await audit.append(
            AuditKind.ROLLBACK, actor=BOT_REQUESTER, incident_id=incident_id, data=rollback
        )

    for call in outcome.calls:
        await traces.add_step(
            incident_id,
            StepKind.ACTION,
            f"{call.system} {call.method} {call.path}",
            output={"outcome": call.outcome, "status": call.status},
            duration_ms=call.duration_ms,
        )
    await traces.add_step(
        incident_id,
        StepKind.OUTCOME,
        f"step {request.step_id}",
        input=to_request_summary(request),
        output=result | {"details": outcome.details},
        duration_ms=sum(outcome.durations_ms.values()),
        error=outcome.error,
    )
