"""Evidence from the Spark History Server: the application, its failed jobs and stages, the
executors it lost and its failed SQL queries.

See https://spark.apache.org/docs/latest/monitoring.html#rest-api. An application run by
YARN in cluster mode has attempts; its sub-resources then live under `/{app}/{attempt}/`.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx

from bot.alerts.models import Alert
from bot.diagnosis.collectors.base import CollectorError, FailureKind
from bot.diagnosis.collectors.http import get_json
from bot.diagnosis.messages import build_collector_note
from bot.diagnosis.models import Evidence

SYSTEM = "spark"
APP_ID_TAGS = ("spark_app_id", "spark.app.id", "spark_application_id", "application_id", "app_id")
# YARN (application_...), standalone (app-...), local (local-...) and Kubernetes (spark-...).
APP_ID_PATTERN = re.compile(
    r"\b(application_\d{10,}_\d{4,}|app-\d{14}-\d{4,}|local-\d{10,}|spark-[0-9a-f]{32})\b"
)
MAX_REASON_CHARS = 6_000
MAX_ITEMS = 20


def to_app_id(alert: Alert) -> str | None:
    """The Spark application id from the alert's pipeline context, tags or text."""
    if alert.pipeline and alert.pipeline.spark_app_id:
        return alert.pipeline.spark_app_id
    for tag in APP_ID_TAGS:
        if alert.tags.get(tag):
            return alert.tags[tag]
    exception = alert.pipeline.exception if alert.pipeline else None
    match = APP_ID_PATTERN.search(f"{alert.title}\n{alert.message}\n{exception or ''}")
    return match.group(1) if match else None


class SparkApi:
    """Read-only calls to the History Server's `/api/v1`."""

    def __init__(self, *, client: httpx.AsyncClient, base_url: str) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")

    async def get_application(self, app_id: str) -> dict[str, Any]:
        body = await get_json(self._client, self._to_url(app_id), system=SYSTEM)
        if not isinstance(body, dict):
            raise CollectorError(SYSTEM, FailureKind.BAD_RESPONSE, "application is not an object")
        return body

    async def get_list(
        self, app_id: str, attempt_id: str | None, resource: str, **params: str
    ) -> list[dict[str, Any]]:
        """A list resource of one attempt: `jobs`, `stages`, `allexecutors` or `sql`."""
        url = self._to_url(app_id, attempt_id, resource)
        body = await get_json(self._client, url, system=SYSTEM, params=params)
        if not isinstance(body, list):
            raise CollectorError(SYSTEM, FailureKind.BAD_RESPONSE, f"{resource} is not a list")
        return [item for item in body if isinstance(item, dict)]

    async def get_failed_stages(self, app_id: str) -> list[dict[str, Any]]:
        attempt_id = to_attempt_id(await self.get_application(app_id))
        return await self.get_list(app_id, attempt_id, "stages", status="failed")

    def _to_url(self, app_id: str, *segments: str | None) -> str:
        path = "/".join(quote(segment, safe="") for segment in (app_id, *segments) if segment)
        return f"{self._base_url}/api/v1/applications/{path}"


def to_attempt_id(application: dict[str, Any]) -> str | None:
    """The latest attempt's id; the History Server lists the latest attempt first."""
    attempts = application.get("attempts") or []
    if attempts and isinstance(attempts[0], dict) and attempts[0].get("attemptId"):
        return str(attempts[0]["attemptId"])
    return None


class SparkCollector:
    """Reads what the History Server knows about the alert's Spark application."""

    name = "spark"

    def __init__(self, api: SparkApi) -> None:
        self._api = api

    async def collect(self, alert: Alert) -> Evidence | None:
        app_id = to_app_id(alert)
        if app_id is None:
            return None
        try:
            application = await self._api.get_application(app_id)
        except CollectorError as exc:
            return Evidence(source=self.name, note=build_collector_note(exc))

        attempt_id = to_attempt_id(application)
        results = await asyncio.gather(
            self._api.get_list(app_id, attempt_id, "jobs", status="failed"),
            self._api.get_list(app_id, attempt_id, "stages", status="failed"),
            self._api.get_list(app_id, attempt_id, "allexecutors"),
            self._api.get_list(app_id, attempt_id, "sql", details="false"),
            return_exceptions=True,
        )
        jobs, stages, executors, queries = (_to_items(result) for result in results)
        lines = [to_application_line(application)]
        lines += [to_job_line(job) for job in jobs[:MAX_ITEMS]]
        lines += [to_stage_line(stage) for stage in stages[:MAX_ITEMS]]
        lines += [to_executor_line(item) for item in executors if item.get("removeReason")][
            :MAX_ITEMS
        ]
        lines += [to_query_line(query) for query in queries if query.get("errorMessage")][
            :MAX_ITEMS
        ]
        return Evidence(
            source=self.name,
            text="\n".join(lines),
            note=_to_note(results),
            truncated=any(len(items) > MAX_ITEMS for items in (jobs, stages)),
        )


def to_application_line(application: dict[str, Any]) -> str:
    attempts = application.get("attempts") or [{}]
    latest = attempts[0] if isinstance(attempts[0], dict) else {}
    return (
        f'Spark application {application.get("id")} "{application.get("name", "")}": '
        f"completed={latest.get('completed')}, user={latest.get('sparkUser')}, "
        f"duration={latest.get('duration')} ms, Spark {latest.get('appSparkVersion')}"
    )


def to_job_line(job: dict[str, Any]) -> str:
    return (
        f'Failed job {job.get("jobId")} "{job.get("name", "")}": '
        f"{job.get('numFailedTasks', 0)} failed tasks, "
        f"{job.get('numFailedStages', 0)} failed stages"
    )


def to_stage_line(stage: dict[str, Any]) -> str:
    reason = _to_bounded(stage.get("failureReason") or "no failure reason recorded")
    return (
        f"Failed stage {stage.get('stageId')}.{stage.get('attemptId', 0)} "
        f'"{stage.get("name", "")}": {reason}'
    )


def to_executor_line(executor: dict[str, Any]) -> str:
    return (
        f"Executor {executor.get('id')} on {executor.get('hostPort')} removed: "
        f"{_to_bounded(executor.get('removeReason', ''))}"
    )


def to_query_line(query: dict[str, Any]) -> str:
    return (
        f'SQL query {query.get("id")} "{_to_bounded(query.get("description", ""), 200)}" '
        f"failed: {_to_bounded(query.get('errorMessage', ''))}"
    )


def _to_bounded(value: object, limit: int = MAX_REASON_CHARS) -> str:
    text = str(value)
    return text if len(text) <= limit else text[:limit] + " [...]"


def _to_items(result: list[dict[str, Any]] | BaseException) -> list[dict[str, Any]]:
    return [] if isinstance(result, BaseException) else result


def _to_note(results: Sequence[object]) -> str | None:
    notes: list[str] = []
    for result in results:
        if isinstance(result, CollectorError) and result.kind is not FailureKind.NOT_FOUND:
            notes.append(build_collector_note(result))
        elif isinstance(result, BaseException) and not isinstance(result, CollectorError):
            raise result
    # The same failure on several endpoints reads once.
    return " ".join(dict.fromkeys(notes)) or None
