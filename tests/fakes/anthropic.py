"""A stand-in for Anthropic's Messages API (`POST /v1/messages`) that plays scripted turns.

    claude = FakeAnthropic()
    claude.queue(tool_use("read_evidence", {"source": "airflow", "start_line": 1}),
                 tool_use("submit_diagnosis", {...}))
    with serve_app(claude.app) as base_url:
        client = AsyncAnthropic(api_key="k", base_url=base_url, max_retries=0)

Replies follow the API's shapes: `stop_reason: "tool_use"` with `tool_use` blocks, `usage`,
and error bodies `{"type": "error", "error": {"type": ..., "message": ...}}` for the faults
`rate_limited()` (429) and `overloaded()` (529). Route name for faults: messages.
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from tests.fakes.server import StandIn

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


class FakeAnthropic(StandIn):
    def __init__(self) -> None:
        super().__init__()
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
        self.fail(
            "messages",
            429,
            body=error_body(
                "rate_limit_error", "Number of request tokens has exceeded your limit."
            ),
            headers={"retry-after": "30"},
        )

    def overloaded(self) -> None:
        self.fail("messages", 529, body=error_body("overloaded_error", "Overloaded"))

    async def _create(self, request: Request) -> Response:
        if not request.headers.get("authorization", "").startswith("Bearer ") and not (
            request.headers.get("x-api-key")
        ):
            return JSONResponse(error_body("authentication_error", "invalid x-api-key"), 401)
        body = await request.json()
        reply = self._replies.popleft() if self._replies else text_reply("Nothing more to add.")
        return JSONResponse({**reply, "model": body.get("model", "claude-test")})


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
