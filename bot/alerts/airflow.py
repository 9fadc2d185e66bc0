"""Airflow task callbacks: a bearer token and the small JSON body docs/airflow_callback.py posts.

Every failure of the same task (retries, later runs) has the same fingerprint, so it joins
the incident that is already open; a `success` or `recovered` state resolves it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr

from bot.alerts import messages, payloads
from bot.alerts.models import (
    Alert,
    AlertStatus,
    Link,
    PipelineContext,
    Severity,
    Source,
    to_fingerprint,
    to_tags,
)
from bot.errors import AuthenticationFailed

RESOLVING_STATES = frozenset({"success", "recovered"})
RETRY_STATES = frozenset({"up_for_retry", "retry"})
UNMAPPED = -1


def _to_map_index(value: int | None) -> int | None:
    # Airflow marks a task that is not mapped with map_index -1.
    return None if value is None or value <= UNMAPPED else value


class AirflowCallback(BaseModel):
    """What the callback posts about one task instance try."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    dag_id: str = Field(min_length=1)
    task_id: str = Field(min_length=1)
    run_id: str = Field(min_length=1)
    try_number: int = Field(1, ge=0)
    map_index: Annotated[int | None, AfterValidator(_to_map_index)] = None
    state: str = "failed"
    exception: str = ""
    log_url: str | None = None
    logical_date: datetime | None = None
    owner: str | None = None
    service: str | None = None
    team: str | None = None
    tags: list[str] | dict[str, str] | str | None = None

    @property
    def is_resolved(self) -> bool:
        return self.state.strip().lower() in RESOLVING_STATES

    @property
    def delivery_id(self) -> str:
        # run_id goes last: dag and task ids cannot hold "/", run ids can.
        map_index = UNMAPPED if self.map_index is None else self.map_index
        return f"{self.dag_id}/{self.task_id}/{map_index}/{self.try_number}/{self.run_id}"


def authenticate(headers: Mapping[str, str], *, token: SecretStr) -> None:
    """Check `Authorization: Bearer <token>`. Raises AuthenticationFailed."""
    payloads.check_configured(token, setting="AIRFLOW_CALLBACK_TOKEN")
    scheme, _, given = (payloads.get_header(headers, "Authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        raise AuthenticationFailed(messages.to_missing_bearer_token())
    if not payloads.is_same_secret(given.strip(), token):
        raise AuthenticationFailed(messages.to_wrong_bearer_token())


def parse(body: bytes) -> Alert:
    """Turn a callback body into an Alert. Raises BadRequest naming the field at fault."""
    callback = payloads.to_model(AirflowCallback, payloads.to_object(body))
    tags = callback.tags if isinstance(callback.tags, dict) else to_tags(callback.tags)
    tags = {"dag_id": callback.dag_id, "task_id": callback.task_id, **tags}
    if callback.owner:
        tags.setdefault("owner", callback.owner)
    if callback.is_resolved:
        status, severity = AlertStatus.RESOLVED, Severity.INFO
    else:
        retrying = callback.state.strip().lower() in RETRY_STATES
        status, severity = AlertStatus.FIRING, Severity.LOW if retrying else Severity.HIGH

    return Alert(
        source=Source.AIRFLOW,
        delivery_id=callback.delivery_id,
        fingerprint=to_fingerprint(Source.AIRFLOW, callback.dag_id, callback.task_id),
        status=status,
        severity=severity,
        title=messages.to_airflow_title(callback.dag_id, callback.task_id, callback.state),
        message=callback.exception.strip() or messages.to_airflow_state(callback.state),
        service=callback.service or tags.get("service") or None,
        team=callback.team or tags.get("team") or None,
        tags=tags,
        links=[Link(title=messages.AIRFLOW_LOG_LINK, url=callback.log_url)]
        if callback.log_url
        else [],
        pipeline=_to_pipeline(callback),
        occurred_at=datetime.now(UTC),
        raw=callback.model_dump(mode="json"),
    )


def _to_pipeline(callback: AirflowCallback) -> PipelineContext:
    return PipelineContext(
        dag_id=callback.dag_id,
        run_id=callback.run_id,
        task_id=callback.task_id,
        try_number=callback.try_number,
        map_index=callback.map_index,
        log_url=callback.log_url,
        exception=callback.exception or None,
    )
