"""The drills' stand-ins for Slack, Jira and Anthropic, driven through the real clients."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs

import anthropic
import pytest
from pydantic import SecretStr
from slack_sdk.errors import SlackApiError
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.models import Alert, AlertStatus, Source
from bot.chaos.standins.anthropic import (
    OVERLOADED_STATUS,
    AnthropicStandIn,
    serve_anthropic,
    tool_use,
)
from bot.chaos.standins.jira import JiraStandIn, serve_jira
from bot.chaos.standins.server import serve_app
from bot.chaos.standins.slack import SlackStandIn
from bot.chaos.standins.slack_requests import sign_request
from bot.chat.models import Message
from bot.diagnosis.claude import ClaudeDiagnoser, ClaudeLimits
from bot.diagnosis.messages import to_claude_fallback, to_claude_no_answer, to_claude_overloaded
from bot.diagnosis.models import Diagnosis, Evidence
from bot.runbooks.loader import builtin_runbooks_dir, load_catalogue
from bot.tickets.jira_adapter import JiraTracker
from bot.tickets.models import NewTicket, to_incident_label
from bot.tickets.port import TrackerUnavailable

SIGNING_SECRET = "drill-signing-secret"
CHANNEL = "#data-incidents"
APPROVE_OR_REJECT = {
    "type": "actions",
    "block_id": "proposal",
    "elements": [
        {
            "type": "button",
            "action_id": "incident:approve",
            "value": "INC-1:restart",
            "text": {"type": "plain_text", "text": "Approve"},
        },
        {
            "type": "button",
            "action_id": "incident:reject",
            "value": "INC-1:restart",
            "text": {"type": "plain_text", "text": "Reject"},
        },
    ],
}
RULES = Diagnosis(
    failure_class="unknown", playbook_id=None, confidence=0.31, summary="Not sure.", notes=[]
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def slack(clock) -> Iterator[SlackStandIn]:
    stand_in = SlackStandIn(clock=clock)
    with serve_app(stand_in.build_app()) as base_url:
        stand_in.base_url = base_url
        yield stand_in


@pytest.fixture
def slack_client(slack):
    # No retry handlers beyond the default: each call shows what the stand-in answered.
    return AsyncWebClient(token="xoxb-drill", base_url=slack.api_url)


@pytest.fixture
def jira() -> Iterator[JiraStandIn]:
    with serve_jira("Server") as stand_in:
        yield stand_in


@pytest.fixture
def claude() -> Iterator[AnthropicStandIn]:
    with serve_anthropic() as stand_in:
        yield stand_in


@pytest.fixture
async def anthropic_client(claude) -> AsyncIterator[anthropic.AsyncAnthropic]:
    client = anthropic.AsyncAnthropic(api_key="sk-drill", base_url=claude.base_url, max_retries=0)
    yield client
    await client.close()


async def test_degraded_slack_answers_429_and_5xx_in_turn_until_the_time_is_up(
    slack, slack_client, clock
):
    slack.degrade(30)
    failures = []
    for _ in range(4):
        with pytest.raises(SlackApiError) as raised:
            await slack_client.chat_postMessage(channel=CHANNEL, text="INC-1 opened")
        failures.append(raised.value.response)
    was_degraded = slack.is_degraded
    clock.now += 30
    posted = await slack_client.chat_postMessage(channel=CHANNEL, text="INC-1 opened")

    assert [failure.status_code for failure in failures] == [429, 500, 503, 429]
    assert failures[0].headers["Retry-After"] == "1"
    assert failures[0].data == {"ok": False, "error": "ratelimited"}
    assert was_degraded and not slack.is_degraded
    assert posted["ok"]
    assert [call.status for call in slack.calls_to("chat.postMessage")] == [429, 500, 503, 429, 200]
    assert [message.text for message in slack.messages_in(CHANNEL)] == ["INC-1 opened"]


async def test_degradation_spares_calls_after_it_is_ended_early(slack, slack_client):
    slack.degrade(30, statuses=(503,))
    with pytest.raises(SlackApiError):
        await slack_client.auth_test()
    slack.degrade(0)

    assert (await slack_client.auth_test())["ok"]


@pytest.mark.parametrize("encoding", ["json", "data"])
async def test_posted_and_edited_messages_are_kept_per_thread_with_their_buttons(
    slack, slack_client, encoding
):
    async def post(**params):
        if encoding == "data" and "blocks" in params:
            params["blocks"] = json.dumps(params["blocks"])
        return await slack_client.api_call("chat.postMessage", **{encoding: params})

    root = await post(channel=CHANNEL, text="INC-1 opened")
    await post(
        channel=root["channel"], thread_ts=root["ts"], text="Proposal", blocks=[APPROVE_OR_REJECT]
    )
    await slack_client.chat_update(channel=root["channel"], ts=root["ts"], text="INC-1 acting")
    await post(channel=CHANNEL, text="INC-2 opened")

    thread = slack.messages_in(CHANNEL, thread_ts=root["ts"])
    assert [message.text for message in thread] == ["INC-1 acting", "Proposal"]
    assert [message.text for message in slack.messages_in(root["channel"])] == [
        "INC-1 acting",
        "Proposal",
        "INC-2 opened",
    ]
    assert [(b.action_id, b.value, b.block_id, b.text) for b in thread[1].buttons] == [
        ("incident:approve", "INC-1:restart", "proposal", "Approve"),
        ("incident:reject", "INC-1:restart", "proposal", "Reject"),
    ]
    assert thread[0].buttons == []


async def test_a_click_on_a_posted_button_is_built_as_slack_sends_it(slack, slack_client):
    root = await slack_client.chat_postMessage(channel=CHANNEL, text="INC-1 opened")
    await slack_client.chat_postMessage(
        channel=root["channel"], thread_ts=root["ts"], text="Proposal", blocks=[APPROVE_OR_REJECT]
    )
    [_, proposal] = slack.messages_in(CHANNEL, thread_ts=root["ts"])

    body = slack.build_click(proposal, "incident:approve", user="UAPPROVER1")
    headers = sign_request(body, secret=SIGNING_SECRET)

    verifier = SignatureVerifier(SIGNING_SECRET)
    stamp, signature = headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]
    assert verifier.is_valid(body, stamp, signature)
    payload = json.loads(parse_qs(body)["payload"][0])
    [action] = payload["actions"]
    assert (action["action_id"], action["value"], action["block_id"]) == (
        "incident:approve",
        "INC-1:restart",
        "proposal",
    )
    assert payload["user"]["id"] == "UAPPROVER1"
    assert payload["channel"]["id"] == root["channel"]
    assert (payload["message"]["ts"], payload["message"]["thread_ts"]) == (
        proposal.ts,
        root["ts"],
    )
    assert payload["response_url"].startswith(f"{slack.base_url}/response/")
    with pytest.raises(LookupError):
        slack.build_click(proposal, "incident:escalate", user="UAPPROVER1")


async def test_waiting_for_a_button_returns_the_message_once_an_edit_adds_it(slack, slack_client):
    waiting = asyncio.create_task(
        slack.wait_for_posted(lambda message: message.has_button("incident:approve"))
    )
    root = await slack_client.chat_postMessage(channel=CHANNEL, text="INC-1 opened")
    await slack_client.chat_update(
        channel=root["channel"], ts=root["ts"], text="INC-1", blocks=[APPROVE_OR_REJECT]
    )

    message = await waiting

    assert (message.ts, message.text) == (root["ts"], "INC-1")
    with pytest.raises(TimeoutError):
        slack.wait_for_message(lambda message: message.text == "never posted", timeout=0.05)


def build_tracker(jira):
    return JiraTracker(
        url=jira.base_url, email="", token=SecretStr("t"), deployment="auto", timeout_seconds=5
    )


def build_ticket(incident_id):
    return NewTicket(
        incident_id=incident_id,
        project="OPS",
        issue_type="Incident",
        summary=f"{incident_id}: orders_daily failed",
        description=Message(text="It failed."),
        labels=("incident-bot", to_incident_label(incident_id)),
        priority="High",
    )


async def test_jira_down_fails_every_call_then_comes_back_with_its_issues(jira):
    tracker = build_tracker(jira)
    first = await tracker.create(build_ticket("INC-1"))
    calls_before = len(jira.calls)

    jira.set_down(True)
    with pytest.raises(TrackerUnavailable):
        await tracker.create(build_ticket("INC-2"))
    with pytest.raises(TrackerUnavailable):
        await tracker.find_by_incident("INC-1")
    statuses_while_down = {call.status for call in jira.calls[calls_before:]}
    jira.set_down(False)
    second = await tracker.create(build_ticket("INC-2"))
    found = await tracker.find_by_incident("INC-1")

    assert statuses_while_down == {503}
    assert found is not None and found.key == first.key
    assert [(issue.key, issue.labels) for issue in jira.get_issues()] == [
        (first.key, ("incident-bot", "incident-bot-INC-1")),
        (second.key, ("incident-bot", "incident-bot-INC-2")),
    ]
    [labelled] = jira.get_issues(label=to_incident_label("INC-2"))
    assert (labelled.key, labelled.status) == (second.key, "To Do")


async def create_message(client):
    return await client.messages.create(
        model="claude-test",
        max_tokens=64,
        messages=[{"role": "user", "content": "Why did the task fail?"}],
    )


async def test_overloaded_anthropic_answers_529_until_set_back(claude, anthropic_client):
    claude.queue(tool_use("read_evidence", {"source": "alert"}))

    claude.set_overloaded(True)
    with pytest.raises(anthropic.APIStatusError) as raised:
        await create_message(anthropic_client)
    claude.set_overloaded(False)
    reply = await create_message(anthropic_client)

    assert raised.value.status_code == OVERLOADED_STATUS
    assert raised.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }
    assert reply.stop_reason == "tool_use"


async def test_with_no_turn_queued_anthropic_ends_its_turn_with_text(anthropic_client):
    reply = await create_message(anthropic_client)

    assert reply.stop_reason == "end_turn"
    assert [block.type for block in reply.content] == ["text"]


@pytest.mark.parametrize(
    ("overloaded", "reason"),
    [(False, to_claude_no_answer()), (True, to_claude_overloaded())],
    ids=["default-answer", "overloaded"],
)
async def test_diagnoser_keeps_the_rules_diagnosis_when_claude_gives_none(
    claude, anthropic_client, overloaded, reason
):
    claude.set_overloaded(overloaded)
    diagnoser = ClaudeDiagnoser(
        client=anthropic_client,
        model="claude-test",
        catalogue=load_catalogue(builtin_runbooks_dir()),
        limits=ClaudeLimits(),
    )
    alert = Alert(
        source=Source.AIRFLOW,
        delivery_id="d-1",
        fingerprint="f-1",
        status=AlertStatus.FIRING,
        title="Task transform failed",
    )

    diagnosis = await diagnoser.diagnose(
        alert, evidence=[Evidence(source="alert", text="Task transform failed")], rules=RULES
    )

    assert diagnosis.engine == "rules"
    assert (diagnosis.failure_class, diagnosis.confidence) == ("unknown", 0.31)
    assert diagnosis.notes == [to_claude_fallback(reason)]
