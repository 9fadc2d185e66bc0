"""What one drill gathers from the outside systems, and the writes in it that count.

A write is one of the bot's entries in Airflow's event log (`GET /api/v2/eventLogs`, made
by the bot's own account) or one of the secrets service's rotations. It is approved when,
before it, the scripted approvers gave the last approval a step of its kind needs.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.audit.models import AuditEntry, AuditKind

ROTATION_EVENT = "rotate_credential"
# The Airflow 3 API endpoints (as its event log names them) each remediation kind calls,
# and the secrets service's rotation for an http.call. A rollback's kind is approved with
# its step.
WRITE_EVENTS: dict[str, frozenset[str]] = {
    "airflow.clear_task_instances": frozenset({"post_clear_task_instances"}),
    "airflow.trigger_dag_run": frozenset({"trigger_dag_run"}),
    "airflow.set_task_instance_state": frozenset({"patch_task_instance", "patch_dag_run"}),
    "airflow.pause_dag": frozenset({"patch_dag"}),
    "airflow.unpause_dag": frozenset({"patch_dag"}),
    "airflow.set_variable": frozenset({"post_variable", "patch_variable", "delete_variable"}),
    "http.call": frozenset({ROTATION_EVENT}),
}


@dataclass(frozen=True)
class WriteApproval:
    """The moment a step was approved by everyone it needs, and the kinds it may write."""

    at: datetime
    kinds: frozenset[str]

    @property
    def events(self) -> frozenset[str]:
        return frozenset().union(*(WRITE_EVENTS.get(kind, frozenset()) for kind in self.kinds))


@dataclass
class Evidence:
    """What one drill gathered; times are seconds since the drill began."""

    started_at: datetime
    escalation_window_seconds: float = 0.0
    run_id: str | None = None
    run_state: str | None = None
    incident_id: str | None = None
    seconds_to_thread: float | None = None
    seconds_to_recover: float | None = None
    seconds_to_escalate: float | None = None
    approvals: list[WriteApproval] = field(default_factory=list)
    # The drill's audit entries: its incident's, and the alerts of its DAG run.
    audit: list[AuditEntry] = field(default_factory=list)
    alerts_sent: int = 0
    bot_writes: list[dict[str, Any]] = field(default_factory=list)
    has_thread: bool | None = None
    tickets: int | None = None
    # How often each of the scenario's dependency faults answered the bot.
    faults_felt: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def entries(self, kind: AuditKind) -> list[AuditEntry]:
        return [entry for entry in self.audit if entry.kind is kind]


def to_rotation_writes(rotations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The secrets service's rotations in the shape of Airflow's event-log entries."""
    return [
        {
            "event": ROTATION_EVENT,
            "when": rotation["rotated_at"],
            "extra": json.dumps({"conn_id": rotation.get("conn_id")}),
        }
        for rotation in rotations
    ]


def get_writes(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The entries that change something: a dry run (the preview of a clear) does not.

    Airflow 3 leaves dry runs out of its event log; Airflow 2 recorded them.
    """
    return [entry for entry in entries if to_extra(entry).get("dry_run") is not True]


def to_extra(entry: dict[str, Any]) -> dict[str, Any]:
    extra = entry.get("extra")
    if isinstance(extra, str):
        try:
            extra = json.loads(extra)
        except ValueError:
            return {}
    return extra if isinstance(extra, dict) else {}


def count_writes_before_approval(
    entries: list[dict[str, Any]], approvals: list[WriteApproval]
) -> int:
    """Writes no earlier approval of a step of their kind allowed (all without one)."""
    return sum(1 for entry in get_writes(entries) if not is_approved(entry, approvals))


def is_approved(entry: dict[str, Any], approvals: list[WriteApproval]) -> bool:
    when = datetime.fromisoformat(entry["when"])
    return any(entry["event"] in approval.events and approval.at <= when for approval in approvals)


def count_repeated_writes(entries: list[dict[str, Any]]) -> int:
    """Writes identical to an earlier one (same call, same target, same body)."""
    keys = Counter(
        json.dumps(
            [entry.get("event"), entry.get("dag_id"), entry.get("run_id"), to_extra(entry)],
            sort_keys=True,
        )
        for entry in get_writes(entries)
    )
    return sum(count - 1 for count in keys.values())


def count_repeated_runs(finished: list[AuditEntry]) -> int:
    """Runs of one step and attempt beyond the first, as the bot audited them.

    A step waiting for a person is finished twice (waiting, then done) and a step taken
    back is audited again with `rolled_back`; neither is a second run.
    """
    runs = Counter(
        entry.data.get("key")
        for entry in finished
        if entry.data.get("status") == "executed"
        and not entry.data.get("duplicate")
        and not entry.data.get("rolled_back")
    )
    return sum(count - 1 for count in runs.values())
