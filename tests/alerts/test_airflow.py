import importlib.util
import json
import logging
import socket
from pathlib import Path
from types import SimpleNamespace

import pytest
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.alerts import airflow
from bot.alerts.models import AlertStatus, Link, Severity, Source
from bot.chaos.standins.server import StandIn, serve_app
from bot.errors import AuthenticationFailed, BadRequest
from tests.alerts.files import load_payload, read_payload, to_body

TOKEN = SecretStr("airflow-callback-token-0123456789")
CALLBACK_FILE = Path(__file__).parents[2] / "docs" / "airflow_callback.py"


def parse_failed(**changes):
    return airflow.parse(to_body(load_payload("airflow_failed.json") | changes))


# Authentication


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": f"Bearer {TOKEN.get_secret_value()}"},
        {"authorization": f"bearer {TOKEN.get_secret_value()}"},
        {"AUTHORIZATION": f"Bearer  {TOKEN.get_secret_value()} "},
    ],
)
def test_authenticate_accepts_the_bearer_token(headers):
    airflow.authenticate(headers, token=TOKEN)


@pytest.mark.parametrize(
    "headers", [{}, {"Authorization": "Bearer "}, {"Authorization": "Bearer anything"}]
)
def test_authenticate_refuses_everything_when_token_not_configured(headers):
    with pytest.raises(AuthenticationFailed, match="AIRFLOW_CALLBACK_TOKEN"):
        airflow.authenticate(headers, token=SecretStr(""))


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": ""},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {TOKEN.get_secret_value()}"},
        {"Authorization": TOKEN.get_secret_value()},
        {"X-Token": TOKEN.get_secret_value()},
    ],
)
def test_authenticate_refuses_request_without_a_bearer_token(headers):
    with pytest.raises(AuthenticationFailed, match="Missing header Authorization"):
        airflow.authenticate(headers, token=TOKEN)


@pytest.mark.parametrize("given", ["wrong", TOKEN.get_secret_value()[:-1], "Bearer"])
def test_authenticate_refuses_wrong_token(given):
    with pytest.raises(AuthenticationFailed, match="does not match"):
        airflow.authenticate({"Authorization": f"Bearer {given}"}, token=TOKEN)


# Parsing


def test_failed_task_becomes_firing_alert_with_pipeline_context():
    alert = airflow.parse(read_payload("airflow_failed.json"))

    assert alert.source is Source.AIRFLOW
    assert (alert.status, alert.severity) == (AlertStatus.FIRING, Severity.HIGH)
    assert alert.title == "Airflow task orders_daily.load_orders: failed"
    assert alert.message.endswith("KeyError: \"['amount'] not in index\"")
    assert alert.links == [
        Link(title="Airflow log", url=load_payload("airflow_failed.json")["log_url"])
    ]
    assert alert.pipeline is not None
    assert alert.pipeline.model_dump(exclude_none=True) == {
        "dag_id": "orders_daily",
        "run_id": "scheduled__2024-12-02T02:00:00+00:00",
        "task_id": "load_orders",
        "try_number": 2,
        "log_url": load_payload("airflow_failed.json")["log_url"],
        "exception": load_payload("airflow_failed.json")["exception"],
    }


def test_tags_service_and_team_come_from_the_dag_tags():
    alert = airflow.parse(read_payload("airflow_failed.json"))

    assert (alert.service, alert.team) == ("orders", "data-platform")
    assert alert.tags == {
        "dag_id": "orders_daily",
        "task_id": "load_orders",
        "service": "orders",
        "team": "data-platform",
        "tier": "1",
        "owner": "data-platform",
    }


@pytest.mark.parametrize(
    "tags",
    [
        {"service": "orders", "team": "data-platform"},
        "service:orders,team:data-platform",
        ["service:orders", "team:data-platform"],
    ],
)
def test_tags_may_be_a_mapping_a_string_or_a_list(tags):
    alert = parse_failed(tags=tags)

    assert (alert.service, alert.team) == ("orders", "data-platform")


def test_explicit_service_and_team_win_over_tags():
    alert = parse_failed(service="orders-api", team="payments")

    assert (alert.service, alert.team) == ("orders-api", "payments")


def test_retries_and_later_runs_of_the_same_task_join_one_fingerprint():
    first = parse_failed(try_number=1)
    retry = parse_failed(try_number=2)
    next_run = parse_failed(run_id="scheduled__2024-12-03T02:00:00+00:00", try_number=1)
    other_task = parse_failed(task_id="transform_orders")

    assert first.fingerprint == retry.fingerprint == next_run.fingerprint
    assert other_task.fingerprint != first.fingerprint
    assert len({first.delivery_id, retry.delivery_id, next_run.delivery_id}) == 3


def test_delivery_id_names_dag_task_map_index_try_and_run():
    alert = parse_failed()

    assert alert.delivery_id == (
        "orders_daily/load_orders/-1/2/scheduled__2024-12-02T02:00:00+00:00"
    )


def test_mapped_task_instances_are_separate_deliveries_of_one_problem():
    unmapped, first, second = parse_failed(), parse_failed(map_index=0), parse_failed(map_index=3)

    assert len({unmapped.delivery_id, first.delivery_id, second.delivery_id}) == 3
    assert unmapped.fingerprint == first.fingerprint == second.fingerprint
    assert (unmapped.pipeline.map_index, second.pipeline.map_index) == (None, 3)


@pytest.mark.parametrize(
    ("state", "status", "severity"),
    [
        ("failed", AlertStatus.FIRING, Severity.HIGH),
        ("upstream_failed", AlertStatus.FIRING, Severity.HIGH),
        ("up_for_retry", AlertStatus.FIRING, Severity.LOW),
        ("success", AlertStatus.RESOLVED, Severity.INFO),
        ("Recovered", AlertStatus.RESOLVED, Severity.INFO),
    ],
)
def test_state_sets_status_and_severity(state, status, severity):
    alert = parse_failed(state=state)

    assert (alert.status, alert.severity) == (status, severity)


def test_minimal_body_defaults_to_a_first_try_failure():
    body = {"dag_id": "orders_daily", "task_id": "load_orders", "run_id": "manual__1"}

    alert = airflow.parse(to_body(body))

    assert alert.status is AlertStatus.FIRING
    assert alert.message == "The task instance is failed."
    assert alert.pipeline.try_number == 1
    assert alert.links == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "not valid JSON"),
        (b"dag_id=orders_daily", "not valid JSON"),
        (b"[]", "must be a JSON object"),
        (to_body({"task_id": "t", "run_id": "r"}), "Missing field dag_id"),
        (to_body({"dag_id": "d", "run_id": "r"}), "Missing field task_id"),
        (to_body({"dag_id": "d", "task_id": "t"}), "Missing field run_id"),
        (to_body({"dag_id": "", "task_id": "t", "run_id": "r"}), "Field dag_id is invalid"),
        (
            to_body({"dag_id": "d", "task_id": "t", "run_id": "r", "try_number": "second"}),
            "Field try_number is invalid",
        ),
        (
            to_body({"dag_id": "d", "task_id": "t", "run_id": "r", "logical_date": "soon"}),
            "Field logical_date is invalid",
        ),
    ],
)
def test_malformed_body_is_refused_naming_the_problem(body, problem):
    with pytest.raises(BadRequest, match=problem):
        airflow.parse(body)


# docs/airflow_callback.py, posting to a stand-in for the bot over real HTTP


class FakeBot(StandIn):
    def __init__(self, status: int = 202) -> None:
        super().__init__()
        self.bodies: list[bytes] = []
        self.status = status
        route = self.to_route("/webhooks/airflow", "airflow", self.receive, methods=("POST",))
        self.app = Starlette(routes=[route])

    async def receive(self, request: Request) -> Response:
        self.bodies.append(await request.body())
        return JSONResponse({"status": "queued"}, status_code=self.status)


@pytest.fixture(scope="module")
def callback_module():
    spec = importlib.util.spec_from_file_location("airflow_callback", CALLBACK_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_context(exception=None):
    ti = SimpleNamespace(
        dag_id="orders_daily",
        task_id="load_orders",
        run_id="scheduled__2024-12-02T02:00:00+00:00",
        try_number=2,
        map_index=-1,
        log_url="http://airflow.local:8080/dags/orders_daily/runs/x/tasks/load_orders",
        task=SimpleNamespace(owner="data-platform"),
    )
    dag = SimpleNamespace(dag_id="orders_daily", tags={"team:data-platform", "service:orders"})
    return {"ti": ti, "task_instance": ti, "dag": dag, "exception": exception}


def raise_key_error():
    try:
        {"order_id": 1}["amount"]
    except KeyError as error:
        return error


@pytest.fixture
def bot(monkeypatch):
    stand_in = FakeBot()
    with serve_app(stand_in.app) as base_url:
        monkeypatch.setenv("INCIDENT_BOT_URL", base_url + "/")
        monkeypatch.setenv("INCIDENT_BOT_TOKEN", TOKEN.get_secret_value())
        yield stand_in


def test_callback_posts_a_body_the_parser_accepts(callback_module, bot):
    callback_module.notify_incident_bot(build_context(raise_key_error()))

    [request] = bot.requests
    airflow.authenticate(request.headers, token=TOKEN)
    alert = airflow.parse(bot.bodies[0])
    assert alert.status is AlertStatus.FIRING
    assert alert.delivery_id == "orders_daily/load_orders/-1/2/scheduled__2024-12-02T02:00:00+00:00"
    assert alert.pipeline.log_url == build_context()["ti"].log_url
    assert alert.pipeline.exception.startswith("Traceback (most recent call last):")
    assert alert.pipeline.exception.rstrip().endswith("KeyError: 'amount'")
    assert (alert.service, alert.team, alert.tags["owner"]) == (
        "orders",
        "data-platform",
        "data-platform",
    )


def test_recovered_callback_resolves(callback_module, bot):
    callback_module.notify_incident_bot_recovered(build_context())

    alert = airflow.parse(bot.bodies[0])
    assert alert.status is AlertStatus.RESOLVED
    assert alert.message == "The task instance is success."


def test_callback_sends_text_exceptions_and_dag_callback_reasons(callback_module, bot):
    callback_module.notify_incident_bot(build_context("Task received SIGTERM signal"))
    context = build_context() | {"reason": "timed_out"}
    callback_module.notify_incident_bot(context)

    messages = [airflow.parse(body).message for body in bot.bodies]
    assert messages == ["Task received SIGTERM signal", "timed_out"]


def test_callback_never_raises_when_the_bot_refuses(callback_module, bot, caplog):
    bot.status = 401
    with caplog.at_level(logging.WARNING):
        callback_module.notify_incident_bot(build_context(raise_key_error()))

    assert "refused the alert: 401" in caplog.text
    assert TOKEN.get_secret_value() not in caplog.text


def test_callback_never_raises_when_the_bot_is_unreachable(callback_module, monkeypatch, caplog):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed_port = sock.getsockname()[1]
    monkeypatch.setenv("INCIDENT_BOT_URL", f"http://127.0.0.1:{closed_port}")
    monkeypatch.setenv("INCIDENT_BOT_TOKEN", TOKEN.get_secret_value())

    with caplog.at_level(logging.WARNING):
        callback_module.notify_incident_bot(build_context(raise_key_error()))

    assert "the callback failed" in caplog.text


@pytest.mark.parametrize(
    ("url", "problem"),
    [("", "is not set"), ("file:///etc/passwd", "must start with http")],
)
def test_callback_skips_without_usable_settings(callback_module, monkeypatch, caplog, url, problem):
    monkeypatch.setenv("INCIDENT_BOT_URL", url)
    monkeypatch.setenv("INCIDENT_BOT_TOKEN", TOKEN.get_secret_value())

    with caplog.at_level(logging.WARNING):
        callback_module.notify_incident_bot(build_context())

    assert problem in caplog.text


def test_callback_survives_a_context_without_task_instance(callback_module, bot, caplog):
    with caplog.at_level(logging.WARNING):
        callback_module.notify_incident_bot({"dag": None})

    assert bot.requests == []
    assert "the callback failed" in caplog.text


def test_callback_body_is_plain_json(callback_module):
    body = callback_module.build_body(build_context(raise_key_error()), "failed")

    assert json.loads(json.dumps(body))["tags"] == ["service:orders", "team:data-platform"]
