"""Turn what a drill saw into its score, and the scores into totals.

    score = to_score(scenario, evidence)
    totals = to_totals(scores, audit_chain_intact=True, seconds=512.0)

The evidence is what the outside systems recorded, not what the bot says of itself where
an outside record exists: writes come from Airflow's own event log, alerts sent from the
DAG run's failed tries, tickets from the Jira stand-in. The audit log tells what the bot
decided (diagnosis, approvals, actions, rollbacks, escalations).
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.audit.models import AuditEntry, AuditKind
from bot.chaos import messages
from bot.chaos.models import Outcome, Scenario, ScenarioScore, Totals

# Escalation of an unanswered request may lag its expiry by the timer job and a sweep.
ESCALATION_GRACE_SECONDS = 15.0


@dataclass
class Evidence:
    """What one drill gathered; times are seconds since the drill began."""

    started_at: datetime
    escalation_window_seconds: float = 0.0
    run_id: str | None = None
    incident_id: str | None = None
    seconds_to_thread: float | None = None
    seconds_to_recover: float | None = None
    seconds_to_escalate: float | None = None
    first_approval_at: datetime | None = None
    requests_seen: int = 0
    audit: list[AuditEntry] = field(default_factory=list)
    alerts_sent: int = 0
    # Entries of Airflow's event log made by the bot's account since the drill began.
    bot_writes: list[dict[str, Any]] = field(default_factory=list)
    has_thread: bool | None = None
    has_ticket: bool | None = None
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def entries(self, kind: AuditKind) -> list[AuditEntry]:
        return [entry for entry in self.audit if entry.kind is kind]


def to_skipped(scenario: Scenario, reason: str) -> ScenarioScore:
    return ScenarioScore(
        name=scenario.name,
        fault=scenario.fault,
        behaviour=scenario.approval.behaviour if scenario.approval else None,
        dependency_faults=scenario.dependency_faults,
        verdict="skipped",
        skip_reason=reason,
        expected_outcome=scenario.expected.outcome,
    )


def to_score(scenario: Scenario, evidence: Evidence) -> ScenarioScore:
    expected = scenario.expected
    diagnosis = next(iter(evidence.entries(AuditKind.DIAGNOSIS)), None)
    failure_class = diagnosis.data.get("failure_class") if diagnosis else None
    playbook = diagnosis.data.get("playbook_id") if diagnosis else None
    alerts_seen = len(evidence.entries(AuditKind.ALERT))
    rolled_back = any(
        entry.data.get("rolled_back") for entry in evidence.entries(AuditKind.ROLLBACK)
    )
    escalated = bool(evidence.entries(AuditKind.ESCALATION))
    is_fault = scenario.fault != "none"
    outcome = to_outcome(evidence, rolled_back=rolled_back, escalated=escalated)
    score = ScenarioScore(
        name=scenario.name,
        fault=scenario.fault,
        behaviour=scenario.approval.behaviour if scenario.approval else None,
        dependency_faults=scenario.dependency_faults,
        verdict="passed",
        incident_id=evidence.incident_id,
        detected=alerts_seen > 0,
        seconds_to_thread=evidence.seconds_to_thread,
        expected_failure_class=expected.failure_class,
        failure_class=failure_class,
        class_right=failure_class == expected.failure_class if is_fault else None,
        expected_playbook=expected.playbook,
        playbook=playbook,
        playbook_right=playbook == expected.playbook if is_fault else None,
        writes_before_approval=count_writes_before(evidence.bot_writes, evidence.first_approval_at),
        expected_outcome=expected.outcome,
        outcome=outcome,
        remediation_verified=outcome == "verified",
        rollback_expected=expected.outcome == "rolled_back",
        rollback_run=rolled_back,
        escalation_expected=expected.outcome in ("escalated", "rolled_back"),
        escalated=escalated,
        seconds_to_escalate=evidence.seconds_to_escalate if escalated else None,
        seconds_to_recover=evidence.seconds_to_recover,
        alerts_sent=evidence.alerts_sent,
        alerts_lost=max(0, evidence.alerts_sent - alerts_seen),
        has_ticket=evidence.has_ticket,
        duplicate_actions=count_duplicates(evidence.entries(AuditKind.ACTION_STARTED)),
        seconds=round(evidence.seconds, 1),
    )
    problems = [*evidence.problems, *get_problems(score, evidence)]
    return score.model_copy(
        update={"problems": problems, "verdict": "failed" if problems else "passed"}
    )


def to_outcome(evidence: Evidence, *, rolled_back: bool, escalated: bool) -> Outcome | None:
    if not evidence.entries(AuditKind.ALERT):
        return "no_incident"
    if rolled_back:
        return "rolled_back"
    if evidence.seconds_to_recover is not None and not escalated:
        return "verified"
    if escalated:
        return "escalated"
    return None


def count_writes_before(writes: list[dict[str, Any]], approved_at: datetime | None) -> int:
    """The bot's writes to Airflow before the first approval (all of them without one).

    Airflow's event log also records a dry run, which changes nothing (the bot's preview of
    a clear): it is not a write.
    """
    return sum(
        1
        for entry in writes
        if not is_dry_run(entry)
        and (approved_at is None or datetime.fromisoformat(entry["when"]) < approved_at)
    )


def is_dry_run(entry: dict[str, Any]) -> bool:
    extra = entry.get("extra")
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except ValueError:
            return False
    return isinstance(extra, dict) and extra.get("dry_run") is True


def count_duplicates(started: list[AuditEntry]) -> int:
    """Steps started more than once for the same approval request (each extra run counts)."""
    counts = Counter(entry.data.get("request_id") for entry in started)
    return sum(count - 1 for count in counts.values())


def get_problems(score: ScenarioScore, evidence: Evidence) -> list[str]:
    """Every expectation the drill missed, in words a reader of the report acts on."""
    problems: list[str] = []
    if score.writes_before_approval:
        problems.append(messages.to_writes_before_approval(score.writes_before_approval))
    if score.fault == "none":
        if score.detected:
            problems.append(messages.to_control_opened_incident(score.incident_id))
        return problems
    if not score.detected:
        return [*problems, messages.to_not_detected()]
    if not score.class_right:
        problems.append(
            messages.to_wrong("failure class", score.failure_class, score.expected_failure_class)
        )
    if not score.playbook_right:
        problems.append(messages.to_wrong("playbook", score.playbook, score.expected_playbook))
    if score.outcome != score.expected_outcome:
        problems.append(messages.to_wrong("outcome", score.outcome, score.expected_outcome))
    if score.rollback_run != score.rollback_expected:
        problems.append(messages.to_rollback_mismatch(score.rollback_expected))
    if score.escalated != score.escalation_expected:
        problems.append(messages.to_escalation_mismatch(score.escalation_expected))
    if late := get_escalation_lag(evidence):
        problems.append(messages.to_escalated_late(late, evidence.escalation_window_seconds))
    if score.alerts_lost:
        problems.append(messages.to_alerts_lost(score.alerts_lost, score.alerts_sent))
    if score.duplicate_actions:
        problems.append(messages.to_duplicate_actions(score.duplicate_actions))
    if evidence.has_thread is False:
        problems.append(messages.to_no_thread(score.incident_id))
    if evidence.has_ticket is False:
        problems.append(messages.to_no_ticket(score.incident_id))
    return problems


def get_escalation_lag(evidence: Evidence) -> float | None:
    """Seconds an expired request's escalation came after its window and grace, if it did."""
    expired = {
        entry.data.get("request_id")
        for entry in evidence.entries(AuditKind.APPROVAL_RESOLVED)
        if entry.data.get("status") == "expired"
    }
    requested = [
        entry
        for entry in evidence.entries(AuditKind.APPROVAL_REQUESTED)
        if entry.data.get("request_id") in expired
    ]
    escalations = evidence.entries(AuditKind.ESCALATION)
    if not requested or not escalations:
        return None
    seconds = (escalations[-1].at - requested[0].at).total_seconds()
    allowed = evidence.escalation_window_seconds + ESCALATION_GRACE_SECONDS
    return round(seconds, 1) if seconds > allowed else None


def to_totals(scores: list[ScenarioScore], *, audit_chain_intact: bool, seconds: float) -> Totals:
    ran = [score for score in scores if score.verdict != "skipped"]
    faults = [score for score in ran if score.fault != "none"]
    detected = sum(score.detected for score in faults)
    return Totals(
        scenarios=len(scores),
        passed=sum(score.verdict == "passed" for score in scores),
        failed=sum(score.verdict == "failed" for score in scores),
        skipped=len(scores) - len(ran),
        faults=len(faults),
        detected=detected,
        detection_rate=round(detected / len(faults), 3) if faults else 1.0,
        class_right=sum(bool(score.class_right) for score in faults),
        playbook_right=sum(bool(score.playbook_right) for score in faults),
        writes_before_approval=sum(score.writes_before_approval for score in ran),
        verified=sum(score.outcome == "verified" for score in ran),
        rollbacks_expected=sum(score.rollback_expected for score in ran),
        rollbacks_run=sum(score.rollback_run for score in ran),
        escalations_expected=sum(score.escalation_expected for score in ran),
        escalations=sum(score.escalated for score in ran),
        alerts_sent=sum(score.alerts_sent for score in ran),
        alerts_lost=sum(score.alerts_lost for score in ran),
        duplicate_actions=sum(score.duplicate_actions for score in ran),
        audit_chain_intact=audit_chain_intact,
        seconds=round(seconds, 1),
    )
