"""One drill: the fault switched on, the DAG run, the scripted approvers, the evidence.

    score = await Drill(scenario, context).run()

The approvers click the buttons the bot posted to the Slack stand-in, with signed
block_actions as Slack sends them. Everything scored is read from outside records where
one exists (Airflow's event log and task tries, the secrets service, the stand-ins), and
from the audit entries of this drill's incident and of its own DAG run's alerts only.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import httpx

from bot.actions.models import RunStatus
from bot.approvals.messages import CONFIRM_DONE
from bot.approvals.models import ApprovalRequest, ClickAction, RequestStatus
from bot.audit.models import AuditEntry, AuditKind
from bot.chaos import messages
from bot.chaos.airflow_api import SandboxApiError
from bot.chaos.evidence import Evidence, WriteApproval, to_rotation_writes
from bot.chaos.harness import CHANNEL, DrillContext, DrillOptions, to_slack_user
from bot.chaos.models import Scenario, ScenarioScore
from bot.chaos.scoring import to_score
from bot.chaos.standins.slack import PostedMessage
from bot.chaos.standins.slack_requests import build_slash_command
from bot.errors import BotError, ConfigError
from bot.incidents.states import State
from bot.runbooks.catalogue import Catalogue
from bot.runtime import Runtime
from bot.tickets.models import to_incident_label

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.2
ACTION_PREFIX = "incident."
# What ends a drill early but lets the next one run: the bot or the sandbox misbehaved.
DRILL_ERRORS = (BotError, httpx.HTTPError, TimeoutError)
T = TypeVar("T")


@dataclass
class Drill:
    """One scenario: fault on, DAG run, the approvers' answers, then the evidence scored."""

    scenario: Scenario
    context: DrillContext
    evidence: Evidence = field(init=False)
    started: float = field(default=0.0, init=False)
    # The audit log's length when the drill began: its later entries may be this drill's.
    audit_cursor: int = field(default=0, init=False)
    counters_at_start: dict[str, int] = field(default_factory=dict, init=False)
    requests_seen: int = field(default=0, init=False)

    @property
    def options(self) -> DrillOptions:
        return self.context.options

    @property
    def runtime(self) -> Runtime:
        return self.context.bot.runtime

    @property
    def approvers(self) -> list[str]:
        approval = self.scenario.approval
        return approval.approvers if approval else []

    async def run(self) -> ScenarioScore:
        """Play the scenario and score it; a failure of the drill itself is one of its
        problems, and the next drill still runs."""
        self.evidence = Evidence(
            started_at=datetime.now(UTC),
            escalation_window_seconds=self.options.approval_window_seconds,
        )
        self.started = time.monotonic()
        self.audit_cursor = await self.runtime.audit.count()
        self.counters_at_start = self.get_fault_counters()
        try:
            self.start_dependency_faults()
            self.context.sandbox.set_fault(self.scenario.fault)
            self.step(messages.to_fault_set(self.scenario.fault))
            async with asyncio.timeout(self.options.scenario_timeout_seconds):
                await self.play()
        except TimeoutError:
            timeout = self.options.scenario_timeout_seconds
            self.evidence.problems.append(messages.to_scenario_timeout(timeout))
        except DRILL_ERRORS as exc:
            self.evidence.problems.append(messages.to_drill_error(exc))
        finally:
            self.stop_dependency_faults()
            self.context.sandbox.set_fault("none")
        await self.guard(self.collect)
        self.evidence.seconds = time.monotonic() - self.started
        await self.guard(self.close)
        return to_score(self.scenario, self.evidence)

    async def guard(self, work: Callable[[], Awaitable[None]]) -> None:
        try:
            await work()
        except DRILL_ERRORS as exc:
            self.evidence.problems.append(messages.to_drill_error(exc))

    def step(self, text: str) -> None:
        logger.info("chaos %s: %s", self.scenario.name, text)
        self.context.progress.on_step(self.scenario, text)

    def elapsed(self) -> float:
        return round(time.monotonic() - self.started, 1)

    def start_dependency_faults(self) -> None:
        faults = self.scenario.dependency_faults
        stand_ins = self.context.stand_ins
        if "slack-errors" in faults:
            stand_ins.slack.degrade(self.options.slack_errors_seconds)
        if "jira-down" in faults:
            stand_ins.jira.set_down(True)
        if "llm-overloaded" in faults:
            stand_ins.llm.set_overloaded(True)

    def stop_dependency_faults(self) -> None:
        stand_ins = self.context.stand_ins
        stand_ins.slack.degrade(0)
        stand_ins.jira.set_down(False)
        stand_ins.llm.set_overloaded(False)

    # Playing the scenario

    async def play(self) -> None:
        api = self.context.sandbox.admin_api
        run_id = await api.create_dag_run(self.scenario.dag_id)
        self.evidence.run_id = run_id
        self.step(messages.to_triggered(self.scenario.dag_id, run_id))
        if self.scenario.fault == "none":
            timeout = self.options.scenario_timeout_seconds
            await api.wait_for_dag_run(self.scenario.dag_id, run_id, within=timeout)
            # An incident that must not open has no event to await: watch for a while.
            await asyncio.sleep(self.options.quiet_seconds)
            return
        incident_id = await self.wait_for_incident(run_id)
        if "slack-errors" in self.scenario.dependency_faults:
            # From the alert on, so the bot's first posts meet the errors however long
            # the pipeline took to fail.
            self.context.stand_ins.slack.degrade(self.options.slack_errors_seconds)
        await self.wait_for_thread(incident_id)
        await self.answer(incident_id)

    async def wait_for_incident(self, run_id: str) -> str:
        async def get_incident_id() -> str | None:
            alerts = await self.get_run_alerts(run_id)
            return next((entry.incident_id for entry in alerts if entry.incident_id), None)

        incident_id = await poll(get_incident_id)
        self.evidence.incident_id = incident_id
        self.step(messages.to_incident_opened(incident_id, self.elapsed()))
        return incident_id

    async def wait_for_thread(self, incident_id: str) -> None:
        async def has_thread() -> bool | None:
            incident = await self.runtime.store.get(incident_id)
            return True if incident is not None and incident.thread is not None else None

        await poll(has_thread)
        self.evidence.seconds_to_thread = self.elapsed()
        self.step(messages.to_thread_posted(self.evidence.seconds_to_thread))

    async def answer(self, incident_id: str) -> None:
        """Play the scripted approvers until the incident is resolved or escalated."""
        answered: set[str] = set()
        confirmed: set[str] = set()
        approvals = self.runtime.remediation.approvals

        async def get_state() -> State | None:
            for request in await approvals.store.list_for_incident(incident_id):
                if request.status is RequestStatus.PENDING and request.id not in answered:
                    answered.add(request.id)
                    await self.decide(request)
                elif request.id not in confirmed and await self.is_waiting(request):
                    confirmed.add(request.id)
                    await self.confirm(request)
            return await self.get_settled_state(incident_id)

        await self.note_settled(incident_id, await poll(get_state))

    async def get_settled_state(self, incident_id: str) -> State | None:
        """RESOLVED, or ESCALATED once its audit entry is written (it follows the state)."""
        incident = await self.runtime.store.get(incident_id)
        if incident is None:
            return None
        if incident.state is State.RESOLVED:
            return State.RESOLVED
        if incident.state is State.ESCALATED and await self.get_escalations(incident_id):
            return State.ESCALATED
        return None

    async def note_settled(self, incident_id: str, state: State) -> None:
        elapsed = self.elapsed()
        reason = None
        if state is State.RESOLVED:
            self.evidence.seconds_to_recover = elapsed
        else:
            self.evidence.seconds_to_escalate = elapsed
            reason = (await self.get_escalations(incident_id))[-1].data.get("reason")
        self.step(messages.to_settled(state, elapsed, reason))

    async def decide(self, request: ApprovalRequest) -> None:
        """Answer one approval request as the scenario's behaviour says."""
        approval = self.scenario.approval
        behaviour = approval.behaviour if approval else "no-answer"
        self.requests_seen += 1
        if "redis-restart" in self.scenario.dependency_faults and self.requests_seen == 1:
            self.step(messages.to_restarting_redis())
            await self.context.redis_server.restart()
        if behaviour == "no-answer":
            self.step(messages.to_not_answering(request.title))
            return
        if behaviour == "reject":
            await self.click(request, ClickAction.REJECT, approvers=self.approvers[:1])
            return
        if behaviour == "approve" and not self.fix_lifts_fault:
            # The people who approve also mend what the bot cannot: the producer restores
            # the schema, the service owner brings the dependency back.
            self.context.sandbox.set_fault("none")
            self.step(messages.to_fault_lifted(self.scenario.fault))
        needed = self.runtime.remediation.policy.get_needed(request.risk)
        if len(self.approvers) < needed:
            raise ConfigError(messages.to_too_few_approvers(needed, len(self.approvers)))
        await self.click(request, ClickAction.APPROVE, approvers=self.approvers[:needed])

    @property
    def fix_lifts_fault(self) -> bool:
        """The bot's own fix removes this fault (rotating the credential), so nobody else may."""
        return self.scenario.fault == "expired-credential"

    async def is_waiting(self, request: ApprovalRequest) -> bool:
        if request.status not in (RequestStatus.APPROVED, RequestStatus.EXECUTED):
            return False
        runner = self.runtime.remediation.runner
        outcome = await runner.get_outcome(request.incident_id, request.step_id, request.attempt)
        return outcome is not None and outcome.status is RunStatus.WAITING

    async def confirm(self, request: ApprovalRequest) -> None:
        """A step waits for a person to say it is done: the first approver says so."""
        await self.click(request, CONFIRM_DONE, approvers=self.approvers[:1])

    async def click(self, request: ApprovalRequest, action: str, *, approvers: list[str]) -> None:
        """Click `action` on the request's message as each approver in turn.

        Between two approvals the harness waits for the bot to count the first and checks
        that it did not act on it alone.
        """
        message = await self.wait_for_button(request, action)
        kinds = to_kinds(request, self.runtime.catalogue)
        for votes, approver in enumerate(approvers, start=1):
            body = self.context.stand_ins.slack.build_click(
                message, ACTION_PREFIX + action, user=to_slack_user(approver)
            )
            is_last = votes == len(approvers)
            if action == ClickAction.APPROVE and is_last:
                # The bot may write from the last approval the step needs on, not before.
                self.evidence.approvals.append(WriteApproval(datetime.now(UTC), kinds))
            await self.context.bot.send_to_slack_endpoint(body)
            self.step(messages.to_clicked(approver, action, request.title))
            if action == ClickAction.APPROVE and not is_last:
                await self.check_still_pending(request, votes=votes, needed=len(approvers))

    async def check_still_pending(
        self, request: ApprovalRequest, *, votes: int, needed: int
    ) -> None:
        async def get_counted() -> ApprovalRequest | None:
            current = await self.runtime.remediation.approvals.get(request.id)
            return current if current is not None and len(current.approvals) >= votes else None

        try:
            current = await poll(get_counted, within=self.options.click_wait_seconds)
        except TimeoutError:
            seconds = self.options.click_wait_seconds
            self.evidence.problems.append(messages.to_vote_not_counted(votes, seconds))
            return
        if current.status is not RequestStatus.PENDING:
            self.evidence.problems.append(messages.to_acted_early(request.title, votes, needed))

    async def wait_for_button(self, request: ApprovalRequest, action: str) -> PostedMessage:
        action_id = ACTION_PREFIX + action

        def has_button(message: PostedMessage) -> bool:
            return any(
                button.action_id == action_id and button.value == request.id
                for button in message.buttons
            )

        slack = self.context.stand_ins.slack

        async def find() -> PostedMessage | None:
            return slack.find_message(has_button)

        return await poll(find)

    # Reading the records

    async def get_entries(self) -> list[AuditEntry]:
        """Every audit entry written since the drill began, any incident's."""
        return [entry async for entry in self.runtime.audit.iterate(start=self.audit_cursor)]

    async def get_run_alerts(self, run_id: str) -> list[AuditEntry]:
        """The alerts of this drill's DAG run: an Airflow delivery id ends in its run id."""
        suffix = f"/{run_id}"
        return [
            entry
            for entry in await self.get_entries()
            if entry.kind is AuditKind.ALERT
            and str(entry.data.get("delivery_id", "")).endswith(suffix)
        ]

    async def get_escalations(self, incident_id: str) -> list[AuditEntry]:
        return [
            entry
            for entry in await self.get_entries()
            if entry.kind is AuditKind.ESCALATION and entry.incident_id == incident_id
        ]

    async def collect(self) -> None:
        """Gather what the score is made of: Airflow's records, the audit, the ticket."""
        evidence = self.evidence
        sandbox = self.context.sandbox
        if evidence.run_id is not None:
            await self.collect_run(evidence.run_id)
        evidence.bot_writes = [
            *await sandbox.admin_api.get_event_logs(
                owner=sandbox.username, after=evidence.started_at
            ),
            *to_rotation_writes(await sandbox.get_rotations(after=evidence.started_at)),
        ]
        evidence.faults_felt = self.count_faults_felt()
        if evidence.incident_id is not None:
            incident = await self.runtime.store.get(evidence.incident_id)
            evidence.has_thread = incident is not None and incident.thread is not None
            evidence.tickets = await self.wait_for_tickets(evidence.incident_id)

    async def collect_run(self, run_id: str) -> None:
        """The run's failed tries (one alert each), its alerts once in, and its state."""
        evidence = self.evidence
        api = self.context.sandbox.admin_api
        tries = await api.get_task_tries(self.scenario.dag_id, run_id)
        evidence.alerts_sent = sum(1 for attempt in tries if attempt.get("state") == "failed")

        # A task's failure callback runs after Airflow records the failure: wait for the
        # last alerts, then score what arrived (the missing ones are lost).
        async def get_alerts() -> list[AuditEntry] | None:
            alerts = await self.get_run_alerts(run_id)
            return alerts if len(alerts) >= evidence.alerts_sent else None

        try:
            alerts = await poll(get_alerts, within=self.options.alert_wait_seconds)
        except TimeoutError:
            alerts = await self.get_run_alerts(run_id)
        incident_id = evidence.incident_id
        evidence.audit = [
            entry
            for entry in await self.get_entries()
            if entry in alerts or (incident_id is not None and entry.incident_id == incident_id)
        ]
        evidence.run_state = await self.get_final_state(run_id)

    async def get_final_state(self, run_id: str) -> str:
        """The run's state once it ended; a task can succeed before its run is marked done."""
        api = self.context.sandbox.admin_api
        try:
            run = await api.wait_for_dag_run(
                self.scenario.dag_id, run_id, within=self.options.close_wait_seconds
            )
        except SandboxApiError:
            run = await api.get_dag_run(self.scenario.dag_id, run_id)
        return run.state

    def count_faults_felt(self) -> dict[str, int]:
        """How often each dependency fault answered the bot during this drill."""
        stand_ins = self.context.stand_ins
        since = self.started
        slack = [call for call in stand_ins.slack.calls if call.received_at >= since]
        jira = [call for call in stand_ins.jira.calls if call.received_at >= since]
        counters = self.get_fault_counters()
        felt = {
            "slack-errors": sum(1 for call in slack if call.status >= 400),
            "jira-down": sum(1 for call in jira if call.status == 503),
            **{name: counters[name] - self.counters_at_start[name] for name in counters},
        }
        return {fault: felt[fault] for fault in self.scenario.dependency_faults}

    def get_fault_counters(self) -> dict[str, int]:
        """The running counts of the faults that keep no timed record of their own."""
        return {
            "llm-overloaded": self.context.stand_ins.llm.overloaded_answers,
            "redis-restart": self.context.redis_server.restarts,
        }

    async def wait_for_tickets(self, incident_id: str) -> int:
        """How many tickets carry the incident's label, once there is one (or at the wait's end)."""
        label = to_incident_label(incident_id)
        jira = self.context.stand_ins.jira

        async def get_count() -> int | None:
            return len(jira.get_issues(label=label)) or None

        try:
            return await poll(get_count, within=self.options.ticket_wait_seconds)
        except TimeoutError:
            return 0

    # Closing

    async def close(self) -> None:
        """On-call resolves what is still open, as a person would."""
        incident_id = self.evidence.incident_id
        incident = await self.runtime.store.get(incident_id) if incident_id else None
        if incident is None or not incident.is_open:
            return
        slack = self.context.stand_ins.slack
        body = build_slash_command(
            f"resolve {incident.id}",
            response_url=slack.response_url("drill-close"),
            user=to_slack_user(self.approvers[0] if self.approvers else "oncall"),
            channel=slack.channel_id(CHANNEL),
        )
        await self.context.bot.send_to_slack_endpoint(body)

        # Slack's command is acknowledged before it is handled: wait for the incident itself,
        # or the next drill's alert would join it.
        async def is_closed() -> bool | None:
            current = await self.runtime.store.get(incident.id)
            return True if current is None or not current.is_open else None

        try:
            await poll(is_closed, within=self.options.close_wait_seconds)
        except TimeoutError:
            self.evidence.problems.append(messages.to_not_closed(incident.id))


async def poll(check: Callable[[], Awaitable[T | None]], *, within: float | None = None) -> T:
    """Call `check` every POLL_SECONDS until it returns something other than None.

    Raises TimeoutError after `within` seconds (never without it: the drill's own timeout
    bounds it then).
    """
    async with asyncio.timeout(within):
        # The bot's state lives in Redis and Airflow: there is no event to await.
        while (value := await check()) is None:  # noqa: ASYNC110
            await asyncio.sleep(POLL_SECONDS)
    return value


def to_kinds(request: ApprovalRequest, catalogue: Catalogue) -> frozenset[str]:
    """The kinds of write an approved request allows: its action's and its rollback's."""
    playbook = catalogue.get(request.playbook_id)
    steps = playbook.remediation if playbook else []
    rollbacks = [
        step.rollback.kind for step in steps if step.id == request.step_id and step.rollback
    ]
    return frozenset({request.action.kind, *rollbacks})
