"""Traces: the ordered steps the bot took on one incident, with what went in and came out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, Field


class StepKind(StrEnum):
    """What a step was; add a member for each new kind of work worth distilling from."""

    ALERT = "alert"
    EVIDENCE_CALL = "evidence_call"
    DIAGNOSIS = "diagnosis"
    CLAUDE_CALL = "claude_call"
    TOOL_CALL = "tool_call"
    APPROVAL = "approval"
    ACTION = "action"
    VERIFICATION = "verification"
    ROLLBACK = "rollback"
    ESCALATION = "escalation"
    OUTCOME = "outcome"


def utcnow() -> datetime:
    return datetime.now(UTC)


class TraceStep(BaseModel):
    """One step; `size_bytes` is of its input and output JSON before any truncation."""

    seq: int = 0
    at: datetime = Field(default_factory=utcnow)
    kind: StepKind
    name: str
    input: Any = None
    output: Any = None
    duration_ms: float | None = None
    size_bytes: int = 0
    error: str | None = None


class Trace(BaseModel):
    incident_id: str
    steps: list[TraceStep] = Field(default_factory=list)


@dataclass
class OpenStep:
    """What a timed block reports before its step is written: its output, or an error."""

    output: Any = None
    error: str | None = None
