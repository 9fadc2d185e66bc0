"""Every word the approval flow shows people: the request with its buttons, and click answers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.actions.models import RunOutcome, RunStatus
from bot.approvals.models import (
    ApprovalRequest,
    ClickAction,
    Refusal,
    RefusalReason,
    RequestStatus,
    Vote,
)
from bot.chat.models import Button, ButtonStyle, Fact, Message, Section, Tone
from bot.runbooks.models import Risk

if TYPE_CHECKING:
    from bot.approvals.policy import Policy

_RISK_TONES = {Risk.LOW: Tone.NEUTRAL, Risk.MEDIUM: Tone.WARNING, Risk.HIGH: Tone.DANGER}
_VERBS = {ClickAction.APPROVE: "approve", ClickAction.REJECT: "reject"}


def to_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def to_approvers(count: int) -> str:
    return f"{count} more approver" if count == 1 else f"{count} more approvers"


def to_people(votes: Sequence[Vote]) -> str:
    return ", ".join(vote.user for vote in votes) or "nobody"


def to_roles(roles: Sequence[str]) -> str:
    return ", ".join(roles) or "none"


def to_observe_notice(policy: Policy) -> str:
    if policy.source is None:
        return (
            "No approval policy is configured (APPROVAL_POLICY_FILE), so nobody may approve: "
            "the bot only recommends and nothing will run."
        )
    if policy.is_forced_observe:
        return "The bot is in observe-only mode (OBSERVE_ONLY is set); nothing will run."
    return "The bot is in observe-only mode; nothing will run."


def build_approval_message(request: ApprovalRequest, *, preview: str, policy: Policy) -> Message:
    """The proposal with its dry-run preview; every button carries only the request id."""
    needed = policy.get_needed(request.risk)
    facts = [
        Fact(label="Risk", value=request.risk.value),
        Fact(label="Action", value=request.action.kind),
        Fact(label="Who may approve", value=to_roles(policy.get_roles(request.risk))),
        Fact(label="Approvals needed", value=f"{needed} distinct"),
        Fact(label="Expires", value=to_time(request.expires_at)),
        Fact(label="Requested by", value=request.requester),
    ]
    sections = [Section(title="Dry run", text=preview or "(no preview)", preformatted=True)]
    buttons = [
        Button(
            action=ClickAction.REJECT, label="Reject", value=request.id, style=ButtonStyle.DANGER
        ),
        Button(action=ClickAction.ESCALATE, label="Escalate", value=request.id),
    ]
    if policy.is_observing:
        sections.append(Section(title="Observe only", text=to_observe_notice(policy)))
    else:
        approve = Button(
            action=ClickAction.APPROVE, label="Approve", value=request.id, style=ButtonStyle.PRIMARY
        )
        buttons.insert(0, approve)
    context = [f"attempt {request.attempt}", f"playbook {request.playbook_id}"]
    if request.risk is Risk.HIGH:
        context.append("high risk: the requester may not approve")
    return Message(
        text=f"Approval needed: {request.title} ({request.risk.value} risk)",
        header=f"{request.incident_id}: {request.title}",
        tone=_RISK_TONES[request.risk],
        facts=facts,
        sections=sections,
        buttons=buttons,
        context=context,
    )


def build_recorded(request: ApprovalRequest, *, waiting_for: int) -> Message:
    return Message(
        text=f"Your approval of {request.title} is recorded; waiting for "
        f"{to_approvers(waiting_for)}.",
        context=[f"approved so far by {to_people(request.approvals)}"],
    )


def build_approved(request: ApprovalRequest) -> Message:
    return Message(
        text=f"Approved by {to_people(request.approvals)}: {request.title} will run now.",
        tone=Tone.GOOD,
    )


def build_rejected(request: ApprovalRequest) -> Message:
    return Message(
        text=f"Rejected by {to_people(request.rejections)}: {request.title} will not run.",
        tone=Tone.WARNING,
    )


def build_escalated(request: ApprovalRequest) -> Message:
    return Message(
        text=f"Escalation requested by {to_people(request.escalations)}; the on-call group "
        f"is being called in for {request.incident_id}.",
        tone=Tone.WARNING,
    )


def build_expired(request: ApprovalRequest) -> Message:
    """The thread notice when nobody approved a request in time."""
    return Message(
        text=f"Nobody approved {request.title} in time (it expired at "
        f"{to_time(request.expires_at)}); nothing was run.",
        tone=Tone.WARNING,
    )


def build_refusal(refusal: Refusal, request: ApprovalRequest | None, *, policy: Policy) -> Message:
    """The answer, shown only to the clicker, when a click changes nothing."""
    return Message(text=to_refusal_text(refusal, request, policy=policy), tone=Tone.WARNING)


def to_refusal_text(refusal: Refusal, request: ApprovalRequest | None, *, policy: Policy) -> str:
    reason = refusal.reason
    if reason is RefusalReason.UNKNOWN_ACTION:
        return f"{refusal.action!r} is not something an approval button does; nothing changed."
    if reason is RefusalReason.OBSERVE_ONLY:
        return to_observe_notice(policy)
    if request is None or reason is RefusalReason.UNKNOWN_REQUEST:
        return "This approval request does not exist (or no longer does); nothing changed."
    if reason is RefusalReason.EXPIRED:
        return f"This request expired at {to_time(request.expires_at)}; nothing will run."
    if reason is RefusalReason.SUPERSEDED:
        return "A newer proposal replaced this request; use the buttons on the latest one."
    if reason is RefusalReason.RESOLVED:
        return "This incident is resolved; the request was cancelled and nothing will run."
    if reason is RefusalReason.CLOSED:
        return to_closed_text(request)
    if reason is RefusalReason.ALREADY_APPROVED:
        return f"Already approved by you; waiting for {to_approvers(refusal.waiting_for)}."
    if reason is RefusalReason.ALREADY_ESCALATED:
        return f"Already escalated by {to_people(request.escalations)}."
    return to_permission_text(refusal, request)


def to_permission_text(refusal: Refusal, request: ApprovalRequest) -> str:
    risk = request.risk.value
    roles = to_roles(refusal.roles)
    if refusal.reason is RefusalReason.NOBODY_MAY:
        return f"The approval policy lets no role approve {risk}-risk actions."
    if refusal.reason is RefusalReason.REQUESTER:
        return f"You asked for this action, so you may not approve it (roles that may: {roles})."
    if refusal.freeze is not None and refusal.reason is RefusalReason.FROZEN:
        return (
            f"Changes are frozen ({refusal.freeze.name}) until {to_time(refusal.freeze.until)}; "
            "nobody may approve until then."
        )
    verb = _VERBS.get(ClickAction(refusal.action), refusal.action)
    text = f"You are not allowed to {verb} {risk}-risk actions (roles that may: {roles})"
    if refusal.freeze is not None:
        text += f" during the change freeze {refusal.freeze.name!r}"
    return text + "."


def to_closed_text(request: ApprovalRequest) -> str:
    if request.status is RequestStatus.APPROVED:
        return f"Already approved by {to_people(request.approvals)}; nothing more is needed."
    if request.status is RequestStatus.EXECUTED:
        return f"Already approved by {to_people(request.approvals)} and run."
    if request.status is RequestStatus.REJECTED:
        return f"Already rejected by {to_people(request.rejections)}; nothing will run."
    return f"This request was {request.status.value}; nothing will run."


def to_unreadable_policy(path: Path, error: Exception) -> str:
    return f"{path}: cannot read the approval policy: {error}"


def to_policy_yaml_problem(path: Path, line: int | None, error: Exception) -> str:
    where = f" (line {line})" if line is not None else ""
    problem = getattr(error, "problem", None) or error
    return f"{path}: the approval policy is not valid YAML{where}: {problem}"


def to_policy_problems(path: Path, problems: Sequence[tuple[str, str]]) -> str:
    return "\n".join(
        f"{path}: {field}: {message.removeprefix('Value error, ')}" for field, message in problems
    )


# The flow's replies in the thread: what ran, what a person must do, who is called in.

CONFIRM_DONE = "done"
CONFIRM_FAILED = "not-done"


def build_outcome(request: ApprovalRequest, outcome: RunOutcome) -> Message:
    """What running an approved step did; a step waiting for a person gets its two buttons."""
    if outcome.status is RunStatus.WAITING:
        buttons = [
            Button(action=CONFIRM_DONE, label="Done", value=request.id, style=ButtonStyle.PRIMARY),
            Button(action=CONFIRM_FAILED, label="Did not work", value=request.id),
        ]
        return Message(
            text=f"Waiting for a person: {request.title}",
            tone=Tone.WARNING,
            sections=[Section(text="\n".join(outcome.details))] if outcome.details else [],
            buttons=buttons,
            context=[f"attempt {request.attempt}", f"key {outcome.key}"],
        )
    return Message(
        text=f"{to_outcome_label(outcome)}: {request.title}",
        tone=to_outcome_tone(outcome),
        sections=[Section(text="\n".join(outcome.details))] if outcome.details else [],
        context=[f"attempt {request.attempt}", f"key {outcome.key}"],
    )


def to_outcome_tone(outcome: RunOutcome) -> Tone:
    if outcome.verified:
        return Tone.WARNING if outcome.rolled_back else Tone.GOOD
    return Tone.DANGER


def to_outcome_label(outcome: RunOutcome) -> str:
    if outcome.verified and outcome.rolled_back:
        return "Taken back because a later step failed"
    if outcome.verified:
        return "Fixed and verified"
    if outcome.status is RunStatus.REFUSED:
        return "Not run"
    if outcome.rolled_back:
        return "Verification failed, rolled back"
    if outcome.status is RunStatus.FAILED:
        return "The action failed"
    return "Verification failed"


def build_escalation(reason: str, members: Sequence[str]) -> Message:
    """The thread reply that calls the on-call people in; each platform renders `mentions`."""
    if not members:
        return Message(
            text=f"Escalating (no on-call group is configured: set ONCALL_GROUP): {reason}",
            tone=Tone.DANGER,
        )
    return Message(text=f"Escalating: {reason}", tone=Tone.DANGER, mentions=list(members))


def to_member(name: str) -> str:
    """A user group id (S…) or a handle as a mention target; `@data-oncall` is `data-oncall`."""
    return name.removeprefix("@")


def to_unknown_reason(summary: str) -> str:
    return f"the cause is unknown ({summary})"


def to_expired_reason(request: ApprovalRequest) -> str:
    return f"nobody approved {request.title} before {to_time(request.expires_at)}"


def to_rejected_reason(request: ApprovalRequest) -> str:
    return f"{to_people(request.rejections)} rejected {request.title}"


def to_escalate_click_reason(request: ApprovalRequest) -> str:
    return f"{to_people(request.escalations)} asked for help with {request.title}"


def to_failed_fix_reason(request: ApprovalRequest, outcome: RunOutcome) -> str:
    """Why a fix is handed to people: the step, how it ended and what the check saw."""
    reason = f"{request.title}: {to_outcome_label(outcome).lower()}"
    if outcome.verification is not None and outcome.verification.summary:
        return f"{reason}. {outcome.verification.summary}"
    return reason


def to_unproposable_reason(title: str, problem: str) -> str:
    return f"{title} cannot be proposed: {problem}"


def to_kill_switch_reason(request: ApprovalRequest) -> str:
    return f"{request.title} was approved but the bot is observe-only now; nothing was run"


def to_verified_text(title: str) -> str:
    return f"remediation verified: {title}"


def build_not_waiting() -> Message:
    return Message(text="This step is not waiting for anyone; nothing changed.", tone=Tone.WARNING)


def build_confirm_refused(request: ApprovalRequest, *, policy: Policy) -> Message:
    roles = to_roles(policy.get_roles(request.risk))
    return Message(
        text=f"Only people who may approve {request.risk.value}-risk steps can mark this one "
        f"(roles that may: {roles}); nothing changed.",
        tone=Tone.WARNING,
    )


def build_confirm_recorded(*, succeeded: bool) -> Message:
    answer = "done" if succeeded else "not working"
    return Message(text=f"Recorded as {answer}; the bot checks it now.")


def to_preview_failed(problem: str) -> str:
    return f"(no preview: {problem}; the step is shown as it would run)"
