"""Everything a running bot needs, built once from settings and shared by app and worker."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from redis.asyncio import Redis
from saq.queue.redis import RedisQueue

from bot.alerts.cloudwatch import SnsVerifier
from bot.alerts.models import Alert
from bot.alerts.service import Ingest
from bot.chat.console.adapter import ConsoleChat
from bot.chat.port import ChatPort
from bot.errors import ConfigError
from bot.incidents.commands import IncidentCommands
from bot.incidents.routing import Routing, load_routing
from bot.incidents.store import IncidentStore
from bot.settings import Settings
from bot.state import open_redis
from bot.tickets.service import TicketService, build_ticket_service

logger = logging.getLogger(__name__)

QUEUE_NAME = "incident-bot"

# Slack or Jira may be down for a while: jobs back off up to five minutes between tries,
# and the sweeper re-queues whatever still lags behind after that.
RETRIES = {"retries": 30, "retry_delay": 1.0, "retry_backoff": 300.0, "timeout": 300}


class Jobs:
    """Queues the bot's background jobs on saq."""

    def __init__(self, queue: RedisQueue, *, sync_tickets: bool = False) -> None:
        self.queue = queue
        self.sync_tickets = sync_tickets

    async def enqueue_alert(self, alert: Alert) -> None:
        await self.queue.enqueue(
            "handle_alert",
            key=f"alert:{alert.source}:{alert.delivery_id}",
            alert=alert.model_dump(mode="json"),
            **RETRIES,
        )

    async def request_sync(self, incident_id: str) -> None:
        await self.queue.enqueue("sync_thread", incident_id=incident_id, **RETRIES)
        if self.sync_tickets:
            await self.queue.enqueue("sync_ticket", incident_id=incident_id, **RETRIES)


@dataclass
class Runtime:
    settings: Settings
    redis: Redis
    queue: RedisQueue
    jobs: Jobs
    store: IncidentStore
    routing: Routing
    chat: ChatPort
    console: ConsoleChat
    http: httpx.AsyncClient
    ingest: Ingest
    commands: IncidentCommands
    sns_verifier: SnsVerifier
    tickets: TicketService | None = None


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Connect to Redis, build the services, and close them all on exit."""
    check_settings(settings)
    routing = load_routing(settings.routing_file, default_channel=settings.default_channel)
    async with (
        open_redis(settings) as redis,
        httpx.AsyncClient(timeout=settings.http_timeout_seconds) as http,
    ):
        queue = RedisQueue(redis, name=QUEUE_NAME)
        store = IncidentStore(
            redis,
            reopen_window_seconds=settings.reopen_window_seconds,
            dedup_ttl_seconds=settings.dedup_ttl_seconds,
        )
        console = ConsoleChat(redis)
        jobs = Jobs(queue, sync_tickets=bool(settings.jira_url))
        runtime = Runtime(
            settings=settings,
            redis=redis,
            queue=queue,
            jobs=jobs,
            store=store,
            routing=routing,
            chat=build_chat(settings, console),
            console=console,
            http=http,
            ingest=Ingest(
                redis=redis,
                enqueue=jobs.enqueue_alert,
                dedup_ttl_seconds=settings.dedup_ttl_seconds,
            ),
            commands=IncidentCommands(store=store, request_sync=jobs.request_sync),
            sns_verifier=SnsVerifier(http_timeout=settings.http_timeout_seconds),
            tickets=build_ticket_service(settings, routing=routing, redis=redis),
        )
        if not settings.jira_url:
            logger.info("jira sync is off: JIRA_URL is not set")
        try:
            yield runtime
        finally:
            await queue.disconnect()


def build_chat(settings: Settings, console: ConsoleChat) -> ChatPort:
    if settings.slack_bot_token.get_secret_value():
        from bot.chat.slack.adapter import create_slack_chat

        logger.info("chat surface: slack")
        return create_slack_chat(settings)
    logger.info("chat surface: local console")
    return console


def check_settings(settings: Settings) -> None:
    """Refuse combinations that cannot work, with what to change."""
    if settings.workers == "external" and not settings.redis_url:
        raise ConfigError(
            "WORKERS=external needs REDIS_URL: separate worker processes cannot share the "
            "embedded Redis. Set REDIS_URL or use WORKERS=in-process."
        )
    if not settings.is_loopback and not settings.console_token.get_secret_value():
        raise ConfigError(
            f"HOST={settings.host} exposes the console beyond this machine; set CONSOLE_TOKEN "
            "or bind to 127.0.0.1."
        )
    if settings.slack_bot_token.get_secret_value() and not (
        settings.slack_signing_secret.get_secret_value()
    ):
        raise ConfigError("SLACK_BOT_TOKEN is set but SLACK_SIGNING_SECRET is not; set both.")
