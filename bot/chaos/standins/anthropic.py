"""A stand-in for Anthropic's Messages API (`POST /v1/messages`) that plays scripted turns.

    claude = AnthropicStandIn()
    claude.queue(tool_use("read_evidence", {"source": "airflow", "start_line": 1}),
                 tool_use("submit_diagnosis", {...}))
    with serve_app(claude.app) as base_url:
        client = AsyncAnthropic(api_key="k", base_url=base_url, max_retries=0)

or `with serve_anthropic() as claude:` and `claude.base_url`.

It speaks the API's wire format, for the chaos drills and the tests: replies with
`stop_reason: "tool_use"` and `tool_use` blocks, `usage`, and error bodies
`{"type": "error", "error": {"type": ..., "message": ...}}`. With no turn queued it answers
an `end_turn` text reply that submits nothing. Faults: `rate_limited()` (429 once),
`overloaded()` (529 once), `set_overloaded(True)` (529 until set back); route name for
`fail()`: messages.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot.chaos.standins.server import StandIn, serve_app

DEFAULT_REPLY_TEXT = "Nothing more to add."
# https://docs.anthropic.com/en/api/errors: 529 is "the API is temporarily overloaded".
OVERLOADED_STATUS = 529
OVERLOADED_BODY = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
_ids = itertools.count(1)


def tool_use(
    name: str, tool_input: dict[str, Any], *, text: str = "", usage: tuple[int, int] = (900, 120)
) -> dict[str, Any]:
    """An assistant turn that calls one tool."""
    content: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
    content.append(
        {"type": "tool_use", "id": f"toolu_{next(_ids):04d}", "name": name, "input": tool_input}
    )
    return _message(content, "tool_use", usage)


def text_reply(text: str, *, usage: tuple[int, int] = (900, 60)) -> dict[str, Any]:
    """An assistant turn that only talks."""
    return _message([{"type": "text", "text": text}], "end_turn", usage)


def error_body(error_type: str, message: str) -> dict[str, Any]:
    return {"type": "error", "error": {"type": error_type, "message": message}}


class AnthropicStandIn(StandIn):
    """Answers queued turns in order, then a default text reply; records every request."""

    def __init__(self) -> None:
        super().__init__()
        self.base_url = ""
        self.is_overloaded = False
        # Requests answered 529 while set overloaded: proof the bot met the overload.
        self.overloaded_answers = 0
        self._replies: deque[dict[str, Any]] = deque()
        self.app = Starlette(
            routes=[self.to_route("/v1/messages", "messages", self._create, methods=("POST",))]
        )

    @property
    def bodies(self) -> list[dict[str, Any]]:
        """The JSON body of every Messages request, in order."""
        return [request.json for request in self.requests if request.path == "/v1/messages"]

    def queue(self, *replies: dict[str, Any]) -> None:
        self._replies.extend(replies)

    def rate_limited(self) -> None:
        """Answer the next request 429, as the API does past the organisation's limits."""
        self.fail(
            "messages",
            429,
            body=error_body(
                "rate_limit_error", "Number of request tokens has exceeded your limit."
            ),
            headers={"retry-after": "30"},
        )

    def overloaded(self) -> None:
        """Answer the next request 529 `overloaded_error`."""
        self.fail("messages", OVERLOADED_STATUS, body=OVERLOADED_BODY)

    def set_overloaded(self, overloaded: bool) -> None:
        """Answer every request 529 `overloaded_error` until set back to False.

        Queued turns wait: they are played once the overload ends.
        """
        self.is_overloaded = overloaded

    async def _create(self, request: Request) -> Response:
        if self.is_overloaded:
            self.overloaded_answers += 1
            return JSONResponse(OVERLOADED_BODY, status_code=OVERLOADED_STATUS)
        if not request.headers.get("authorization", "").startswith("Bearer ") and not (
            request.headers.get("x-api-key")
        ):
            return JSONResponse(error_body("authentication_error", "invalid x-api-key"), 401)
        body = await request.json()
        reply = self._replies.popleft() if self._replies else text_reply(DEFAULT_REPLY_TEXT)
        return JSONResponse({**reply, "model": body.get("model", "claude-test")})


@contextmanager
def serve_anthropic() -> Iterator[AnthropicStandIn]:
    """Serve a fresh stand-in on a free loopback port; its `base_url` is the API's base URL."""
    claude = AnthropicStandIn()
    with serve_app(claude.app) as base_url:
        claude.base_url = base_url
        yield claude


def _message(
    content: list[dict[str, Any]], stop_reason: str, usage: tuple[int, int]
) -> dict[str, Any]:
    return {
        "id": f"msg_{next(_ids):06d}",
        "type": "message",
        "role": "assistant",
        "model": "claude-test",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": usage[0], "output_tokens": usage[1]},
    }
