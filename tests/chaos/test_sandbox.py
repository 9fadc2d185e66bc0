"""The real Airflow 3 sandbox: install, start, run the pipelines clean and with faults, stop.

The chaos tier takes minutes on first use (the install downloads ~1 GB), so it runs only
when INCIDENT_BOT_CHAOS=1 is set. One sandbox serves the whole module; its root is
var/chaos unless INCIDENT_BOT_CHAOS_ROOT names another (two sandboxes never share one).
The Spark tests need Java 17 or later and are skipped, saying so, without it.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.alerts.airflow import parse
from bot.alerts.models import Alert
from bot.chaos.environment import get_java
from bot.chaos.models import Fault
from bot.chaos.sandbox import Sandbox, open_sandbox
from bot.chaos.sandbox_home import PIPELINE_DAG_ID, SPARK_DAG_ID, SandboxOptions
from bot.chaos.standins.server import serve_app
from bot.diagnosis.collectors.airflow import AirflowCollector
from bot.diagnosis.collectors.airflow_api import AirflowApi
from bot.diagnosis.collectors.alert import AlertCollector
from bot.diagnosis.collectors.spark import SparkApi, SparkCollector, to_app_id
from bot.diagnosis.rules import RuleEngine
from bot.diagnosis.service import Diagnoser, DiagnosisReport
from bot.runbooks.loader import builtin_runbooks_dir, load_catalogue

REPOSITORY = Path(__file__).resolve().parents[2]
SANDBOX_ROOT = Path(os.environ.get("INCIDENT_BOT_CHAOS_ROOT") or REPOSITORY / "var" / "chaos")
CALLBACK_TOKEN = "chaos-callback-token"
SPARK_TASK_ID = "rollup"
JAVA = get_java()
needs_java = pytest.mark.skipif(
    not JAVA.is_usable, reason=f"Spark sandbox tests skipped: {JAVA.reason}"
)

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.skipif(
        os.environ.get("INCIDENT_BOT_CHAOS") != "1",
        reason="chaos tier skipped: set INCIDENT_BOT_CHAOS=1 to install and start the real "
        "Airflow 3 sandbox (var/chaos, ~1 GB, minutes)",
    ),
    pytest.mark.timeout(900),
    pytest.mark.asyncio(loop_scope="module"),
]


@dataclass
class SparkRun:
    run_id: str
    state: str
    alert: Alert | None


@dataclass
class Drill:
    sandbox: Sandbox
    alerts: list[dict[str, Any]]
    # One Spark run per fault, shared by the tests that look at it from different sides.
    spark_runs: dict[str, SparkRun] = field(default_factory=dict)


def create_webhook_recorder(alerts: list[dict[str, Any]]) -> Starlette:
    async def record(request: Request) -> JSONResponse:
        alerts.append({"auth": request.headers.get("authorization"), **await request.json()})
        return JSONResponse({"status": "queued"}, status_code=202)

    return Starlette(routes=[Route("/webhooks/airflow", record, methods=["POST"])])


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def drill() -> AsyncIterator[Drill]:
    alerts: list[dict[str, Any]] = []
    with serve_app(create_webhook_recorder(alerts)) as bot_url:
        options = SandboxOptions(
            root=SANDBOX_ROOT, incident_bot_url=bot_url, incident_bot_token=CALLBACK_TOKEN
        )
        async with open_sandbox(options) as sandbox:
            yield Drill(sandbox, alerts)


async def run_with_fault(drill: Drill, fault: Fault) -> tuple[str, dict[str, str]]:
    drill.alerts.clear()
    drill.sandbox.set_fault(fault)
    try:
        run = await drill.sandbox.run_dag()
    finally:
        drill.sandbox.set_fault("none")
    instances = await drill.sandbox.api.get_task_instances(PIPELINE_DAG_ID, run.run_id)
    return run.run_id, {instance["task_id"]: instance["state"] for instance in instances}


async def get_errors(
    drill: Drill, run_id: str, task_id: str, dag_id: str = PIPELINE_DAG_ID
) -> list[tuple[str, str]]:
    events = await drill.sandbox.api.get_task_log(dag_id, run_id, task_id, 1)
    return [
        (detail["exc_type"], detail["exc_value"])
        for event in events
        if event.get("level") == "error"
        for detail in event.get("error_detail") or []
    ]


async def run_spark(drill: Drill, fault: Fault) -> SparkRun:
    """The Spark DAG's run under `fault`, run once per module and fault."""
    if fault not in drill.spark_runs:
        drill.alerts.clear()
        drill.sandbox.set_fault(fault)
        try:
            run = await drill.sandbox.run_dag(SPARK_DAG_ID)
        finally:
            drill.sandbox.set_fault("none")
        alerts = [{k: v for k, v in item.items() if k != "auth"} for item in drill.alerts]
        alert = parse(json.dumps(alerts[0]).encode()) if alerts else None
        drill.spark_runs[fault] = SparkRun(run.run_id, run.state, alert)
    return drill.spark_runs[fault]


async def investigate(sandbox: Sandbox, alert: Alert) -> DiagnosisReport:
    """The bot's own diagnosis: its collectors on the real Airflow and History Server."""
    assert sandbox.spark_history_url is not None
    async with httpx.AsyncClient(timeout=30.0) as client:
        airflow = AirflowApi(
            client=client,
            base_url=sandbox.api_url,
            version="v2",
            username=sandbox.username,
            password=sandbox.password,
        )
        diagnoser = Diagnoser(
            collectors=[
                AlertCollector(),
                AirflowCollector(airflow),
                SparkCollector(SparkApi(client=client, base_url=sandbox.spark_history_url)),
            ],
            engine=RuleEngine(load_catalogue(builtin_runbooks_dir())),
        )
        return await diagnoser.investigate(alert)


async def test_pipeline_runs_every_task_without_a_fault(drill: Drill) -> None:
    _, states = await run_with_fault(drill, "none")

    assert states == {"extract": "success", "transform": "success", "load": "success"}
    assert drill.alerts == []


async def test_renamed_column_fails_transform_with_keyerror_in_its_log(drill: Drill) -> None:
    run_id, states = await run_with_fault(drill, "bad-schema")

    assert states == {"extract": "success", "transform": "failed", "load": "upstream_failed"}
    errors = await get_errors(drill, run_id, "transform")
    assert ("KeyError", "\"['amount'] not in index\"") in errors


async def test_failed_task_posts_its_alert_to_the_bot_webhook(drill: Drill) -> None:
    run_id, _ = await run_with_fault(drill, "bad-schema")

    [alert] = drill.alerts
    assert alert["auth"] == f"Bearer {CALLBACK_TOKEN}"
    assert (alert["dag_id"], alert["task_id"], alert["run_id"]) == (
        PIPELINE_DAG_ID,
        "transform",
        run_id,
    )
    assert alert["state"] == "failed"
    assert "KeyError" in alert["exception"]
    assert alert["log_url"].startswith(drill.sandbox.api_url)
    assert alert["tags"] == ["service:orders", "team:data-platform"]


@pytest.mark.parametrize(
    ("fault", "task_id", "exc_types", "fragment"),
    [
        ("flaky-dependency", "transform", {"HTTPError"}, "503 Server Error"),
        # botocore raises ClientError, or its subclass named after a code it models.
        ("expired-credential", "load", {"ClientError"}, "(ExpiredToken)"),
        ("permission-denied", "load", {"ClientError", "AccessDenied"}, "(AccessDenied)"),
    ],
)
async def test_service_fault_fails_its_task_with_the_genuine_error(
    drill: Drill, fault: Fault, task_id: str, exc_types: set[str], fragment: str
) -> None:
    run_id, states = await run_with_fault(drill, fault)

    assert states[task_id] == "failed"
    errors = await get_errors(drill, run_id, task_id)
    assert any(kind in exc_types and fragment in value for kind, value in errors), errors


@needs_java
@pytest.mark.parametrize(
    ("fault", "exc_type", "fragment"),
    [
        ("spark-out-of-memory", "Py4JJavaError", "java.lang.OutOfMemoryError: Java heap space"),
        ("spark-missing-input", "AnalysisException", "[PATH_NOT_FOUND] Path does not exist"),
    ],
)
async def test_spark_fault_fails_the_rollup_with_the_genuine_spark_error(
    drill: Drill, fault: Fault, exc_type: str, fragment: str
) -> None:
    run = await run_spark(drill, fault)

    assert run.state == "failed"
    errors = await get_errors(drill, run.run_id, SPARK_TASK_ID, SPARK_DAG_ID)
    assert any(kind == exc_type and fragment in value for kind, value in errors), errors


@needs_java
@pytest.mark.parametrize("fault", ["spark-out-of-memory", "spark-missing-input"])
async def test_history_server_lists_the_failed_application_the_alert_names(
    drill: Drill, fault: Fault
) -> None:
    run = await run_spark(drill, fault)

    assert run.alert is not None
    app_id = to_app_id(run.alert)
    assert app_id is not None and app_id.startswith("local-")
    async with httpx.AsyncClient(base_url=drill.sandbox.spark_history_url or "") as client:
        response = await client.get(f"/api/v1/applications/{app_id}")
    assert response.status_code == 200
    assert response.json()["name"] == SPARK_DAG_ID


@needs_java
@pytest.mark.parametrize(
    ("fault", "failure_class", "playbook_id"),
    [
        ("spark-out-of-memory", "out-of-memory", "out-of-memory-spark"),
        ("spark-missing-input", "missing-input", "missing-input-spark"),
    ],
)
async def test_bot_diagnoses_the_spark_fault_from_the_real_log_and_history_server(
    drill: Drill, fault: Fault, failure_class: str, playbook_id: str
) -> None:
    run = await run_spark(drill, fault)
    assert run.alert is not None

    report = await investigate(drill.sandbox, run.alert)

    assert (report.diagnosis.failure_class, report.diagnosis.playbook_id) == (
        failure_class,
        playbook_id,
    )
    sources = {item.source: item for item in report.evidence}
    assert f"Spark application {to_app_id(run.alert)}" in (sources["spark"].text or "")
    assert "Traceback" in (sources["airflow"].text or "")


@needs_java
async def test_spark_rollup_succeeds_again_once_the_faults_are_cleared(drill: Drill) -> None:
    await run_spark(drill, "spark-out-of-memory")
    await run_spark(drill, "spark-missing-input")

    run = await run_spark(drill, "none")

    assert run.state == "success"
    assert run.alert is None
    staged = drill.sandbox.options.staging_dir / "orders_rollup.parquet"
    assert any(staged.glob("part-*.parquet"))


async def test_credential_rotation_lifts_the_expired_credential(drill: Drill) -> None:
    before = datetime.now(UTC)
    drill.sandbox.set_fault("expired-credential")
    try:
        async with httpx.AsyncClient() as client:
            response = await client.post(
                drill.sandbox.credential_rotation_url,
                json={"conn_id": "orders_lake", "reason": "chaos drill"},
            )
        run = await drill.sandbox.run_dag()
    finally:
        drill.sandbox.set_fault("none")
    rotations = await drill.sandbox.get_rotations(after=before)

    assert response.status_code == 200
    assert response.json()["lifted_fault"] == "expired-credential"
    assert response.json()["version"].startswith("v")
    assert run.state == "success"
    assert [rotation["conn_id"] for rotation in rotations] == ["orders_lake"]


async def test_admin_api_writes_under_its_own_name_in_airflows_event_log(drill: Drill) -> None:
    admin = drill.sandbox.admin_api
    await admin.send("PATCH", f"/api/v2/dags/{PIPELINE_DAG_ID}", json={"is_paused": False})

    response = await admin.send(
        "GET", "/api/v2/eventLogs", params={"dag_id": PIPELINE_DAG_ID, "limit": 100}
    )

    assert admin.username != drill.sandbox.username
    owners = {entry.get("owner") for entry in response.json()["event_logs"]}
    assert admin.username in owners


async def test_sandbox_stops_every_process_group_when_the_block_raises() -> None:
    options = SandboxOptions(root=SANDBOX_ROOT)
    groups: list[int] = []

    with pytest.raises(RuntimeError, match="drill interrupted"):
        async with open_sandbox(options) as sandbox:
            groups.extend(service.group_id for service in sandbox.services)
            raise RuntimeError("drill interrupted")

    # moto, fault services, api-server, scheduler, dag-processor (+ History Server with Java)
    assert len(groups) == (6 if JAVA.is_usable else 5)
    for group in groups:
        with pytest.raises(ProcessLookupError):
            os.killpg(group, 0)
