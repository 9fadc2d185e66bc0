"""Evidence from Airflow: the failed task instance and the log of its failed try."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bot.alerts.models import Alert
from bot.diagnosis.collectors.airflow_api import AirflowApi, TaskRef
from bot.diagnosis.collectors.base import CollectorError
from bot.diagnosis.collectors.excerpt import LogExcerpt
from bot.diagnosis.messages import build_collector_note
from bot.diagnosis.models import Evidence

TASK_INSTANCE_FIELDS = ("state", "try_number", "max_tries", "hostname", "duration", "operator")
# A task's failure callback runs before its worker reports the failure and writes the last
# log events (the traceback among them): until the state moves on, the log is not complete.
UNSETTLED_STATES = frozenset({"running", "queued", "scheduled", "restarting"})


def to_task_ref(alert: Alert) -> TaskRef | None:
    """The task instance the alert points at, or None when it names none."""
    pipeline = alert.pipeline
    if pipeline is None or not (pipeline.dag_id and pipeline.run_id and pipeline.task_id):
        return None
    return TaskRef(pipeline.dag_id, pipeline.run_id, pipeline.task_id, pipeline.map_index)


def to_task_instance_line(task: TaskRef, task_instance: dict[str, Any]) -> str:
    details = ", ".join(
        f"{field}={task_instance[field]}"
        for field in TASK_INSTANCE_FIELDS
        if task_instance.get(field) not in (None, "")
    )
    return f"Airflow task instance {task.dag_id}.{task.task_id} run {task.run_id}: {details}"


class AirflowCollector:
    """Reads the task instance and the tail and error blocks of its log."""

    name = "airflow"

    def __init__(
        self,
        api: AirflowApi,
        *,
        tail_chars: int = 64_000,
        error_chars: int = 64_000,
        settle_seconds: float = 20.0,
        poll_seconds: float = 1.0,
    ):
        self._api = api
        self._tail_chars = tail_chars
        self._error_chars = error_chars
        self._settle_seconds = settle_seconds
        self._poll_seconds = poll_seconds

    async def collect(self, alert: Alert) -> Evidence | None:
        task = to_task_ref(alert)
        if task is None:
            return None
        url = alert.pipeline.log_url if alert.pipeline else None
        lines: list[str] = []
        notes: list[str] = []

        task_instance: dict[str, Any] = {}
        try:
            task_instance = await self._get_settled(task)
            lines.append(to_task_instance_line(task, task_instance))
        except CollectorError as exc:
            notes.append(build_collector_note(exc))

        try_number = _to_try_number(alert, task_instance)
        excerpt = LogExcerpt(tail_chars=self._tail_chars, error_chars=self._error_chars)
        try:
            await self._api.read_log(task, try_number, excerpt)
        except CollectorError as exc:
            notes.append(build_collector_note(exc))
        if excerpt.line_count:
            lines.append(f"Log of try {try_number}:")
            lines.append(excerpt.to_text())

        return Evidence(
            source=self.name,
            text="\n".join(lines),
            url=url,
            note=" ".join(dict.fromkeys(notes)) or None,
            truncated=excerpt.truncated,
        )

    async def _get_settled(self, task: TaskRef) -> dict[str, Any]:
        """The task instance once it left the running states, or as it is after the wait."""
        deadline = time.monotonic() + self._settle_seconds
        while True:
            task_instance = await self._api.get_task_instance(task)
            if task_instance.get("state") not in UNSETTLED_STATES:
                return task_instance
            if time.monotonic() >= deadline:
                return task_instance
            await asyncio.sleep(self._poll_seconds)


def _to_try_number(alert: Alert, task_instance: dict[str, Any]) -> int:
    if alert.pipeline and alert.pipeline.try_number:
        return alert.pipeline.try_number
    try_number = task_instance.get("try_number")
    return try_number if isinstance(try_number, int) and try_number > 0 else 1
