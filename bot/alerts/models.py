"""The one alert model every source is parsed into."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Source(StrEnum):
    DATADOG = "datadog"
    CLOUDWATCH = "cloudwatch"
    AIRFLOW = "airflow"


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class Severity(StrEnum):
    """Severity, highest first; sources map their own priorities onto it."""

    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"


class Link(BaseModel):
    model_config = ConfigDict(frozen=True)

    title: str
    url: str


class PipelineContext(BaseModel):
    """Where in a data pipeline the alert points, when the source knows it."""

    model_config = ConfigDict(frozen=True)

    dag_id: str | None = None
    run_id: str | None = None
    task_id: str | None = None
    try_number: int | None = None
    map_index: int | None = None
    spark_app_id: str | None = None
    log_url: str | None = None
    exception: str | None = None


class Alert(BaseModel):
    """A monitoring alert, whatever sent it.

    `delivery_id` identifies one delivery (Datadog event id, SNS MessageId) and is what
    redeliveries are dropped on; `fingerprint` identifies the problem, so every alert with
    the same fingerprint joins the same open incident.
    """

    model_config = ConfigDict(frozen=True)

    source: Source
    delivery_id: str
    fingerprint: str
    status: AlertStatus
    severity: Severity = Severity.MEDIUM
    title: str
    message: str = ""
    service: str | None = None
    team: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    links: list[Link] = Field(default_factory=list)
    pipeline: PipelineContext | None = None
    occurred_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    raw: dict[str, Any] = Field(default_factory=dict)

    @property
    def is_firing(self) -> bool:
        return self.status is AlertStatus.FIRING


def to_fingerprint(*parts: object) -> str:
    """A stable short fingerprint from the parts that identify a problem."""
    text = "\x1f".join("" if part is None else str(part) for part in parts)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def to_tags(items: list[str] | str | None) -> dict[str, str]:
    """Turn `key:value` tags (a list, or one comma-separated string) into a mapping.

    A bare tag such as `monitor` becomes a key with an empty value.
    """
    if items is None:
        return {}
    if isinstance(items, str):
        items = items.split(",")
    tags: dict[str, str] = {}
    for item in items:
        item = item.strip()
        if not item or item == "null":
            continue
        key, _, value = item.partition(":")
        tags[key.strip()] = value.strip()
    return tags
