"""The one interface every evidence collector implements, and how a collector fails."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from bot.alerts.models import Alert
from bot.diagnosis.models import Evidence
from bot.errors import BotError


class Collector(Protocol):
    """Gathers read-only evidence for one alert.

    `collect` returns None when the collector does not apply to the alert (no Airflow task,
    no Spark application). It never raises: a failure comes back as an Evidence whose `note`
    says what failed, so the diagnosis can show it.
    """

    name: str

    async def collect(self, alert: Alert) -> Evidence | None: ...


class FailureKind(StrEnum):
    TIMEOUT = "timeout"
    UNREACHABLE = "unreachable"
    AUTH_REFUSED = "auth-refused"
    NOT_FOUND = "not-found"
    HTTP_ERROR = "http-error"
    BAD_RESPONSE = "bad-response"
    DEADLINE = "deadline"


class CollectorError(BotError):
    """An outside system could not give its evidence; caught by the collector, shown as a note."""

    def __init__(self, system: str, kind: FailureKind, detail: str = "") -> None:
        super().__init__(f"{system}: {kind} {detail}".strip())
        self.system = system
        self.kind = kind
        self.detail = detail
