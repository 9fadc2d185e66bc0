"""From webhook to a Teams card and back, with the real Teams SDK on a real Redis.

The Bot Connector and the key server are local stand-ins in threads of their own; inbound
tokens are signed with a throw-away RSA key the key server publishes.
"""

import json
from pathlib import Path

import pytest

from bot.chat.teams.adapter import TeamsChat
from tests.fakes.teams import APP_ID, TENANT_ID, build_click, serve_teams
from tests.scenarios.harness import build_settings, start_bot, wait_for

PAYLOADS = Path(__file__).resolve().parent.parent / "alerts" / "payloads"
ORDERS_CONVERSATION = "19:orders@thread.tacv2"
DEFAULT_CONVERSATION = "19:data-incidents@thread.tacv2"
USER = "5d1c3f1e-0000-4000-8000-00000000aaaa"
ROUTING = f"""
default:
  channel: data-incidents
rules:
  - match: {{service: orders}}
    channel: orders-incidents
    teams_conversation: "{ORDERS_CONVERSATION}"
"""


def datadog_body() -> bytes:
    payload = json.loads((PAYLOADS / "datadog_custom_triggered.json").read_text())
    return json.dumps(payload).encode()


@pytest.fixture
def teams():
    with serve_teams() as stand_in:
        yield stand_in


@pytest.fixture
def settings(redis, redis_url, teams, tmp_path):
    routing = tmp_path / "routing.yaml"
    routing.write_text(ROUTING)
    return build_settings(
        redis_url,
        routing_file=routing,
        teams_app_id=APP_ID,
        teams_app_password="test-password",
        teams_tenant_id=TENANT_ID,
        teams_service_url=teams.service_url,
        teams_openid_metadata_url=teams.keys.openid_metadata_url,
        teams_default_conversation=DEFAULT_CONVERSATION,
    )


def use_test_tokens(teams):
    def prepare(runtime):
        assert isinstance(runtime.chat, TeamsChat)
        runtime.chat.get_token = teams.get_token_async

    return prepare


async def test_alert_opens_card_in_routed_conversation_and_ack_updates_it_in_place(settings, teams):
    async with start_bot(settings, prepare=use_test_tokens(teams)) as bot:
        response = await bot.post_datadog(datadog_body())
        assert response.status_code == 202
        await bot.wait_until_idle()
        [root] = teams.calls_to("send")
        [incident] = await bot.runtime.store.list_open()
        card_id = incident.thread.root_id
        updates_before = len(teams.calls_to("update"))

        click = build_click(
            "incident.ack",
            incident.id,
            service_url=teams.service_url,
            user=USER,
            conversation=f"{ORDERS_CONVERSATION};messageid={card_id}",
            card_id=card_id,
        )
        token = teams.keys.sign_token(serviceurl=teams.service_url)
        answer = await bot.client.post(
            "/teams/messages", json=click, headers={"Authorization": f"Bearer {token}"}
        )
        await wait_for(lambda: _has_more_updates(teams, updates_before))
        await bot.wait_until_idle()
        acknowledged = await bot.runtime.store.get(incident.id)

    assert root.path == f"/v3/conversations/{ORDERS_CONVERSATION}/activities"
    assert "Rows loaded into warehouse.orders dropped to zero" in json.dumps(root.json)
    assert answer.status_code == 200
    assert answer.json()["type"] == "application/vnd.microsoft.activity.message"
    updates = teams.calls_to("update")[updates_before:]
    assert {call.path for call in updates} == {
        f"/v3/conversations/{ORDERS_CONVERSATION}/activities/{card_id}"
    }
    assert acknowledged.acknowledged_by == USER
    replies = teams.calls_to("reply")
    assert all(call.json["replyToId"] == card_id for call in replies)
    assert any(f"acknowledged by {USER}" in json.dumps(call.json) for call in replies)


async def _has_more_updates(teams, before):
    return len(teams.calls_to("update")) > before
