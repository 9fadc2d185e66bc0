"""A local stand-in for Slack's Web API and response URLs, and signed inbound requests.

    with serve_slack() as slack:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url)
        ...
        [call] = slack.calls_to("chat.postMessage")

It answers the methods the bot uses (auth.test, chat.postMessage, chat.update,
chat.postEphemeral, usergroups.list, conversations.info) over real HTTP, records every call
in arrival order, and can be told to fail the next calls with HTTP 429, 5xx or an
`ok: false` rate-limit answer. The signing helpers build requests the way Slack sends them
to the bot (https://docs.slack.dev/authentication/verifying-requests-from-slack).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.fakes.server import serve_app

BOT_USER_ID = "UBOT0001"
TEAM_ID = "T0000001"
WAIT_TIMEOUT_SECONDS = 5.0


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


class SlackStandIn:
    """The stand-in's state: recorded calls, queued faults and the channels it knows."""

    def __init__(self) -> None:
        self.base_url = ""
        self.user_groups: list[dict[str, Any]] = []
        self.calls: list[SlackCall] = []
        self._faults: deque[Fault] = deque()
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
            fault = self._faults.popleft() if self._faults else None
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
            message = {"type": "message", "ts": ts, "text": params.get("text", "")}
            return {"ok": True, "channel": channel, "ts": ts, "message": message}
        if method == "chat.update":
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


def _build_fault_response(fault: Fault) -> Response:
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    if fault.status >= 500:
        return PlainTextResponse("stand-in server error", status_code=fault.status, headers=headers)
    body = {"ok": False, "error": fault.error}
    return JSONResponse(body, status_code=fault.status, headers=headers)


FORM = "application/x-www-form-urlencoded"


def sign_request(
    body: str, *, secret: str, timestamp: int | None = None, content_type: str = FORM
) -> dict[str, str]:
    """The headers Slack sends with `body`: its timestamp and the v0 HMAC-SHA256 signature."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    base = f"v0:{stamp}:{body}".encode()
    digest = hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": content_type,
    }


def build_slash_command(
    text: str, *, response_url: str, user: str = "U0USER01", channel: str = "C0CHAN01"
) -> str:
    """A form-encoded `/incident` slash command body."""
    return urlencode(
        {
            "token": "unused-verification-token",
            "team_id": TEAM_ID,
            "team_domain": "standin",
            "channel_id": channel,
            "channel_name": "incidents",
            "user_id": user,
            "user_name": "someone",
            "command": "/incident",
            "text": text,
            "api_app_id": "A0000001",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": "1.2.3",
        }
    )


def build_block_actions(
    *,
    action: str,
    value: str,
    response_url: str,
    user: str = "U0USER01",
    channel: str = "C0CHAN01",
    message_ts: str = "1700000000.000001",
    thread_ts: str | None = None,
    ephemeral: bool = False,
) -> str:
    """A form-encoded block_actions body (`payload=` JSON) for a button click on a message.

    A click on an ephemeral message carries no `message`, as Slack keeps no copy of it.
    """
    message: dict[str, Any] = {"type": "message", "user": BOT_USER_ID, "ts": message_ts}
    if thread_ts is not None:
        message["thread_ts"] = thread_ts
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": "someone", "name": "someone", "team_id": TEAM_ID},
        "api_app_id": "A0000001",
        "token": "unused-verification-token",
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        },
        "trigger_id": "1.2.3",
        "team": {"id": TEAM_ID, "domain": "standin"},
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "incidents"},
        **({} if ephemeral else {"message": message}),
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action,
                "block_id": "b1",
                "text": {"type": "plain_text", "text": "Click", "emoji": True},
                "value": value,
                "action_ts": "1700000001.000001",
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)})


def build_app_mention(
    text: str, *, user: str = "U0USER01", channel: str = "C0CHAN01", thread_ts: str | None = None
) -> str:
    """An Events API `app_mention` callback body (JSON)."""
    event: dict[str, Any] = {
        "type": "app_mention",
        "user": user,
        "text": text,
        "ts": "1700000000.000009",
        "channel": channel,
        "event_ts": "1700000000.000009",
    }
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
    return json.dumps(
        {
            "token": "unused-verification-token",
            "team_id": TEAM_ID,
            "api_app_id": "A0000001",
            "event": event,
            "type": "event_callback",
            "event_id": "Ev0000001",
            "event_time": 1700000000,
            "authorizations": [{"team_id": TEAM_ID, "user_id": BOT_USER_ID, "is_bot": True}],
        }
    )
