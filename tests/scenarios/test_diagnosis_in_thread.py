"""From an Airflow failure callback to the diagnosis in the incident's Slack thread.

The task log comes from the Airflow stand-in over real HTTP; the thread is the Slack stand-in.
"""

import json
from pathlib import Path

import pytest

from bot.chaos.standins.server import serve_app
from bot.chaos.standins.slack import serve_slack
from bot.errors import ConfigError
from bot.incidents.states import State
from bot.runtime import open_runtime
from tests.fakes.airflow import FakeAirflow, Task, error_event, event, stack
from tests.scenarios.harness import (
    AIRFLOW_TOKEN,
    SLACK_SIGNING_SECRET,
    SLACK_TOKEN,
    build_settings,
    start_bot,
)

PAYLOADS = Path(__file__).resolve().parent.parent / "alerts" / "payloads"
RUN_ID = "scheduled__2024-12-02T02:00:00+00:00"
DRIFTED = Task("orders_daily", RUN_ID, "load_orders")
PUZZLING = Task("orders_daily", RUN_ID, "publish_orders")
AIRFLOW_API_TOKEN = "airflow-api-test-token"


def callback_body(task: Task) -> bytes:
    """The failure callback with no exception text: the evidence has to come from the log."""
    payload = json.loads((PAYLOADS / "airflow_failed.json").read_text())
    payload |= {"task_id": task.task_id, "exception": ""}
    return json.dumps(payload).encode()


@pytest.fixture
def airflow():
    fake = FakeAirflow(version="v2", static_token=AIRFLOW_API_TOKEN)
    fake.add_task_instance(DRIFTED, try_number=2)
    fake.set_log(
        DRIFTED,
        2,
        [
            event("Reading staging.orders", logger="task.stdout"),
            error_event(stack("KeyError", "\"['amount'] not in index\"")),
        ],
    )
    fake.add_task_instance(PUZZLING, try_number=2)
    fake.set_log(PUZZLING, 2, [error_event(stack("RuntimeError", "the frobnicator wobbled"))])
    with serve_app(fake.app) as base_url:
        fake.base_url = base_url
        yield fake


@pytest.fixture
def slack():
    with serve_slack() as stand_in:
        yield stand_in


@pytest.fixture
def settings(redis, redis_url, slack, airflow):
    return build_settings(
        redis_url,
        slack_bot_token=SLACK_TOKEN,
        slack_signing_secret=SLACK_SIGNING_SECRET,
        slack_api_url=slack.api_url,
        airflow_url=airflow.base_url,
        airflow_token=AIRFLOW_API_TOKEN,
        airflow_api_version="v2",
    )


async def post_airflow(bot, body):
    headers = {"Authorization": f"Bearer {AIRFLOW_TOKEN}", "Content-Type": "application/json"}
    return await bot.client.post("/webhooks/airflow", content=body, headers=headers)


def replies_saying(slack, words):
    posted = slack.calls_to("chat.postMessage")
    return [
        call
        for call in posted
        if "thread_ts" in call.params and call.status == 200 and words in call.params["text"]
    ]


async def test_schema_drift_in_the_task_log_is_posted_with_its_steps(settings, slack, airflow):
    async with start_bot(settings) as bot:
        response = await post_airflow(bot, callback_body(DRIFTED))
        await bot.wait_until_idle()
        [incident] = await bot.runtime.store.list_recent()
        playbook = bot.runtime.catalogue.for_class("schema-drift", "airflow")

    [reply] = replies_saying(slack, "Diagnosis: schema-drift")
    shown = json.dumps(reply.params)
    assert response.status_code == 202
    assert incident.state is State.AWAITING_APPROVAL
    assert "Confidence" in shown
    assert "%" in shown
    assert "Proposed steps (not run yet)" in shown
    assert all(step.title in shown for step in playbook.remediation)
    assert "Awaiting approval" in slack.calls_to("chat.update")[-1].params["text"]
    assert any(request.path.endswith("/logs/2") for request in airflow.requests)
    assert not airflow.writes


async def test_unrecognisable_failure_is_escalated_with_a_reply_saying_so(settings, slack):
    async with start_bot(settings) as bot:
        await post_airflow(bot, callback_body(PUZZLING))
        await bot.wait_until_idle()
        [incident] = await bot.runtime.store.list_recent()

    [diagnosis] = replies_saying(slack, "Diagnosis: unknown cause, escalating")
    [escalation] = replies_saying(slack, "Escalated")
    assert incident.state is State.ESCALATED
    assert "escalating" in json.dumps(escalation.params)
    assert "No playbook fits well enough" in json.dumps(diagnosis.params)


async def test_bot_refuses_to_start_with_a_bad_playbook_naming_file_and_field(redis_url, tmp_path):
    (tmp_path / "ours.yaml").write_text("id: ours\ntitle: Ours\nfailure_class: gremlins\n")
    settings = build_settings(redis_url, runbooks_dirs=str(tmp_path))

    with pytest.raises(ConfigError, match=r"ours\.yaml: failure_class: must be one of"):
        async with open_runtime(settings):
            pass
