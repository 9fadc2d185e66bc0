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
# approve-while-fault-present: the fault stays, so verification fails and the fix rolls back.
Behaviour = Literal["approve", "reject", "no-answer", "approve-while-fault-present"]
Outcome = Literal["verified", "rolled_back", "escalated", "no_incident"]
Requirement = Literal["java"]

OUTCOMES_BY_BEHAVIOUR: dict[str, Outcome] = {
    "approve": "verified",
    "reject": "escalated",
    "no-answer": "escalated",
    "approve-while-fault-present": "rolled_back",
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
        outcome = OUTCOMES_BY_BEHAVIOUR[self.approval.behaviour]
        if self.expected.outcome != outcome:
            raise ValueError(
                f"approval behaviour {self.approval.behaviour} leads to outcome {outcome}"
            )
