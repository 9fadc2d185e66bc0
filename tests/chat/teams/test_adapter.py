import httpx
import pytest

from bot.chat.models import Button, Message
from bot.chat.port import ThreadRef
from bot.chat.teams.adapter import TeamsChat
from bot.chat.teams.cards import CARD_CONTENT_TYPE
from bot.errors import ConfigError
from tests.chat.teams.conftest import CHANNEL

ROOT = Message(
    text="Airflow task failed",
    header="INC-1",
    buttons=[Button(action="ack", label="Ack", value="INC-1")],
)


async def test_post_root_sends_card_to_routed_conversation(chat, teams):
    thread = await chat.post_root(channel="data-incidents", message=ROOT)

    [call] = teams.calls_to("send")
    assert call.path == f"/v3/conversations/{CHANNEL}/activities"
    [attachment] = call.json["attachments"]
    assert attachment["contentType"] == CARD_CONTENT_TYPE
    [action_set] = [e for e in attachment["content"]["body"] if e["type"] == "ActionSet"]
    assert action_set["actions"][0]["verb"] == "incident.ack"
    assert call.json["summary"] == "Airflow task failed"
    assert thread == ThreadRef(platform="teams", channel=CHANNEL, root_id=thread.root_id)
    assert thread.root_id


async def test_calls_carry_jwt_shaped_token_from_sdk(chat, teams):
    await chat.post_root(channel="data-incidents", message=ROOT)

    [call] = teams.calls_to("send")
    token = call.headers["authorization"].removeprefix("Bearer ")
    assert token.count(".") == 2


async def test_post_reply_answers_root_activity(chat, teams):
    thread = await chat.post_root(channel="data-incidents", message=ROOT)

    reply_id = await chat.post_reply(thread=thread, message=Message(text="Diagnosis ready"))

    [call] = teams.calls_to("reply")
    assert call.path == f"/v3/conversations/{CHANNEL}/activities/{thread.root_id}"
    assert call.json["replyToId"] == thread.root_id
    assert reply_id and reply_id != thread.root_id


async def test_update_root_puts_same_activity(chat, teams):
    thread = await chat.post_root(channel="data-incidents", message=ROOT)

    await chat.update_root(thread=thread, message=Message(text="Acknowledged"))

    [call] = teams.calls_to("update")
    assert call.method == "PUT"
    assert call.path == f"/v3/conversations/{CHANNEL}/activities/{thread.root_id}"
    assert call.json["id"] == thread.root_id
    assert call.json["summary"] == "Acknowledged"


async def test_conversation_id_as_channel_is_used_directly(chat, teams):
    thread = await chat.post_root(channel="19:other@thread.tacv2", message=ROOT)

    assert thread.channel == "19:other@thread.tacv2"


async def test_unrouted_channel_without_default_is_config_error(chat):
    with pytest.raises(ConfigError, match="TEAMS_DEFAULT_CONVERSATION"):
        await chat.post_root(channel="nowhere", message=ROOT)


async def test_unrouted_channel_goes_to_default_conversation(teams, http, chat):
    default = TeamsChat(
        http,
        service_url=teams.service_url,
        get_token=chat.get_token,
        bot_id="bot",
        default_conversation="19:fallback@thread.tacv2",
    )

    thread = await default.post_root(channel="nowhere", message=ROOT)

    assert thread.channel == "19:fallback@thread.tacv2"


@pytest.mark.parametrize("status", [429, 412, 502, 504])
async def test_throttled_or_failed_over_call_is_repeated(chat, teams, sleeps, status):
    teams.connector.fail("send", status, headers={"Retry-After": "2"}, times=1)

    thread = await chat.post_root(channel="data-incidents", message=ROOT)

    assert thread.root_id
    assert len(teams.calls_to("send")) == 2
    assert 2.0 in sleeps


async def test_retry_without_retry_after_backs_off_doubling(chat, teams, sleeps):
    teams.connector.fail("update", 502, times=2)
    thread = ThreadRef(platform="teams", channel=CHANNEL, root_id="1")

    await chat.update_root(thread=thread, message=ROOT)

    assert [delay for delay in sleeps if delay >= 1.0] == [1.0, 2.0]
    assert len(teams.calls_to("update")) == 3


async def test_persistent_throttling_raises_after_last_attempt(chat, teams):
    teams.connector.fail("send", 429, headers={"Retry-After": "0"})

    with pytest.raises(httpx.HTTPStatusError):
        await chat.post_root(channel="data-incidents", message=ROOT)

    assert len(teams.calls_to("send")) == 4


@pytest.mark.parametrize("status", [400, 403, 404, 500])
async def test_other_errors_are_not_repeated(chat, teams, status):
    teams.connector.fail("send", status)

    with pytest.raises(httpx.HTTPStatusError):
        await chat.post_root(channel="data-incidents", message=ROOT)

    assert len(teams.calls_to("send")) == 1


async def test_long_retry_after_is_left_to_job_retry(chat, teams):
    teams.connector.fail("send", 429, headers={"Retry-After": "120"})

    with pytest.raises(httpx.HTTPStatusError):
        await chat.post_root(channel="data-incidents", message=ROOT)

    assert len(teams.calls_to("send")) == 1


async def test_post_private_opens_personal_chat_once(chat, teams):
    thread = ThreadRef(platform="teams", channel=CHANNEL, root_id="1")
    user = "5d1c3f1e-0000-4000-8000-00000000aaaa"

    await chat.post_private(thread=thread, user=user, message=Message(text="Refused"))
    await chat.post_private(thread=thread, user=user, message=Message(text="Refused again"))

    [create] = teams.calls_to("create_conversation")
    assert create.json["members"] == [{"id": user}]
    assert create.json["tenantId"]
    [path] = {call.path for call in teams.calls_to("send")}
    assert path.startswith("/v3/conversations/a:personal-")
    assert len(teams.calls_to("send")) == 2


async def test_each_call_logs_one_info_line(chat, teams, caplog):
    caplog.set_level("INFO", logger="bot.chat.teams.adapter")

    await chat.post_root(channel="data-incidents", message=ROOT)

    [record] = [r for r in caplog.records if r.name == "bot.chat.teams.adapter"]
    assert "outcome=http 201" in record.getMessage()
