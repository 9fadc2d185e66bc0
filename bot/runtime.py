"""Everything a running bot needs, built once from settings and shared by app and worker."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import aclosing, asynccontextmanager
from dataclasses import dataclass

import httpx
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from saq.queue.redis import RedisQueue

from bot.actions.params import to_playbook_values
from bot.actions.service import build_action_runner
from bot.alerts.cloudwatch import SnsVerifier
from bot.alerts.models import Alert
from bot.alerts.service import Ingest
from bot.approvals.flows import Remediation
from bot.approvals.policy import get_policy
from bot.approvals.router import ClickRouter
from bot.approvals.service import ApprovalService
from bot.approvals.store import ApprovalStore
from bot.audit.store import AuditLog
from bot.chat.console.adapter import ConsoleChat
from bot.chat.port import ChatPort
from bot.diagnosis.service import Diagnoser, build_diagnoser
from bot.errors import ConfigError
from bot.incidents.commands import IncidentCommands
from bot.incidents.routing import Routing, load_routing
from bot.incidents.store import IncidentStore
from bot.runbooks.catalogue import Catalogue
from bot.runbooks.loader import get_runbook_dirs, load_catalogue
from bot.settings import Settings
from bot.state import open_redis
from bot.tickets.service import TicketService, build_ticket_service
from bot.traces.store import TraceRecorder

logger = logging.getLogger(__name__)

QUEUE_NAME = "incident-bot"

# Slack or Jira may be down for a while: jobs back off up to five minutes between tries,
# and the sweeper re-queues whatever still lags behind after that.
RETRIES = {"retries": 30, "retry_delay": 1.0, "retry_backoff": 300.0, "timeout": 300}
# A run includes its verification, which polls for as long as the playbook allows (hours), so
# saq's own timeout is off. A retry after a crash mid-run finds the idempotency key taken and
# does not act again.
RUN_OPTIONS = {"retries": 3, "retry_delay": 1.0, "timeout": 0}


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

    async def request_run(self, request_id: str) -> None:
        """Queue the run of an approved step; one job per request however often it is asked."""
        await self.queue.enqueue(
            "run_action", key=f"run:{request_id}", request_id=request_id, **RUN_OPTIONS
        )

    async def request_confirm(self, request_id: str, *, succeeded: bool, actor: str) -> None:
        await self.queue.enqueue(
            "confirm_action",
            key=f"confirm:{request_id}",
            request_id=request_id,
            succeeded=succeeded,
            actor=actor,
            **RUN_OPTIONS,
        )

    async def request_timer(self, request_id: str, *, at: int) -> None:
        """Wake `expire_approval` at `at` (epoch seconds); it lives in Redis across restarts."""
        await self.queue.enqueue(
            "expire_approval",
            key=f"approval-timer:{request_id}:{at}",
            scheduled=at,
            request_id=request_id,
            **RETRIES,
        )

    async def request_diagnosis(self, incident_id: str, alert: Alert) -> None:
        await self.queue.enqueue(
            "diagnose_incident",
            key=f"diagnose:{incident_id}:{alert.source}:{alert.delivery_id}",
            incident_id=incident_id,
            alert=alert.model_dump(mode="json"),
            **RETRIES,
        )


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
    catalogue: Catalogue
    diagnoser: Diagnoser
    audit: AuditLog
    traces: TraceRecorder
    remediation: Remediation
    clicks: ClickRouter
    tickets: TicketService | None = None


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Connect to Redis, build the services, and close them all on exit.

    Raises ConfigError, naming the file and field, when a playbook, the routing or the
    approval policy is invalid.
    """
    check_settings(settings)
    routing = load_routing(settings.routing_file, default_channel=settings.default_channel)
    catalogue = load_catalogue(*get_runbook_dirs(settings))
    policy = get_policy(settings)
    async with (
        open_redis(settings) as redis,
        httpx.AsyncClient(timeout=settings.http_timeout_seconds) as http,
        aclosing(build_diagnoser(settings, catalogue)) as diagnoser,
    ):
        queue = RedisQueue(redis, name=QUEUE_NAME)
        audit = AuditLog(redis)
        store = IncidentStore(
            redis,
            reopen_window_seconds=settings.reopen_window_seconds,
            dedup_ttl_seconds=settings.dedup_ttl_seconds,
            audit=audit,
        )
        console = ConsoleChat(redis)
        jobs = Jobs(queue, sync_tickets=bool(settings.jira_url))
        commands = IncidentCommands(store=store, request_sync=jobs.request_sync)
        remediation = Remediation(
            store=store,
            approvals=ApprovalService(store=ApprovalStore(redis), policy=policy),
            runner=build_action_runner(settings, http=http, redis=redis),
            catalogue=catalogue,
            audit=audit,
            traces=TraceRecorder(redis),
            jobs=jobs,
            oncall_group=settings.oncall_group,
            values=to_playbook_values(settings.playbook_values),
        )
        runtime = Runtime(
            settings=settings,
            redis=redis,
            queue=queue,
            jobs=jobs,
            store=store,
            routing=routing,
            chat=build_chat(settings, console, routing=routing, http=http),
            console=console,
            http=http,
            ingest=Ingest(
                redis=redis,
                enqueue=jobs.enqueue_alert,
                dedup_ttl_seconds=settings.dedup_ttl_seconds,
            ),
            commands=commands,
            sns_verifier=SnsVerifier(http_timeout=settings.http_timeout_seconds),
            catalogue=catalogue,
            diagnoser=diagnoser,
            audit=audit,
            traces=remediation.traces,
            remediation=remediation,
            clicks=ClickRouter(remediation=remediation, commands=commands, jobs=jobs),
            tickets=build_ticket_service(settings, routing=routing, redis=redis),
        )
        if not settings.jira_url:
            logger.info("jira sync is off: JIRA_URL is not set")
        try:
            yield runtime
        finally:
            await disconnect(queue)


async def disconnect(queue: RedisQueue) -> None:
    """Close the queue's connections; one Redis dropped (a restart) is not worth a traceback."""
    try:
        await queue.disconnect()
    except RedisConnectionError as exc:
        logger.warning("job queue connections already closed: %s", exc)


def build_chat(
    settings: Settings, console: ConsoleChat, *, routing: Routing, http: httpx.AsyncClient
) -> ChatPort:
    """The one chat surface incident threads go to (see CHAT_SURFACE).

    With both Slack and Teams configured, threads go to Slack unless CHAT_SURFACE=teams;
    the other platform still answers commands and clicks.
    """
    surface = to_chat_surface(settings)
    if surface == "slack":
        from bot.chat.slack.adapter import create_slack_chat

        logger.info("chat surface: slack")
        return create_slack_chat(settings)
    if surface == "teams":
        from bot.chat.teams.adapter import create_teams_chat

        logger.info("chat surface: teams")
        return create_teams_chat(settings, http=http, routing=routing)
    logger.info("chat surface: local console")
    return console


def to_chat_surface(settings: Settings) -> str:
    if settings.chat_surface != "auto":
        return settings.chat_surface
    if settings.slack_bot_token.get_secret_value():
        return "slack"
    return "teams" if settings.teams_app_id else "console"


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
    if settings.teams_app_id and not settings.teams_app_password.get_secret_value():
        raise ConfigError("TEAMS_APP_ID is set but TEAMS_APP_PASSWORD is not; set both.")
    if settings.chat_surface == "teams" and not settings.teams_app_id:
        raise ConfigError("CHAT_SURFACE=teams needs TEAMS_APP_ID and TEAMS_APP_PASSWORD.")
    if settings.chat_surface == "slack" and not settings.slack_bot_token.get_secret_value():
        raise ConfigError("CHAT_SURFACE=slack needs SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET.")
