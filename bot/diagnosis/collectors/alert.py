"""Evidence from the alert itself: its title, message, tags and pipeline context."""

from __future__ import annotations

from bot.alerts.models import Alert
from bot.diagnosis.models import Evidence

PIPELINE_FIELDS = ("dag_id", "run_id", "task_id", "try_number", "map_index", "spark_app_id")


def to_alert_text(alert: Alert) -> str:
    lines = [alert.title]
    if alert.message:
        lines.append(alert.message)
    if alert.tags:
        tags = ", ".join(f"{key}:{value}" if value else key for key, value in alert.tags.items())
        lines.append(f"tags: {tags}")
    pipeline = alert.pipeline
    if pipeline is not None:
        context = ", ".join(
            f"{field}={getattr(pipeline, field)}"
            for field in PIPELINE_FIELDS
            if getattr(pipeline, field) is not None
        )
        if context:
            lines.append(f"pipeline: {context}")
        if pipeline.exception:
            lines.append(pipeline.exception)
    return "\n".join(lines)


def to_alert_context(alert: Alert, incident_id: str | None = None) -> dict[str, str]:
    """What the alert already knows, as the rule engine's placeholder values."""
    pipeline = alert.pipeline
    values = {
        "service": alert.service,
        "team": alert.team,
        "incident_id": incident_id,
        "dag_id": pipeline.dag_id if pipeline else None,
        "task_id": pipeline.task_id if pipeline else None,
        "dag_run_id": pipeline.run_id if pipeline else None,
        "try_number": pipeline.try_number if pipeline else None,
        "map_index": pipeline.map_index if pipeline else None,
        "spark_app_id": pipeline.spark_app_id if pipeline else None,
    }
    return {key: str(value) for key, value in values.items() if value is not None}


class AlertCollector:
    """Always applies: the alert's own words are the first evidence."""

    name = "alert"

    async def collect(self, alert: Alert) -> Evidence:
        url = alert.links[0].url if alert.links else None
        return Evidence(source=self.name, text=to_alert_text(alert), url=url)
