"""From webhook to Slack thread, on a real Redis and a local Slack Web API stand-in."""

import asyncio
import json
from pathlib import Path

import pytest

from bot.chaos.standins.slack import serve_slack
from bot.incidents.states import State
from tests.scenarios.harness import (
    SLACK_SIGNING_SECRET,
    SLACK_TOKEN,
    build_settings,
    start_bot,
    wait_for,
)

PAYLOADS = Path(__file__).resolve().parent.parent / "alerts" / "payloads"


def datadog_body(event_id="7361612097364591244", transition="Triggered", **changes) -> bytes:
    payload = json.loads((PAYLOADS / "datadog_custom_triggered.json").read_text())
    payload |= {"id": event_id, "transition": transition} | changes
    if transition == "Recovered":
        payload["title"] = payload["title"].replace("[P1] [Triggered", "[Recovered")
    return json.dumps(payload).encode()


@pytest.fixture
def slack():
    with serve_slack() as stand_in:
        yield stand_in


@pytest.fixture
def settings(redis, redis_url, slack):
    return build_settings(
        redis_url,
        slack_bot_token=SLACK_TOKEN,
        slack_signing_secret=SLACK_SIGNING_SECRET,
        slack_api_url=slack.api_url,
    )


def roots(slack):
    posted = slack.calls_to("chat.postMessage")
    return [c for c in posted if "thread_ts" not in c.params and c.status == 200]


def replies(slack):
    posted = slack.calls_to("chat.postMessage")
    return [c for c in posted if "thread_ts" in c.params and c.status == 200]


def alert_replies(slack):
    # The diagnosis adds its own replies to the thread; these tests follow the alert's.
    return [c for c in replies(slack) if c.params["text"].startswith("Alert firing")]


async def test_datadog_trigger_opens_a_thread_in_the_routed_channel(settings, slack):
    async with start_bot(settings) as bot:
        response = await bot.post_datadog(datadog_body())
        assert response.status_code == 202
        await slack.wait_for_calls("chat.postMessage", 2)
        await bot.wait_until_idle()

    [root] = roots(slack)
    [reply] = alert_replies(slack)
    assert root.params["channel"] == "data-incidents"
    assert "Rows loaded into warehouse.orders dropped to zero" in json.dumps(root.params)
    assert reply.params["thread_ts"] == "1700000000.000001"
    assert "Alert firing" in reply.params["text"]


async def test_redelivered_datadog_event_changes_nothing(settings, slack):
    async with start_bot(settings) as bot:
        await bot.post_datadog(datadog_body())
        await slack.wait_for_calls("chat.postMessage", 2)
        await bot.wait_until_idle()
        calls_before = len(slack.calls)

        response = await bot.post_datadog(datadog_body())
        await bot.wait_until_idle()

        assert response.status_code == 200
        assert response.json()["status"] == "duplicate"
        assert len(slack.calls) == calls_before
        assert len(await bot.runtime.store.list_recent()) == 1


async def test_recovery_resolves_the_incident_and_edits_the_root(settings, slack):
    async with start_bot(settings) as bot:
        await bot.post_datadog(datadog_body())
        await slack.wait_for_calls("chat.postMessage", 2)
        response = await bot.post_datadog(datadog_body("99", transition="Recovered"))
        assert response.status_code == 202
        await bot.wait_until_idle()
        [incident] = await bot.runtime.store.list_recent()

    assert incident.state is State.RESOLVED
    updates = slack.calls_to("chat.update")
    assert updates, "the root message was never edited"
    assert updates[-1].params["ts"] == roots(slack)[0].params.get("ts", "1700000000.000001")
    assert "Resolved" in updates[-1].params["text"]


async def test_concurrent_deliveries_over_two_instances_give_one_incident(settings, slack):
    distinct = [datadog_body(str(1000 + n)) for n in range(10)]
    repeated = [datadog_body("2000")] * 10
    async with start_bot(settings) as first, start_bot(settings) as second:
        bots = [first, second]
        responses = await asyncio.gather(
            *(bots[n % 2].post_datadog(body) for n, body in enumerate(distinct + repeated))
        )
        await wait_for(lambda: _both_idle(first, second), limit=30)
        incidents = await first.runtime.store.list_recent()

    assert sorted(r.status_code for r in responses) == [200] * 9 + [202] * 11
    assert len(incidents) == 1
    assert incidents[0].alert_count == 11
    assert len(roots(slack)) == 1


async def _both_idle(*bots):
    return all([await bot._is_idle() for bot in bots])


async def test_slack_rate_limit_delays_the_thread_but_loses_nothing(settings, slack):
    slack.fail_next(3, status=429, retry_after=1)
    async with start_bot(settings) as bot:
        await bot.post_datadog(datadog_body())
        await asyncio.to_thread(slack.wait_for, "chat.postMessage", 5, 30)
        await bot.wait_until_idle(limit=20)

    assert len(roots(slack)) == 1
    assert len(alert_replies(slack)) == 1


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "JSON"),
        (b"[1, 2]", "object"),
        (b'{"title": "x"}', "id"),
    ],
)
async def test_malformed_datadog_body_gets_a_4xx_naming_the_problem(settings, body, problem):
    async with start_bot(settings) as bot:
        response = await bot.post_datadog(body)
        keys = await bot.runtime.redis.keys("ib:*")
    assert 400 <= response.status_code < 500
    assert problem in response.json()["error"]
    assert keys == []


async def test_wrong_datadog_secret_is_refused(settings):
    async with start_bot(settings) as bot:
        response = await bot.client.post(
            "/webhooks/datadog", content=datadog_body(), headers={"X-Incident-Bot-Secret": "no"}
        )
        keys = await bot.runtime.redis.keys("ib:*")
    assert response.status_code == 401
    assert keys == []
