"""The read-only tools a language model may call while diagnosing one incident.

Reading more of the gathered evidence, re-reading the Airflow task instance, the Spark
application's failed stages, and searching the runbooks. None of them changes anything.
`submit_diagnosis` is the structured answer itself; the model must end with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from bot.alerts.models import Alert
from bot.diagnosis.collectors.airflow import to_task_instance_line, to_task_ref
from bot.diagnosis.collectors.airflow_api import AirflowApi
from bot.diagnosis.collectors.base import CollectorError
from bot.diagnosis.collectors.spark import SparkApi, to_app_id, to_stage_line
from bot.diagnosis.messages import build_collector_note
from bot.diagnosis.models import FAILURE_CLASSES, UNKNOWN, Evidence
from bot.runbooks.catalogue import Catalogue

SUBMIT_DIAGNOSIS = "submit_diagnosis"
MAX_READ_LINES = 200
MAX_SEARCH_RESULTS = 5

SUBMIT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "failure_class": {"type": "string", "enum": [*FAILURE_CLASSES, UNKNOWN]},
        "playbook_id": {
            "type": ["string", "null"],
            "description": "Id of a catalogue playbook for that class; null for unknown.",
        },
        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
        "summary": {"type": "string", "description": "Two sentences for the on-call engineer."},
        "evidence_quotes": {
            "type": "array",
            "items": {"type": "string"},
            "maxItems": 6,
            "description": "Lines copied verbatim from the evidence that show the cause.",
        },
        "alternatives": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "failure_class": {"type": "string"},
                    "score": {"type": "number", "minimum": 0, "maximum": 1},
                },
                "required": ["failure_class", "score"],
            },
            "description": "Classes considered and ruled out, with how likely each still is.",
        },
    },
    "required": ["failure_class", "playbook_id", "confidence", "summary", "evidence_quotes"],
}


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class ToolResult:
    text: str
    is_error: bool = False


NO_INPUT: dict[str, Any] = {"type": "object", "properties": {}}
SEARCH_RUNBOOKS = ToolSpec(
    "search_runbooks",
    "Search the runbook catalogue; returns playbook ids, classes and titles.",
    {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
)
GET_TASK_INSTANCE = ToolSpec(
    "get_task_instance",
    "Read the failed Airflow task instance again (state, tries, host).",
    NO_INPUT,
)
GET_SPARK_STAGES = ToolSpec(
    "get_spark_stages",
    "Read the Spark application's failed stages and their failure reasons.",
    NO_INPUT,
)
SUBMIT = ToolSpec(
    SUBMIT_DIAGNOSIS, "Give the final diagnosis. Call this exactly once, last.", SUBMIT_SCHEMA
)


def to_read_evidence_spec(sources: list[str]) -> ToolSpec:
    source: dict[str, Any] = {"type": "string", "enum": sources} if sources else {"type": "string"}
    return ToolSpec(
        "read_evidence",
        f"Read lines of one gathered evidence text (1-based, at most {MAX_READ_LINES} per call).",
        {
            "type": "object",
            "properties": {
                "source": source,
                "start_line": {"type": "integer", "minimum": 1},
                "line_count": {"type": "integer", "minimum": 1, "maximum": MAX_READ_LINES},
            },
            "required": ["source", "start_line"],
        },
    )


@dataclass
class DiagnosisTools:
    """The tools for one incident, bound to its alert and gathered evidence."""

    alert: Alert
    evidence: list[Evidence]
    catalogue: Catalogue
    airflow: AirflowApi | None = None
    spark: SparkApi | None = None
    fetched: list[Evidence] = field(default_factory=list)

    def to_specs(self) -> list[ToolSpec]:
        """The tools that apply to this alert, `submit_diagnosis` last."""
        sources = [item.source for item in self.evidence if item.text]
        specs = [to_read_evidence_spec(sources), SEARCH_RUNBOOKS]
        if self.airflow is not None and to_task_ref(self.alert) is not None:
            specs.append(GET_TASK_INSTANCE)
        if self.spark is not None and to_app_id(self.alert) is not None:
            specs.append(GET_SPARK_STAGES)
        return [*specs, SUBMIT]

    async def run(self, name: str, tool_input: dict[str, Any]) -> ToolResult:
        """Run one read-only tool; failures come back as an error result, never raised."""
        try:
            match name:
                case "read_evidence":
                    return self._read_evidence(tool_input)
                case "search_runbooks":
                    return self._search_runbooks(str(tool_input.get("query", "")))
                case "get_task_instance":
                    return await self._get_task_instance()
                case "get_spark_stages":
                    return await self._get_spark_stages()
        except CollectorError as exc:
            return ToolResult(build_collector_note(exc), is_error=True)
        return ToolResult(f"There is no tool named {name}.", is_error=True)

    def _read_evidence(self, tool_input: dict[str, Any]) -> ToolResult:
        source = tool_input.get("source")
        item = next((item for item in self.evidence if item.source == source), None)
        if item is None:
            return ToolResult(f"No evidence from {source!r}.", is_error=True)
        lines = item.text.splitlines()
        start = max(1, _to_int(tool_input.get("start_line"), 1))
        count = min(MAX_READ_LINES, max(1, _to_int(tool_input.get("line_count"), 100)))
        shown = lines[start - 1 : start - 1 + count]
        last = start + len(shown) - 1
        header = f"{source}, lines {start}-{last} of {len(lines)}:"
        return ToolResult("\n".join([header, *shown]))

    def _search_runbooks(self, query: str) -> ToolResult:
        playbooks = self.catalogue.search(query, MAX_SEARCH_RESULTS)
        if not playbooks:
            return ToolResult("No playbook matches.")
        return ToolResult(
            "\n".join(
                f"{playbook.id} (class {playbook.failure_class}, for "
                f"{', '.join(str(platform) for platform in playbook.applies_to)}): "
                f"{playbook.title}"
                for playbook in playbooks
            )
        )

    async def _get_task_instance(self) -> ToolResult:
        task = to_task_ref(self.alert)
        if self.airflow is None or task is None:
            return ToolResult("This alert names no Airflow task instance.", is_error=True)
        task_instance = await self.airflow.get_task_instance(task)
        text = "\n".join([to_task_instance_line(task, task_instance), json.dumps(task_instance)])
        self.fetched.append(Evidence(source="airflow-task-instance", text=text))
        return ToolResult(text)

    async def _get_spark_stages(self) -> ToolResult:
        app_id = to_app_id(self.alert)
        if self.spark is None or app_id is None:
            return ToolResult("This alert names no Spark application.", is_error=True)
        stages = await self.spark.get_failed_stages(app_id)
        text = "\n".join(to_stage_line(stage) for stage in stages) or "No failed stages."
        self.fetched.append(Evidence(source="spark-stages", text=text))
        return ToolResult(text)


def _to_int(value: object, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
