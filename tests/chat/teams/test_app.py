"""The inbound path with the real Teams SDK: JWTs checked against a local key server."""

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from bot.chat.port import ThreadRef
from bot.chat.teams.adapter import TeamsChat
from bot.chat.teams.app import to_command_text, to_thread
from tests.chat.teams.conftest import CHANNEL
from tests.fakes.teams import APP_ID, TENANT_ID, KeyServer, build_click, build_mention
from tests.scenarios.harness import build_settings, start_bot

PAYLOADS = Path(__file__).resolve().parents[2] / "alerts" / "payloads"
USER = "5d1c3f1e-0000-4000-8000-00000000aaaa"


def datadog_body() -> bytes:
    payload = json.loads((PAYLOADS / "datadog_custom_triggered.json").read_text())
    return json.dumps(payload | {"id": "7361612097364591244", "transition": "Triggered"}).encode()


@pytest.fixture
def settings(redis, redis_url, teams):
    return build_settings(
        redis_url,
        teams_app_id=APP_ID,
        teams_app_password="test-password",
        teams_tenant_id=TENANT_ID,
        teams_service_url=teams.service_url,
        teams_openid_metadata_url=teams.keys.openid_metadata_url,
        teams_default_conversation=CHANNEL,
    )


def use_test_tokens(teams):
    def prepare(runtime):
        chat = runtime.chat
        assert isinstance(chat, TeamsChat)
        chat.get_token = teams.get_token_async

    return prepare


async def open_incident(bot, teams) -> tuple[str, str]:
    await bot.post_datadog(datadog_body())
    await bot.wait_until_idle()
    [incident] = await bot.runtime.store.list_open()
    [root] = teams.calls_to("send")
    assert incident.thread.channel in root.path
    return incident.id, incident.thread.root_id


async def post_activity(bot, teams, activity, **claims):
    claims = {"serviceurl": activity["serviceUrl"]} | claims
    token = teams.keys.sign_token(**claims)
    headers = {"Authorization": f"Bearer {token}"}
    return await bot.client.post("/teams/messages", json=activity, headers=headers)


def click(teams, incident_id, card_id, verb="incident.ack"):
    return build_click(
        verb,
        incident_id,
        service_url=teams.service_url,
        user=USER,
        conversation=f"{CHANNEL};messageid={card_id}",
        card_id=card_id,
    )


async def test_click_reaches_click_handler_and_answers_in_invoke_body(settings, teams):
    async with start_bot(settings, prepare=use_test_tokens(teams)) as bot:
        incident_id, card_id = await open_incident(bot, teams)

        response = await post_activity(bot, teams, click(teams, incident_id, card_id))
        incident = await bot.runtime.store.get(incident_id)

    assert response.status_code == 200
    body = response.json()
    assert body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.activity.message"
    assert incident_id in body["value"]
    assert incident.acknowledged_by == USER


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"aud": "some-other-bot"}, id="wrong-audience"),
        pytest.param({"serviceurl": "https://smba.evil.example/"}, id="mismatched-service-url"),
        pytest.param({"iss": "https://issuer.evil.example"}, id="wrong-issuer"),
        pytest.param({"exp": 1_000_000_000}, id="expired"),
    ],
)
async def test_refused_token_gets_401_and_changes_nothing(settings, teams, claims):
    async with start_bot(settings, prepare=use_test_tokens(teams)) as bot:
        incident_id, card_id = await open_incident(bot, teams)
        calls_before = len(teams.connector.requests)

        response = await post_activity(bot, teams, click(teams, incident_id, card_id), **claims)
        incident = await bot.runtime.store.get(incident_id)
        await bot.wait_until_idle()

    assert response.status_code == 401
    assert incident.acknowledged_by is None
    assert len(teams.connector.requests) == calls_before


async def test_token_signed_by_another_key_gets_401(settings, teams):
    forger = KeyServer(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    async with start_bot(settings, prepare=use_test_tokens(teams)) as bot:
        incident_id, card_id = await open_incident(bot, teams)
        activity = click(teams, incident_id, card_id)
        token = forger.sign_token(serviceurl=activity["serviceUrl"])

        response = await bot.client.post(
            "/teams/messages", json=activity, headers={"Authorization": f"Bearer {token}"}
        )
        incident = await bot.runtime.store.get(incident_id)

    assert response.status_code == 401
    assert incident.acknowledged_by is None


@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token", "Basic dXNlcjpwYXNz"])
async def test_missing_or_malformed_token_gets_401(settings, teams, authorization):
    activity = build_mention("list", service_url=teams.service_url, user=USER, conversation=CHANNEL)
    headers = {"Authorization": authorization} if authorization else {}
    async with start_bot(settings, prepare=use_test_tokens(teams)) as bot:
        response = await bot.client.post("/teams/messages", json=activity, headers=headers)

    assert response.status_code == 401
    assert teams.connector.requests == []


async def test_activity_without_service_url_gets_401(settings, teams):
    activity = build_mention("list", service_url=teams.service_url, user=USER, conversation=CHANNEL)
    token = teams.keys.sign_token(serviceurl=teams.service_url)
    del activity["serviceUrl"]
    async with start_bot(settings, prepare=use_test_tokens(teams)) as bot:
        response = await bot.client.post(
            "/teams/messages", json=activity, headers={"Authorization": f"Bearer {token}"}
        )

    assert response.status_code == 401


async def test_mention_reaches_command_handler_and_answers_in_thread(settings, teams):
    async with start_bot(settings, prepare=use_test_tokens(teams)) as bot:
        incident_id, card_id = await open_incident(bot, teams)
        sends_before = len(teams.calls_to("send"))
        activity = build_mention(
            "status",
            service_url=teams.service_url,
            user=USER,
            conversation=f"{CHANNEL};messageid={card_id}",
        )

        response = await post_activity(bot, teams, activity)

    assert response.status_code == 200
    [answer] = teams.calls_to("send")[sends_before:]
    assert answer.path == f"/v3/conversations/{CHANNEL};messageid={card_id}/activities"
    assert incident_id in json.dumps(answer.json)
    assert answer.json["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("<at>incident-bot</at> status INC-3", "status INC-3"),
        ("<at>incident bot</at>&nbsp;list", "list"),
        ("  help  ", "help"),
        ("<at>a</at> ack <at>b</at> 12", "ack 12"),
    ],
)
def test_command_text_drops_mentions(text, command):
    assert to_command_text(text) == command


@pytest.mark.parametrize(
    ("conversation", "reply_to", "thread"),
    [
        (
            f"{CHANNEL};messageid=17",
            None,
            ThreadRef(platform="teams", channel=CHANNEL, root_id="17"),
        ),
        (
            f"{CHANNEL};messageid=17",
            "99",
            ThreadRef(platform="teams", channel=CHANNEL, root_id="17"),
        ),
        ("a:personal", "99", ThreadRef(platform="teams", channel="a:personal", root_id="99")),
        ("a:personal", None, None),
    ],
)
def test_thread_comes_from_conversation_id_or_reply_to(conversation, reply_to, thread):
    assert to_thread(conversation, reply_to) == thread
