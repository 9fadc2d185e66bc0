"""Fault-injection drills: the real sandbox, the whole bot, scripted approvers, a score.

    report = await run_drills(scenarios, DrillOptions(root=Path("var/chaos")), progress=progress)

Nothing is short-cut. The harness starts the sandbox (Airflow 3, its pipeline and fault
services), stand-ins for Slack, Jira and the Messages API, a Redis server of its own and the
bot itself on loopback. For each scenario (see drill.py) it switches the fault on and
triggers the DAG as Airflow's admin; the pipeline fails for real, its failure callback posts
to the bot, and the bot reads the task log through Airflow's REST API with its own `op`
account. The score is read from Airflow's event log, the audit log and the stand-ins.
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import socket
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from pathlib import Path

import httpx
import uvicorn
import yaml
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from bot.app import create_app
from bot.chaos import messages
from bot.chaos.drill import Drill
from bot.chaos.harness import (
    CHANNEL,
    DrillBot,
    DrillContext,
    DrillOptions,
    StandIns,
    to_slack_user,
)
from bot.chaos.models import DrillReport, Scenario, ScenarioScore
from bot.chaos.ports import HOST, bind_loopback
from bot.chaos.progress import DrillProgress
from bot.chaos.redis_server import RedisServer, open_redis_server
from bot.chaos.sandbox import Sandbox, open_sandbox
from bot.chaos.sandbox_home import SandboxOptions
from bot.chaos.scoring import to_skipped, to_totals
from bot.chaos.standins.anthropic import serve_anthropic
from bot.chaos.standins.jira import serve_jira
from bot.chaos.standins.slack import serve_slack
from bot.errors import ConfigError
from bot.runtime import open_runtime
from bot.settings import Settings

logger = logging.getLogger(__name__)

ONCALL_GROUP = "@data-oncall"
BOT_START_SECONDS = 60.0


class DrillSettings(Settings):
    """The bot's settings as the drills give them, and nothing from the caller's shell:
    an OBSERVE_ONLY or WORKERS there must not change the score."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


async def run_drills(
    scenarios: list[Scenario], options: DrillOptions, *, progress: DrillProgress
) -> DrillReport:
    """Run every scenario in order against one sandbox and one bot; score each and the set.

    Raises ConfigError when the sandbox or the bot cannot start.
    """
    started = time.monotonic()
    token = secrets.token_urlsafe(24)
    # Bound now, served once the sandbox is up: the failure callback's address is fixed.
    with closing(bind_loopback()) as bot_socket, open_stand_ins() as stand_ins:
        port = int(bot_socket.getsockname()[1])
        sandbox_options = SandboxOptions(
            root=options.root, incident_bot_url=f"http://{HOST}:{port}", incident_bot_token=token
        )
        progress.on_sandbox(messages.to_starting_sandbox(options.root))
        async with (
            open_redis_server(options.root / "redis") as redis_server,
            open_sandbox(sandbox_options) as sandbox,
        ):
            progress.on_sandbox(messages.to_starting_bot())
            settings = build_settings(
                options, sandbox, stand_ins, redis_server, port=port, token=token
            )
            write_policy(options, scenarios)
            async with open_drill_bot(settings, bot_socket) as bot:
                context = DrillContext(options, sandbox, bot, stand_ins, redis_server, progress)
                scores = [
                    await run_one(context, scenario, index=index, total=len(scenarios))
                    for index, scenario in enumerate(scenarios, start=1)
                ]
                chain = await bot.runtime.audit.verify()
            progress.on_sandbox(messages.to_stopping_sandbox())
    totals = to_totals(scores, audit_chain_intact=chain.ok, seconds=time.monotonic() - started)
    return DrillReport(scenarios=scores, totals=totals)


async def run_one(
    context: DrillContext, scenario: Scenario, *, index: int, total: int
) -> ScenarioScore:
    context.progress.on_started(scenario, index, total)
    reason = get_skip_reason(scenario, context.sandbox)
    score = to_skipped(scenario, reason) if reason else await Drill(scenario, context).run()
    context.progress.on_finished(score)
    return score


def get_skip_reason(scenario: Scenario, sandbox: Sandbox) -> str | None:
    """Why the scenario cannot run on this machine (a Spark one without Java), if it cannot."""
    if "java" in scenario.requires and not sandbox.java.is_usable:
        return messages.to_java_missing(sandbox.java.reason)
    return None


@contextmanager
def open_stand_ins() -> Iterator[StandIns]:
    """Slack, Jira and the Messages API as stand-ins, each on its own loopback port."""
    with serve_slack() as slack, serve_jira("Server") as jira, serve_anthropic() as llm:
        yield StandIns(slack=slack, jira=jira, llm=llm)


def build_settings(
    options: DrillOptions,
    sandbox: Sandbox,
    stand_ins: StandIns,
    redis_server: RedisServer,
    *,
    port: int,
    token: str,
) -> Settings:
    """The bot as a team would run it, pointed at the sandbox and the stand-ins."""
    fields: dict[str, object] = {
        "host": HOST,
        "port": port,
        "data_dir": options.root / "bot",
        "redis_url": redis_server.url,
        "log_format": "json",
        "worker_shutdown_grace_seconds": 0,
        "airflow_callback_token": token,
        "default_channel": CHANNEL,
        # Each drill is an incident of its own, though its DAG and task failed in the last one.
        "reopen_window_seconds": 0,
        "chat_surface": "slack",
        "slack_bot_token": "xoxb-chaos-drill",
        "slack_signing_secret": secrets.token_hex(16),
        "slack_api_url": stand_ins.slack.api_url,
        "jira_url": stand_ins.jira.base_url,
        "jira_api_token": "chaos-drill",
        "jira_deployment": "server",
        "jira_comment_interval_seconds": 0.0,
        "anthropic_api_key": "chaos-drill",
        "anthropic_base_url": stand_ins.llm.base_url,
        # Every diagnosis asks the model, so an overloaded model is met on every fault.
        "claude_mode": "always",
        "airflow_url": sandbox.api_url,
        "airflow_username": sandbox.username,
        "airflow_password": sandbox.password,
        "airflow_api_version": "v2",
        "spark_history_url": sandbox.spark_history_url or "",
        "approval_policy_file": options.root / "policy.yaml",
        "oncall_group": ONCALL_GROUP,
        "playbook_values": json.dumps({"credential_rotation_url": sandbox.credential_rotation_url}),
        "data_contracts_dir": sandbox.options.contracts_dir,
        "action_http_allowed_hosts": HOST,
        "action_poll_interval_seconds": 1.0,
    }
    return DrillSettings(**fields)  # type: ignore[arg-type]


def write_policy(options: DrillOptions, scenarios: list[Scenario]) -> Path:
    """An approval policy naming the scripted approvers, with the drills' short window."""
    approvers = sorted(
        {
            name
            for scenario in scenarios
            if scenario.approval
            for name in scenario.approval.approvers
        }
    )
    minutes = options.approval_window_seconds / 60
    rule = {"roles": ["drill-approvers"], "open_minutes": minutes}
    policy = {
        "mode": "act",
        "roles": {
            "drill-approvers": {
                "description": "The chaos drills' scripted approvers",
                "members": [to_slack_user(name) for name in approvers] or ["U0NOBODY"],
            }
        },
        "approvals": {
            "low": rule | {"approvers_needed": 1},
            "medium": rule | {"approvers_needed": 1},
            "high": rule | {"approvers_needed": 2},
        },
    }
    path = options.root / "policy.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")
    return path


@asynccontextmanager
async def open_drill_bot(settings: Settings, sock: socket.socket) -> AsyncIterator[DrillBot]:
    """Serve the whole bot (app and in-process worker) on `sock` until the block ends."""
    async with open_runtime(settings) as runtime:
        app = create_app(runtime)
        config = uvicorn.Config(app, log_config=None, access_log=False)
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            await wait_until_started(server, serving)
            async with httpx.AsyncClient(base_url=settings.base_url, timeout=30.0) as client:
                yield DrillBot(
                    runtime=runtime,
                    signing_secret=settings.slack_signing_secret.get_secret_value(),
                    client=client,
                )
        finally:
            server.should_exit = True
            await serving


async def wait_until_started(server: uvicorn.Server, serving: asyncio.Task[None]) -> None:
    deadline = time.monotonic() + BOT_START_SECONDS
    while not server.started:
        if serving.done() or time.monotonic() > deadline:
            raise ConfigError(messages.to_bot_not_started(BOT_START_SECONDS))
        await asyncio.sleep(0.05)
