"""Scores of drills built from the records a real drill gathers.

The audit entries carry the fields the bot writes (bot/incidents/flows.py,
bot/approvals/flows.py, bot/approvals/records.py) and are chained as the audit log chains
them; the writes are entries of Airflow 3's `/api/v2/eventLogs`, `extra` a JSON string.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.audit.models import GENESIS_HASH, AuditEntry, AuditKind
from bot.audit.store import AUDIT_KEY, AuditLog
from bot.chaos.evidence import Evidence, WriteApproval, to_rotation_writes
from bot.chaos.models import DrillReport, Scenario
from bot.chaos.scenarios import load_scenarios
from bot.chaos.scoring import ESCALATION_GRACE_SECONDS, to_score, to_skipped, to_totals

SCENARIOS = {scenario.name: scenario for scenario in load_scenarios()}
BEGAN = datetime(2026, 12, 3, 20, 0, tzinfo=UTC)
WINDOW = 60.0
INCIDENT = "inc-1"
RUN_ID = "manual__2026-12-03T20:00:00+00:00"
BOT_USER = "incident-bot"

# One audit event before it is chained: seconds since the drill began, kind, actor, data.
Event = tuple[float, AuditKind, str, dict[str, Any]]


def at(seconds: float) -> datetime:
    return BEGAN + timedelta(seconds=seconds)


def get_scenario(name: str) -> Scenario:
    return SCENARIOS[name]


def alert(seconds: float, delivery_id: str = "d-1", outcome: str = "opened") -> Event:
    data = {
        "delivery_id": delivery_id,
        "fingerprint": "airflow:orders_pipeline:transform",
        "title": "orders_pipeline.transform failed",
        "outcome": outcome,
    }
    return (seconds, AuditKind.ALERT, "airflow", data)


def diagnosis(seconds: float, failure_class: str, playbook_id: str | None) -> Event:
    data = {
        "failure_class": failure_class,
        "confidence": 0.9,
        "playbook_id": playbook_id,
        "state": "awaiting_approval",
    }
    return (seconds, AuditKind.DIAGNOSIS, BOT_USER, data)


def to_request_summary(request_id: str, playbook_id: str, seconds: float) -> dict[str, Any]:
    return {
        "request_id": request_id,
        "playbook_id": playbook_id,
        "step_id": "clear-from-extract",
        "risk": "medium",
        "attempt": 1,
        "action": {"kind": "airflow.clear_task_instances", "params": {"dag_id": "orders_pipeline"}},
        "expires_at": at(seconds + WINDOW).isoformat(),
    }


def requested(seconds: float, request_id: str = "req-1", playbook_id: str = "any") -> Event:
    summary = to_request_summary(request_id, playbook_id, seconds)
    return (seconds, AuditKind.APPROVAL_REQUESTED, BOT_USER, summary)


def resolved(
    seconds: float, status: str, request_id: str = "req-1", approvers: list[str] | None = None
) -> Event:
    data = {"request_id": request_id, "status": status, "approvers": approvers or []}
    actor = ",".join(approvers) if approvers else BOT_USER
    return (seconds, AuditKind.APPROVAL_RESOLVED, actor, data)


def started(seconds: float, request_id: str = "req-1", approvers: str = "approver-1") -> Event:
    summary = to_request_summary(request_id, "any", seconds)
    return (seconds, AuditKind.ACTION_STARTED, approvers, summary)


def verification(seconds: float, status: str) -> Event:
    data = {
        "kind": "airflow.task_succeeded",
        "status": status,
        "summary": f"orders_pipeline.transform: {status}",
        "observed": "success" if status == "passed" else "failed",
    }
    return (seconds, AuditKind.VERIFICATION, BOT_USER, data)


def rollback(seconds: float, *, rolled_back: bool) -> Event:
    data = {"rolled_back": rolled_back, "error": None if rolled_back else "clear refused: 409"}
    return (seconds, AuditKind.ROLLBACK, BOT_USER, data)


def escalation(seconds: float, reason: str = "nobody approved in time") -> Event:
    data = {"reason": reason, "mentions": ["<!subteam^S0ONCALL>"]}
    return (seconds, AuditKind.ESCALATION, BOT_USER, data)


def build_audit(*events: Event) -> list[AuditEntry]:
    """The events as the audit log stores them: numbered, timed and hash-chained."""
    entries: list[AuditEntry] = []
    prev_hash = GENESIS_HASH
    for seq, (seconds, kind, actor, data) in enumerate(events, start=1):
        entry = AuditEntry(
            seq=seq,
            at=at(seconds),
            actor=actor,
            kind=kind,
            incident_id=INCIDENT,
            data=data,
            prev_hash=prev_hash,
        ).with_hash()
        entries.append(entry)
        prev_hash = entry.hash
    return entries


def event_log(
    seconds: float,
    event: str,
    extra: dict[str, Any],
    *,
    suffix: str = "+00:00",
    method: str = "POST",
) -> dict[str, Any]:
    """One entry of Airflow 3's event log as `GET /api/v2/eventLogs` lists it."""
    when = at(seconds).replace(tzinfo=None).isoformat() + suffix
    return {
        "event_log_id": int(seconds * 10),
        "when": when,
        "dag_id": "orders_pipeline",
        "task_id": None,
        "run_id": RUN_ID,
        "map_index": None,
        "try_number": None,
        "event": event,
        "logical_date": None,
        "owner": BOT_USER,
        "extra": json.dumps(extra | {"method": method}),
        "dag_display_name": "orders_pipeline",
        "task_display_name": None,
    }


def clear(seconds: float, *, dry_run: bool, suffix: str = "+00:00") -> dict[str, Any]:
    extra = {"dry_run": dry_run, "only_failed": False, "task_ids": ["extract"]}
    return event_log(seconds, "post_clear_task_instances", extra, suffix=suffix)


def patch_run(seconds: float) -> dict[str, Any]:
    return event_log(seconds, "patch_dag_run", {"state": "success"})


def rotation(seconds: float) -> dict[str, Any]:
    """A rotation as the drill reads it from the secrets service."""
    return to_rotation_writes([{"conn_id": "orders_lake", "rotated_at": at(seconds).isoformat()}])[
        0
    ]


def approved(seconds: float, *kinds: str) -> list[WriteApproval]:
    return [WriteApproval(at(seconds), frozenset(kinds or {"airflow.clear_task_instances"}))]


def approved_run(playbook: str, *, approvers: list[str] | None = None) -> list[Event]:
    """A fault found, diagnosed right and approved: what every approve scenario starts with."""
    names = approvers or ["approver-1"]
    return [
        alert(2.0),
        diagnosis(5.0, "schema-drift", playbook),
        requested(6.0, playbook_id=playbook),
        resolved(20.0, "approved", approvers=names),
        started(21.0, approvers=",".join(names)),
    ]


def rejected_run(failure_class: str, playbook: str) -> list[Event]:
    """A fault found and diagnosed, its fix rejected at 15 s and the incident escalated."""
    return [
        alert(2.0),
        diagnosis(5.0, failure_class, playbook),
        requested(6.0, playbook_id=playbook),
        resolved(15.0, "rejected", approvers=["approver-1"]),
        escalation(15.5, reason="approver-1 rejected the fix"),
    ]


def create_evidence(*events: Event, **fields: Any) -> Evidence:
    """A drill's evidence with the detection measured; `fields` override any of it."""
    evidence = Evidence(
        started_at=BEGAN,
        escalation_window_seconds=WINDOW,
        run_id=RUN_ID,
        incident_id=INCIDENT,
        seconds_to_thread=3.0,
        audit=build_audit(*events),
        alerts_sent=1,
        has_thread=True,
        tickets=1,
        # Whatever dependency faults the scenario declares, the bot met them.
        faults_felt=dict.fromkeys(
            ("slack-errors", "jira-down", "redis-restart", "llm-overloaded"), 1
        ),
        seconds=80.0,
    )
    for name, value in fields.items():
        setattr(evidence, name, value)
    return evidence


def create_verified_evidence(**fields: Any) -> Evidence:
    """bad-schema-approve as it should go: approved at 19.5 s, fixed, verified, resolved."""
    values: dict[str, Any] = {
        "approvals": approved(19.5),
        "bot_writes": [clear(6.5, dry_run=True), clear(22.0, dry_run=False)],
        "seconds_to_recover": 48.0,
        "run_state": "success",
    }
    events = [*approved_run("schema-drift-airflow"), verification(45.0, "passed")]
    return create_evidence(*events, **(values | fields))


def create_no_answer_evidence(escalated_after: float) -> Evidence:
    """flaky-dependency-no-answer: requested at 6 s, expired, escalated `escalated_after` later."""
    events = [
        alert(2.0),
        diagnosis(5.0, "dependency-unavailable", "dependency-unavailable-airflow"),
        requested(6.0, playbook_id="dependency-unavailable-airflow"),
        resolved(6.0 + WINDOW, "expired"),
        escalation(6.0 + escalated_after),
    ]
    return create_evidence(
        *events, bot_writes=[clear(6.5, dry_run=True)], seconds_to_escalate=escalated_after + 7
    )


def create_rollback_evidence(*, rolled_back: bool) -> Evidence:
    """spark-out-of-memory-approve-while-fault-present: the rerun fails, the fix is undone."""
    events = [
        alert(2.0),
        diagnosis(5.0, "out-of-memory", "out-of-memory-spark"),
        requested(6.0, playbook_id="out-of-memory-spark"),
        resolved(20.0, "approved", approvers=["approver-1"]),
        started(21.0),
        alert(40.0, delivery_id="d-2", outcome="joined"),
        verification(41.0, "failed"),
        rollback(42.0, rolled_back=rolled_back),
        escalation(43.0, reason="the fix did not hold; rolled back"),
    ]
    return create_evidence(
        *events,
        approvals=approved(19.5),
        bot_writes=[clear(22.0, dry_run=False)],
        alerts_sent=2,
        seconds_to_escalate=44.0,
    )


def test_verified_run_passes_with_every_check_right() -> None:
    score = to_score(get_scenario("bad-schema-approve"), create_verified_evidence())

    assert score.problems == []
    assert score.verdict == "passed"
    assert score.incident_id == INCIDENT
    assert score.detected is True
    assert score.seconds_to_thread == 3.0
    assert (score.failure_class, score.class_right) == ("schema-drift", True)
    assert (score.playbook, score.playbook_right) == ("schema-drift-airflow", True)
    assert score.writes_before_approval == 0
    assert score.outcome == "verified"
    assert score.seconds_to_recover == 48.0
    assert (score.rollback_expected, score.rollback_run) == (False, False)
    assert (score.escalation_expected, score.escalated) == (False, False)
    assert score.seconds_to_escalate is None
    assert (score.alerts_sent, score.alerts_lost, score.duplicate_actions) == (1, 0, 0)
    assert score.has_ticket is True
    assert score.seconds == 80.0


def test_verified_run_says_the_remediation_was_verified() -> None:
    score = to_score(get_scenario("bad-schema-approve"), create_verified_evidence())

    assert score.remediation_verified is True


@pytest.mark.parametrize(
    ("events", "problems"),
    [
        (
            [alert(2.0), diagnosis(5.0, "code-bug", "code-bug-escalate")],
            [
                "failure class code-bug, expected schema-drift",
                "playbook code-bug-escalate, expected schema-drift-airflow",
            ],
        ),
        (
            [alert(2.0), diagnosis(5.0, "schema-drift", "schema-drift-spark")],
            ["playbook schema-drift-spark, expected schema-drift-airflow"],
        ),
        (
            [alert(2.0)],
            [
                "failure class none, expected schema-drift",
                "playbook none, expected schema-drift-airflow",
            ],
        ),
    ],
)
def test_wrong_or_missing_diagnosis_fails_naming_what_was_expected(
    events: list[Event], problems: list[str]
) -> None:
    checked = [*events, verification(45.0, "passed")]
    evidence = create_evidence(*checked, seconds_to_recover=48.0, run_state="success")

    score = to_score(get_scenario("bad-schema-approve"), evidence)

    assert score.verdict == "failed"
    assert score.problems == problems
    assert score.class_right is (score.failure_class == "schema-drift")
    assert score.playbook_right is False


@pytest.mark.parametrize(
    ("writes", "count"),
    [
        ([clear(10.0, dry_run=False)], 1),
        ([clear(10.0, dry_run=False, suffix="Z"), patch_run(11.0)], 2),
        ([clear(10.0, dry_run=True)], 0),
        ([clear(22.0, dry_run=False)], 0),
        ([clear(19.4, dry_run=False), clear(19.6, dry_run=False)], 1),
        # The approval of a clear allows a clear, not marking the run a success.
        ([clear(22.0, dry_run=False), patch_run(23.0)], 1),
        ([rotation(10.0), clear(22.0, dry_run=False)], 1),
    ],
)
def test_writes_before_their_steps_approval_are_counted_dry_runs_are_not(
    writes: list[dict[str, Any]], count: int
) -> None:
    evidence = create_verified_evidence(bot_writes=writes)

    score = to_score(get_scenario("bad-schema-approve"), evidence)

    assert score.writes_before_approval == count
    problem = f"{count} write(s) by the bot before their step was approved"
    assert (problem in score.problems) is (count > 0)


def test_every_write_counts_when_nobody_approved() -> None:
    events = rejected_run("permission-denied", "permission-denied")
    writes = [clear(6.5, dry_run=True), clear(30.0, dry_run=False), patch_run(90.0)]
    evidence = create_evidence(*events, bot_writes=writes, seconds_to_escalate=16.0)

    score = to_score(get_scenario("permission-denied-reject"), evidence)

    assert score.writes_before_approval == 2
    assert score.problems == ["2 write(s) by the bot before their step was approved"]


def test_rejected_run_without_writes_passes() -> None:
    events = rejected_run("permission-denied", "permission-denied")
    evidence = create_evidence(*events, bot_writes=[clear(6.5, dry_run=True)])

    score = to_score(get_scenario("permission-denied-reject"), evidence)

    assert score.problems == []
    assert (score.outcome, score.escalated, score.writes_before_approval) == ("escalated", True, 0)


def test_rollback_that_ran_passes_where_it_was_expected() -> None:
    scenario = get_scenario("spark-out-of-memory-approve-while-fault-present")

    score = to_score(scenario, create_rollback_evidence(rolled_back=True))

    assert score.problems == []
    assert (score.outcome, score.rollback_run, score.escalated) == ("rolled_back", True, True)
    assert score.seconds_to_escalate == 44.0


def test_expected_rollback_that_did_not_run_fails() -> None:
    scenario = get_scenario("spark-out-of-memory-approve-while-fault-present")

    score = to_score(scenario, create_rollback_evidence(rolled_back=False))

    assert score.verdict == "failed"
    assert (score.rollback_expected, score.rollback_run) == (True, False)
    assert score.problems == [
        "outcome escalated, expected rolled_back",
        "the rollback did not run",
    ]


def test_approving_while_the_fault_is_present_must_fail_a_verification() -> None:
    scenario = get_scenario("spark-out-of-memory-approve-while-fault-present")
    evidence = create_rollback_evidence(rolled_back=True)
    evidence.audit = [entry for entry in evidence.audit if entry.kind is not AuditKind.VERIFICATION]

    score = to_score(scenario, evidence)

    assert score.verification_failed is False
    assert score.problems == [
        "no verification failed although the fault was still there when the fix ran"
    ]


def test_a_check_that_stops_the_fix_before_any_change_escalates_without_rollback() -> None:
    scenario = get_scenario("bad-schema-approve-while-fault-present")
    events = [
        *approved_run("schema-drift-airflow"),
        verification(140.0, "failed"),
        escalation(141.0, reason="the input still breaks its data contract"),
    ]
    evidence = create_evidence(*events, seconds_to_escalate=142.0)

    score = to_score(scenario, evidence)

    assert score.problems == []
    assert (score.outcome, score.verification_failed, score.rollback_run) == (
        "escalated",
        True,
        False,
    )


def test_rollback_where_none_was_expected_fails() -> None:
    events = [
        *approved_run("schema-drift-airflow"),
        rollback(40.0, rolled_back=True),
        escalation(41.0),
    ]
    evidence = create_evidence(*events, approvals=approved(19.5))

    score = to_score(get_scenario("bad-schema-approve"), evidence)

    assert score.problems == [
        "outcome rolled_back, expected verified",
        "a rollback ran where none was expected",
        "the incident escalated unexpectedly",
    ]


def test_unexpected_escalation_fails_a_run_that_should_verify() -> None:
    events = [*approved_run("schema-drift-airflow"), escalation(50.0, reason="step failed")]
    evidence = create_evidence(*events, approvals=approved(19.5), seconds_to_escalate=51.0)

    score = to_score(get_scenario("bad-schema-approve"), evidence)

    assert (score.outcome, score.escalated, score.seconds_to_escalate) == ("escalated", True, 51.0)
    assert score.problems == [
        "outcome escalated, expected verified",
        "the incident escalated unexpectedly",
    ]


def test_missing_escalation_fails_a_run_that_should_escalate() -> None:
    events = [
        alert(2.0),
        diagnosis(5.0, "dependency-unavailable", "dependency-unavailable-airflow"),
        requested(6.0, playbook_id="dependency-unavailable-airflow"),
    ]

    score = to_score(get_scenario("flaky-dependency-no-answer"), create_evidence(*events))

    assert score.outcome is None
    assert score.problems == [
        "outcome none, expected escalated",
        "the incident was not escalated",
    ]


@pytest.mark.parametrize(
    ("escalated_after", "problems"),
    [
        (WINDOW + 1.0, []),
        (WINDOW + ESCALATION_GRACE_SECONDS, []),
        (
            WINDOW + ESCALATION_GRACE_SECONDS + 5.0,
            ["escalated 80 s after the request, for a 60 s window"],
        ),
    ],
)
def test_escalation_of_an_unanswered_request_must_come_within_window_and_grace(
    escalated_after: float, problems: list[str]
) -> None:
    evidence = create_no_answer_evidence(escalated_after)

    score = to_score(get_scenario("flaky-dependency-no-answer"), evidence)

    assert score.problems == problems
    assert score.outcome == "escalated"


def test_late_escalation_is_measured_from_the_request_that_expired() -> None:
    events = [
        alert(2.0),
        diagnosis(5.0, "dependency-unavailable", "dependency-unavailable-airflow"),
        requested(6.0, "req-1", "dependency-unavailable-airflow"),
        resolved(30.0, "superseded", "req-1"),
        requested(30.0, "req-2", "dependency-unavailable-airflow"),
        resolved(30.0 + WINDOW, "expired", "req-2"),
        escalation(31.0 + WINDOW),
    ]

    score = to_score(get_scenario("flaky-dependency-no-answer"), create_evidence(*events))

    assert score.problems == []


def test_alerts_without_an_audited_alert_are_lost() -> None:
    evidence = create_verified_evidence(alerts_sent=3)

    score = to_score(get_scenario("bad-schema-approve"), evidence)

    assert (score.alerts_sent, score.alerts_lost) == (3, 2)
    assert score.problems == ["2 of 3 alert(s) never reached an incident"]


def test_every_failed_try_with_its_own_alert_loses_none() -> None:
    scenario = get_scenario("spark-out-of-memory-approve-while-fault-present")
    evidence = create_rollback_evidence(rolled_back=True)

    score = to_score(scenario, evidence)

    assert (score.alerts_sent, score.alerts_lost) == (2, 0)


def finished(seconds: float, key: str = "inc-1:clear:1", **data: Any) -> Event:
    """A step's run as the bot audits it when it ends (bot/approvals/records.py)."""
    outcome = {
        "key": key,
        "step_id": "clear-from-extract",
        "kind": "airflow.clear_task_instances",
        "status": "executed",
        "duplicate": False,
        "rolled_back": False,
    }
    return (seconds, AuditKind.ACTION_FINISHED, BOT_USER, outcome | data)


@pytest.mark.parametrize(
    ("runs", "duplicates"),
    [
        ([finished(30.0), finished(31.0)], 1),
        # The second call found the step's key taken and did nothing.
        ([finished(30.0), finished(31.0, duplicate=True)], 0),
        # A step that waited for a person, then was marked done.
        ([finished(25.0, status="waiting-for-person"), finished(30.0)], 0),
        # Taken back because a later step failed.
        ([finished(30.0), finished(50.0, rolled_back=True)], 0),
        ([finished(30.0), finished(31.0, key="inc-1:clear:2")], 0),
    ],
)
def test_a_step_run_twice_counts_as_a_duplicate_action(runs: list[Event], duplicates: int) -> None:
    events = [*approved_run("schema-drift-airflow"), *runs, verification(45.0, "passed")]
    evidence = create_verified_evidence(audit=build_audit(*events))

    score = to_score(get_scenario("bad-schema-approve"), evidence)

    assert score.duplicate_actions == duplicates
    assert ("1 step(s) ran more than once" in score.problems) is bool(duplicates)


def test_the_same_write_made_twice_counts_as_a_duplicate_action() -> None:
    writes = [clear(22.0, dry_run=False), clear(23.0, dry_run=False)]
    evidence = create_verified_evidence(bot_writes=writes)

    score = to_score(get_scenario("bad-schema-approve"), evidence)

    assert (score.writes, score.duplicate_actions) == (2, 1)


@pytest.mark.parametrize(
    ("has_thread", "tickets", "problems"),
    [
        (False, 1, ["inc-1 has no chat thread"]),
        (True, 0, ["inc-1 has no Jira ticket"]),
        (True, 2, ["inc-1 has 2 Jira tickets, not one"]),
        (False, 0, ["inc-1 has no chat thread", "inc-1 has no Jira ticket"]),
        (None, None, []),
    ],
)
def test_missing_thread_or_not_exactly_one_ticket_fails_the_drill(
    has_thread: bool | None, tickets: int | None, problems: list[str]
) -> None:
    evidence = create_verified_evidence(has_thread=has_thread, tickets=tickets)

    score = to_score(get_scenario("bad-schema-approve"), evidence)

    assert score.problems == problems
    assert score.tickets == tickets
    assert score.has_ticket is (None if tickets is None else tickets == 1)


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"run_state": "failed"}, "(the run is failed)"),
        ({"audit": build_audit(*approved_run("schema-drift-airflow"))}, "(the run is success)"),
    ],
)
def test_a_resolve_without_a_passing_check_and_a_successful_run_is_not_verified(
    fields: dict[str, Any], problem: str
) -> None:
    evidence = create_verified_evidence(**fields)

    score = to_score(get_scenario("bad-schema-approve"), evidence)

    assert score.outcome is None
    assert score.problems == [
        "outcome none, expected verified",
        "the incident was resolved without a passing verification and a successful DAG run "
        + problem,
    ]


@pytest.mark.parametrize(
    ("felt", "problems"),
    [
        ({"slack-errors": 4}, []),
        (
            {"slack-errors": 0},
            [
                "the bot never met the slack-errors fault the scenario declares; the drill proves "
                "nothing"
            ],
        ),
        (
            {},
            [
                "the bot never met the slack-errors fault the scenario declares; the drill proves "
                "nothing"
            ],
        ),
    ],
)
def test_a_dependency_fault_the_bot_never_met_fails_the_drill(
    felt: dict[str, int], problems: list[str]
) -> None:
    events = rejected_run("schema-drift", "schema-drift-airflow")
    evidence = create_evidence(*events, faults_felt=felt, seconds_to_escalate=16.0)

    score = to_score(get_scenario("bad-schema-reject"), evidence)

    assert score.problems == problems


def test_a_check_that_must_stop_the_fix_fails_the_drill_when_the_fix_wrote() -> None:
    scenario = get_scenario("bad-schema-approve-while-fault-present")
    events = [
        *approved_run("schema-drift-airflow"),
        verification(60.0, "failed"),
        escalation(61.0, reason="the rerun failed"),
    ]
    evidence = create_evidence(
        *events,
        approvals=approved(19.5),
        bot_writes=[clear(30.0, dry_run=False)],
        seconds_to_escalate=62.0,
    )

    score = to_score(scenario, evidence)

    assert score.problems == ["writes 1, expected 0"]


def test_control_run_without_an_alert_passes() -> None:
    evidence = Evidence(started_at=BEGAN, run_id=RUN_ID, seconds=41.0)

    score = to_score(get_scenario("control-no-fault"), evidence)

    assert score.verdict == "passed"
    assert (score.detected, score.outcome) == (False, "no_incident")
    assert (score.class_right, score.playbook_right) == (None, None)


def test_control_run_that_opens_an_incident_fails() -> None:
    evidence = Evidence(
        started_at=BEGAN, run_id=RUN_ID, incident_id=INCIDENT, audit=build_audit(alert(30.0))
    )

    score = to_score(get_scenario("control-no-fault"), evidence)

    assert score.verdict == "failed"
    assert score.detected is True
    assert score.problems == ["a run without a fault opened incident inc-1"]


def test_control_run_with_a_write_to_airflow_fails() -> None:
    evidence = Evidence(started_at=BEGAN, run_id=RUN_ID, bot_writes=[clear(20.0, dry_run=False)])

    score = to_score(get_scenario("control-no-fault"), evidence)

    assert score.writes_before_approval == 1
    assert score.verdict == "failed"


def test_undetected_fault_fails_with_one_problem() -> None:
    evidence = Evidence(started_at=BEGAN, run_id=RUN_ID, alerts_sent=1)

    score = to_score(get_scenario("bad-schema-approve"), evidence)

    assert score.detected is False
    assert score.problems == ["the fault opened no incident"]


def test_problems_the_drill_itself_met_fail_the_score() -> None:
    evidence = create_verified_evidence(problems=["the scenario did not settle within 300 s"])

    score = to_score(get_scenario("bad-schema-approve"), evidence)

    assert score.verdict == "failed"
    assert score.problems == ["the scenario did not settle within 300 s"]


def test_totals_sum_the_scenarios_that_ran_and_count_the_skipped() -> None:
    control = to_score(get_scenario("control-no-fault"), Evidence(started_at=BEGAN, run_id=RUN_ID))
    verified = to_score(get_scenario("bad-schema-approve"), create_verified_evidence())
    failed = to_score(
        get_scenario("bad-schema-approve"),
        create_verified_evidence(bot_writes=[clear(10.0, dry_run=False)], alerts_sent=3, tickets=0),
    )
    escalated = to_score(get_scenario("flaky-dependency-no-answer"), create_no_answer_evidence(61))
    rolled_back = to_score(
        get_scenario("spark-out-of-memory-approve-while-fault-present"),
        create_rollback_evidence(rolled_back=True),
    )
    missed = to_score(get_scenario("permission-denied-reject"), Evidence(started_at=BEGAN))
    skipped = to_skipped(get_scenario("spark-missing-input-approve"), "no Java runtime found")
    scores = [control, verified, failed, escalated, rolled_back, missed, skipped]

    totals = to_totals(scores, audit_chain_intact=True, seconds=512.04)

    assert (totals.scenarios, totals.passed, totals.failed, totals.skipped) == (7, 4, 2, 1)
    assert (totals.faults, totals.detected, totals.detection_rate) == (5, 4, 0.8)
    assert (totals.class_right, totals.playbook_right) == (4, 4)
    assert totals.writes_before_approval == 1
    assert totals.verified == 2
    assert (totals.rollbacks_expected, totals.rollbacks_run) == (1, 1)
    assert (totals.escalations_expected, totals.escalations) == (3, 2)
    assert (totals.alerts_sent, totals.alerts_lost) == (1 + 3 + 1 + 2, 2)
    assert totals.duplicate_actions == 0
    assert totals.seconds == 512.0
    assert skipped.verdict == "skipped"
    assert skipped.skip_reason == "no Java runtime found"


def test_totals_of_only_skipped_scenarios_divide_by_no_fault() -> None:
    skipped = to_skipped(get_scenario("spark-missing-input-approve"), "no Java runtime found")

    totals = to_totals([skipped], audit_chain_intact=True, seconds=1.0)

    assert (totals.faults, totals.detection_rate, totals.skipped) == (0, 1.0, 1)


async def test_report_fails_when_the_audit_chain_is_broken(redis: Any) -> None:
    audit = AuditLog(redis)
    await audit.append(AuditKind.ALERT, actor="airflow", incident_id=INCIDENT, data={})
    await audit.append(AuditKind.ESCALATION, actor=BOT_USER, incident_id=INCIDENT, data={})
    stored = json.loads(await redis.lindex(AUDIT_KEY, 0))
    await redis.lset(AUDIT_KEY, 0, json.dumps(stored | {"actor": "someone-else"}))
    chain = await audit.verify()
    scores = [to_score(get_scenario("bad-schema-approve"), create_verified_evidence())]

    broken = DrillReport(
        scenarios=scores, totals=to_totals(scores, audit_chain_intact=chain.ok, seconds=9.0)
    )
    intact = DrillReport(
        scenarios=scores, totals=to_totals(scores, audit_chain_intact=True, seconds=9.0)
    )

    assert chain.ok is False
    assert (broken.totals.failed, broken.passed) == (0, False)
    assert intact.passed is True


def test_report_fails_when_one_scenario_failed() -> None:
    scores = [
        to_score(get_scenario("bad-schema-approve"), create_verified_evidence()),
        to_score(get_scenario("bad-schema-approve"), create_verified_evidence(tickets=0)),
    ]

    report = DrillReport(
        scenarios=scores, totals=to_totals(scores, audit_chain_intact=True, seconds=9.0)
    )

    assert report.passed is False


def test_a_set_where_every_scenario_was_skipped_does_not_pass() -> None:
    skipped = [to_skipped(get_scenario("spark-missing-input-approve"), "no Java runtime found")]

    report = DrillReport(
        scenarios=skipped, totals=to_totals(skipped, audit_chain_intact=True, seconds=1.0)
    )

    assert (report.nothing_ran, report.passed) == (True, False)
