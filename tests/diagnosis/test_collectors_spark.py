"""The Spark collector against a local History Server stand-in over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from bot.alerts.models import Alert, AlertStatus, PipelineContext, Source
from bot.chaos.standins.server import serve_app
from bot.diagnosis.collectors import SparkApi, SparkCollector
from bot.diagnosis.collectors.spark import to_app_id
from tests.fakes.spark import (
    FakeSparkHistory,
    application,
    executor,
    failed_job,
    failed_query,
    failed_stage,
)

APP_ID = "application_1717236000000_0042"
YARN_KILL = (
    "Container killed by YARN for exceeding memory limits. 5.6 GB of 5.5 GB physical memory "
    "used. Consider boosting spark.executor.memoryOverhead."
)
STAGE_FAILURE = (
    "Job aborted due to stage failure: Task 17 in stage 3.0 failed 4 times, most recent "
    "failure: Lost task 17.3 in stage 3.0 (TID 412) (ip-10-0-0-7.ec2.internal executor 7): "
    "ExecutorLostFailure (executor 7 exited caused by one of the running tasks) "
    f"Reason: {YARN_KILL}"
)
SQL_ERROR = "org.apache.spark.SparkException: Job aborted due to stage failure: Task 17"
TIMEOUT_SECONDS = 0.5


def build_alert(app_id: str | None = APP_ID, **fields: object) -> Alert:
    return Alert(
        source=Source.DATADOG,
        delivery_id="d-1",
        fingerprint="f-1",
        status=AlertStatus.FIRING,
        title="Spark job daily_revenue failed",
        pipeline=PipelineContext(spark_app_id=app_id),
        **fields,  # type: ignore[arg-type]
    )


def add_failed_application(fake: FakeSparkHistory, *, attempt_id: str | None = "1") -> None:
    fake.add_application(
        application(APP_ID, attempt_id=attempt_id),
        jobs=[failed_job(1, stage_ids=[3])],
        stages=[failed_stage(3, STAGE_FAILURE)],
        allexecutors=[executor("driver"), executor("6"), executor("7", remove_reason=YARN_KILL)],
        sql=[failed_query(0, SQL_ERROR)],
    )


@pytest.fixture
def spark() -> Iterator[tuple[FakeSparkHistory, str]]:
    fake = FakeSparkHistory()
    add_failed_application(fake)
    with serve_app(fake.app) as base_url:
        yield fake, base_url


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
        yield client


def build_collector(http: httpx.AsyncClient, base_url: str) -> SparkCollector:
    return SparkCollector(SparkApi(client=http, base_url=base_url))


async def test_failed_application_yields_stages_lost_executors_and_sql_errors(spark, http):
    _, base_url = spark

    evidence = await build_collector(http, base_url).collect(build_alert())

    assert evidence is not None and evidence.note is None
    lines = evidence.text.splitlines()
    assert lines[0].startswith(f'Spark application {APP_ID} "daily_revenue"')
    assert any(line.startswith("Failed job 1 ") for line in lines)
    assert f'Failed stage 3.0 "save at NativeMethodAccessorImpl.java:0": {STAGE_FAILURE}' in lines
    assert f"Executor 7 on ip-10-0-0-7.ec2.internal:40123 removed: {YARN_KILL}" in lines
    assert not any(line.startswith("Executor 6 ") for line in lines)
    assert any(line.endswith(f"failed: {SQL_ERROR}") for line in lines)


async def test_sub_resources_are_read_under_the_latest_attempt(spark, http):
    fake, base_url = spark

    await build_collector(http, base_url).collect(build_alert())

    paths = {(r.path, tuple(sorted(r.query.items()))) for r in fake.requests}
    base = f"/api/v1/applications/{APP_ID}"
    assert paths == {
        (base, ()),
        (f"{base}/1/jobs", (("status", "failed"),)),
        (f"{base}/1/stages", (("status", "failed"),)),
        (f"{base}/1/allexecutors", ()),
        (f"{base}/1/sql", (("details", "false"),)),
    }


async def test_application_without_attempt_ids_is_read_without_one(http):
    fake = FakeSparkHistory()
    add_failed_application(fake, attempt_id=None)
    with serve_app(fake.app) as base_url:
        evidence = await build_collector(http, base_url).collect(build_alert())

    assert evidence is not None and evidence.note is None and YARN_KILL in evidence.text
    assert f"/api/v1/applications/{APP_ID}/stages" in {r.path for r in fake.requests}


async def test_missing_sql_endpoint_is_not_a_failure(spark, http):
    fake, base_url = spark
    fake.fail("sql", 404, body={"message": "no SQL"})

    evidence = await build_collector(http, base_url).collect(build_alert())

    assert evidence is not None and evidence.note is None and STAGE_FAILURE in evidence.text


async def test_history_server_answering_500_leaves_a_note(spark, http):
    fake, base_url = spark
    fake.fail("application", 500)

    evidence = await build_collector(http, base_url).collect(build_alert())

    assert evidence is not None and evidence.text == ""
    assert evidence.note == "The Spark History Server answered HTTP 500; its evidence is missing."


async def test_one_failing_resource_keeps_the_others(spark, http):
    fake, base_url = spark
    fake.fail("allexecutors", 503)

    evidence = await build_collector(http, base_url).collect(build_alert())

    assert evidence is not None and STAGE_FAILURE in evidence.text
    assert evidence.note == "The Spark History Server answered HTTP 503; its evidence is missing."


async def test_hanging_history_server_times_out_into_a_note(spark, http):
    fake, base_url = spark
    fake.hang("*")

    evidence = await build_collector(http, base_url).collect(build_alert())

    assert evidence is not None
    assert (
        evidence.note == "The Spark History Server did not answer in time; its evidence is missing."
    )


async def test_unknown_application_is_reported_as_not_found(spark, http):
    _, base_url = spark

    evidence = await build_collector(http, base_url).collect(build_alert("application_1_0001"))

    assert evidence is not None and evidence.note is not None
    assert "has nothing at /api/v1/applications/application_1_0001" in evidence.note


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"tags": {"spark_app_id": "app-20250601100000-0001"}}, "app-20250601100000-0001"),
        ({"message": f"spark-submit failed for {APP_ID} on EMR"}, APP_ID),
        ({"message": "local run local-1748772000000 died"}, "local-1748772000000"),
        ({"message": "no application named here"}, None),
    ],
)
def test_app_id_is_found_in_tags_or_text(fields, expected):
    assert to_app_id(build_alert(None, **fields)) == expected


async def test_alert_without_an_application_is_not_collected(http):
    collector = build_collector(http, "http://127.0.0.1:9")

    assert await collector.collect(build_alert(None)) is None
