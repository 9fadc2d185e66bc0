"""The chat port over Slack's Web API: threads, in-place edits and private answers.

Rate limits are handled in three layers: a per-channel pacer keeps to about one message a
second; slack_sdk's retry handlers repeat HTTP 429 (after Retry-After), 500/503 and dropped
connections; and a short loop here repeats `ok: false` rate-limit answers, which Slack also
sends with HTTP 200. When the attempts run out the error propagates, so the job that made
the call is retried later.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator
from slack_sdk.http_retry.interval_calculator import RetryIntervalCalculator
from slack_sdk.web.async_client import AsyncWebClient

from bot.chat.models import Message
from bot.chat.port import ThreadRef
from bot.chat.slack.blocks import build_blocks, build_fallback_text
from bot.chat.slack.pacing import ChannelPacer, Clock, Sleep
from bot.settings import Settings

logger = logging.getLogger(__name__)

PLATFORM = "slack"

# https://docs.slack.dev/apis/web-api/rate-limits: both arrive as HTTP 200 with `ok: false`.
RATE_LIMIT_ERRORS = frozenset({"ratelimited", "message_limit_exceeded"})
MAX_ATTEMPTS = 3
HTTP_RETRIES = 2
FALLBACK_DELAY_SECONDS = 1.0
# A longer Retry-After is better spent as the job's own retry than holding a worker slot.
MAX_INLINE_DELAY_SECONDS = 30.0
# Group membership changes rarely; a minute keeps busy click bursts to one call.
USER_GROUPS_TTL_SECONDS = 60.0


def create_slack_client(
    settings: Settings, *, retry_interval: RetryIntervalCalculator | None = None
) -> AsyncWebClient:
    """An AsyncWebClient on `settings.slack_api_url` that retries 429, 5xx and lost connections.

    `retry_interval` sets the back-off between 5xx and connection retries (tests shorten it).
    """
    interval = retry_interval or BackoffRetryIntervalCalculator(backoff_factor=0.5)
    handlers: list[AsyncRetryHandler] = [
        AsyncRateLimitErrorRetryHandler(max_retry_count=HTTP_RETRIES),
        AsyncServerErrorRetryHandler(max_retry_count=HTTP_RETRIES, interval_calculator=interval),
        AsyncConnectionErrorRetryHandler(
            max_retry_count=HTTP_RETRIES, interval_calculator=interval
        ),
    ]
    return AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=max(1, round(settings.http_timeout_seconds)),
        retry_handlers=handlers,
    )


def create_slack_chat(settings: Settings) -> SlackChat:
    """The Slack chat port for production: paced, retried, on `settings.slack_api_url`."""
    return SlackChat(create_slack_client(settings))


@dataclass
class _PendingEdit:
    """An edit of one message waiting for its channel's turn; later edits replace `message`."""

    message: Message
    done: asyncio.Event = field(default_factory=asyncio.Event)
    error: BaseException | None = None


class SlackChat:
    """The chat port for Slack: root messages, thread replies, edits, ephemeral answers."""

    platform = PLATFORM

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        pacer: ChannelPacer | None = None,
        max_attempts: int = MAX_ATTEMPTS,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._client = client
        self._pacer = pacer or ChannelPacer(clock=clock, sleep=sleep)
        self._max_attempts = max_attempts
        self._clock = clock
        self._sleep = sleep
        self._channel_ids: dict[str, str] = {}
        self._pending_edits: dict[tuple[str, str], _PendingEdit] = {}
        self.user_groups = SlackUserGroups(client, clock=clock)

    async def post_root(self, *, channel: str, message: Message) -> ThreadRef:
        await self._pacer.wait_turn(self._channel_ids.get(channel, channel))
        resp = await self._call(
            "chat.postMessage", channel=channel, unfurl_links=False, **_to_content(message)
        )

        # A channel named by name is answered with its id; later calls pace under the id.
        self._channel_ids[channel] = resp["channel"]
        return ThreadRef(platform=PLATFORM, channel=resp["channel"], root_id=resp["ts"])

    async def post_reply(self, *, thread: ThreadRef, message: Message) -> str:
        await self._pacer.wait_turn(thread.channel)
        resp = await self._call(
            "chat.postMessage",
            channel=thread.channel,
            thread_ts=thread.root_id,
            unfurl_links=False,
            **_to_content(message),
        )
        return str(resp["ts"])

    async def update_root(self, *, thread: ThreadRef, message: Message) -> None:
        """Edit the root; edits that pile up while waiting for the channel send only the last.

        Raises the error of the edit that carried this one's content, if that edit failed.
        """
        key = (thread.channel, thread.root_id)
        if pending := self._pending_edits.get(key):
            pending.message = message
            await pending.done.wait()
            if pending.error is not None:
                raise pending.error
            return

        pending = self._pending_edits[key] = _PendingEdit(message)
        try:
            await self._send_edit(thread, pending)
        except BaseException as error:
            # A cancelled sender must not cancel the callers whose content it carried.
            pending.error = error if isinstance(error, Exception) else RuntimeError(error)
            raise
        finally:
            pending.done.set()

    async def _send_edit(self, thread: ThreadRef, pending: _PendingEdit) -> None:
        try:
            await self._pacer.wait_turn(thread.channel)
        finally:
            # Edits arriving from now on carry newer content and need a send of their own.
            del self._pending_edits[(thread.channel, thread.root_id)]
        content = _to_content(pending.message)
        await self._call("chat.update", channel=thread.channel, ts=thread.root_id, **content)

    async def post_private(self, *, thread: ThreadRef, user: str, message: Message) -> None:
        # Ephemeral messages are Tier 4, not bound by the one-a-second channel limit.
        await self._call(
            "chat.postEphemeral",
            channel=thread.channel,
            user=user,
            thread_ts=thread.root_id,
            **_to_content(message),
        )

    async def _call(self, method: str, *, channel: str, **params: Any) -> dict[str, Any]:
        for attempt in range(1, self._max_attempts):
            try:
                return await self._call_once(method, channel=channel, **params)
            except SlackApiError as error:
                delay = _get_retry_delay(error, attempt)
                if delay is None:
                    raise
            await self._sleep(delay)
        return await self._call_once(method, channel=channel, **params)

    async def _call_once(self, method: str, *, channel: str, **params: Any) -> dict[str, Any]:
        started = self._clock()
        try:
            resp = await self._client.api_call(method, json={"channel": channel, **params})
        except SlackApiError as error:
            _log_call(method, channel, _to_outcome(error), self._clock() - started)
            raise
        _log_call(method, channel, "ok", self._clock() - started)
        return resp.data if isinstance(resp.data, dict) else {}


class SlackUserGroups:
    """Which Slack user groups (`S…`) each user is in, from one cached usergroups.list call.

    Needs the `usergroups:read` scope. Known limit: a membership change made in Slack counts
    only once the cached list is older than its time to live (60 seconds by default).
    """

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        ttl_seconds: float = USER_GROUPS_TTL_SECONDS,
        clock: Clock = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl_seconds = ttl_seconds
        self._clock = clock
        self._members: dict[str, tuple[str, ...]] = {}
        self._fetched_at: float | None = None
        self._lock = asyncio.Lock()

    async def get_groups(self, user: str) -> tuple[str, ...]:
        """The ids of `user`'s groups; none when Slack cannot say, so a click never waits on it."""
        async with self._lock:
            if self._fetched_at is None or self._clock() - self._fetched_at >= self._ttl_seconds:
                await self._refresh()
        return self._members.get(user, ())

    async def _refresh(self) -> None:
        started = self._clock()
        try:
            resp = await self._client.usergroups_list(include_users=True)
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as error:
            # A failure is not cached: the next click asks again.
            logger.info(
                "slack usergroups.list outcome=failed (%s) duration_ms=%.0f",
                type(error).__name__,
                (self._clock() - started) * 1000,
            )
            return
        self._members = to_group_members(resp.get("usergroups") or [])
        self._fetched_at = self._clock()
        logger.info(
            "slack usergroups.list outcome=ok groups=%d duration_ms=%.0f",
            len(resp.get("usergroups") or []),
            (self._fetched_at - started) * 1000,
        )


def to_group_members(groups: list[dict[str, Any]]) -> dict[str, tuple[str, ...]]:
    """Each user id mapped to the ids of the groups that list them."""
    members: dict[str, list[str]] = {}
    for group in groups:
        for user in group.get("users") or []:
            members.setdefault(user, []).append(group["id"])
    return {user: tuple(ids) for user, ids in members.items()}


def _to_content(message: Message) -> dict[str, Any]:
    return {"text": build_fallback_text(message), "blocks": build_blocks(message)}


def _to_outcome(error: SlackApiError) -> str:
    data = error.response.data
    code = data.get("error", "unknown") if isinstance(data, dict) else "no-json-body"
    return f"http {error.response.status_code} {code}"


def _get_retry_delay(error: SlackApiError, attempt: int) -> float | None:
    """Seconds to wait before repeating an `ok: false` rate-limit answer, or None to give up."""
    if error.response.status_code != 200 or not isinstance(error.response.data, dict):
        return None
    if error.response.data.get("error") not in RATE_LIMIT_ERRORS:
        return None
    retry_after = (error.response.headers or {}).get("Retry-After")
    try:
        delay = float(retry_after) if retry_after is not None else FALLBACK_DELAY_SECONDS * attempt
    except ValueError:
        delay = FALLBACK_DELAY_SECONDS * attempt
    return delay if delay <= MAX_INLINE_DELAY_SECONDS else None


def _log_call(method: str, channel: str, outcome: str, seconds: float) -> None:
    logger.info(
        "slack %s channel=%s outcome=%s duration_ms=%.0f", method, channel, outcome, seconds * 1000
    )
