"""A labelled evaluation case, one diagnosed case, and the report over a data set.

The report's fields are the contract of `incident-bot eval --format json` (see DESIGN.md):
`cases`, `accuracy`, `misdiagnosis_rate`, `abstain_rate`, `false_positive_rate`,
`latency_ms` and `per_class`; the others are extras a reader may ignore.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from bot.diagnosis.models import FAILURE_CLASSES, NOT_AN_INCIDENT

LABELS = (*FAILURE_CLASSES, NOT_AN_INCIDENT)


class EvalCase(BaseModel):
    """One JSON line: the log text and the class a person gave it; other fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str
    text: str
    label: str

    @field_validator("id", mode="before")
    @classmethod
    def to_text_id(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("label")
    @classmethod
    def check_label(cls, value: str) -> str:
        if value not in LABELS:
            raise ValueError(f"must be one of {', '.join(LABELS)}")
        return value

    @property
    def is_failure(self) -> bool:
        return self.label != NOT_AN_INCIDENT


class CaseResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    label: str
    predicted: str
    confidence: float
    latency_ms: float

    @property
    def is_correct(self) -> bool:
        return self.predicted == self.label


class Latency(BaseModel):
    p50: float
    p95: float
    p99: float


class ClassScore(BaseModel):
    precision: float
    recall: float
    support: int


class Mistake(BaseModel):
    id: str
    label: str
    predicted: str
    confidence: float


class EvalReport(BaseModel):
    """Rates over failure cases (label is a class) and benign cases (label `none`).

    accuracy, misdiagnosis_rate and abstain_rate (the engine said `unknown` or `none`) sum
    to 1 over the failure cases; false_positive_rate is the share of benign cases given a
    failure class.
    """

    cases: int
    failure_cases: int
    benign_cases: int
    accuracy: float
    misdiagnosis_rate: float
    abstain_rate: float
    false_positive_rate: float
    latency_ms: Latency
    per_class: dict[str, ClassScore]
    mistakes: list[Mistake] = Field(default_factory=list)
