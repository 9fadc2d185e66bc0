"""The console's web surface: the page, its JSON endpoints and the live event stream."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel, Field

from bot.chat.console import messages
from bot.chat.console.adapter import PLATFORM, ConsoleChat
from bot.chat.console.events import stream_events
from bot.chat.console.models import ThreadSummary
from bot.chat.console.page import ASSET_HEADERS, PAGE_HEADERS, build_page, get_asset
from bot.chat.console.render import build_html, build_thread_html
from bot.chat.console.security import ConsoleGuard
from bot.chat.port import ButtonClick, ClickHandler, CommandHandler, CommandRequest, ThreadRef
from bot.errors import ExpectedError
from bot.settings import Settings

logger = logging.getLogger(__name__)

T = TypeVar("T")

COMMAND_NAME = "/incident"


class ClickBody(BaseModel):
    action: str = Field(min_length=1, max_length=200)
    value: str = Field(max_length=2_000)
    root_id: str | None = Field(None, max_length=40)


class CommandBody(BaseModel):
    text: str = Field(max_length=2_000)
    root_id: str | None = Field(None, max_length=40)


class SampleBody(BaseModel):
    kind: str = Field(max_length=100)


def build_console_router(
    *,
    chat: ConsoleChat,
    settings: Settings,
    on_click: ClickHandler,
    on_command: CommandHandler,
    send_sample: Callable[[str], Awaitable[str]],
    sample_kinds: Sequence[str],
    prefix: str = "/console",
    keepalive_seconds: float = 15.0,
) -> APIRouter:
    """The console's routes under `prefix`; include the router in the app as it is.

    Off loopback every request needs settings.console_token; see bot.chat.console.security.
    Call `chat.close()` when the server starts to shut down, so open event streams end.
    """
    guard = ConsoleGuard(settings, cookie_path=prefix)
    endpoints = ConsoleEndpoints(
        chat=chat,
        settings=settings,
        guard=guard,
        on_click=on_click,
        on_command=on_command,
        send_sample=send_sample,
        sample_kinds=sample_kinds,
        prefix=prefix,
        keepalive_seconds=keepalive_seconds,
    )
    router = APIRouter(prefix=prefix, dependencies=[Depends(guard)], include_in_schema=False)
    router.add_api_route("", endpoints.get_page, methods=["GET"])
    router.add_api_route("/static/{name}", endpoints.get_static, methods=["GET"])
    router.add_api_route("/threads", endpoints.get_threads, methods=["GET"])
    router.add_api_route("/threads/{root_id}", endpoints.get_thread, methods=["GET"])
    router.add_api_route("/click", endpoints.handle_click, methods=["POST"])
    router.add_api_route("/command", endpoints.handle_command, methods=["POST"])
    router.add_api_route("/sample", endpoints.handle_sample, methods=["POST"])
    router.add_api_route("/events", endpoints.get_events, methods=["GET"])
    return router


class ConsoleEndpoints:
    """What each console route does; every request has passed the guard already."""

    def __init__(
        self,
        *,
        chat: ConsoleChat,
        settings: Settings,
        guard: ConsoleGuard,
        on_click: ClickHandler,
        on_command: CommandHandler,
        send_sample: Callable[[str], Awaitable[str]],
        sample_kinds: Sequence[str],
        prefix: str,
        keepalive_seconds: float,
    ) -> None:
        self.chat = chat
        self.user = settings.console_user
        self.default_channel = settings.default_channel
        self.guard = guard
        self.on_click = on_click
        self.on_command = on_command
        self.send_sample = send_sample
        self.sample_kinds = tuple(sample_kinds)
        self.prefix = prefix
        self.keepalive_seconds = keepalive_seconds
        self.page = build_page(base=prefix, sample_kinds=sample_kinds)

    async def get_page(self, request: Request) -> Response:
        if self.guard.has_query_token(request):
            # Move the token into a cookie and out of the address bar and history.
            response = RedirectResponse(self.prefix, status_code=303)
            self.guard.set_cookie(response, request)
            return response
        return HTMLResponse(self.page, headers=PAGE_HEADERS)

    async def get_static(self, name: str) -> Response:
        asset = get_asset(name)
        if asset is None:
            raise HTTPException(404, detail=messages.to_asset_not_found(name))
        content, media_type = asset
        return Response(content, media_type=media_type, headers=ASSET_HEADERS)

    async def get_threads(self) -> dict[str, Any]:
        summaries = await self.chat.store.list_threads()
        return {"threads": [_to_thread_item(summary) for summary in summaries]}

    async def get_thread(self, root_id: str) -> dict[str, Any]:
        with _to_http_error():
            thread = await self.chat.store.get_thread(root_id, viewer=self.user)
        return {
            "root_id": thread.root.id,
            "channel": thread.root.channel,
            "html": build_thread_html(thread),
        }

    async def handle_click(self, body: ClickBody) -> dict[str, Any]:
        """Pass the click on; its answer is kept as a private message in the thread."""
        thread = await self._get_thread_ref(body.root_id)
        click = ButtonClick(
            platform=PLATFORM, user=self.user, action=body.action, value=body.value, thread=thread
        )
        answer = await _call("click", body.action, self.on_click(click))
        if answer is None:
            return {"html": None, "stored": False}
        if thread is not None:
            await self.chat.post_private(thread=thread, user=self.user, message=answer)
        return {"html": build_html(answer), "stored": thread is not None}

    async def handle_command(self, body: CommandBody) -> dict[str, Any]:
        thread = await self._get_thread_ref(body.root_id)
        command = CommandRequest(
            platform=PLATFORM,
            user=self.user,
            channel=thread.channel if thread else self.default_channel,
            text=_to_command_text(body.text),
            thread=thread,
        )
        answer = await _call("command", command.text, self.on_command(command))
        return {"html": build_html(answer)}

    async def handle_sample(self, body: SampleBody) -> dict[str, str]:
        if body.kind not in self.sample_kinds:
            detail = messages.to_unknown_sample(body.kind, self.sample_kinds)
            raise HTTPException(422, detail=detail)
        return {"status": await _call("sample", body.kind, self.send_sample(body.kind))}

    async def get_events(self) -> StreamingResponse:
        return StreamingResponse(
            stream_events(self.chat.store, keepalive_seconds=self.keepalive_seconds),
            media_type="text/event-stream",
            # X-Accel-Buffering stops nginx from holding events back.
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    async def _get_thread_ref(self, root_id: str | None) -> ThreadRef | None:
        if root_id is None:
            return None
        with _to_http_error():
            root = await self.chat.store.get_root(root_id)
        return ThreadRef(platform=PLATFORM, channel=root.channel, root_id=root.id)


def _to_thread_item(summary: ThreadSummary) -> dict[str, Any]:
    root = summary.root
    return {
        "root_id": root.id,
        "channel": root.channel,
        "title": root.message.header or root.message.text,
        "tone": root.message.tone.value,
        "reply_count": summary.reply_count,
        "created_at": root.created_at.isoformat(),
    }


@contextmanager
def _to_http_error() -> Iterator[None]:
    """Turn an expected error into an HTTP error that carries its message."""
    try:
        yield
    except ExpectedError as exc:
        raise HTTPException(exc.status_code, detail=str(exc)) from exc


async def _call(name: str, detail: str, call: Awaitable[T]) -> T:
    """Await a click, command or sample handler and log how it went."""
    started = time.perf_counter()
    try:
        with _to_http_error():
            result = await call
    except HTTPException as exc:
        logger.info("console %s %r refused: %s", name, detail, exc.detail)
        raise
    elapsed_ms = (time.perf_counter() - started) * 1000
    logger.info("console %s %r answered in %.0f ms", name, detail, elapsed_ms)
    return result


def _to_command_text(text: str) -> str:
    """`/incident status INC-3` and `status INC-3` both become `status INC-3`."""
    words = text.strip()
    if words.split(maxsplit=1)[:1] == [COMMAND_NAME]:
        words = words.removeprefix(COMMAND_NAME).strip()
    return words
