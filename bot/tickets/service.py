"""The ticket service: the tracker, the sync's state and the policy, built once at start-up."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from redis.asyncio import Redis

from bot.errors import ConfigError
from bot.incidents.routing import Routing
from bot.settings import Settings
from bot.tickets import messages
from bot.tickets.policy import TicketPolicy, to_ticket_policy
from bot.tickets.port import TicketTracker
from bot.tickets.store import TicketStore

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TicketService:
    """What the ticket flows need; `bot_accounts` are the configured ids of the bot's account."""

    tracker: TicketTracker
    store: TicketStore
    policy: TicketPolicy
    bot_accounts: frozenset[str] = field(default_factory=frozenset)


def build_ticket_service(
    settings: Settings, *, routing: Routing, redis: Redis
) -> TicketService | None:
    """The Jira ticket service, or None when JIRA_URL is not set. Raises ConfigError."""
    if not settings.jira_url:
        return None
    if not settings.jira_api_token.get_secret_value():
        raise ConfigError(messages.to_missing_token())
    from bot.tickets.jira_adapter import JiraTracker

    tracker = JiraTracker(
        url=settings.jira_url,
        email=settings.jira_email,
        token=settings.jira_api_token,
        deployment=settings.jira_deployment,
        timeout_seconds=settings.http_timeout_seconds,
    )
    logger.info("jira sync is on: %s (%s)", settings.jira_url, settings.jira_deployment)
    accounts = frozenset(
        part.strip() for part in settings.jira_bot_account.split(",") if part.strip()
    )
    return TicketService(
        tracker=tracker,
        store=TicketStore(redis),
        policy=to_ticket_policy(settings, routing=routing),
        bot_accounts=accounts,
    )
