"""Slack's inbound side: the `/incident` command, mentions of the bot and button clicks.

Bolt verifies every request with the signing secret (a five-minute window) before a listener
runs. Each listener acknowledges first and calls the handler afterwards, so Slack's
three-second limit never depends on the handler; Bolt answers the HTTP request as soon as
`ack()` is called and lets the listener finish in the background.
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond

from bot.chat.models import Message
from bot.chat.port import (
    ButtonClick,
    ClickHandler,
    CommandHandler,
    CommandRequest,
    ThreadRef,
)
from bot.chat.slack import messages
from bot.chat.slack.adapter import PLATFORM, SlackChat, create_slack_client
from bot.chat.slack.blocks import ACTION_PREFIX, build_blocks, build_fallback_text
from bot.errors import ConfigError
from bot.settings import Settings

logger = logging.getLogger(__name__)

COMMAND = "/incident"
INCIDENT_ACTIONS = re.compile(rf"^{re.escape(ACTION_PREFIX)}")
LEADING_MENTION = re.compile(r"^\s*<@[UW][A-Z0-9]+(?:\|[^>]*)?>")


def build_slack_app(
    settings: Settings,
    *,
    on_command: CommandHandler,
    on_click: ClickHandler,
    chat: SlackChat | None = None,
) -> AsyncSlackRequestHandler:
    """A request handler for POST /slack/events, wired to the bot's command and click handlers.

    Answers to mentions and clicks go through `chat` (pass the app's own SlackChat so they
    share its pacing). Raises ConfigError when the signing secret is missing.
    """
    signing_secret = settings.slack_signing_secret.get_secret_value()
    if not signing_secret:
        raise ConfigError(messages.to_missing_signing_secret())
    client = create_slack_client(settings)
    listeners = SlackListeners(
        on_command=on_command, on_click=on_click, chat=chat or SlackChat(client)
    )

    # With the token on the client, Bolt authorizes through one cached auth.test call.
    app = AsyncApp(signing_secret=signing_secret, client=client)
    app.command(COMMAND)(listeners.handle_command)
    app.event("app_mention")(listeners.handle_mention)
    app.action(INCIDENT_ACTIONS)(listeners.handle_click)
    return AsyncSlackRequestHandler(app)


class SlackListeners:
    """Turns Slack payloads into CommandRequest and ButtonClick, and shows the answers."""

    def __init__(
        self, *, on_command: CommandHandler, on_click: ClickHandler, chat: SlackChat
    ) -> None:
        self._on_command = on_command
        self._on_click = on_click
        self._chat = chat

    async def handle_command(
        self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond
    ) -> None:
        await ack()
        request = CommandRequest(
            platform=PLATFORM,
            user=command["user_id"],
            channel=command["channel_id"],
            text=command.get("text", "").strip(),
        )
        answer = await self._on_command(request)
        await _respond_privately(respond, answer)

    async def handle_mention(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        # Bolt acknowledges Events API requests itself before this runs.
        thread = ThreadRef(
            platform=PLATFORM,
            channel=event["channel"],
            root_id=event.get("thread_ts") or event["ts"],
        )
        request = CommandRequest(
            platform=PLATFORM,
            user=event.get("user", ""),
            channel=event["channel"],
            text=to_command_text(event.get("text", ""), bot_user_id=context.bot_user_id),
            thread=thread,
        )
        answer = await self._on_command(request)
        await self._chat.post_reply(thread=thread, message=answer)

    async def handle_click(
        self,
        ack: AsyncAck,
        body: dict[str, Any],
        action: dict[str, Any],
        respond: AsyncRespond,
    ) -> None:
        await ack()
        user = body["user"]["id"]
        click = ButtonClick(
            platform=PLATFORM,
            user=user,
            action=action["action_id"].removeprefix(ACTION_PREFIX),
            value=action.get("value", ""),
            thread=to_clicked_thread(body),
            user_groups=await self._chat.user_groups.get_groups(user),
        )
        answer = await self._on_click(click)

        if answer is None:
            return
        if click.thread is None:
            await _respond_privately(respond, answer)
            return
        await self._chat.post_private(thread=click.thread, user=click.user, message=answer)


def to_command_text(text: str, *, bot_user_id: str | None) -> str:
    """The words of a mention without the bot's own `<@U…>`: "<@UBOT> status" is "status"."""
    if bot_user_id:
        text = re.sub(rf"<@{re.escape(bot_user_id)}(?:\|[^>]*)?>", "", text)
    else:
        text = LEADING_MENTION.sub("", text)
    return " ".join(text.split())


def to_clicked_thread(body: dict[str, Any]) -> ThreadRef | None:
    """The thread of the message whose button was clicked, from a block_actions payload.

    A root message has no `thread_ts` until it has replies; a reply's `thread_ts` is its
    root. A click on an ephemeral message has no thread unless Slack names one.
    """
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = (body.get("channel") or {}).get("id") or container.get("channel_id")
    if container.get("is_ephemeral"):
        root = container.get("thread_ts")
    else:
        root = message.get("thread_ts") or message.get("ts") or container.get("message_ts")
    if not (channel and root):
        return None
    return ThreadRef(platform=PLATFORM, channel=channel, root_id=root)


async def _respond_privately(respond: AsyncRespond, message: Message) -> None:
    started = time.monotonic()
    resp = await respond(
        text=build_fallback_text(message),
        blocks=build_blocks(message),
        response_type="ephemeral",
        replace_original=False,
    )
    logger.info(
        "slack response_url outcome=http %s duration_ms=%.0f",
        resp.status_code,
        (time.monotonic() - started) * 1000,
    )
