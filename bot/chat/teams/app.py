"""Teams' inbound side: the Teams SDK mounted at /teams/messages, mentions and card clicks.

The SDK checks every request's Bot Framework JWT before a handler runs: RS256 with a key from
the cloud's OpenID metadata, issuer https://api.botframework.com, audience our app id, and a
`serviceurl` claim equal to the activity's serviceUrl. A request without a serviceUrl is
refused here, since the SDK would skip that last check. Unauthenticated mode stays off.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI
from microsoft_teams.api.activities.invoke.adaptive_card.action import AdaptiveCardInvokeActivity
from microsoft_teams.api.activities.message.message import MessageActivity, MessageActivityInput
from microsoft_teams.api.auth.credentials import TokenScope
from microsoft_teams.api.models.adaptive_card.adaptive_card_action_response import (
    AdaptiveCardActionMessageResponse,
)
from microsoft_teams.api.models.attachment.attachment import Attachment
from microsoft_teams.apps import ActivityContext, App, FastAPIAdapter
from microsoft_teams.apps.http.adapter import (
    HttpMethod,
    HttpRequest,
    HttpResponse,
    HttpRouteHandler,
)

from bot.chat.models import Message
from bot.chat.port import ButtonClick, ClickHandler, CommandHandler, CommandRequest, ThreadRef
from bot.chat.teams import messages
from bot.chat.teams.adapter import PLATFORM, TokenSource, to_cloud
from bot.chat.teams.cards import CARD_CONTENT_TYPE, VERB_PREFIX, build_card, build_summary
from bot.errors import ConfigError
from bot.settings import Settings

logger = logging.getLogger(__name__)

MESSAGING_PATH = "/teams/messages"
MENTION = re.compile(r"<at>.*?</at>", re.DOTALL)
THREAD_MARK = ";messageid="


def mount_teams_app(
    fastapi: FastAPI,
    settings: Settings,
    *,
    on_command: CommandHandler,
    on_click: ClickHandler,
    get_token: TokenSource | None = None,
) -> App:
    """Mount the Teams SDK at POST /teams/messages on `fastapi`, wired to the bot's handlers.

    The route appears when the app's lifespan starts. Answers to mentions are sent with tokens
    from `get_token` (pass the TeamsChat's, so both share one token cache), else from the app
    password. Raises ConfigError when neither is there.
    """
    password = settings.teams_app_password.get_secret_value()
    if not (password or get_token):
        raise ConfigError(messages.to_missing_password())
    adapter = _CheckedFastAPIAdapter(fastapi)
    app = App(
        client_id=settings.teams_app_id,
        client_secret=None if get_token else password,
        token=_to_token_provider(get_token) if get_token else None,
        tenant_id=settings.teams_tenant_id or None,
        cloud=to_cloud(settings),
        service_url=settings.teams_service_url,
        http_server_adapter=adapter,
        messaging_endpoint=MESSAGING_PATH,
        dangerously_allow_unauthenticated_requests=False,
    )
    listeners = TeamsListeners(on_command=on_command, on_click=on_click)
    app.on_card_action(listeners.handle_card_action)
    app.on_message(listeners.handle_message)

    @asynccontextmanager
    async def initialize(_: object) -> AsyncIterator[None]:
        await app.initialize()
        yield

    adapter.lifespans.append(initialize)
    return app


class TeamsListeners:
    """Turns Teams activities into CommandRequest and ButtonClick, and returns the answers."""

    def __init__(self, *, on_command: CommandHandler, on_click: ClickHandler) -> None:
        self._on_command = on_command
        self._on_click = on_click

    async def handle_card_action(
        self, ctx: ActivityContext[AdaptiveCardInvokeActivity]
    ) -> AdaptiveCardActionMessageResponse:
        activity = ctx.activity
        action = activity.value.action
        click = ButtonClick(
            platform=PLATFORM,
            user=activity.from_.aad_object_id or activity.from_.id,
            action=(action.verb or "").removeprefix(VERB_PREFIX),
            value=str(action.data.get("value", "")),
            thread=to_thread(activity.conversation.id, activity.reply_to_id),
        )
        answer = await self._on_click(click)

        # Teams shows a message answer to the person who clicked only, and leaves the card
        # as it is; the card itself is refreshed by the thread sync that follows a change.
        text = to_answer_text(answer) if answer else messages.to_click_done()
        return AdaptiveCardActionMessageResponse(value=text)

    async def handle_message(self, ctx: ActivityContext[MessageActivity]) -> None:
        activity = ctx.activity
        channel, _, root = activity.conversation.id.partition(THREAD_MARK)
        request = CommandRequest(
            platform=PLATFORM,
            user=activity.from_.aad_object_id or activity.from_.id,
            channel=channel,
            text=to_command_text(activity.text or ""),
            thread=to_thread(activity.conversation.id, None) if root else None,
        )
        answer = await self._on_command(request)

        started = time.monotonic()
        await ctx.send(to_activity_input(answer))
        logger.info(
            "teams send conversation=%s service_url=%s outcome=ok duration_ms=%.0f",
            channel,
            activity.service_url,
            (time.monotonic() - started) * 1000,
        )


def to_command_text(text: str) -> str:
    """The words of a message without its `<at>…</at>` mentions: "<at>Bot</at> list" is "list"."""
    return " ".join(MENTION.sub("", text).replace("&nbsp;", " ").split())


def to_thread(conversation_id: str, reply_to_id: str | None) -> ThreadRef | None:
    """The incident thread an activity belongs to.

    In a channel, Teams names the thread in the conversation id (`19:…;messageid=<root>`);
    elsewhere the clicked card's own id (`replyToId`) is the best reference there is.
    """
    channel, _, root = conversation_id.partition(THREAD_MARK)
    root = root or reply_to_id or ""
    if not (channel and root):
        return None
    return ThreadRef(platform=PLATFORM, channel=channel, root_id=root)


def to_answer_text(message: Message) -> str:
    return "\n\n".join(part for part in (message.header, message.text) if part)


def to_activity_input(message: Message) -> MessageActivityInput:
    attachment = Attachment(content_type=CARD_CONTENT_TYPE, content=build_card(message))
    return MessageActivityInput(text=build_summary(message)).add_attachments(attachment)


def _to_token_provider(
    get_token: TokenSource,
) -> Callable[[TokenScope, str | None], Awaitable[str]]:
    async def provide(scope: TokenScope, tenant_id: str | None) -> str:
        return await get_token()

    return provide


class _CheckedFastAPIAdapter(FastAPIAdapter):
    """The SDK's FastAPI adapter, refusing activities that carry no serviceUrl."""

    def register_route(self, method: HttpMethod, path: str, handler: HttpRouteHandler) -> None:
        async def handle_checked(request: HttpRequest) -> HttpResponse:
            if not isinstance(request["body"].get("serviceUrl"), str):
                logger.info("teams activity refused: no serviceUrl")
                return HttpResponse(status=401, body={"error": "Unauthorized"})
            return await handler(request)

        super().register_route(method, path, handle_checked)
