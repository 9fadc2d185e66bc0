"""The diagnoser end to end: collectors over real HTTP, the rule engine, Claude by setting."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest

from bot.alerts.models import Alert, AlertStatus, PipelineContext, Source
from bot.chaos.standins.anthropic import AnthropicStandIn, tool_use
from bot.chaos.standins.server import serve_app
from bot.diagnosis.collectors import AlertCollector
from bot.diagnosis.models import Evidence
from bot.diagnosis.rules import RuleEngine
from bot.diagnosis.service import Diagnoser, build_diagnoser
from bot.runbooks.catalogue import Catalogue
from bot.runbooks.loader import builtin_runbooks_dir, load_catalogue
from bot.settings import Settings
from tests.fakes.airflow import FakeAirflow, Task, error_event, event, stack
from tests.fakes.spark import FakeSparkHistory, application, executor, failed_stage

TASK = Task("daily_revenue", "scheduled__2025-06-01T10:00:00+00:00", "transform")
APP_ID = "application_1717236000000_0042"
KEY_ERROR = "KeyError: \"['amount'] not in index\""
YARN_KILL = "Container killed by YARN for exceeding memory limits. 5.6 GB of 5.5 GB used."
ODD_FAILURE = "Task failed: the frobnicator returned an unexpected widget"


@dataclass
class StandIns:
    airflow: FakeAirflow
    spark: FakeSparkHistory
    claude: AnthropicStandIn
    urls: dict[str, str]


def build_alert(*, spark_app_id: str | None = None) -> Alert:
    return Alert(
        source=Source.AIRFLOW,
        delivery_id="d-1",
        fingerprint="f-1",
        status=AlertStatus.FIRING,
        title="Task transform failed in daily_revenue",
        pipeline=PipelineContext(
            dag_id=TASK.dag_id,
            run_id=TASK.run_id,
            task_id=TASK.task_id,
            try_number=1,
            spark_app_id=spark_app_id,
        ),
    )


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return load_catalogue(builtin_runbooks_dir())


@pytest.fixture
def stand_ins() -> Iterator[StandIns]:
    airflow = FakeAirflow(version="v2")
    airflow.add_task_instance(TASK, try_number=1)
    airflow.set_log(
        TASK,
        1,
        [event("Reading input"), error_event(stack("KeyError", "\"['amount'] not in index\""))],
    )
    spark = FakeSparkHistory()
    spark.add_application(
        application(APP_ID),
        stages=[failed_stage(3, f"Job aborted due to stage failure: {YARN_KILL}")],
        allexecutors=[executor("7", remove_reason=YARN_KILL)],
    )
    claude = AnthropicStandIn()
    with ExitStack() as stack_of_servers:
        urls = {
            name: stack_of_servers.enter_context(serve_app(fake.app))
            for name, fake in (("airflow", airflow), ("spark", spark), ("claude", claude))
        }
        yield StandIns(airflow, spark, claude, urls)


def build_settings(stand_ins: StandIns, **overrides: object) -> Settings:
    fields: dict[str, object] = {
        "airflow_url": stand_ins.urls["airflow"],
        "airflow_username": "bot",
        "airflow_password": "op",
        "spark_history_url": stand_ins.urls["spark"],
        "anthropic_base_url": stand_ins.urls["claude"],
        "http_timeout_seconds": 0.5,
    }
    return Settings(_env_file=None, **(fields | overrides))  # type: ignore[arg-type]


@pytest.fixture
async def diagnosers() -> AsyncIterator[list[Diagnoser]]:
    built: list[Diagnoser] = []
    yield built
    for diagnoser in built:
        await diagnoser.aclose()


def build(settings: Settings, catalogue: Catalogue, built: list[Diagnoser]) -> Diagnoser:
    diagnoser = build_diagnoser(settings, catalogue)
    built.append(diagnoser)
    return diagnoser


async def test_airflow_log_is_diagnosed_by_the_rules_with_its_evidence_and_calls(
    stand_ins, catalogue, diagnosers
):
    diagnoser = build(build_settings(stand_ins), catalogue, diagnosers)

    report = await diagnoser.investigate(build_alert(), incident_id="inc-1")

    assert report.diagnosis.failure_class == "schema-drift"
    assert report.diagnosis.engine == "rules" and report.diagnosis.notes == []
    assert [item.source for item in report.evidence] == ["alert", "airflow"]
    assert any(KEY_ERROR in line.text for line in report.diagnosis.evidence_lines)
    assert {call.system for call in report.calls} == {"airflow"}
    assert all(call.outcome.startswith("2") for call in report.calls)
    assert report.rules_diagnosis == report.diagnosis
    assert not stand_ins.airflow.writes


async def test_spark_application_named_by_the_alert_is_read_too(stand_ins, catalogue, diagnosers):
    stand_ins.airflow.set_log(TASK, 1, [event(ODD_FAILURE, level="error")])
    diagnoser = build(build_settings(stand_ins), catalogue, diagnosers)

    report = await diagnoser.investigate(build_alert(spark_app_id=APP_ID))

    assert [item.source for item in report.evidence] == ["alert", "airflow", "spark"]
    assert report.diagnosis.failure_class == "out-of-memory"


async def test_hanging_collector_is_cut_at_the_deadline_with_a_note(
    stand_ins, catalogue, diagnosers
):
    stand_ins.spark.hang("*")
    settings = build_settings(stand_ins, http_timeout_seconds=30, diagnosis_deadline_seconds=0.5)
    diagnoser = build(settings, catalogue, diagnosers)

    started = time.perf_counter()
    report = await diagnoser.investigate(build_alert(spark_app_id=APP_ID))

    assert time.perf_counter() - started < 5
    assert report.diagnosis.failure_class == "schema-drift"
    assert (
        "The Spark History Server was still being read when the diagnosis deadline passed."
        in report.diagnosis.notes
    )


async def test_airflow_answering_500_shows_in_the_diagnosis_notes(stand_ins, catalogue, diagnosers):
    stand_ins.airflow.fail("*", 500)
    diagnoser = build(build_settings(stand_ins), catalogue, diagnosers)

    diagnosis = await diagnoser.diagnose(build_alert())

    assert diagnosis.notes == ["Airflow answered HTTP 500; its evidence is missing."]


def submit_code_bug() -> dict[str, object]:
    return tool_use(
        "submit_diagnosis",
        {
            "failure_class": "code-bug",
            "playbook_id": "code-bug",
            "confidence": 0.7,
            "summary": "The frobnicator has a bug.",
            "evidence_quotes": [ODD_FAILURE],
        },
    )


@pytest.mark.parametrize(
    ("mode", "log", "claude_asked"),
    [
        ("when-unsure", ODD_FAILURE, True),
        ("when-unsure", None, False),
        ("always", None, True),
        ("off", ODD_FAILURE, False),
    ],
)
async def test_claude_is_asked_by_mode_and_rule_confidence(
    stand_ins, catalogue, diagnosers, mode, log, claude_asked
):
    if log is not None:
        stand_ins.airflow.set_log(TASK, 1, [event(log, level="error")])
    stand_ins.claude.queue(submit_code_bug())
    settings = build_settings(stand_ins, anthropic_api_key="sk-test", claude_mode=mode)
    diagnoser = build(settings, catalogue, diagnosers)

    report = await diagnoser.investigate(build_alert())

    assert bool(stand_ins.claude.bodies) is claude_asked
    assert ("anthropic" in {call.system for call in report.calls}) is claude_asked
    expected_engine = "claude" if claude_asked and log is not None else "rules"
    assert report.diagnosis.engine == expected_engine


async def test_no_anthropic_key_keeps_claude_out(stand_ins, catalogue, diagnosers):
    stand_ins.airflow.set_log(TASK, 1, [event(ODD_FAILURE, level="error")])
    settings = build_settings(stand_ins, claude_mode="always")
    diagnoser = build(settings, catalogue, diagnosers)

    diagnosis = await diagnoser.diagnose(build_alert())

    assert diagnosis.failure_class == "unknown" and diagnosis.engine == "rules"
    assert not stand_ins.claude.requests


class BrokenCollector:
    name = "broken"

    async def collect(self, alert: Alert) -> Evidence | None:
        raise RuntimeError("a bug in a collector")


async def test_collector_bug_becomes_a_note_not_an_exception(catalogue):
    diagnoser = Diagnoser(
        collectors=[AlertCollector(), BrokenCollector()], engine=RuleEngine(catalogue)
    )

    report = await diagnoser.investigate(build_alert())

    assert [item.source for item in report.evidence] == ["alert", "broken"]
    assert report.diagnosis.notes == [
        "broken evidence could not be gathered because of an error in the bot."
    ]
