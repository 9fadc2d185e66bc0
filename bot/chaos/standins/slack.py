"""A local stand-in for Slack's Web API and response URLs, and signed inbound requests.

    with serve_slack() as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
        ...
        [call] = slack.calls_to("chat.postMessage")

It speaks Slack's wire format, for the chaos drills and the tests. It answers the methods
the bot uses (auth.test, chat.postMessage, chat.update, chat.postEphemeral, usergroups.list,
conversations.info) over real HTTP, records every call in arrival order, and keeps the
channel messages the bot posted and edited, with their buttons. It can be told to fail the
next calls with HTTP 429, 5xx or an `ok: false` rate-limit answer, or to degrade for a while
(`degrade(seconds)`: every Web API call answers 429 or 5xx in turn). What Slack sends to
the bot (signed clicks, commands, mentions) is built in slack_requests.py.

    message = await slack.wait_for_posted(lambda m: m.has_button("incident:approve"))
    body = slack.build_click(message, "incident:approve", user="U0USER01")
    headers = sign_request(body, secret=signing_secret)
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot.chaos.standins.server import serve_app
from bot.chaos.standins.slack_requests import BOT_USER_ID, TEAM_ID, build_block_actions

WAIT_TIMEOUT_SECONDS = 5.0
DEGRADED_STATUSES = (429, 500, 503)
# Slack asks for a pause in seconds on 429; one second keeps a drill short.
# https://docs.slack.dev/apis/web-api/rate-limits
DEGRADED_RETRY_AFTER_SECONDS = 1


@dataclass(frozen=True)
class SlackCall:
    """One request the stand-in received; `method` is "response_url" for response URLs."""

    method: str
    params: dict[str, Any]
    token: str
    received_at: float
    status: int


@dataclass(frozen=True)
class Fault:
    """How to answer a call that is told to fail: an HTTP status, or 200 with `ok: false`."""

    status: int
    error: str
    retry_after: int | None


@dataclass(frozen=True)
class SlackButton:
    """A button in a posted message's blocks, as a click would carry it."""

    action_id: str
    value: str
    block_id: str
    text: str


@dataclass(frozen=True)
class PostedMessage:
    """A channel message as it stands now: chat.update replaces its text and blocks."""

    channel: str
    ts: str
    thread_ts: str | None
    text: str
    blocks: tuple[dict[str, Any], ...]

    @property
    def buttons(self) -> list[SlackButton]:
        """Every button, in block order: those in actions blocks and section accessories."""
        return [button for block in self.blocks for button in _to_buttons(block)]

    def has_button(self, action_id: str) -> bool:
        return any(button.action_id == action_id for button in self.buttons)

    def get_button(self, action_id: str) -> SlackButton:
        """The first button with `action_id`; raises LookupError when there is none."""
        for button in self.buttons:
            if button.action_id == action_id:
                return button
        raise LookupError(f"no button {action_id!r} on message {self.ts} in {self.channel}")


class SlackStandIn:
    """The stand-in's state: recorded calls, faults, and the channels and messages it knows.

    `clock` times degradations (tests pass a fake one); call times use the monotonic clock.
    """

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.base_url = ""
        self._clock = clock
        self.user_groups: list[dict[str, Any]] = []
        self.calls: list[SlackCall] = []
        self._faults: deque[Fault] = deque()
        self._degraded_until = 0.0
        self._degraded_statuses: tuple[int, ...] = ()
        self._degraded_turns = itertools.count()
        self._messages: dict[tuple[str, str], PostedMessage] = {}
        self._response_urls = itertools.count(1)
        self._channel_ids: dict[str, str] = {}
        self._ts_counter = itertools.count(1)
        self._changed = threading.Condition()

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    def response_url(self, name: str = "1") -> str:
        return f"{self.base_url}/response/{name}"

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 429,
        error: str = "ratelimited",
        retry_after: int | None = None,
    ) -> None:
        """Answer the next `count` calls with `status`; status 200 means `ok: false, error`."""
        with self._changed:
            self._faults.extend(Fault(status, error, retry_after) for _ in range(count))

    def degrade(self, seconds: float, statuses: Sequence[int] = DEGRADED_STATUSES) -> None:
        """For `seconds` from now, answer every Web API call with `statuses` in turn.

        A 429 carries Retry-After: 1 and `{"ok": false, "error": "ratelimited"}`, a 5xx a
        plain-text body, as Slack's edge sends them. Response URLs keep working. Calls
        queued with `fail_next` go first; `degrade(0)` ends a degradation early.
        """
        with self._changed:
            self._degraded_until = self._clock() + seconds
            self._degraded_statuses = tuple(statuses)
            self._degraded_turns = itertools.count()

    @property
    def is_degraded(self) -> bool:
        with self._changed:
            return self._clock() < self._degraded_until

    def add_user_group(self, group_id: str, *, handle: str, users: list[str]) -> None:
        """Answer usergroups.list with this group; `users` only when `include_users` is set."""
        with self._changed:
            self.user_groups.append({"id": group_id, "handle": handle, "users": list(users)})

    def calls_to(self, method: str) -> list[SlackCall]:
        with self._changed:
            return [call for call in self.calls if call.method == method]

    def channel_id(self, name: str) -> str:
        """The id this stand-in gives a channel named by name (ids are answered as given)."""
        with self._changed:
            return self._get_channel_id(name)

    def messages_in(self, channel: str, *, thread_ts: str | None = None) -> list[PostedMessage]:
        """The channel's messages in the order posted; with `thread_ts`, that thread only.

        `channel` is a name or an id. A thread is its root followed by its replies.
        """
        with self._changed:
            channel_id = self._get_channel_id(channel)
            return [
                message
                for message in self._messages.values()
                if message.channel == channel_id
                and (thread_ts is None or thread_ts in (message.ts, message.thread_ts))
            ]

    def find_message(self, match: Callable[[PostedMessage], bool]) -> PostedMessage | None:
        """The latest posted channel message (as posted or edited) that matches, if any."""
        with self._changed:
            return self._find_message(match)

    def wait_for_message(
        self, match: Callable[[PostedMessage], bool], timeout: float = WAIT_TIMEOUT_SECONDS
    ) -> PostedMessage:
        """Block until a channel message (as posted or edited) matches; raise TimeoutError else.

        The latest posted of the matching messages wins.
        """
        with self._changed:
            found: list[PostedMessage] = []

            def is_found() -> bool:
                message = self._find_message(match)
                found[:] = [message] if message else []
                return bool(found)

            if not self._changed.wait_for(is_found, timeout=timeout):
                raise TimeoutError(f"no matching message within {timeout:g} s")
            return found[0]

    async def wait_for_posted(
        self,
        match: Callable[[PostedMessage], bool],
        # The wait runs in a worker thread, which asyncio.timeout could not stop.
        timeout: float = WAIT_TIMEOUT_SECONDS,  # noqa: ASYNC109
    ) -> PostedMessage:
        """`wait_for_message` without blocking the caller's event loop."""
        return await asyncio.to_thread(self.wait_for_message, match, timeout)

    def build_click(self, message: PostedMessage, action_id: str, *, user: str) -> str:
        """A block_actions body for `user` clicking the button `action_id` on `message`.

        Sign it with `sign_request` before sending it to the bot. Raises LookupError when
        the message has no such button.
        """
        button = message.get_button(action_id)
        return build_block_actions(
            action=button.action_id,
            value=button.value,
            block_id=button.block_id,
            button_text=button.text,
            response_url=self.response_url(f"click-{next(self._response_urls)}"),
            user=user,
            channel=message.channel,
            message_ts=message.ts,
            thread_ts=message.thread_ts,
        )

    def wait_for(
        self, method: str, count: int = 1, timeout: float = WAIT_TIMEOUT_SECONDS
    ) -> list[SlackCall]:
        """Block until `count` calls to `method` arrived; raise TimeoutError otherwise."""
        with self._changed:
            arrived = self._changed.wait_for(
                lambda: len(self._calls_to(method)) >= count, timeout=timeout
            )
            if not arrived:
                raise TimeoutError(f"{count} call(s) to {method} did not arrive: {self.calls}")
            return self._calls_to(method)

    async def wait_for_calls(self, method: str, count: int = 1) -> list[SlackCall]:
        """`wait_for` without blocking the caller's event loop."""
        return await asyncio.to_thread(self.wait_for, method, count)

    def build_app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/{method}", self._handle_api, methods=["GET", "POST"]),
                Route("/response/{name}", self._handle_response_url, methods=["POST"]),
            ]
        )

    async def _handle_api(self, request: Request) -> Response:
        method = request.path_params["method"]
        params = await _read_params(request)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        with self._changed:
            fault = self._take_fault()
            status = fault.status if fault else 200
            self._record(SlackCall(method, params, token, time.monotonic(), status))
            answer = None if fault else self._answer(method, params)
        if fault is not None:
            return _build_fault_response(fault)
        return JSONResponse(answer)

    async def _handle_response_url(self, request: Request) -> Response:
        params = json.loads(await request.body())
        with self._changed:
            self._record(SlackCall("response_url", params, "", time.monotonic(), 200))
        return PlainTextResponse("ok")

    def _take_fault(self) -> Fault | None:
        if self._faults:
            return self._faults.popleft()
        if self._clock() >= self._degraded_until or not self._degraded_statuses:
            return None
        turn = next(self._degraded_turns) % len(self._degraded_statuses)
        status = self._degraded_statuses[turn]
        retry_after = DEGRADED_RETRY_AFTER_SECONDS if status == 429 else None
        return Fault(status, "ratelimited", retry_after)

    def _find_message(self, match: Callable[[PostedMessage], bool]) -> PostedMessage | None:
        found = [message for message in self._messages.values() if match(message)]
        return found[-1] if found else None

    def _record(self, call: SlackCall) -> None:
        self.calls.append(call)
        self._changed.notify_all()

    def _calls_to(self, method: str) -> list[SlackCall]:
        return [call for call in self.calls if call.method == method]

    def _answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        channel = self._get_channel_id(str(params.get("channel", "")))
        if method == "auth.test":
            return {
                "ok": True,
                "url": "https://standin.slack.test/",
                "team": "Stand-in",
                "user": "incident-bot",
                "team_id": TEAM_ID,
                "user_id": BOT_USER_ID,
                "bot_id": "BBOT0001",
            }
        if method == "chat.postMessage":
            ts = self._next_ts()
            self._keep_message(channel, ts, params)
            message = {"type": "message", "ts": ts, "text": params.get("text", "")}
            return {"ok": True, "channel": channel, "ts": ts, "message": message}
        if method == "chat.update":
            self._edit_message(channel, str(params.get("ts", "")), params)
            return {
                "ok": True,
                "channel": channel,
                "ts": params.get("ts"),
                "text": params.get("text"),
            }
        if method == "chat.postEphemeral":
            return {"ok": True, "message_ts": self._next_ts()}
        if method == "usergroups.list":
            return {"ok": True, "usergroups": self._list_user_groups(params)}
        if method == "conversations.info":
            return {"ok": True, "channel": {"id": channel, "name": params.get("channel")}}
        return {"ok": False, "error": "unknown_method"}

    def _keep_message(self, channel: str, ts: str, params: dict[str, Any]) -> None:
        thread_ts = params.get("thread_ts")
        self._messages[(channel, ts)] = PostedMessage(
            channel=channel,
            ts=ts,
            thread_ts=str(thread_ts) if thread_ts else None,
            text=str(params.get("text", "")),
            blocks=_to_blocks(params.get("blocks")),
        )

    def _edit_message(self, channel: str, ts: str, params: dict[str, Any]) -> None:
        message = self._messages.get((channel, ts))
        if message is None:
            return
        edits: dict[str, Any] = {}
        if "text" in params:
            edits["text"] = str(params["text"])
        if "blocks" in params:
            edits["blocks"] = _to_blocks(params["blocks"])
        self._messages[(channel, ts)] = replace(message, **edits)

    def _list_user_groups(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        if str(params.get("include_users", "")).lower() in ("1", "true"):
            return self.user_groups
        return [{k: v for k, v in group.items() if k != "users"} for group in self.user_groups]

    def _get_channel_id(self, name: str) -> str:
        if not name or (name[0] in "CGD" and name.isupper()):
            return name
        name = name.removeprefix("#")
        return self._channel_ids.setdefault(name, f"C{len(self._channel_ids) + 1:08d}")

    def _next_ts(self) -> str:
        return f"1700000000.{next(self._ts_counter):06d}"


@contextmanager
def serve_slack() -> Iterator[SlackStandIn]:
    """Serve a fresh stand-in on a free loopback port until the block ends."""
    slack = SlackStandIn()
    with serve_app(slack.build_app()) as base_url:
        slack.base_url = base_url
        yield slack


async def _read_params(request: Request) -> dict[str, Any]:
    body = await request.body()
    if request.headers.get("content-type", "").startswith("application/json"):
        return dict(json.loads(body or b"{}"))
    # slack_sdk sends some methods (auth.test among them) form-encoded or as a query string.
    form = dict(parse_qsl(body.decode()))
    return {**dict(request.query_params), **form}


def _to_blocks(blocks: Any) -> tuple[dict[str, Any], ...]:
    # Form-encoded calls carry blocks as a JSON string, JSON calls as a list.
    if isinstance(blocks, str):
        blocks = json.loads(blocks or "[]")
    return tuple(block for block in blocks or () if isinstance(block, dict))


def _to_buttons(block: dict[str, Any]) -> list[SlackButton]:
    if block.get("type") == "actions":
        elements = block.get("elements") or []
    else:
        elements = [block.get("accessory") or {}]
    return [
        SlackButton(
            action_id=str(element.get("action_id", "")),
            value=str(element.get("value", "")),
            block_id=str(block.get("block_id", "")),
            text=str((element.get("text") or {}).get("text", "")),
        )
        for element in elements
        if element.get("type") == "button"
    ]


def _build_fault_response(fault: Fault) -> Response:
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    if fault.status >= 500:
        return PlainTextResponse("stand-in server error", status_code=fault.status, headers=headers)
    body = {"ok": False, "error": fault.error}
    return JSONResponse(body, status_code=fault.status, headers=headers)
