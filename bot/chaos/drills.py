"""Fault-injection drills: the real sandbox, the whole bot, scripted approvers, a score.

    report = await run_drills(scenarios, DrillOptions(root=Path("var/chaos")), progress=progress)

Nothing is short-cut. The harness starts the sandbox (Airflow 3, its pipeline and fault
services), stand-ins for Slack, Jira and the Messages API, a Redis server of its own and the
bot itself on loopback. For each scenario it switches the fault on and triggers the DAG as
Airflow's admin; the pipeline fails for real, its failure callback posts to the bot, and the
bot reads the task log through Airflow's REST API with its own `op` account. The scripted
approvers click the buttons the bot posted to the Slack stand-in with signed block_actions,
as Slack would send them, and the score is read from Airflow's event log, the bot's audit
log and the stand-ins' records.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import uvicorn
import yaml

from bot.actions.models import RunStatus
from bot.app import create_app
from bot.approvals.messages import CONFIRM_DONE
from bot.approvals.models import ApprovalRequest, ClickAction, RequestStatus
from bot.audit.models import AuditEntry, AuditKind
from bot.chaos import messages
from bot.chaos.models import DrillReport, Scenario, ScenarioScore
from bot.chaos.progress import DrillProgress
from bot.chaos.redis_server import RedisServer, open_redis_server
from bot.chaos.sandbox import Sandbox, SandboxOptions, get_free_port, open_sandbox
from bot.chaos.scoring import Evidence, to_score, to_skipped, to_totals
from bot.chaos.standins.anthropic import AnthropicStandIn, serve_anthropic
from bot.chaos.standins.jira import JiraStandIn, serve_jira
from bot.chaos.standins.slack import (
    PostedMessage,
    SlackStandIn,
    build_slash_command,
    serve_slack,
    sign_request,
)
from bot.errors import ConfigError
from bot.incidents.states import State
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings
from bot.tickets.models import to_incident_label

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
CHANNEL = "data-incidents"
ONCALL_GROUP = "@data-oncall"
POLL_SECONDS = 0.2
BOT_START_SECONDS = 60.0
ACTION_PREFIX = "incident."
# The bot's steps end one way or the other; these states end a drill's watching.
SETTLED_STATES = frozenset({State.RESOLVED, State.ESCALATED})


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
    ticket_wait_seconds: float = 90.0


@dataclass
class StandIns:
    slack: SlackStandIn
    jira: JiraStandIn
    llm: AnthropicStandIn


@dataclass
class DrillBot:
    """The bot under drill: its runtime (read to score, never to act) and its address."""

    runtime: Runtime
    base_url: str
    signing_secret: str
    client: httpx.AsyncClient

    async def send_to_slack_endpoint(self, body: str) -> None:
        """Post a body signed as Slack signs it (a button click, a slash command) to the bot."""
        headers = sign_request(body, secret=self.signing_secret)
        response = await self.client.post("/slack/events", content=body, headers=headers)
        logger.info("chaos request to /slack/events: %d", response.status_code)
        if response.status_code != 200:
            raise ConfigError(messages.to_click_refused(response.status_code, response.text))


async def run_drills(
    scenarios: list[Scenario], options: DrillOptions, *, progress: DrillProgress
) -> DrillReport:
    """Run every scenario in order against one sandbox and one bot; score each and the set.

    Raises ConfigError when the sandbox or the bot cannot start.
    """
    started = time.monotonic()
    scores: list[ScenarioScore] = []
    token = secrets.token_urlsafe(24)
    bot_port = get_free_port()
    sandbox_options = SandboxOptions(
        root=options.root, incident_bot_url=f"http://{HOST}:{bot_port}", incident_bot_token=token
    )
    with open_stand_ins() as stand_ins:
        progress.on_sandbox(messages.to_starting_sandbox(options.root))
        async with (
            open_redis_server(options.root / "redis") as redis_server,
            open_sandbox(sandbox_options) as sandbox,
        ):
            progress.on_sandbox(messages.to_starting_bot())
            settings = build_settings(
                options, sandbox, stand_ins, redis_server, port=bot_port, token=token
            )
            write_policy(options, scenarios)
            async with open_drill_bot(settings) as bot:
                for index, scenario in enumerate(scenarios, start=1):
                    progress.on_started(scenario, index, len(scenarios))
                    reason = get_skip_reason(scenario, sandbox)
                    if reason is None:
                        drill = Drill(
                            scenario, options, sandbox, bot, stand_ins, redis_server, progress
                        )
                        score = await drill.run()
                    else:
                        score = to_skipped(scenario, reason)
                    scores.append(score)
                    progress.on_finished(score)
                chain = await bot.runtime.audit.verify()
            progress.on_sandbox(messages.to_stopping_sandbox())
    totals = to_totals(scores, audit_chain_intact=chain.ok, seconds=time.monotonic() - started)
    return DrillReport(scenarios=scores, totals=totals)


def get_skip_reason(scenario: Scenario, sandbox: Sandbox) -> str | None:
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
        "playbook_values": f'{{"credential_rotation_url": "{sandbox.credential_rotation_url}"}}',
        "action_http_allowed_hosts": HOST,
        "action_poll_interval_seconds": 1.0,
    }
    return Settings(_env_file=None, **fields)  # type: ignore[arg-type]


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


def to_slack_user(approver: str) -> str:
    """The Slack user id a scripted approver clicks as: approver-1 is UAPPROVER1."""
    return "U" + "".join(char for char in approver.upper() if char.isalnum())


@asynccontextmanager
async def open_drill_bot(settings: Settings) -> AsyncIterator[DrillBot]:
    """Serve the whole bot (app and in-process worker) on loopback until the block ends."""
    async with open_runtime(settings) as runtime:
        app = create_app(runtime)
        config = uvicorn.Config(
            app, host=settings.host, port=settings.port, log_config=None, access_log=False
        )
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        try:
            await wait_until_started(server, serving)
            async with httpx.AsyncClient(base_url=settings.base_url, timeout=30.0) as client:
                yield DrillBot(
                    runtime=runtime,
                    base_url=settings.base_url,
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


@dataclass
class Drill:
    """One scenario: fault on, DAG run, the approvers' answers, then the evidence scored."""

    scenario: Scenario
    options: DrillOptions
    sandbox: Sandbox
    bot: DrillBot
    stand_ins: StandIns
    redis_server: RedisServer
    progress: DrillProgress
    evidence: Evidence = field(init=False)
    _started: float = field(default=0.0, init=False)
    # The audit log's length when the drill began: its later entries are this drill's.
    audit_cursor: int = field(default=0, init=False)

    async def run(self) -> ScenarioScore:
        self.evidence = Evidence(
            started_at=datetime.now(UTC),
            escalation_window_seconds=self.options.approval_window_seconds,
        )
        self._started = time.monotonic()
        self.audit_cursor = await self.bot.runtime.audit.count()
        try:
            self.start_dependency_faults()
            self.sandbox.set_fault(self.scenario.fault)
            self.step(messages.to_fault_set(self.scenario.fault))
            async with asyncio.timeout(self.options.scenario_timeout_seconds):
                await self.play()
        except TimeoutError:
            self.evidence.problems.append(
                messages.to_scenario_timeout(self.options.scenario_timeout_seconds)
            )
        finally:
            self.stop_dependency_faults()
            self.sandbox.set_fault("none")
        await self.collect()
        self.evidence.seconds = time.monotonic() - self._started
        await self.close_incident()
        return to_score(self.scenario, self.evidence)

    def step(self, text: str) -> None:
        logger.info("chaos %s: %s", self.scenario.name, text)
        self.progress.on_step(self.scenario, text)

    def elapsed(self) -> float:
        return round(time.monotonic() - self._started, 1)

    def start_dependency_faults(self) -> None:
        faults = self.scenario.dependency_faults
        if "slack-errors" in faults:
            self.stand_ins.slack.degrade(self.options.slack_errors_seconds)
        if "jira-down" in faults:
            self.stand_ins.jira.set_down(True)
        if "llm-overloaded" in faults:
            self.stand_ins.llm.set_overloaded(True)

    def stop_dependency_faults(self) -> None:
        self.stand_ins.slack.degrade(0)
        self.stand_ins.jira.set_down(False)
        self.stand_ins.llm.set_overloaded(False)

    async def play(self) -> None:
        api = self.sandbox.admin_api
        run_id = await api.create_dag_run(self.scenario.dag_id)
        self.evidence.run_id = run_id
        self.step(messages.to_triggered(self.scenario.dag_id, run_id))
        if self.scenario.fault == "none":
            await api.wait_for_dag_run(
                self.scenario.dag_id, run_id, within=self.options.scenario_timeout_seconds
            )
            # The callback would have posted before the run ended; give the bot time to show it.
            await asyncio.sleep(self.options.quiet_seconds)
            return
        incident_id = await self.wait_for_incident()
        await self.wait_for_thread(incident_id)
        await self.answer(incident_id)

    async def wait_for_incident(self) -> str:
        while True:
            for entry in await self.get_entries(AuditKind.ALERT):
                if entry.incident_id is not None:
                    self.evidence.incident_id = entry.incident_id
                    self.step(messages.to_incident_opened(entry.incident_id, self.elapsed()))
                    return entry.incident_id
            await asyncio.sleep(POLL_SECONDS)

    async def wait_for_thread(self, incident_id: str) -> None:
        while True:
            incident = await self.bot.runtime.store.get(incident_id)
            if incident is not None and incident.thread is not None:
                self.evidence.seconds_to_thread = self.elapsed()
                self.step(messages.to_thread_posted(self.evidence.seconds_to_thread))
                return
            await asyncio.sleep(POLL_SECONDS)

    async def answer(self, incident_id: str) -> None:
        """Play the scripted approvers until the incident is resolved or escalated."""
        answered: set[str] = set()
        confirmed: set[str] = set()
        approvals = self.bot.runtime.remediation.approvals
        while True:
            incident = await self.bot.runtime.store.get(incident_id)
            if incident is not None and incident.state in SETTLED_STATES:
                await self.note_settled(incident.state)
                return
            for request in await approvals.store.list_for_incident(incident_id):
                if request.status is RequestStatus.PENDING and request.id not in answered:
                    answered.add(request.id)
                    await self.decide(request)
                elif request.id not in confirmed and await self.is_waiting(request):
                    confirmed.add(request.id)
                    await self.confirm(request)
            await asyncio.sleep(POLL_SECONDS)

    async def note_settled(self, state: State) -> None:
        elapsed = self.elapsed()
        reason = None
        if state is State.RESOLVED:
            self.evidence.seconds_to_recover = elapsed
        else:
            self.evidence.seconds_to_escalate = elapsed
            escalations = await self.get_entries(AuditKind.ESCALATION)
            reason = escalations[-1].data.get("reason") if escalations else None
        self.step(messages.to_settled(state, elapsed, reason))

    async def decide(self, request: ApprovalRequest) -> None:
        """Answer one approval request as the scenario's behaviour says."""
        approval = self.scenario.approval
        behaviour = approval.behaviour if approval else "no-answer"
        self.evidence.requests_seen += 1
        if "redis-restart" in self.scenario.dependency_faults and self.evidence.requests_seen == 1:
            self.step(messages.to_restarting_redis())
            await self.redis_server.restart()
        if behaviour == "no-answer":
            self.step(messages.to_not_answering(request.title))
            return
        if behaviour == "reject":
            await self.click(request, ClickAction.REJECT, approvers=[self.approvers[0]])
            return
        if behaviour == "approve" and not self.fix_lifts_fault:
            # The people who approve also mend what the bot cannot: the producer restores
            # the schema, the service owner brings the dependency back.
            self.sandbox.set_fault("none")
            self.step(messages.to_fault_lifted(self.scenario.fault))
        needed = self.bot.runtime.remediation.policy.get_needed(request.risk)
        await self.click(request, ClickAction.APPROVE, approvers=self.approvers[:needed])

    @property
    def approvers(self) -> list[str]:
        approval = self.scenario.approval
        return approval.approvers if approval else []

    @property
    def fix_lifts_fault(self) -> bool:
        """The bot's own fix removes this fault (rotating the credential), so nobody else may."""
        return self.scenario.fault == "expired-credential"

    async def is_waiting(self, request: ApprovalRequest) -> bool:
        if request.status not in (RequestStatus.APPROVED, RequestStatus.EXECUTED):
            return False
        runner = self.bot.runtime.remediation.runner
        outcome = await runner.get_outcome(request.incident_id, request.step_id, request.attempt)
        return outcome is not None and outcome.status is RunStatus.WAITING

    async def confirm(self, request: ApprovalRequest) -> None:
        """A step waits for a person to say it is done: the first approver says so."""
        await self.click(request, CONFIRM_DONE, approvers=[self.approvers[0]])

    async def click(self, request: ApprovalRequest, action: str, *, approvers: list[str]) -> None:
        message = await self.wait_for_button(request, action)
        for approver in approvers:
            body = self.stand_ins.slack.build_click(
                message, ACTION_PREFIX + action, user=to_slack_user(approver)
            )
            is_last = approver == approvers[-1]
            if action == ClickAction.APPROVE and is_last and not self.evidence.first_approval_at:
                # The bot may act from the last needed approval on, not a moment before.
                self.evidence.first_approval_at = datetime.now(UTC)
            await self.bot.send_to_slack_endpoint(body)
            self.step(messages.to_clicked(approver, action, request.title))

    async def wait_for_button(self, request: ApprovalRequest, action: str) -> PostedMessage:
        action_id = ACTION_PREFIX + action

        def has_button(message: PostedMessage) -> bool:
            return any(
                button.action_id == action_id and button.value == request.id
                for button in message.buttons
            )

        return await self.stand_ins.slack.wait_for_posted(
            has_button, timeout=self.options.scenario_timeout_seconds
        )

    async def get_entries(self, kind: AuditKind | None = None) -> list[AuditEntry]:
        """This drill's audit entries, of one kind or all."""
        return [
            entry
            async for entry in self.bot.runtime.audit.iterate()
            if entry.seq > self.audit_cursor and (kind is None or entry.kind is kind)
        ]

    async def collect(self) -> None:
        """Gather what the score is made of: audit entries, Airflow's records, the ticket."""
        evidence = self.evidence
        evidence.audit = await self.get_entries()
        if evidence.run_id is not None:
            evidence.alerts_sent = await self.count_failed_tries(evidence.run_id)
        evidence.bot_writes = await self.sandbox.admin_api.get_event_logs(
            owner=self.sandbox.username, after=evidence.started_at
        )
        if evidence.incident_id is not None:
            incident = await self.bot.runtime.store.get(evidence.incident_id)
            evidence.has_thread = incident is not None and incident.thread is not None
            evidence.has_ticket = await self.wait_for_ticket(evidence.incident_id)

    async def close_incident(self) -> None:
        """The drill is over: on-call resolves what is still open, as a person would."""
        incident_id = self.evidence.incident_id
        incident = await self.bot.runtime.store.get(incident_id) if incident_id else None
        if incident is None or not incident.is_open:
            return
        user = to_slack_user(self.approvers[0] if self.approvers else "oncall")
        body = build_slash_command(
            f"resolve {incident.id}",
            response_url=self.stand_ins.slack.response_url("drill-close"),
            user=user,
            channel=self.stand_ins.slack.channel_id(CHANNEL),
        )
        await self.bot.send_to_slack_endpoint(body)

    async def count_failed_tries(self, run_id: str) -> int:
        """Each failed try fires the pipeline's failure callback once: the alerts sent."""
        api = self.sandbox.admin_api
        tries = await api.get_task_tries(self.scenario.dag_id, run_id)
        return sum(1 for attempt in tries if attempt.get("state") == "failed")

    async def wait_for_ticket(self, incident_id: str) -> bool:
        label = to_incident_label(incident_id)
        deadline = time.monotonic() + self.options.ticket_wait_seconds
        while time.monotonic() < deadline:
            if self.stand_ins.jira.get_issues(label=label):
                return True
            await asyncio.sleep(POLL_SECONDS)
        return False
