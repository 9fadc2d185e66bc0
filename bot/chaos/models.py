"""What a chaos scenario declares: the fault, who approves and what must come of it."""

from __future__ import annotations

from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.diagnosis.models import FAILURE_CLASSES

Fault = Literal[
    "none",
    "bad-schema",
    "flaky-dependency",
    "expired-credential",
    "permission-denied",
    "spark-out-of-memory",
    "spark-missing-input",
]
# approve: the fault is lifted once the fix is approved, so verification can pass.
# approve-while-fault-present: the fault stays, so verification fails: what the fix changed
# is rolled back, or, where a check stopped it before any change, the incident escalates.
Behaviour = Literal["approve", "reject", "no-answer", "approve-while-fault-present"]
Outcome = Literal["verified", "rolled_back", "escalated", "no_incident"]
Requirement = Literal["java"]
# Faults in the bot's own dependencies, held for the length of one scenario.
DependencyFault = Literal["slack-errors", "jira-down", "redis-restart", "llm-overloaded"]
Verdict = Literal["passed", "failed", "skipped"]

OUTCOMES_BY_BEHAVIOUR: dict[str, tuple[Outcome, ...]] = {
    "approve": ("verified",),
    "reject": ("escalated",),
    "no-answer": ("escalated",),
    "approve-while-fault-present": ("rolled_back", "escalated"),
}
SPARK_FAULTS = frozenset({"spark-out-of-memory", "spark-missing-input"})


class Approval(BaseModel):
    """How the scripted approvers answer the bot's proposal."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    behaviour: Behaviour
    approvers: list[str] = Field(default_factory=lambda: ["approver-1"], min_length=1)

    @field_validator("approvers")
    @classmethod
    def check_distinct(cls, approvers: list[str]) -> list[str]:
        if len(set(approvers)) != len(approvers):
            raise ValueError("approvers must be distinct people")
        return approvers


class Expected(BaseModel):
    """What the bot must conclude and where the incident must end."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    outcome: Outcome
    failure_class: str | None = None
    playbook: str | None = None
    # How many writes the bot must make (to Airflow, to the secrets service): 0 where a
    # check has to stop the fix before it changes anything. Unchecked when left out.
    writes: int | None = Field(default=None, ge=0)

    @field_validator("failure_class")
    @classmethod
    def check_failure_class(cls, failure_class: str | None) -> str | None:
        if failure_class is not None and failure_class not in FAILURE_CLASSES:
            raise ValueError(f"must be one of {', '.join(FAILURE_CLASSES)}")
        return failure_class


class Scenario(BaseModel):
    """One drill: inject `fault` into `dag_id`, answer as `approval` says, check `expected`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$", max_length=80)
    description: str = ""
    fault: Fault
    dag_id: str = Field(min_length=1)
    requires: list[Requirement] = Field(default_factory=list)
    dependency_faults: list[DependencyFault] = Field(default_factory=list)
    approval: Approval | None = None
    expected: Expected

    @model_validator(mode="after")
    def check_consistent(self) -> Self:
        if self.fault == "none":
            self.check_control()
        else:
            self.check_fault()
        if self.fault in SPARK_FAULTS and "java" not in self.requires:
            raise ValueError("a Spark fault needs `requires: [java]`")
        return self

    def check_control(self) -> None:
        if self.expected.outcome != "no_incident":
            raise ValueError("a run without a fault must expect outcome no_incident")
        if self.approval is not None or self.expected.failure_class is not None:
            raise ValueError("a run without a fault has no approval and no failure_class")

    def check_fault(self) -> None:
        if self.approval is None:
            raise ValueError("a fault needs an approval behaviour")
        if self.expected.failure_class is None or self.expected.playbook is None:
            raise ValueError("a fault needs expected.failure_class and expected.playbook")
        outcomes = OUTCOMES_BY_BEHAVIOUR[self.approval.behaviour]
        if self.expected.outcome not in outcomes:
            raise ValueError(
                f"approval behaviour {self.approval.behaviour} leads to outcome "
                + " or ".join(outcomes)
            )


class ScenarioScore(BaseModel):
    """How the bot did in one drill; the items of `chaos run --format json`'s `scenarios`.

    Times are seconds from the fault's DAG run being triggered. A field the drill could not
    measure (nothing detected, say) is None. `problems` says in words what fell short.
    """

    name: str
    fault: Fault
    behaviour: Behaviour | None
    dependency_faults: list[DependencyFault] = Field(default_factory=list)
    # How often each dependency fault answered the bot: 0 means it was never met.
    faults_felt: dict[str, int] = Field(default_factory=dict)
    verdict: Verdict
    skip_reason: str | None = None
    problems: list[str] = Field(default_factory=list)
    incident_id: str | None = None
    detected: bool = False
    seconds_to_thread: float | None = None
    expected_failure_class: str | None = None
    failure_class: str | None = None
    class_right: bool | None = None
    expected_playbook: str | None = None
    playbook: str | None = None
    playbook_right: bool | None = None
    writes: int = 0
    writes_before_approval: int = 0
    expected_outcome: Outcome
    outcome: Outcome | None = None
    remediation_verified: bool = False
    # A check of the bot's failed: what approve-while-fault-present must show.
    verification_failed: bool = False
    rollback_expected: bool = False
    rollback_run: bool = False
    escalation_expected: bool = False
    escalated: bool = False
    seconds_to_escalate: float | None = None
    seconds_to_recover: float | None = None
    alerts_sent: int = 0
    alerts_lost: int = 0
    # Exactly one ticket per incident; `tickets` is how many the tracker holds.
    has_ticket: bool | None = None
    tickets: int | None = None
    duplicate_actions: int = 0
    seconds: float = 0.0


class Totals(BaseModel):
    """Sums over every scenario that ran (skipped ones count only in `skipped`)."""

    scenarios: int
    passed: int
    failed: int
    skipped: int
    faults: int
    detected: int
    detection_rate: float
    class_right: int
    playbook_right: int
    writes_before_approval: int
    verified: int
    rollbacks_expected: int
    rollbacks_run: int
    escalations_expected: int
    escalations: int
    alerts_sent: int
    alerts_lost: int
    duplicate_actions: int
    audit_chain_intact: bool
    seconds: float


class DrillReport(BaseModel):
    """The whole drill set: what `incident-bot chaos run --format json` prints."""

    scenarios: list[ScenarioScore]
    totals: Totals

    @property
    def nothing_ran(self) -> bool:
        return self.totals.skipped == self.totals.scenarios

    @property
    def passed(self) -> bool:
        """No scenario failed, the audit chain is intact, and at least one scenario ran."""
        totals = self.totals
        return totals.failed == 0 and totals.audit_chain_intact and not self.nothing_ran
