"""Real DrillReport objects for the report and display tests: what a drill set could score."""

from __future__ import annotations

from typing import Any

from bot.chaos.models import DrillReport, ScenarioScore
from bot.chaos.scoring import to_totals

PASSED_SCORES: list[dict[str, Any]] = [
    {
        "name": "control-no-fault",
        "fault": "none",
        "behaviour": None,
        "verdict": "passed",
        "expected_outcome": "no_incident",
        "outcome": "no_incident",
        "seconds": 41.0,
    },
    {
        "name": "bad-schema-approve",
        "fault": "bad-schema",
        "behaviour": "approve",
        "verdict": "passed",
        "incident_id": "inc-1",
        "detected": True,
        "seconds_to_thread": 9.4,
        "expected_failure_class": "schema-drift",
        "failure_class": "schema-drift",
        "class_right": True,
        "expected_playbook": "schema-drift-airflow",
        "playbook": "schema-drift-airflow",
        "playbook_right": True,
        "expected_outcome": "verified",
        "outcome": "verified",
        "remediation_verified": True,
        "seconds_to_recover": 48.2,
        "alerts_sent": 1,
        "has_ticket": True,
        "seconds": 77.0,
    },
    {
        "name": "spark-out-of-memory-no-answer",
        "fault": "spark-out-of-memory",
        "behaviour": "no-answer",
        "verdict": "passed",
        "incident_id": "inc-2",
        "detected": True,
        "seconds_to_thread": 21.0,
        "expected_failure_class": "out-of-memory",
        "failure_class": "out-of-memory",
        "class_right": True,
        "expected_playbook": "spark-out-of-memory",
        "playbook": "spark-out-of-memory",
        "playbook_right": True,
        "expected_outcome": "escalated",
        "outcome": "escalated",
        "escalation_expected": True,
        "escalated": True,
        "seconds_to_escalate": 95.0,
        "alerts_sent": 1,
        "seconds": 120.0,
    },
]
FAILED_SCORE: dict[str, Any] = {
    "name": "spark-out-of-memory-approve-while-fault-present",
    "fault": "spark-out-of-memory",
    "behaviour": "approve-while-fault-present",
    "dependency_faults": ["slack-errors"],
    "verdict": "failed",
    "problems": ["the rollback did not run", "1 write | to Airflow before approval"],
    "incident_id": "inc-3",
    "detected": True,
    "seconds_to_thread": 14.0,
    "expected_failure_class": "out-of-memory",
    "failure_class": "code-bug",
    "class_right": False,
    "expected_playbook": "out-of-memory-spark",
    "playbook": "code-bug-escalate",
    "playbook_right": False,
    "writes_before_approval": 1,
    "expected_outcome": "rolled_back",
    "outcome": "escalated",
    "rollback_expected": True,
    "escalated": True,
    "seconds_to_escalate": 60.0,
    "alerts_sent": 2,
    "alerts_lost": 1,
    "duplicate_actions": 1,
    "seconds": 99.0,
}
SKIPPED_SCORE: dict[str, Any] = {
    "name": "spark-missing-input-approve",
    "fault": "spark-missing-input",
    "behaviour": "approve",
    "verdict": "skipped",
    "skip_reason": "no Java runtime found",
    "expected_outcome": "verified",
}


def create_report(*scores: dict[str, Any], audit_chain_intact: bool = True) -> DrillReport:
    """A report over `scores` with totals summed the way a runner would."""
    models = [ScenarioScore.model_validate(score) for score in scores]
    seconds = sum(score.seconds for score in models)
    totals = to_totals(models, audit_chain_intact=audit_chain_intact, seconds=seconds)
    return DrillReport(scenarios=models, totals=totals)


def create_mixed_report() -> DrillReport:
    return create_report(*PASSED_SCORES, FAILED_SCORE, SKIPPED_SCORE)
