"""What an action run produces: previews, results, verification results and the outcome.

Every model is JSON-ready: the runner records the outcome under the action's idempotency key,
and a retried job gets the recorded outcome back instead of acting twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from bot.diagnosis.collectors.http import CallTiming
from bot.errors import BotError, ExpectedError


class ActionError(BotError):
    """An outside system refused or failed an action, a rollback or a verification read."""


class ActionRefused(ExpectedError):
    """A step that must not run as it stands: an unfilled placeholder, a host not allowed."""


@dataclass(frozen=True)
class RunContext:
    """What the caller knows about a step's run: placeholder values and who asked for it."""

    values: Mapping[str, str] = field(default_factory=dict)
    actor: str = ""


@dataclass(frozen=True)
class ActionContext:
    """One step of one incident, as the executors see it."""

    incident_id: str
    step_id: str
    attempt: int = 1
    values: Mapping[str, str] = field(default_factory=dict)


class ActionStatus(StrEnum):
    DONE = "done"
    WAITING = "waiting"


class VerificationStatus(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    WAITING = "waiting"


class RunStatus(StrEnum):
    RUNNING = "running"
    EXECUTED = "executed"
    WAITING = "waiting-for-person"
    FAILED = "failed"
    REFUSED = "refused"


class Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class Preview(Record):
    """What a step would do, shown before approval; `data` holds the exact request."""

    kind: str
    summary: str
    data: dict[str, Any] = Field(default_factory=dict)


class ActionResult(Record):
    """What an action did. `data` keeps what its rollback needs (a Variable's old value);
    `values` fills the placeholders of its verification and rollback (`previous_value`)."""

    kind: str
    status: ActionStatus = ActionStatus.DONE
    summary: str
    data: dict[str, Any] = Field(default_factory=dict)
    values: dict[str, str] = Field(default_factory=dict)


class VerificationResult(Record):
    kind: str
    status: VerificationStatus
    summary: str
    observed: str | None = None


class RunOutcome(Record):
    """How one run of a step ended; the caller turns it into messages, audit and trace steps.

    `duplicate` is true when this call did not act because the same key had already been
    taken: the outcome is then the recorded one, or RUNNING while the first call works.
    """

    key: str
    step_id: str
    kind: str
    status: RunStatus
    duplicate: bool = False
    verified: bool | None = None
    rolled_back: bool = False
    escalate: bool = False
    result: ActionResult | None = None
    verification: VerificationResult | None = None
    rollback: ActionResult | None = None
    error: str | None = None
    details: list[str] = Field(default_factory=list)
    durations_ms: dict[str, float] = Field(default_factory=dict)
    # The outside calls this call made (not recorded: a duplicate made none).
    calls: list[CallTiming] = Field(default_factory=list, exclude=True)

    @property
    def executed(self) -> bool:
        return self.result is not None and not self.duplicate
