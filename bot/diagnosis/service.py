"""The diagnoser: gathers evidence concurrently, asks the rule engine, then Claude if set.

diagnoser = build_diagnoser(settings, catalogue)
report = await diagnoser.investigate(alert, incident_id="inc-12")
report.diagnosis, report.evidence, report.calls
await diagnoser.aclose()
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

import anthropic
import httpx

from bot.alerts.models import Alert
from bot.diagnosis.claude import ClaudeDiagnoser, ClaudeLimits
from bot.diagnosis.collectors import (
    AirflowApi,
    AirflowCollector,
    AlertCollector,
    CallTiming,
    Collector,
    CollectorError,
    FailureKind,
    SparkApi,
    SparkCollector,
    record_calls,
)
from bot.diagnosis.collectors.alert import to_alert_context
from bot.diagnosis.messages import (
    build_collector_note,
    to_claude_fallback,
    to_collector_failed,
    to_second_opinion_failed,
)
from bot.diagnosis.models import NOT_AN_INCIDENT, UNKNOWN, Diagnosis, Evidence
from bot.diagnosis.rules import RuleEngine
from bot.runbooks.catalogue import Catalogue
from bot.settings import Settings

logger = logging.getLogger(__name__)

ClaudeMode = Literal["off", "when-unsure", "always"]


class SecondOpinion(Protocol):
    """A diagnoser consulted after the rules; returns the rules' diagnosis when it fails."""

    async def diagnose(
        self, alert: Alert, *, evidence: list[Evidence], rules: Diagnosis
    ) -> Diagnosis: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class DiagnosisReport:
    """A diagnosis with what it was made from: for the thread, the trace and the eval."""

    diagnosis: Diagnosis
    rules_diagnosis: Diagnosis
    evidence: list[Evidence]
    calls: list[CallTiming]
    duration_ms: float


class Diagnoser:
    """Evidence, the rule engine, then a second opinion when the rules are unsure (by setting)."""

    def __init__(
        self,
        *,
        collectors: Sequence[Collector],
        engine: RuleEngine,
        second_opinion: SecondOpinion | None = None,
        second_opinion_mode: ClaudeMode = "off",
        unsure_below: float = 0.6,
        deadline_seconds: float = 30.0,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._collectors = list(collectors)
        self._engine = engine
        self._second_opinion = second_opinion
        self._mode = second_opinion_mode
        self._unsure_below = unsure_below
        self._deadline_seconds = deadline_seconds
        self._http = http

    async def diagnose(self, alert: Alert, *, incident_id: str | None = None) -> Diagnosis:
        return (await self.investigate(alert, incident_id=incident_id)).diagnosis

    async def investigate(self, alert: Alert, *, incident_id: str | None = None) -> DiagnosisReport:
        """Diagnose the alert and keep the evidence and the outside calls behind it."""
        started = time.perf_counter()
        with record_calls(incident_id) as call_log:
            evidence = await self.gather_evidence(alert)
            rules = self._engine.diagnose(evidence, context=to_alert_context(alert, incident_id))
            diagnosis = rules
            if self._second_opinion is not None and self.is_second_opinion_wanted(rules):
                diagnosis = await get_second_opinion(
                    self._second_opinion, alert, evidence=evidence, rules=rules
                )

        duration_ms = (time.perf_counter() - started) * 1000
        logger.info(
            "diagnosed %s as %s (%s, confidence %.2f) in %.0f ms",
            alert.fingerprint,
            diagnosis.failure_class,
            diagnosis.engine,
            diagnosis.confidence,
            duration_ms,
            extra={"incident_id": incident_id},
        )
        return DiagnosisReport(diagnosis, rules, evidence, list(call_log.calls), duration_ms)

    async def gather_evidence(self, alert: Alert) -> list[Evidence]:
        """Run every collector at once; those past the deadline leave a note instead."""
        tasks = [asyncio.create_task(self._collect(c, alert)) for c in self._collectors]
        if not tasks:
            return []
        try:
            _, pending = await asyncio.wait(tasks, timeout=self._deadline_seconds)
        finally:
            # Also reached when the diagnosis itself is cancelled: no collector outlives it.
            for task in tasks:
                task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

        evidence: list[Evidence] = []
        for collector, task in zip(self._collectors, tasks, strict=True):
            if task in pending:
                error = CollectorError(collector.name, FailureKind.DEADLINE)
                evidence.append(Evidence(source=collector.name, note=build_collector_note(error)))
            elif (item := task.result()) is not None:
                evidence.append(item)
        return evidence

    def is_second_opinion_wanted(self, rules: Diagnosis) -> bool:
        if self._mode == "always":
            return True
        if self._mode == "off" or rules.failure_class == NOT_AN_INCIDENT:
            return False
        return rules.failure_class == UNKNOWN or rules.confidence < self._unsure_below

    async def aclose(self) -> None:
        if self._second_opinion is not None:
            await self._second_opinion.aclose()
        if self._http is not None:
            await self._http.aclose()

    async def _collect(self, collector: Collector, alert: Alert) -> Evidence | None:
        try:
            return await collector.collect(alert)
        except Exception:
            # A collector bug must not cost the incident its diagnosis.
            logger.exception("collector %s failed", collector.name)
            return Evidence(source=collector.name, note=to_collector_failed(collector.name))


async def get_second_opinion(
    opinion: SecondOpinion, alert: Alert, *, evidence: list[Evidence], rules: Diagnosis
) -> Diagnosis:
    """The second opinion, or the rules' diagnosis with a note if it fails unexpectedly."""
    try:
        return await opinion.diagnose(alert, evidence=evidence, rules=rules)
    except Exception:
        logger.exception("second opinion failed")
        note = to_claude_fallback(to_second_opinion_failed())
        return rules.model_copy(update={"notes": [*rules.notes, note]})


def build_diagnoser(settings: Settings, catalogue: Catalogue) -> Diagnoser:
    """The diagnoser the settings describe: Airflow, Spark and Claude only when configured."""
    http = httpx.AsyncClient(timeout=settings.http_timeout_seconds)
    airflow = build_airflow_api(settings, http)
    spark = (
        SparkApi(client=http, base_url=settings.spark_history_url)
        if settings.spark_history_url
        else None
    )
    collectors: list[Collector] = [AlertCollector()]
    if airflow is not None:
        collectors.append(AirflowCollector(airflow))
    if spark is not None:
        collectors.append(SparkCollector(spark))
    return Diagnoser(
        collectors=collectors,
        engine=RuleEngine(catalogue),
        second_opinion=build_claude(settings, catalogue, airflow=airflow, spark=spark),
        second_opinion_mode=settings.claude_mode,
        unsure_below=settings.claude_confidence_threshold,
        deadline_seconds=settings.diagnosis_deadline_seconds,
        http=http,
    )


def build_airflow_api(settings: Settings, http: httpx.AsyncClient) -> AirflowApi | None:
    if not settings.airflow_url:
        return None
    return AirflowApi(
        client=http,
        base_url=settings.airflow_url,
        version=settings.airflow_api_version,
        username=settings.airflow_username,
        password=settings.airflow_password.get_secret_value(),
        static_token=settings.airflow_token.get_secret_value(),
    )


def build_claude(
    settings: Settings,
    catalogue: Catalogue,
    *,
    airflow: AirflowApi | None,
    spark: SparkApi | None,
) -> ClaudeDiagnoser | None:
    api_key = settings.anthropic_api_key.get_secret_value()
    if not api_key or settings.claude_mode == "off":
        return None
    client = anthropic.AsyncAnthropic(
        api_key=api_key,
        base_url=settings.anthropic_base_url or None,
        max_retries=0,
        timeout=settings.claude_deadline_seconds,
    )
    limits = ClaudeLimits(
        max_tool_calls=settings.claude_max_tool_calls,
        max_tokens=settings.claude_max_tokens,
        deadline_seconds=settings.claude_deadline_seconds,
    )
    return ClaudeDiagnoser(
        client=client,
        model=settings.anthropic_model,
        catalogue=catalogue,
        limits=limits,
        airflow=airflow,
        spark=spark,
    )
