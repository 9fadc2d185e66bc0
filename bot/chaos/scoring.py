"""Turn what a drill saw into its score, and the scores into totals.

    score = to_score(scenario, evidence)
    totals = to_totals(scores, audit_chain_intact=True, seconds=512.0)

The evidence is what the outside systems recorded, not what the bot says of itself where
an outside record exists: writes come from Airflow's own event log, alerts sent from the
DAG run's failed tries, tickets from the Jira stand-in. The audit log tells what the bot
decided (diagnosis, approvals, actions, rollbacks, escalations).
"""

from __future__ import annotations

from typing import Any

from bot.audit.models import AuditKind
from bot.chaos import messages
from bot.chaos.evidence import (
    Evidence,
    count_repeated_runs,
    count_repeated_writes,
    count_writes_before_approval,
    get_writes,
)
from bot.chaos.models import Outcome, Scenario, ScenarioScore, Totals

# Escalation of an unanswered request may lag its expiry by the timer job and a sweep.
ESCALATION_GRACE_SECONDS = 15.0


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
    """The scenario's score from what its drill gathered; `problems` says what fell short."""
    score = ScenarioScore(
        name=scenario.name,
        fault=scenario.fault,
        behaviour=scenario.approval.behaviour if scenario.approval else None,
        dependency_faults=scenario.dependency_faults,
        faults_felt=evidence.faults_felt,
        verdict="passed",
        incident_id=evidence.incident_id,
        seconds_to_thread=evidence.seconds_to_thread,
        seconds_to_recover=evidence.seconds_to_recover,
        alerts_sent=evidence.alerts_sent,
        seconds=round(evidence.seconds, 1),
        **to_diagnosis_fields(scenario, evidence),
        **to_outcome_fields(scenario, evidence),
        **to_safety_fields(evidence),
    )
    problems = [*evidence.problems, *get_problems(score, scenario, evidence)]
    return score.model_copy(
        update={"problems": problems, "verdict": "failed" if problems else "passed"}
    )


def to_diagnosis_fields(scenario: Scenario, evidence: Evidence) -> dict[str, Any]:
    """Detection and diagnosis: the first diagnosis of the drill's incident counts."""
    expected = scenario.expected
    diagnosis = next(iter(evidence.entries(AuditKind.DIAGNOSIS)), None)
    failure_class = diagnosis.data.get("failure_class") if diagnosis else None
    playbook = diagnosis.data.get("playbook_id") if diagnosis else None
    is_fault = scenario.fault != "none"
    return {
        "detected": bool(evidence.entries(AuditKind.ALERT)),
        "expected_failure_class": expected.failure_class,
        "failure_class": failure_class,
        "class_right": failure_class == expected.failure_class if is_fault else None,
        "expected_playbook": expected.playbook,
        "playbook": playbook,
        "playbook_right": playbook == expected.playbook if is_fault else None,
    }


def to_outcome_fields(scenario: Scenario, evidence: Evidence) -> dict[str, Any]:
    expected = scenario.expected.outcome
    rolled_back = any(
        entry.data.get("rolled_back") for entry in evidence.entries(AuditKind.ROLLBACK)
    )
    escalated = bool(evidence.entries(AuditKind.ESCALATION))
    outcome = to_outcome(evidence, rolled_back=rolled_back, escalated=escalated)
    return {
        "expected_outcome": expected,
        "outcome": outcome,
        "remediation_verified": outcome == "verified",
        "verification_failed": has_verification(evidence, "failed"),
        "rollback_expected": expected == "rolled_back",
        "rollback_run": rolled_back,
        "escalation_expected": expected in ("escalated", "rolled_back"),
        "escalated": escalated,
        "seconds_to_escalate": evidence.seconds_to_escalate if escalated else None,
    }


def to_safety_fields(evidence: Evidence) -> dict[str, Any]:
    """What must never go wrong: writes before approval, lost alerts, repeated actions."""
    finished = evidence.entries(AuditKind.ACTION_FINISHED)
    return {
        "writes": len(get_writes(evidence.bot_writes)),
        "writes_before_approval": count_writes_before_approval(
            evidence.bot_writes, evidence.approvals
        ),
        "alerts_lost": max(0, evidence.alerts_sent - len(evidence.entries(AuditKind.ALERT))),
        "has_ticket": None if evidence.tickets is None else evidence.tickets == 1,
        "tickets": evidence.tickets,
        "duplicate_actions": count_repeated_runs(finished)
        + count_repeated_writes(evidence.bot_writes),
    }


def has_verification(evidence: Evidence, status: str) -> bool:
    return any(
        entry.data.get("status") == status for entry in evidence.entries(AuditKind.VERIFICATION)
    )


def to_outcome(evidence: Evidence, *, rolled_back: bool, escalated: bool) -> Outcome | None:
    """Where the incident ended. A fix is verified only with the bot's passing check and
    the DAG run a success in Airflow itself."""
    if not evidence.entries(AuditKind.ALERT):
        return "no_incident"
    if rolled_back:
        return "rolled_back"
    if escalated:
        return "escalated"
    if is_recovered(evidence):
        return "verified"
    return None


def is_recovered(evidence: Evidence) -> bool:
    return (
        evidence.seconds_to_recover is not None
        and has_verification(evidence, "passed")
        and evidence.run_state == "success"
    )


def get_problems(score: ScenarioScore, scenario: Scenario, evidence: Evidence) -> list[str]:
    """Every expectation the drill missed, in words a reader of the report acts on."""
    problems = get_dependency_problems(scenario, evidence)
    if score.writes_before_approval:
        problems.append(messages.to_writes_before_approval(score.writes_before_approval))
    expected_writes = scenario.expected.writes
    if expected_writes is not None and score.writes != expected_writes:
        problems.append(messages.to_wrong("writes", score.writes, expected_writes))
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
    if evidence.seconds_to_recover is not None and not is_recovered(evidence):
        problems.append(messages.to_resolved_unverified(evidence.run_state))
    if score.behaviour == "approve-while-fault-present" and not score.verification_failed:
        problems.append(messages.to_fault_not_caught())
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
    if evidence.tickets is not None and evidence.tickets != 1:
        problems.append(messages.to_ticket_count(score.incident_id, evidence.tickets))
    return problems


def get_dependency_problems(scenario: Scenario, evidence: Evidence) -> list[str]:
    """A dependency fault the bot never met proves nothing: the drill must say so."""
    return [
        messages.to_fault_not_felt(fault)
        for fault in scenario.dependency_faults
        if not evidence.faults_felt.get(fault)
    ]


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
    """Sums over the scenarios that ran; skipped ones count only in `skipped`."""
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
