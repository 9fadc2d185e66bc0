"""Shared set-up for the action tests: an Airflow stand-in (2 or 3), an internal HTTP
endpoint stand-in, the real playbook steps, and a runner wired to them over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.actions.models import ActionContext, RunContext
from bot.actions.service import ActionRunner, build_action_runner
from bot.chaos.standins.server import StandIn, serve_app
from bot.diagnosis.collectors.airflow_api import AirflowApi
from bot.runbooks.loader import builtin_runbooks_dir, load_catalogue
from bot.runbooks.models import RemediationStep
from bot.settings import Settings
from tests.fakes.airflow import FakeAirflow, Task

RUN_ID = "scheduled__2025-06-01T10:00:00+00:00"
TASK = Task("daily_revenue", RUN_ID, "transform")
VALUES = {"dag_id": TASK.dag_id, "dag_run_id": RUN_ID, "task_id": TASK.task_id}
POLL_SECONDS = 0.01
ROTATION_TOKEN = "Bearer rotation-secret-1"


class FakeEndpoint(StandIn):
    """An internal service (a credential rotation endpoint) that answers `status`."""

    def __init__(self) -> None:
        super().__init__()
        self.status = 202
        self.app = Starlette(
            routes=[
                self.to_route("/rotate", "rotate", self._answer, methods=("POST",)),
                self.to_route("/health", "health", self._answer),
            ]
        )

    async def _answer(self, request: Request) -> Response:
        return JSONResponse({"ok": self.status < 400}, status_code=self.status)


def get_step(playbook_id: str, step_id: str) -> RemediationStep:
    playbook = load_catalogue(builtin_runbooks_dir()).get(playbook_id)
    assert playbook is not None
    return next(step for step in playbook.remediation if step.id == step_id)


def build_step(**fields: Any) -> RemediationStep:
    document = {"id": "step", "title": "A step", "risk": "low", **fields}
    return RemediationStep.model_validate(document)


def build_ctx(step_id: str = "step", attempt: int = 1) -> ActionContext:
    return ActionContext("inc-1", step_id, attempt, VALUES)


@pytest.fixture(params=["v2", "v1"])
def airflow(request: pytest.FixtureRequest) -> Iterator[tuple[FakeAirflow, str]]:
    fake = FakeAirflow(version=request.param)
    fake.add_dag_run(TASK.dag_id, RUN_ID, state="failed")
    fake.add_task_instance(TASK, state="failed")
    fake.add_task_instance(Task(TASK.dag_id, RUN_ID, "load"), state="upstream_failed")
    with serve_app(fake.app) as base_url:
        yield fake, base_url


@pytest.fixture
def endpoint() -> Iterator[tuple[FakeEndpoint, str]]:
    fake = FakeEndpoint()
    with serve_app(fake.app) as base_url:
        yield fake, base_url


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


@pytest.fixture
def api(airflow: tuple[FakeAirflow, str], http: httpx.AsyncClient) -> AirflowApi:
    return AirflowApi(client=http, base_url=airflow[1], username="bot", password="op")


def build_settings(airflow_url: str, **overrides: Any) -> Settings:
    fields: dict[str, Any] = {
        "airflow_url": airflow_url,
        "airflow_username": "bot",
        "airflow_password": "op",
        "action_poll_interval_seconds": POLL_SECONDS,
        "action_http_allowed_hosts": "127.0.0.1",
        "action_http_secrets": f'{{"rotation-token": "{ROTATION_TOKEN}"}}',
    }
    return Settings(_env_file=None, **(fields | overrides))  # type: ignore[call-arg]


@pytest.fixture
def runner(
    airflow: tuple[FakeAirflow, str], http: httpx.AsyncClient, redis: aioredis.Redis
) -> ActionRunner:
    return build_action_runner(build_settings(airflow[1]), http=http, redis=redis)


@pytest.fixture
def run_ctx() -> RunContext:
    return RunContext(values=VALUES, actor="U123")
