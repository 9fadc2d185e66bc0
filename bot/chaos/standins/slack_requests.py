"""What Slack sends to an app, built as Slack builds it: signed slash commands, button
clicks (block_actions) and app mentions, for the drills' approvers and the tests.

    body = build_block_actions(action="incident.approve", value=request_id, response_url=url)
    headers = sign_request(body, secret=signing_secret)

Signing follows https://docs.slack.dev/authentication/verifying-requests-from-slack.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode

BOT_USER_ID = "UBOT0001"
TEAM_ID = "T0000001"
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
    block_id: str = "b1",
    button_text: str = "Click",
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
    payload: dict[str, Any] = {
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
                "block_id": block_id,
                "text": {"type": "plain_text", "text": button_text, "emoji": True},
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
