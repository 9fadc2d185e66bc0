"""The ASGI app factory: webhooks, Slack, the console, health and metrics on one app."""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from redis.exceptions import RedisError

from bot.alerts.routes import build_alert_router
from bot.alerts.samples import SAMPLE_KINDS, sample_alert
from bot.chat.console.routes import build_console_router
from bot.errors import ExpectedError
from bot.runtime import Runtime
from bot.tickets.routes import build_jira_router
from bot.worker import build_worker, stop_worker

logger = logging.getLogger(__name__)


def create_app(runtime: Runtime) -> FastAPI:
    """Build the app around an open runtime; runs the worker in-process when configured."""
    settings = runtime.settings

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        worker = build_worker(runtime) if settings.workers == "in-process" else None
        task = asyncio.create_task(worker.start()) if worker else None
        app.state.worker_task = task
        try:
            yield
        finally:
            if task:
                await stop_worker(task)

    app = FastAPI(title="incident-bot", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.runtime = runtime
    app.state.worker_task = None
    _add_error_handlers(app)
    _add_health_routes(app, runtime)
    app.include_router(
        build_alert_router(
            settings=settings,
            ingest=runtime.ingest,
            sns_verifier=runtime.sns_verifier,
            http=runtime.http,
        )
    )

    app.include_router(
        build_jira_router(
            settings=settings,
            store=runtime.store,
            tickets=runtime.tickets,
            request_sync=runtime.jobs.request_sync,
        )
    )

    async def send_sample(kind: str) -> str:
        alert = sample_alert(kind)
        alert = alert.model_copy(update={"delivery_id": f"sample-{uuid.uuid4().hex[:12]}"})
        await runtime.ingest.accept(alert)
        return f"Sample {kind} alert sent: {alert.title}"

    app.include_router(
        build_console_router(
            chat=runtime.console,
            settings=settings,
            on_click=runtime.clicks.handle_click,
            on_command=runtime.commands.handle_command,
            send_sample=send_sample,
            sample_kinds=SAMPLE_KINDS,
        )
    )
    if settings.slack_bot_token.get_secret_value():
        _add_slack_route(app, runtime)
    if settings.teams_app_id:
        _add_teams_route(app, runtime)

    @app.get("/", include_in_schema=False)
    async def index() -> RedirectResponse:
        return RedirectResponse("/console")

    return app


def _add_slack_route(app: FastAPI, runtime: Runtime) -> None:
    from bot.chat.slack.adapter import SlackChat
    from bot.chat.slack.bolt import build_slack_app

    handler = build_slack_app(
        runtime.settings,
        on_command=runtime.commands.handle_command,
        on_click=runtime.clicks.handle_click,
        chat=runtime.chat if isinstance(runtime.chat, SlackChat) else None,
    )

    @app.post("/slack/events", include_in_schema=False)
    async def handle_slack(request: Request) -> Response:
        response: Response = await handler.handle(request)
        return response


def _add_teams_route(app: FastAPI, runtime: Runtime) -> None:
    from bot.chat.teams.adapter import TeamsChat
    from bot.chat.teams.app import mount_teams_app

    mount_teams_app(
        app,
        runtime.settings,
        on_command=runtime.commands.handle_command,
        on_click=runtime.clicks.handle_click,
        get_token=runtime.chat.get_token if isinstance(runtime.chat, TeamsChat) else None,
    )


def _add_health_routes(app: FastAPI, runtime: Runtime) -> None:
    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(request: Request) -> JSONResponse:
        problems = []
        try:
            await runtime.redis.ping()
        except RedisError:
            problems.append("redis unreachable")
        task = request.app.state.worker_task
        if runtime.settings.workers == "in-process" and (task is None or task.done()):
            problems.append("in-process worker not running")
        if problems:
            return JSONResponse({"status": "not ready", "problems": problems}, 503)
        return JSONResponse({"status": "ready"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ExpectedError)
    async def handle_expected(request: Request, exc: ExpectedError) -> JSONResponse:
        logger.info("request refused", extra={"path": request.url.path, "reason": str(exc)})
        return JSONResponse({"error": str(exc)}, exc.status_code)

    @app.exception_handler(RedisError)
    async def handle_redis(request: Request, exc: RedisError) -> JSONResponse:
        logger.error("redis unavailable", extra={"path": request.url.path}, exc_info=exc)
        return JSONResponse(
            {"error": "state store unavailable; nothing was accepted, please retry"}, 503
        )

    @app.exception_handler(Exception)
    async def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
        correlation_id = uuid.uuid4().hex[:12]
        logger.error(
            "unexpected error",
            extra={"path": request.url.path, "correlation_id": correlation_id},
            exc_info=exc,
        )
        return JSONResponse({"error": "internal error", "correlation_id": correlation_id}, 500)
