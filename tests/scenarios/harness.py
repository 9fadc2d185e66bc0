"""A whole bot in the test's event loop: runtime, app with its in-process worker, a client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI

from bot.app import create_app
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings

DATADOG_SECRET = "dd-test-secret"
AIRFLOW_TOKEN = "airflow-test-token"
SLACK_TOKEN = "xoxb-test-token"
SLACK_SIGNING_SECRET = "test-signing-secret"
TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:data-alarms"


def build_settings(redis_url: str, **overrides: object) -> Settings:
    fields: dict[str, object] = {
        "redis_url": redis_url,
        "datadog_secret": DATADOG_SECRET,
        "airflow_callback_token": AIRFLOW_TOKEN,
        "sns_topic_arns": TOPIC_ARN,
        "default_channel": "data-incidents",
        "worker_shutdown_grace_seconds": 0,
    }
    return Settings(_env_file=None, **(fields | overrides))  # type: ignore[arg-type]


@dataclass
class Bot:
    runtime: Runtime
    app: FastAPI
    client: httpx.AsyncClient

    async def post_datadog(self, body: bytes) -> httpx.Response:
        headers = {"X-Incident-Bot-Secret": DATADOG_SECRET, "Content-Type": "application/json"}
        return await self.client.post("/webhooks/datadog", content=body, headers=headers)

    async def wait_until_idle(self, limit: float = 10.0) -> None:
        """Wait until the queue has nothing queued or running (jobs may spawn jobs)."""
        await wait_for(self._is_idle, limit=limit)

    async def _is_idle(self) -> bool:
        queue = self.runtime.queue
        return await queue.count("queued") == 0 and await queue.count("active") == 0


@asynccontextmanager
async def start_bot(
    settings: Settings, *, prepare: Callable[[Runtime], None] | None = None
) -> AsyncIterator[Bot]:
    """Run a whole bot; `prepare` may swap a runtime part (a verifier, a client) before the app."""
    async with open_runtime(settings) as runtime:
        if prepare is not None:
            prepare(runtime)
        app = create_app(runtime)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bot") as client:
                yield Bot(runtime=runtime, app=app, client=client)


async def wait_for(
    condition: Callable[[], Awaitable[bool]], *, limit: float = 10.0, interval: float = 0.02
) -> None:
    """Poll `condition` until it holds or `limit` seconds pass.

    The bot works in background jobs whose state lives in Redis; there is no in-process event
    to await, so this polls.
    """
    async with asyncio.timeout(limit):
        while not await condition():  # noqa: ASYNC110
            await asyncio.sleep(interval)
