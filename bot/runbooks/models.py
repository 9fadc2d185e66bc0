"""Playbooks: how a failure class is recognised, explained and remedied.

A playbook is data, one YAML file each; every model forbids unknown fields so that a typo
fails at load time instead of silently turning a step off. Text fields and action
parameters may hold `{placeholders}` that are filled from the alert and the evidence (see
`to_filled_template`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from bot.diagnosis.models import FAILURE_CLASSES

PLACEHOLDER = re.compile(r"\{([a-z][a-z0-9_]*)\}")

# Filled from the alert's pipeline context and routing (see bot.alerts.models.PipelineContext);
# a pattern's named groups add their own names for the playbook that declares them.
CONTEXT_PLACEHOLDERS = frozenset(
    {
        "dag_id",
        "task_id",
        "dag_run_id",
        "try_number",
        "map_index",
        "spark_app_id",
        "service",
        "team",
        "platform",
        "incident_id",
    }
)
EVIDENCE_PLACEHOLDERS = frozenset({"matched_line", "source", "line_number"})


class Platform(StrEnum):
    AIRFLOW = "airflow"
    SPARK = "spark"
    DBT = "dbt"
    PYTHON = "python"
    ANY = "any"


class Risk(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def is_valid_regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"not a valid regular expression ({exc})") from exc
    return value


class Pattern(StrictModel):
    """A regular expression that points at the failure class, and how strongly.

    `weight` is the chance, on its own, that a line it matches means this class: about 0.9
    for a vendor error code, 0.5 for a suggestive phrase. `consequence` marks a symptom
    that other failures also cause (a SIGTERM, a lost heartbeat): it yields to any class
    with causal evidence.
    """

    regex: str
    weight: float = Field(gt=0, le=1)
    consequence: bool = False

    _check_regex = field_validator("regex")(is_valid_regex)


class Recognition(StrictModel):
    """Patterns are matched per normalised line, case-insensitively.

    Every `required` regex must match somewhere and no `excluding` regex may match, else
    the playbook does not apply to the evidence at all. `extract` regexes never score: their
    named groups only fill placeholders (a connection id, a path).
    """

    patterns: list[Pattern] = Field(min_length=1)
    required: list[str] = Field(default_factory=list)
    excluding: list[str] = Field(default_factory=list)
    extract: list[str] = Field(default_factory=list)

    @field_validator("required", "excluding", "extract")
    @classmethod
    def check_regexes(cls, values: list[str]) -> list[str]:
        for value in values:
            is_valid_regex(value)
        return values


# Action parameters. Strings may be templates such as "{dag_id}".


class ClearTaskInstancesParams(StrictModel):
    dag_id: str
    task_ids: list[str] = Field(min_length=1)
    dag_run_id: str | None = None
    include_downstream: bool = False
    include_upstream: bool = False
    only_failed: bool = True


class TriggerDagRunParams(StrictModel):
    dag_id: str
    conf: dict[str, Any] = Field(default_factory=dict)


class SetTaskInstanceStateParams(StrictModel):
    dag_id: str
    dag_run_id: str
    task_id: str
    state: Literal["success", "failed", "skipped"]


class DagParams(StrictModel):
    dag_id: str


class SetVariableParams(StrictModel):
    key: str
    value: str
    description: str | None = None


class HttpCallParams(StrictModel):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "POST"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    body: dict[str, Any] | None = None
    expected_status: list[int] = Field(default_factory=lambda: [200, 201, 202, 204])

    @field_validator("url")
    @classmethod
    def check_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://", "{")):
            raise ValueError("must start with https://, http:// or a {placeholder}")
        return value


class ManualParams(StrictModel):
    instructions: str = Field(min_length=1)


class ClearTaskInstances(StrictModel):
    kind: Literal["airflow.clear_task_instances"]
    params: ClearTaskInstancesParams


class TriggerDagRun(StrictModel):
    kind: Literal["airflow.trigger_dag_run"]
    params: TriggerDagRunParams


class SetTaskInstanceState(StrictModel):
    kind: Literal["airflow.set_task_instance_state"]
    params: SetTaskInstanceStateParams


class PauseDag(StrictModel):
    kind: Literal["airflow.pause_dag"]
    params: DagParams


class UnpauseDag(StrictModel):
    kind: Literal["airflow.unpause_dag"]
    params: DagParams


class SetVariable(StrictModel):
    kind: Literal["airflow.set_variable"]
    params: SetVariableParams


class HttpCall(StrictModel):
    kind: Literal["http.call"]
    params: HttpCallParams


class ManualAction(StrictModel):
    kind: Literal["manual"]
    params: ManualParams


Action = Annotated[
    ClearTaskInstances
    | TriggerDagRun
    | SetTaskInstanceState
    | PauseDag
    | UnpauseDag
    | SetVariable
    | HttpCall
    | ManualAction,
    Field(discriminator="kind"),
]
ACTION_KINDS = frozenset(
    {
        "airflow.clear_task_instances",
        "airflow.trigger_dag_run",
        "airflow.set_task_instance_state",
        "airflow.pause_dag",
        "airflow.unpause_dag",
        "airflow.set_variable",
        "http.call",
        "manual",
    }
)


# Verifications: how the bot proves a step worked before it calls the incident fixed.


class TaskInstanceStateParams(StrictModel):
    dag_id: str
    task_id: str
    dag_run_id: str | None = None
    expected: list[str] = Field(default_factory=lambda: ["success"], min_length=1)


class DagRunStateParams(StrictModel):
    dag_id: str
    dag_run_id: str | None = None
    expected: list[str] = Field(default_factory=lambda: ["success"], min_length=1)


class DagPausedParams(StrictModel):
    dag_id: str
    expected: bool = True


class HttpStatusParams(StrictModel):
    url: str
    expected_status: list[int] = Field(default_factory=lambda: [200], min_length=1)


class DataContractParams(StrictModel):
    dag_id: str
    # What a person confirms instead where no data contract names the DAG.
    instructions: str = Field(min_length=1)


class TaskInstanceStateCheck(StrictModel):
    kind: Literal["airflow.task_instance_state"]
    params: TaskInstanceStateParams
    timeout_seconds: int = Field(gt=0)


class DagRunStateCheck(StrictModel):
    kind: Literal["airflow.dag_run_state"]
    params: DagRunStateParams
    timeout_seconds: int = Field(gt=0)


class DagPausedCheck(StrictModel):
    kind: Literal["airflow.dag_paused"]
    params: DagPausedParams
    timeout_seconds: int = Field(gt=0)


class HttpStatusCheck(StrictModel):
    kind: Literal["http.status"]
    params: HttpStatusParams
    timeout_seconds: int = Field(gt=0)


class DataContractCheck(StrictModel):
    kind: Literal["data.contract"]
    params: DataContractParams
    timeout_seconds: int = Field(gt=0)


class ManualCheck(StrictModel):
    kind: Literal["manual"]
    params: ManualParams
    timeout_seconds: int = Field(gt=0)


Verification = Annotated[
    TaskInstanceStateCheck
    | DagRunStateCheck
    | DagPausedCheck
    | HttpStatusCheck
    | DataContractCheck
    | ManualCheck,
    Field(discriminator="kind"),
]
VERIFICATION_KINDS = frozenset(
    {
        "airflow.task_instance_state",
        "airflow.dag_run_state",
        "airflow.dag_paused",
        "http.status",
        "data.contract",
        "manual",
    }
)


class RemediationStep(StrictModel):
    """One proposed change: shown with a dry-run preview, run only after approval."""

    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    title: str = Field(min_length=1)
    action: Action
    risk: Risk
    dry_run: bool = True
    verification: Verification
    rollback: Action | None = None


class Escalation(StrictModel):
    team: str = Field(min_length=1)
    after_minutes: int = Field(ge=0)


class Playbook(StrictModel):
    """A failure class's recognition, explanation and remedy for some platforms."""

    id: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    title: str = Field(min_length=1)
    failure_class: str
    applies_to: list[Platform] = Field(min_length=1)
    recognition: Recognition
    diagnosis: str = Field(min_length=1)
    checks: list[str] = Field(default_factory=list)
    remediation: list[RemediationStep] = Field(default_factory=list)
    escalation: Escalation

    @field_validator("failure_class")
    @classmethod
    def check_failure_class(cls, value: str) -> str:
        if value not in FAILURE_CLASSES:
            raise ValueError(f"must be one of {', '.join(FAILURE_CLASSES)}")
        return value

    @field_validator("diagnosis")
    @classmethod
    def check_placeholders(cls, value: str, info: ValidationInfo) -> str:
        recognition = info.data.get("recognition")
        if recognition is None:
            return value
        unknown = to_placeholders(value) - to_known_placeholders(recognition)
        if unknown:
            raise ValueError(f"uses unknown placeholders: {', '.join(sorted(unknown))}")
        return value

    @field_validator("remediation")
    @classmethod
    def check_step_ids(cls, steps: list[RemediationStep]) -> list[RemediationStep]:
        ids = [step.id for step in steps]
        if len(ids) != len(set(ids)):
            raise ValueError("step ids must be unique")
        return steps

    @property
    def placeholders(self) -> frozenset[str]:
        """Every placeholder name the diagnosis text may use."""
        return to_known_placeholders(self.recognition)

    def is_for(self, platform: str | None) -> bool:
        return platform is not None and platform in {str(item) for item in self.applies_to}


def to_known_placeholders(recognition: Recognition) -> frozenset[str]:
    """Context and evidence names, plus the named groups of the playbook's regexes."""
    regexes = [pattern.regex for pattern in recognition.patterns] + recognition.extract
    groups = {name for regex in regexes for name in re.compile(regex).groupindex}
    return CONTEXT_PLACEHOLDERS | EVIDENCE_PLACEHOLDERS | groups


def to_placeholders(template: str) -> set[str]:
    return set(PLACEHOLDER.findall(template))


def to_filled_template(template: str, values: Mapping[str, str]) -> str:
    """Replace each `{name}` with its value; a name without a value reads `<name>`.

    Only lower-case identifiers are placeholders, so JSON or code braces stay as written.
    """
    return PLACEHOLDER.sub(lambda match: values.get(match[1]) or f"<{match[1]}>", template)
