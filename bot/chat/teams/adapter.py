"""The chat port over the Bot Connector REST API: incident cards, thread replies, edits.

Every call goes to `{serviceUrl}/v3/conversations/...` with an app token from the Teams SDK's
token manager. Calls to one conversation are paced (Teams allows a bot about 60 messages in
30 seconds per conversation), and 429, 412, 502 and 504 answers are repeated after their
Retry-After or a doubling back-off; when the attempts run out the error propagates, so the
job that made the call is retried later.
https://learn.microsoft.com/en-us/microsoftteams/platform/bots/how-to/rate-limit
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx
from microsoft_teams.api import ClientCredentials
from microsoft_teams.api.auth.cloud_environment import CloudEnvironment, from_name, with_overrides
from microsoft_teams.apps.token_manager import TokenManager

from bot.chat.models import Message
from bot.chat.port import ThreadRef
from bot.chat.slack.pacing import ChannelPacer, Clock, Sleep
from bot.chat.teams import messages
from bot.chat.teams.cards import build_attachment, build_summary
from bot.errors import ConfigError
from bot.incidents.routing import Routing
from bot.settings import Settings

logger = logging.getLogger(__name__)

PLATFORM = "teams"

RETRY_STATUSES = frozenset({412, 429, 502, 504})
MAX_ATTEMPTS = 4
PACING_INTERVAL_SECONDS = 0.5
BACKOFF_SECONDS = 1.0
# A longer Retry-After is better spent as the job's own retry than holding a worker slot.
MAX_INLINE_DELAY_SECONDS = 30.0
# Teams channel conversation ids look like 19:...@thread.tacv2; chats a:... or 29:...
CONVERSATION_PREFIXES = ("19:", "a:", "29:")

TokenSource = Callable[[], Awaitable[str]]


def to_cloud(settings: Settings) -> CloudEnvironment:
    """The SDK's cloud endpoints for `settings.teams_cloud`, with the test override applied."""
    return with_overrides(
        from_name(settings.teams_cloud),
        openid_metadata_url=settings.teams_openid_metadata_url or None,
    )


def create_token_source(manager: TokenManager) -> TokenSource:
    """Bot Connector tokens from the SDK's token manager (it caches them until they expire)."""

    async def get_token() -> str:
        token = await manager.get_bot_token()
        if token is None:
            raise ConfigError(messages.to_missing_password())
        return str(token)

    return get_token


def build_conversation_map(routing: Routing) -> dict[str, str]:
    """Teams conversation per chat channel, from the routing rules that name both."""
    # Known limit: an incident remembers only its channel, so two rules that share a channel
    # but name different Teams conversations both post to the first rule's conversation.
    mapping: dict[str, str] = {}
    for route in [*routing.rules, routing.default]:
        channel = route.channel or routing.default.channel
        conversation = route.teams_conversation or routing.default.teams_conversation
        if channel and conversation:
            mapping.setdefault(channel, conversation)
    return mapping


def create_teams_chat(
    settings: Settings, *, http: httpx.AsyncClient, routing: Routing
) -> TeamsChat:
    """The Teams chat port for production: client-credential tokens, paced and retried."""
    credentials = ClientCredentials(
        client_id=settings.teams_app_id,
        client_secret=settings.teams_app_password.get_secret_value(),
        tenant_id=settings.teams_tenant_id or None,
    )
    manager = TokenManager(credentials=credentials, cloud=to_cloud(settings))
    return TeamsChat(
        http,
        service_url=settings.teams_service_url,
        get_token=create_token_source(manager),
        bot_id=settings.teams_app_id,
        tenant_id=settings.teams_tenant_id,
        conversations=build_conversation_map(routing),
        default_conversation=settings.teams_default_conversation,
    )


class TeamsChat:
    """The chat port for Teams: incident cards, replies in their thread, in-place updates."""

    platform = PLATFORM

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        service_url: str,
        get_token: TokenSource,
        bot_id: str,
        tenant_id: str = "",
        conversations: Mapping[str, str] | None = None,
        default_conversation: str = "",
        max_attempts: int = MAX_ATTEMPTS,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._http = http
        self._service_url = service_url.rstrip("/")
        self.get_token = get_token
        self._bot_id = bot_id
        self._tenant_id = tenant_id
        self._conversations = dict(conversations or {})
        self._default_conversation = default_conversation
        self._max_attempts = max_attempts
        self._pacer = ChannelPacer(PACING_INTERVAL_SECONDS, clock=clock, sleep=sleep)
        self._clock = clock
        self._sleep = sleep
        self._personal_chats: dict[str, str] = {}

    async def post_root(self, *, channel: str, message: Message) -> ThreadRef:
        conversation = self.to_conversation(channel)
        await self._pacer.wait_turn(conversation)
        resp = await self._call("POST", conversation, "", json=_to_activity(message))
        return ThreadRef(platform=PLATFORM, channel=conversation, root_id=str(resp["id"]))

    async def post_reply(self, *, thread: ThreadRef, message: Message) -> str:
        # POST .../activities/{id} is the Bot Connector's "reply to activity": in a channel
        # it lands in the thread the root card started.
        await self._pacer.wait_turn(thread.channel)
        activity = _to_activity(message) | {"replyToId": thread.root_id}
        resp = await self._call("POST", thread.channel, thread.root_id, json=activity)
        return str(resp.get("id", ""))

    async def update_root(self, *, thread: ThreadRef, message: Message) -> None:
        await self._pacer.wait_turn(thread.channel)
        activity = _to_activity(message) | {"id": thread.root_id}
        await self._call("PUT", thread.channel, thread.root_id, json=activity)

    async def post_private(self, *, thread: ThreadRef, user: str, message: Message) -> None:
        # Teams has no message only one person sees in a channel: the bot's personal chat with
        # the user is the private place.
        conversation = await self._get_personal_chat(user)
        await self._call("POST", conversation, "", json=_to_activity(message))

    def to_conversation(self, channel: str) -> str:
        """The Teams conversation for a chat channel; raises ConfigError when none is set."""
        if channel.startswith(CONVERSATION_PREFIXES):
            return channel
        conversation = self._conversations.get(channel) or self._default_conversation
        if not conversation:
            raise ConfigError(messages.to_no_conversation(channel))
        return conversation

    async def _get_personal_chat(self, user: str) -> str:
        if known := self._personal_chats.get(user):
            return known
        body: dict[str, Any] = {
            "bot": {"id": f"28:{self._bot_id}"},
            "members": [{"id": user}],
            "isGroup": False,
        }
        if self._tenant_id:
            body |= {
                "tenantId": self._tenant_id,
                "channelData": {"tenant": {"id": self._tenant_id}},
            }
        resp = await self._call("POST", None, "", json=body)
        self._personal_chats[user] = str(resp["id"])
        return self._personal_chats[user]

    async def _call(
        self, method: str, conversation: str | None, activity_id: str, *, json: dict[str, Any]
    ) -> dict[str, Any]:
        url = _to_url(self._service_url, conversation, activity_id)
        for attempt in range(1, self._max_attempts):
            try:
                return await self._call_once(method, url, conversation, json)
            except httpx.HTTPStatusError as error:
                delay = _get_retry_delay(error.response, attempt)
                if delay is None:
                    raise
            await self._sleep(delay)
        return await self._call_once(method, url, conversation, json)

    async def _call_once(
        self, method: str, url: str, conversation: str | None, body: dict[str, Any]
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {await self.get_token()}"}
        started = self._clock()
        try:
            resp = await self._http.request(method, url, json=body, headers=headers)
        except httpx.HTTPError as error:
            _log_call(method, conversation, type(error).__name__, self._clock() - started)
            raise
        _log_call(method, conversation, f"http {resp.status_code}", self._clock() - started)
        resp.raise_for_status()
        data = resp.json() if resp.content else {}
        return data if isinstance(data, dict) else {}


def _to_activity(message: Message) -> dict[str, Any]:
    return {
        "type": "message",
        "summary": build_summary(message),
        "attachments": [build_attachment(message)],
    }


def _to_url(service_url: str, conversation: str | None, activity_id: str) -> str:
    if conversation is None:
        return f"{service_url}/v3/conversations"
    url = f"{service_url}/v3/conversations/{quote(conversation, safe=':@;=')}/activities"
    return f"{url}/{quote(activity_id, safe='')}" if activity_id else url


def _get_retry_delay(resp: httpx.Response, attempt: int) -> float | None:
    """Seconds to wait before repeating a throttled or failed-over call, or None to give up."""
    if resp.status_code not in RETRY_STATUSES:
        return None
    retry_after = resp.headers.get("Retry-After")
    try:
        delay = float(retry_after) if retry_after is not None else None
    except ValueError:
        delay = None
    if delay is None:
        delay = BACKOFF_SECONDS * 2 ** (attempt - 1)
    return delay if delay <= MAX_INLINE_DELAY_SECONDS else None


def _log_call(method: str, conversation: str | None, outcome: str, seconds: float) -> None:
    logger.info(
        "teams %s conversation=%s outcome=%s duration_ms=%.0f",
        method,
        conversation or "(new)",
        outcome,
        seconds * 1000,
    )
