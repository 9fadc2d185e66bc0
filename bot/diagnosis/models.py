"""Evidence gathered for an incident and the diagnosis made from it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

UNKNOWN = "unknown"
NOT_AN_INCIDENT = "none"

FAILURE_CLASSES: tuple[str, ...] = (
    "schema-drift",
    "expired-credential",
    "permission-denied",
    "dependency-unavailable",
    "out-of-memory",
    "missing-input",
    "disk-full",
    "task-timeout",
    "infra-lost-worker",
    "dag-import-error",
    "code-bug",
    "data-quality",
)


class Evidence(BaseModel):
    """Text one collector gathered, with where it came from.

    `note` is set when the collector failed: the diagnosis shows it instead of raising.
    """

    model_config = ConfigDict(frozen=True)

    source: str
    text: str = ""
    url: str | None = None
    note: str | None = None
    truncated: bool = False


class EvidenceLine(BaseModel):
    """A line the diagnosis relied on and where it sits in its evidence."""

    model_config = ConfigDict(frozen=True)

    source: str
    line_number: int
    text: str


class Alternative(BaseModel):
    model_config = ConfigDict(frozen=True)

    failure_class: str
    score: float


class Diagnosis(BaseModel):
    """What went wrong: a failure class (or `unknown`), its playbook and why."""

    model_config = ConfigDict(frozen=True)

    failure_class: str
    playbook_id: str | None
    confidence: float
    summary: str
    evidence_lines: list[EvidenceLine] = Field(default_factory=list)
    alternatives: list[Alternative] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    engine: str = "rules"
    # Placeholder values (dag_id, a matched column, a path...) that fill the playbook's
    # texts and its action parameters.
    values: dict[str, str] = Field(default_factory=dict)
    platform: str | None = None

    @property
    def is_unknown(self) -> bool:
        return self.failure_class in (UNKNOWN, NOT_AN_INCIDENT)
