import asyncio
import logging

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_interval_calculators import FixedValueRetryIntervalCalculator

from bot.chat.models import Button, Message
from bot.chat.port import ThreadRef
from bot.chat.slack.adapter import SlackChat, SlackUserGroups, create_slack_client
from bot.chat.slack.pacing import ChannelPacer
from tests.chat.slack.conftest import BOT_TOKEN

# Pacing lets one message a second through; the stand-in's arrival times show it with room
# for a slow machine.
PACED_GAP_SECONDS = 0.9
UNPACED_GAP_SECONDS = 0.5


def make_chat(settings, *, interval=0.0):
    client = create_slack_client(settings, retry_interval=FixedValueRetryIntervalCalculator(0.01))
    return SlackChat(client, pacer=ChannelPacer(interval))


@pytest.fixture
def chat(settings):
    return make_chat(settings)


@pytest.fixture
def thread(slack):
    return ThreadRef(platform="slack", channel="C00000001", root_id="1700000000.000001")


def gap(first, second):
    return second.received_at - first.received_at


async def test_root_message_starts_a_thread_in_the_channel_slack_names(chat, slack):
    message = Message(
        text="INC-1 Triggered", buttons=[Button(action="ack", label="Ack", value="INC-1")]
    )

    thread = await chat.post_root(channel="incidents", message=message)

    [call] = slack.calls_to("chat.postMessage")
    assert thread == ThreadRef(
        platform="slack", channel=slack.channel_id("incidents"), root_id="1700000000.000001"
    )
    assert call.token == BOT_TOKEN
    assert call.params["channel"] == "incidents"
    assert call.params["text"] == "INC-1 Triggered"
    assert call.params["blocks"][-1]["elements"][0]["action_id"] == "incident.ack"
    assert "thread_ts" not in call.params


async def test_reply_goes_into_the_thread_and_returns_its_own_ts(chat, slack):
    thread = await chat.post_root(channel="incidents", message=Message(text="root"))

    reply_ts = await chat.post_reply(thread=thread, message=Message(text="an update"))

    _, reply_call = slack.calls_to("chat.postMessage")
    assert reply_call.params["thread_ts"] == thread.root_id
    assert reply_call.params["channel"] == thread.channel
    assert reply_ts not in (thread.root_id, "")


async def test_update_edits_the_root_message_in_place(chat, slack, thread):
    await chat.update_root(thread=thread, message=Message(text="INC-1 Resolved"))

    [call] = slack.calls_to("chat.update")
    assert (call.params["channel"], call.params["ts"]) == (thread.channel, thread.root_id)
    assert call.params["text"] == "INC-1 Resolved"


async def test_private_message_is_ephemeral_to_one_user_in_the_thread(chat, slack, thread):
    await chat.post_private(thread=thread, user="U0USER01", message=Message(text="not allowed"))

    [call] = slack.calls_to("chat.postEphemeral")
    assert call.params["user"] == "U0USER01"
    assert (call.params["channel"], call.params["thread_ts"]) == (thread.channel, thread.root_id)


async def test_http_429_is_retried_after_retry_after_seconds(chat, slack, thread):
    slack.fail_next(status=429, retry_after=1)

    await chat.post_reply(thread=thread, message=Message(text="x"))

    refused, accepted = slack.calls_to("chat.postMessage")
    assert (refused.status, accepted.status) == (429, 200)
    assert gap(refused, accepted) >= PACED_GAP_SECONDS


async def test_ok_false_ratelimited_is_retried_after_retry_after_seconds(chat, slack, thread):
    slack.fail_next(status=200, error="ratelimited", retry_after=1)

    await chat.post_reply(thread=thread, message=Message(text="x"))

    refused, accepted = slack.calls_to("chat.postMessage")
    assert gap(refused, accepted) >= PACED_GAP_SECONDS


@pytest.mark.parametrize("error", ["ratelimited", "message_limit_exceeded"])
async def test_rate_limit_answers_beyond_the_attempts_raise_for_a_later_job_retry(
    chat, slack, thread, error
):
    slack.fail_next(5, status=200, error=error, retry_after=0)

    with pytest.raises(SlackApiError) as raised:
        await chat.post_reply(thread=thread, message=Message(text="x"))

    assert raised.value.response["error"] == error
    assert len(slack.calls_to("chat.postMessage")) == 3


async def test_http_429_beyond_the_retries_raises_for_a_later_job_retry(chat, slack, thread):
    slack.fail_next(5, status=429, retry_after=0)

    with pytest.raises(SlackApiError) as raised:
        await chat.post_reply(thread=thread, message=Message(text="x"))

    assert raised.value.response.status_code == 429
    assert len(slack.calls_to("chat.postMessage")) == 3


async def test_other_ok_false_errors_are_raised_without_retry(chat, slack, thread):
    slack.fail_next(status=200, error="channel_not_found")

    with pytest.raises(SlackApiError):
        await chat.post_reply(thread=thread, message=Message(text="x"))

    assert len(slack.calls_to("chat.postMessage")) == 1


@pytest.mark.parametrize("status", [500, 503])
async def test_server_error_is_retried_with_backoff(chat, slack, thread, status):
    slack.fail_next(status=status)

    await chat.update_root(thread=thread, message=Message(text="x"))

    assert [call.status for call in slack.calls_to("chat.update")] == [status, 200]


async def test_two_messages_to_one_channel_are_about_a_second_apart(settings, slack, thread):
    chat = make_chat(settings, interval=1.0)

    await asyncio.gather(
        chat.post_reply(thread=thread, message=Message(text="first")),
        chat.post_reply(thread=thread, message=Message(text="second")),
    )

    first, second = slack.calls_to("chat.postMessage")
    assert gap(first, second) >= PACED_GAP_SECONDS


async def test_messages_to_different_channels_are_not_held_back(settings, slack):
    chat = make_chat(settings, interval=1.0)

    await asyncio.gather(
        chat.post_root(channel="C0000000A", message=Message(text="a")),
        chat.post_root(channel="C0000000B", message=Message(text="b")),
    )

    first, second = slack.calls_to("chat.postMessage")
    assert abs(gap(first, second)) < UNPACED_GAP_SECONDS


async def test_edits_waiting_for_the_channel_are_coalesced_into_the_last(settings, slack, thread):
    chat = make_chat(settings, interval=0.3)

    await asyncio.gather(
        chat.post_reply(thread=thread, message=Message(text="takes the channel's turn")),
        *(chat.update_root(thread=thread, message=Message(text=f"v{n}")) for n in (1, 2, 3)),
    )

    [edit] = slack.calls_to("chat.update")
    assert edit.params["text"] == "v3"


async def test_coalesced_edits_all_raise_when_the_edit_carrying_them_fails(settings, slack, thread):
    chat = make_chat(settings, interval=0.3)
    slack.fail_next(2, status=200, error="channel_not_found")

    results = await asyncio.gather(
        chat.post_reply(thread=thread, message=Message(text="takes the channel's turn")),
        *(chat.update_root(thread=thread, message=Message(text=f"v{n}")) for n in (1, 2, 3)),
        return_exceptions=True,
    )

    assert all(isinstance(result, SlackApiError) for result in results)
    assert len(slack.calls_to("chat.update")) == 1


async def test_every_call_logs_one_line_without_the_token(chat, slack, thread, caplog):
    slack.fail_next(status=200, error="ratelimited", retry_after=0)

    with caplog.at_level(logging.INFO, logger="bot.chat.slack"):
        await chat.post_reply(thread=thread, message=Message(text="x"))

    lines = [record.getMessage() for record in caplog.records if record.name.startswith("bot.")]
    assert len(lines) == 2
    assert "chat.postMessage" in lines[0] and "ratelimited" in lines[0]
    assert "outcome=ok" in lines[1] and thread.channel in lines[1]
    assert all(BOT_TOKEN not in record.getMessage() for record in caplog.records)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def user_groups(settings, slack, clock):
    slack.add_user_group("S0ONCALL1", handle="data-oncall", users=["U0ALICE01", "U0BOB0001"])
    slack.add_user_group("S0LEADS01", handle="data-leads", users=["U0ALICE01"])
    client = create_slack_client(settings, retry_interval=FixedValueRetryIntervalCalculator(0.01))
    return SlackUserGroups(client, ttl_seconds=60, clock=clock)


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("U0ALICE01", ("S0ONCALL1", "S0LEADS01")),
        ("U0BOB0001", ("S0ONCALL1",)),
        ("U0NOBODY1", ()),
    ],
)
async def test_user_groups_name_every_group_listing_the_user(user_groups, slack, user, expected):
    groups = await user_groups.get_groups(user)

    [call] = slack.calls_to("usergroups.list")
    assert groups == expected
    assert call.params["include_users"] in ("1", "true")


async def test_user_groups_are_listed_once_within_the_ttl_and_again_after_it(
    user_groups, slack, clock
):
    await asyncio.gather(*(user_groups.get_groups("U0ALICE01") for _ in range(5)))
    clock.now = 59.0
    await user_groups.get_groups("U0BOB0001")
    calls_within_ttl = len(slack.calls_to("usergroups.list"))
    clock.now = 60.0
    await user_groups.get_groups("U0BOB0001")

    assert calls_within_ttl == 1
    assert len(slack.calls_to("usergroups.list")) == 2


async def test_user_groups_failure_gives_no_groups_and_is_asked_again_next_time(user_groups, slack):
    slack.fail_next(status=200, error="missing_scope")

    failed = await user_groups.get_groups("U0ALICE01")
    recovered = await user_groups.get_groups("U0ALICE01")

    assert failed == ()
    assert recovered == ("S0ONCALL1", "S0LEADS01")
    assert len(slack.calls_to("usergroups.list")) == 2
