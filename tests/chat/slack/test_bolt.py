import asyncio
import time

import httpx
import pytest
from fastapi import FastAPI, Request
from pydantic import SecretStr

from bot.chaos.standins.slack_requests import (
    BOT_USER_ID,
    build_app_mention,
    build_block_actions,
    build_slash_command,
    sign_request,
)
from bot.chat.models import Message
from bot.chat.port import ThreadRef
from bot.chat.slack.bolt import build_slack_app, to_command_text
from bot.errors import ConfigError
from tests.chat.slack.conftest import SIGNING_SECRET


class RecordingHandlers:
    """The bot's command and click handlers, reduced to recording what reached them."""

    def __init__(self, *, command_answer=None, click_answer=None):
        self.commands = []
        self.clicks = []
        self.release = asyncio.Event()
        self.release.set()
        self._command_answer = command_answer or Message(text="2 open incident(s)")
        self._click_answer = click_answer

    async def on_command(self, request):
        self.commands.append(request)
        await self.release.wait()
        return self._command_answer

    async def on_click(self, click):
        self.clicks.append(click)
        return self._click_answer


@pytest.fixture
def handlers():
    return RecordingHandlers(click_answer=Message(text="You may not approve this."))


@pytest.fixture
async def client(settings, handlers):
    slack_handler = build_slack_app(
        settings, on_command=handlers.on_command, on_click=handlers.on_click
    )
    api = FastAPI()

    @api.post("/slack/events")
    async def slack_events(request: Request):
        return await slack_handler.handle(request)

    transport = httpx.ASGITransport(app=api)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
        yield client


async def post_signed(client, body, *, secret=SIGNING_SECRET, timestamp=None, **sign_options):
    headers = sign_request(body, secret=secret, timestamp=timestamp, **sign_options)
    return await client.post("/slack/events", content=body, headers=headers)


async def test_signed_slash_command_reaches_the_handler_and_answers_ephemerally(
    client, slack, handlers
):
    body = build_slash_command("  list  ", response_url=slack.response_url("cmd"))

    resp = await post_signed(client, body)
    [answer] = await slack.wait_for_calls("response_url")

    assert resp.status_code == 200
    [request] = handlers.commands
    assert (request.platform, request.user, request.channel) == ("slack", "U0USER01", "C0CHAN01")
    assert (request.text, request.thread) == ("list", None)
    assert answer.params["response_type"] == "ephemeral"
    assert answer.params["text"] == "2 open incident(s)"
    assert answer.params["blocks"][0]["text"]["text"] == "2 open incident(s)"


async def test_slash_command_is_acknowledged_before_the_handler_finishes(client, slack, handlers):
    handlers.release.clear()
    body = build_slash_command("list", response_url=slack.response_url("cmd"))

    resp = await post_signed(client, body)

    assert resp.status_code == 200
    assert slack.calls_to("response_url") == []
    handlers.release.set()
    await slack.wait_for_calls("response_url")


@pytest.mark.parametrize(
    ("secret", "age_seconds"),
    [("wrong-secret", 0), (SIGNING_SECRET, 301), (SIGNING_SECRET, -301)],
    ids=["bad-signature", "older-than-five-minutes", "from-the-future"],
)
async def test_unverifiable_request_is_refused_and_never_reaches_the_handler(
    client, slack, handlers, secret, age_seconds
):
    body = build_slash_command("ack INC-1", response_url=slack.response_url("cmd"))

    resp = await post_signed(client, body, secret=secret, timestamp=int(time.time()) - age_seconds)

    assert resp.status_code == 401
    assert handlers.commands == []


async def test_request_without_signature_headers_is_refused(client, slack, handlers):
    body = build_slash_command("ack INC-1", response_url=slack.response_url("cmd"))

    resp = await client.post(
        "/slack/events",
        content=body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    assert resp.status_code == 401
    assert handlers.commands == []


@pytest.mark.parametrize(
    ("thread_ts", "root"),
    [(None, "1700000000.000005"), ("1700000000.000001", "1700000000.000001")],
    ids=["click-on-root", "click-on-reply"],
)
async def test_button_click_reaches_the_handler_and_its_answer_is_private(
    client, slack, handlers, thread_ts, root
):
    body = build_block_actions(
        action="incident.approve",
        value="p-42",
        response_url=slack.response_url("click"),
        message_ts="1700000000.000005",
        thread_ts=thread_ts,
    )

    resp = await post_signed(client, body)
    [private] = await slack.wait_for_calls("chat.postEphemeral")

    assert resp.status_code == 200
    [click] = handlers.clicks
    assert (click.user, click.action, click.value) == ("U0USER01", "approve", "p-42")
    assert click.thread == ThreadRef(platform="slack", channel="C0CHAN01", root_id=root)
    assert private.params["user"] == "U0USER01"
    assert (private.params["channel"], private.params["thread_ts"]) == ("C0CHAN01", root)
    assert private.params["text"] == "You may not approve this."


async def test_mention_runs_the_command_and_replies_in_the_thread(client, slack, handlers):
    body = build_app_mention(f"<@{BOT_USER_ID}> status INC-7", thread_ts="1700000000.000002")

    resp = await post_signed(client, body, content_type="application/json")
    [reply] = await slack.wait_for_calls("chat.postMessage")

    assert resp.status_code == 200
    [request] = handlers.commands
    assert request.text == "status INC-7"
    assert request.thread == ThreadRef(
        platform="slack", channel="C0CHAN01", root_id="1700000000.000002"
    )
    assert (reply.params["channel"], reply.params["thread_ts"]) == (
        "C0CHAN01",
        "1700000000.000002",
    )
    assert reply.params["text"] == "2 open incident(s)"


def test_missing_signing_secret_refuses_to_build_the_app(settings, handlers):
    settings = settings.model_copy(update={"slack_signing_secret": SecretStr("")})

    with pytest.raises(ConfigError):
        build_slack_app(settings, on_command=handlers.on_command, on_click=handlers.on_click)


@pytest.mark.parametrize(
    ("text", "bot_user_id", "expected"),
    [
        ("<@UBOT1> status INC-1", "UBOT1", "status INC-1"),
        ("ack <@UBOT1|incident-bot>  INC-2", "UBOT1", "ack INC-2"),
        ("<@UBOT1> ask <@U2OTHER>", "UBOT1", "ask <@U2OTHER>"),
        ("<@UBOT1> list", None, "list"),
    ],
)
def test_command_text_drops_only_the_bots_own_mention(text, bot_user_id, expected):
    assert to_command_text(text, bot_user_id=bot_user_id) == expected


async def test_click_on_an_ephemeral_message_is_answered_through_the_response_url(
    client, slack, handlers
):
    body = build_block_actions(
        action="incident.ack",
        value="INC-1",
        response_url=slack.response_url("click"),
        ephemeral=True,
    )

    await post_signed(client, body)
    [answer] = await slack.wait_for_calls("response_url")

    [click] = handlers.clicks
    assert click.thread is None
    assert answer.params["response_type"] == "ephemeral"
    assert answer.params["replace_original"] is False
    assert slack.calls_to("chat.postEphemeral") == []


@pytest.mark.parametrize(
    ("user", "groups"),
    [("U0USER01", ("S0ONCALL1",)), ("U0OTHER1", ())],
    ids=["member", "non-member"],
)
async def test_button_click_carries_the_clickers_slack_user_groups(
    client, slack, handlers, user, groups
):
    slack.add_user_group("S0ONCALL1", handle="data-oncall", users=["U0USER01"])
    body = build_block_actions(
        action="incident.approve", value="p-42", response_url=slack.response_url(), user=user
    )

    await post_signed(client, body)
    await slack.wait_for_calls("chat.postEphemeral")

    [click] = handlers.clicks
    assert click.user_groups == groups
