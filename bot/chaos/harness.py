"""What every drill of a run shares: its options, the bot under drill, the stand-ins.

context = DrillContext(options, sandbox, bot, stand_ins, redis_server, progress)
score = await Drill(scenario, context).run()
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bot.chaos import messages
from bot.chaos.progress import DrillProgress
from bot.chaos.redis_server import RedisServer
from bot.chaos.sandbox import Sandbox
from bot.chaos.standins.anthropic import AnthropicStandIn
from bot.chaos.standins.jira import JiraStandIn
from bot.chaos.standins.slack import SlackStandIn
from bot.chaos.standins.slack_requests import sign_request
from bot.errors import ConfigError
from bot.runtime import Runtime

logger = logging.getLogger(__name__)

CHANNEL = "data-incidents"


@dataclass(frozen=True)
class DrillOptions:
    """Where the drills keep their sandbox and how long they give each part."""

    root: Path = Path("var/chaos")
    # How long an approval request stays open before it expires and the incident escalates.
    approval_window_seconds: float = 20.0
    scenario_timeout_seconds: float = 240.0
    # How long a control run is watched, after it succeeded, for an incident it must not open.
    quiet_seconds: float = 5.0
    slack_errors_seconds: float = 12.0
    # After the drill: for the last alerts, the ticket, a vote and the closing resolve.
    alert_wait_seconds: float = 30.0
    ticket_wait_seconds: float = 90.0
    click_wait_seconds: float = 15.0
    close_wait_seconds: float = 30.0


@dataclass
class StandIns:
    """Slack, Jira and the Messages API as the bot meets them during the drills."""

    slack: SlackStandIn
    jira: JiraStandIn
    llm: AnthropicStandIn


@dataclass
class DrillBot:
    """The bot under drill: its runtime (read to score, never to act) and a client for it."""

    runtime: Runtime
    signing_secret: str = field(repr=False)
    client: httpx.AsyncClient

    async def send_to_slack_endpoint(self, body: str) -> None:
        """Post a body signed as Slack signs it (a button click, a slash command) to the bot.

        Raises ConfigError when the bot refuses it.
        """
        headers = sign_request(body, secret=self.signing_secret)
        response = await self.client.post("/slack/events", content=body, headers=headers)
        logger.info("chaos request to /slack/events: %d", response.status_code)
        if response.status_code != 200:
            raise ConfigError(messages.to_click_refused(response.status_code, response.text))


@dataclass
class DrillContext:
    """What every drill of a run shares: the sandbox, the bot and its dependencies."""

    options: DrillOptions
    sandbox: Sandbox
    bot: DrillBot
    stand_ins: StandIns
    redis_server: RedisServer
    progress: DrillProgress


def to_slack_user(approver: str) -> str:
    """The Slack user id a scripted approver clicks as: approver-1 is UAPPROVER1."""
    return "U" + "".join(char for char in approver.upper() if char.isalnum())
