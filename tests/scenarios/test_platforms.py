"""One incident scenario on every chat surface: Slack, Teams and the local console.

An alert opens a thread in the routed place; someone acknowledges it with the incident's
button through that platform's own inbound path (a signed Slack request, a Teams invoke with
a Bot Framework JWT, the console's click route); the thread says who did, and the root
message is edited in place rather than posted again.
"""

import json
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.chaos.standins.slack import serve_slack
from bot.chaos.standins.slack_requests import build_block_actions, sign_request
from bot.chat.console.security import PAGE_HEADER
from bot.chat.teams.adapter import TeamsChat
from tests.fakes.teams import APP_ID, TENANT_ID, build_click, serve_teams
from tests.scenarios.harness import (
    SLACK_SIGNING_SECRET,
    SLACK_TOKEN,
    build_settings,
    start_bot,
    wait_for,
)

PAYLOADS = Path(__file__).resolve().parent.parent / "alerts" / "payloads"
TEAMS_CONVERSATION = "19:data-incidents@thread.tacv2"


@dataclass
class Record:
    """What a surface shows of one incident: roots posted, edits of its root, its replies."""

    roots: int
    updates: int
    replies: list[str]


def datadog_body() -> bytes:
    return (PAYLOADS / "datadog_custom_triggered.json").read_bytes()


class SlackSurface:
    user = "U0USER01"

    def __init__(self, stack: ExitStack) -> None:
        self.slack = stack.enter_context(serve_slack())

    def settings(self, redis_url):
        return build_settings(
            redis_url,
            slack_bot_token=SLACK_TOKEN,
            slack_signing_secret=SLACK_SIGNING_SECRET,
            slack_api_url=self.slack.api_url,
        )

    def prepare(self, runtime):
        pass

    async def click_ack(self, bot, incident) -> int:
        body = build_block_actions(
            action="incident.ack",
            value=incident.id,
            response_url=self.slack.response_url(),
            user=self.user,
            channel=incident.thread.channel,
            message_ts=incident.thread.root_id,
        )
        headers = sign_request(body, secret=SLACK_SIGNING_SECRET)
        response = await bot.client.post("/slack/events", content=body, headers=headers)
        return response.status_code

    async def get_record(self, bot, root_id) -> Record:
        posted = self.slack.calls_to("chat.postMessage")
        return Record(
            roots=len([call for call in posted if "thread_ts" not in call.params]),
            updates=len(
                [c for c in self.slack.calls_to("chat.update") if c.params["ts"] == root_id]
            ),
            replies=[json.dumps(c.params) for c in posted if c.params.get("thread_ts") == root_id],
        )


class TeamsSurface:
    user = "5d1c3f1e-0000-4000-8000-00000000aaaa"

    def __init__(self, stack: ExitStack) -> None:
        self.teams = stack.enter_context(serve_teams())

    def settings(self, redis_url):
        return build_settings(
            redis_url,
            teams_app_id=APP_ID,
            teams_app_password="test-password",
            teams_tenant_id=TENANT_ID,
            teams_service_url=self.teams.service_url,
            teams_openid_metadata_url=self.teams.keys.openid_metadata_url,
            teams_default_conversation=TEAMS_CONVERSATION,
        )

    def prepare(self, runtime):
        assert isinstance(runtime.chat, TeamsChat)
        runtime.chat.get_token = self.teams.get_token_async

    async def click_ack(self, bot, incident) -> int:
        root_id = incident.thread.root_id
        activity = build_click(
            "incident.ack",
            incident.id,
            service_url=self.teams.service_url,
            user=self.user,
            conversation=f"{incident.thread.channel};messageid={root_id}",
            card_id=root_id,
        )
        token = self.teams.keys.sign_token(serviceurl=self.teams.service_url)
        headers = {"Authorization": f"Bearer {token}"}
        response = await bot.client.post("/teams/messages", json=activity, headers=headers)
        return response.status_code

    async def get_record(self, bot, root_id) -> Record:
        updates = self.teams.calls_to("update")
        return Record(
            roots=len(self.teams.calls_to("send")),
            updates=len([call for call in updates if call.path.endswith(f"/{root_id}")]),
            replies=[
                json.dumps(call.json)
                for call in self.teams.calls_to("reply")
                if call.json["replyToId"] == root_id
            ],
        )


class ConsoleSurface:
    user = "console"

    def __init__(self, stack: ExitStack) -> None:
        pass

    def settings(self, redis_url):
        return build_settings(redis_url)

    def prepare(self, runtime):
        pass

    async def click_ack(self, bot, incident) -> int:
        body = {"action": "ack", "value": incident.id, "root_id": incident.thread.root_id}
        # What the console page sends: its own header, to a loopback host name.
        headers = {PAGE_HEADER: "1"}
        url = "http://127.0.0.1/console/click"
        response = await bot.client.post(url, json=body, headers=headers)
        return response.status_code

    async def get_record(self, bot, root_id) -> Record:
        store = bot.runtime.console.store
        thread = await store.get_thread(root_id, viewer="nobody")
        return Record(
            roots=len(await store.list_threads()),
            # The console keeps the latest content only; an edit shows as its time.
            updates=int(thread.root.updated_at is not None),
            replies=[stored.message.model_dump_json() for stored in thread.messages],
        )


SURFACES = {"slack": SlackSurface, "teams": TeamsSurface, "console": ConsoleSurface}


@pytest.fixture(params=sorted(SURFACES))
def surface(request):
    with ExitStack() as stack:
        yield SURFACES[request.param](stack)


async def test_alert_thread_and_ack_click_behave_alike_on_every_surface(redis, redis_url, surface):
    async with start_bot(surface.settings(redis_url), prepare=surface.prepare) as bot:
        assert (await bot.post_datadog(datadog_body())).status_code == 202
        await bot.wait_until_idle()
        [incident] = await bot.runtime.store.list_open()

        assert await surface.click_ack(bot, incident) == 200

        async def is_acknowledged():
            current = await bot.runtime.store.get(incident.id)
            return current.acknowledged_by == surface.user

        await wait_for(is_acknowledged)
        await bot.wait_until_idle()
        record = await surface.get_record(bot, incident.thread.root_id)
        final = await bot.runtime.store.get(incident.id)

    assert record.roots == 1
    assert final.thread == incident.thread
    assert record.updates >= 1
    assert any(f"acknowledged by {surface.user}" in reply for reply in record.replies)
