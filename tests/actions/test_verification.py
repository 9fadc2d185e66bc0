"""Verification kinds: polling Airflow and an HTTP endpoint, and a person's confirmation."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import redis.asyncio as aioredis
from pydantic import TypeAdapter

from bot.actions.manual import ManualExecutor
from bot.actions.models import ActionRefused, ActionResult, VerificationStatus
from bot.actions.verification import Verifier
from bot.contracts.service import Contracts, load_contracts
from bot.diagnosis.collectors.airflow_api import AirflowApi
from bot.runbooks.models import Verification
from tests.actions.conftest import POLL_SECONDS, RUN_ID, TASK, FakeEndpoint, build_ctx
from tests.contracts.conftest import GOOD_CSV, RENAMED_CSV, write_contract
from tests.fakes.airflow import FakeAirflow

CHECK = TypeAdapter(Verification)
DAG = TASK.dag_id


def build_check(kind: str, timeout_seconds: int = 5, **params: object) -> Verification:
    document = {"kind": kind, "params": params, "timeout_seconds": timeout_seconds}
    return CHECK.validate_python(document)


def build_verifier(
    redis: aioredis.Redis,
    http: httpx.AsyncClient,
    api: AirflowApi | None = None,
    contracts: Contracts | None = None,
) -> Verifier:
    return Verifier(
        airflow=api,
        http=http,
        allowed_hosts={"127.0.0.1"},
        manual=ManualExecutor(redis, ttl_seconds=60),
        poll_interval_seconds=POLL_SECONDS,
        contracts=contracts,
    )


def build_contract_check(dag_id: str = "orders_pipeline") -> Verification:
    return build_check(
        "data.contract", timeout_seconds=1, dag_id=dag_id, instructions="The producer fixed it."
    )


def create_contracts(folder: Path, csv_text: str, **fields: object) -> Contracts:
    write_contract(folder, **fields)
    (folder / "orders.csv").write_text(csv_text, encoding="utf-8")
    return load_contracts(folder)


@pytest.mark.parametrize(
    ("outcome", "status"),
    [("success", VerificationStatus.PASSED), ("failed", VerificationStatus.FAILED)],
)
async def test_task_state_check_polls_until_the_task_finishes(
    airflow: tuple[FakeAirflow, str],
    api: AirflowApi,
    redis: aioredis.Redis,
    http: httpx.AsyncClient,
    outcome: str,
    status: VerificationStatus,
) -> None:
    fake, _ = airflow
    fake.outcome = outcome
    fake.pending_polls = 3
    clear = {"dry_run": False, "task_ids": [TASK.task_id], "dag_run_id": RUN_ID}
    await api.send_json("POST", f"dags/{DAG}/clearTaskInstances", body=clear)
    check = build_check(
        "airflow.task_instance_state", dag_id=DAG, dag_run_id=RUN_ID, task_id=TASK.task_id
    )

    result = await build_verifier(redis, http, api).verify(check, None, build_ctx())

    assert (result.status, result.observed) == (status, outcome)
    reads = [request for request in fake.requests if request.path.endswith(TASK.task_id)]
    assert len(reads) == 4


async def test_run_state_check_without_run_id_follows_the_triggered_run(
    airflow: tuple[FakeAirflow, str],
    api: AirflowApi,
    redis: aioredis.Redis,
    http: httpx.AsyncClient,
) -> None:
    fake, _ = airflow
    fake.add_dag_run(DAG, "manual__1", state="success")
    triggered = ActionResult(
        kind="airflow.trigger_dag_run", summary="", values={"dag_run_id": "manual__1"}
    )

    result = await build_verifier(redis, http, api).verify(
        build_check("airflow.dag_run_state", dag_id=DAG), triggered, build_ctx()
    )

    assert result.status == VerificationStatus.PASSED


async def test_check_that_never_settles_fails_at_its_timeout(
    airflow: tuple[FakeAirflow, str],
    api: AirflowApi,
    redis: aioredis.Redis,
    http: httpx.AsyncClient,
) -> None:
    fake, _ = airflow
    fake.add_dag(DAG, is_paused=False)
    check = build_check("airflow.dag_paused", timeout_seconds=1, dag_id=DAG, expected=True)

    result = await build_verifier(redis, http, api).verify(check, None, build_ctx())

    assert result.status == VerificationStatus.FAILED
    assert "timed out after 1 s" in result.summary
    assert result.observed == "not paused"


async def test_http_status_check_passes_on_an_expected_status(
    endpoint: tuple[FakeEndpoint, str], redis: aioredis.Redis, http: httpx.AsyncClient
) -> None:
    fake, base_url = endpoint
    fake.status = 200
    check = build_check("http.status", url=f"{base_url}/health", expected_status=[200])

    result = await build_verifier(redis, http).verify(check, None, build_ctx())

    assert (result.status, result.observed) == (VerificationStatus.PASSED, "HTTP 200")


async def test_http_status_check_refuses_a_host_off_the_allow_list(
    redis: aioredis.Redis, http: httpx.AsyncClient
) -> None:
    check = build_check("http.status", url="http://evil.example.com/health")

    with pytest.raises(ActionRefused):
        await build_verifier(redis, http).verify(check, None, build_ctx())


@pytest.mark.parametrize(
    ("answer", "status"),
    [
        (None, VerificationStatus.WAITING),
        (True, VerificationStatus.PASSED),
        (False, VerificationStatus.FAILED),
    ],
)
async def test_manual_check_reports_what_the_person_answered(
    redis: aioredis.Redis,
    http: httpx.AsyncClient,
    answer: bool | None,
    status: VerificationStatus,
) -> None:
    manual = ManualExecutor(redis, ttl_seconds=60)
    verifier = build_verifier(redis, http)
    if answer is not None:
        await manual.mark_done(build_ctx(), succeeded=answer)

    result = await verifier.verify(build_check("manual", instructions="Look."), None, build_ctx())

    assert result.status == status


async def test_contract_check_passes_once_the_input_meets_its_contract(
    tmp_path: Path, redis: aioredis.Redis, http: httpx.AsyncClient
) -> None:
    contracts = create_contracts(tmp_path, GOOD_CSV)
    verifier = build_verifier(redis, http, contracts=contracts)

    result = await verifier.verify(build_contract_check(), None, build_ctx())

    assert result.status == VerificationStatus.PASSED
    assert result.summary == (
        "Verified: the orders input is within its data contract (2 rows checked)."
    )


async def test_contract_check_fails_at_its_timeout_naming_the_broken_columns(
    tmp_path: Path, redis: aioredis.Redis, http: httpx.AsyncClient
) -> None:
    contracts = create_contracts(tmp_path, RENAMED_CSV)
    verifier = build_verifier(redis, http, contracts=contracts)

    result = await verifier.verify(build_contract_check(), None, build_ctx())

    assert result.status == VerificationStatus.FAILED
    assert "timed out after 1 s waiting for the orders input" in result.summary
    assert result.observed == (
        "outside its data contract (missing amount; not in the contract: order_amount; "
        "2 rows checked)"
    )


async def test_contract_check_without_a_contract_for_the_dag_asks_a_person(
    tmp_path: Path, redis: aioredis.Redis, http: httpx.AsyncClient
) -> None:
    contracts = create_contracts(tmp_path, RENAMED_CSV)
    verifier = build_verifier(redis, http, contracts=contracts)
    check = build_contract_check("refunds_pipeline")

    waiting = await verifier.verify(check, None, build_ctx())
    await ManualExecutor(redis, ttl_seconds=60).mark_done(build_ctx())
    confirmed = await verifier.verify(check, None, build_ctx())

    assert waiting.status == VerificationStatus.WAITING
    assert "The producer fixed it." in waiting.summary
    assert confirmed.status == VerificationStatus.PASSED


async def test_contract_check_refuses_an_input_host_off_the_allow_list(
    tmp_path: Path, redis: aioredis.Redis, http: httpx.AsyncClient
) -> None:
    contracts = create_contracts(tmp_path, GOOD_CSV, input="https://files.example.com/o.csv")
    verifier = build_verifier(redis, http, contracts=contracts)

    with pytest.raises(ActionRefused):
        await verifier.verify(build_contract_check(), None, build_ctx())
