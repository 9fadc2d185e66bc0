"""From a diagnosed Airflow failure to an approved, verified fix, or to the on-call people.

Real Redis; Slack and Airflow are stand-ins reached over real HTTP; clicks are signed
block_actions sent to /slack/events, through Bolt's real verification.
"""

import asyncio
import json

import pytest
from typer.testing import CliRunner

from bot.approvals.models import RequestStatus
from bot.audit.models import AuditKind
from bot.audit.store import AUDIT_KEY
from bot.chaos.standins.server import serve_app
from bot.chaos.standins.slack import serve_slack
from bot.chaos.standins.slack_requests import (
    build_block_actions,
    build_slash_command,
    sign_request,
)
from bot.cli import app as cli_app
from bot.errors import ConfigError
from bot.incidents.states import State
from bot.traces.models import StepKind
from tests.contracts.conftest import GOOD_CSV, RENAMED_CSV, write_contract
from tests.fakes.airflow import FakeAirflow, Task, error_event, stack
from tests.scenarios.harness import (
    AIRFLOW_TOKEN,
    SLACK_SIGNING_SECRET,
    SLACK_TOKEN,
    build_settings,
    start_bot,
    wait_for,
)

RUN_ID = "scheduled__2024-12-02T02:00:00+00:00"
TASK = Task("orders_daily", RUN_ID, "load_orders")
AIRFLOW_API_TOKEN = "airflow-api-test-token"
ONCALL = ("U0ONCALL1", "U0ONCALL2")
LEADS = ("U0LEAD001", "U0LEAD002")
OUTSIDER = "U0OUTSIDE"
ONCALL_GROUP = "S0ONCALL1"
# Errors only the test playbooks below recognise, one per risk level.
LOW_RISK_ERROR = "WarehouseGremlinError: the gremlin ate the staging rows"
HIGH_RISK_ERROR = "WarehouseMeltdownError: the staging table melted"

PLAYBOOK = """
id: {id}
title: Warehouse {id}
failure_class: dependency-unavailable
applies_to: [airflow]
recognition:
  patterns:
    - regex: "{error}"
      weight: 0.97
diagnosis: The warehouse misbehaved under {{dag_id}}.
remediation:
  - id: clear-task
    title: Clear the failed task so it runs again
    action:
      kind: airflow.clear_task_instances
      params:
        dag_id: "{{dag_id}}"
        dag_run_id: "{{dag_run_id}}"
        task_ids: ["{{task_id}}"]
    risk: {risk}
    verification:
      kind: airflow.task_instance_state
      params:
        dag_id: "{{dag_id}}"
        dag_run_id: "{{dag_run_id}}"
        task_id: "{{task_id}}"
      timeout_seconds: 10
    rollback:
      kind: airflow.set_task_instance_state
      params:
        dag_id: "{{dag_id}}"
        dag_run_id: "{{dag_run_id}}"
        task_id: "{{task_id}}"
        state: failed
escalation:
  team: "@warehouse-team"
  after_minutes: 30
"""

HANDOFF_ERROR = "WarehouseHandoffError: the producer must re-publish"
HANDOFF_PLAYBOOK = """
id: handoff
title: Warehouse handoff
failure_class: missing-input
applies_to: [airflow]
recognition:
  patterns:
    - regex: "WarehouseHandoffError"
      weight: 0.97
diagnosis: The producer has to re-publish for {dag_id}.
remediation:
  - id: ask-producer
    title: Ask the producer to re-publish the input
    action:
      kind: manual
      params:
        instructions: Ask the producing team to re-publish today's input.
    risk: low
    dry_run: false
    verification:
      kind: manual
      params:
        instructions: The input is there again.
      timeout_seconds: 600
escalation:
  team: "@warehouse-team"
  after_minutes: 30
"""

POLICY = """
roles:
  oncall:
    members: [{oncall}]
  leads:
    members: [{leads}]
approvals:
  low:
    roles: [oncall]
    open_minutes: {minutes}
  high:
    roles: [leads]
    approvers_needed: 2
    open_minutes: {minutes}
"""


def write_runbooks(folder):
    folder.mkdir()
    for name, error, risk in (
        ("gremlins", "WarehouseGremlinError", "low"),
        ("meltdown", "WarehouseMeltdownError", "high"),
    ):
        text = PLAYBOOK.format(id=name, error=error, risk=risk)
        (folder / f"{name}.yaml").write_text(text)
    (folder / "handoff.yaml").write_text(HANDOFF_PLAYBOOK)
    return folder


def write_policy(path, *, minutes=60):
    path.write_text(
        POLICY.format(oncall=", ".join(ONCALL), leads=", ".join(LEADS), minutes=minutes)
    )
    return path


def callback_body(error, *, state="failed"):
    payload = {
        "dag_id": TASK.dag_id,
        "task_id": TASK.task_id,
        "run_id": RUN_ID,
        "try_number": 2 if state == "failed" else 3,
        "state": state,
        "exception": error,
        "tags": ["service:orders", "team:data-platform"],
    }
    return json.dumps(payload).encode()


@pytest.fixture
def airflow():
    fake = FakeAirflow(version="v2", static_token=AIRFLOW_API_TOKEN)
    fake.add_task_instance(TASK, try_number=2)
    fake.add_dag_run(TASK.dag_id, RUN_ID)
    with serve_app(fake.app) as base_url:
        fake.base_url = base_url
        yield fake


@pytest.fixture
def slack():
    with serve_slack() as stand_in:
        yield stand_in


@pytest.fixture
def make_settings(redis, redis_url, slack, airflow, tmp_path):
    runbooks = write_runbooks(tmp_path / "runbooks")

    def make(*, minutes=60, **overrides):
        fields = {
            "slack_bot_token": SLACK_TOKEN,
            "slack_signing_secret": SLACK_SIGNING_SECRET,
            "slack_api_url": slack.api_url,
            "airflow_url": airflow.base_url,
            "airflow_token": AIRFLOW_API_TOKEN,
            "airflow_api_version": "v2",
            "runbooks_dirs": str(runbooks),
            "approval_policy_file": write_policy(tmp_path / "policy.yaml", minutes=minutes),
            "action_poll_interval_seconds": 0.05,
            "oncall_group": ONCALL_GROUP,
        }
        return build_settings(redis_url, **(fields | overrides))

    return make


async def open_incident(bot, airflow, error=LOW_RISK_ERROR, exc_type="RuntimeError"):
    """Post the failure callback and wait for the proposal; returns the incident and request."""
    airflow.set_log(TASK, 2, [error_event(stack(exc_type, error))])
    headers = {"Authorization": f"Bearer {AIRFLOW_TOKEN}", "Content-Type": "application/json"}
    response = await bot.client.post(
        "/webhooks/airflow", content=callback_body(error), headers=headers
    )
    assert response.status_code == 202
    await bot.wait_until_idle()
    [incident] = await bot.runtime.store.list_recent()
    events = await bot.runtime.store.get_events(incident.id)
    [request_id] = [event.data["request_id"] for event in events if "request_id" in event.data]
    return incident, request_id


async def click(bot, slack, incident, *, action, value, user):
    body = build_block_actions(
        action=f"incident.{action}",
        value=value,
        response_url=slack.response_url(),
        user=user,
        channel=incident.thread.channel,
        message_ts=incident.thread.root_id,
    )
    headers = sign_request(body, secret=SLACK_SIGNING_SECRET)
    response = await bot.client.post("/slack/events", content=body, headers=headers)
    assert response.status_code == 200


async def wait_for_state(bot, incident_id, state, limit=20.0):
    async def has_state():
        incident = await bot.runtime.store.get(incident_id)
        return incident.state is state

    await wait_for(has_state, limit=limit)
    await bot.wait_until_idle()


async def get_audit(bot, kind=None):
    entries = [entry async for entry in bot.runtime.audit.iterate()]
    return [entry for entry in entries if kind is None or entry.kind is kind]


def clears(airflow):
    return [request for request in airflow.writes if request.path.endswith("/clearTaskInstances")]


def replies_saying(slack, words):
    return [
        call
        for call in slack.calls_to("chat.postMessage")
        if "thread_ts" in call.params and words in call.params["text"]
    ]


async def test_low_risk_fix_approved_by_one_oncall_member_runs_once_and_resolves(
    make_settings, slack, airflow
):
    async with start_bot(make_settings()) as bot:
        incident, request_id = await open_incident(bot, airflow)
        writes_before_click = list(airflow.writes)
        [proposal] = replies_saying(slack, "Approval needed")

        await click(bot, slack, incident, action="approve", value=request_id, user=ONCALL[0])
        await wait_for_state(bot, incident.id, State.RESOLVED)
        request = await bot.runtime.remediation.approvals.get(request_id)
        kinds = {entry.kind for entry in await get_audit(bot)}
        trace = await bot.runtime.traces.get_trace(incident.id)

    assert writes_before_click == []
    assert "incident.approve" in json.dumps(proposal.params)
    assert request_id in json.dumps(proposal.params)
    assert [clear.json["dry_run"] for clear in clears(airflow)] == [False]
    assert request.status is RequestStatus.EXECUTED
    assert request.approvers == [ONCALL[0]]
    assert replies_saying(slack, "Fixed and verified")
    assert {
        AuditKind.ALERT,
        AuditKind.DIAGNOSIS,
        AuditKind.APPROVAL_REQUESTED,
        AuditKind.CLICK_ALLOWED,
        AuditKind.APPROVAL_RESOLVED,
        AuditKind.ACTION_STARTED,
        AuditKind.ACTION_FINISHED,
        AuditKind.VERIFICATION,
        AuditKind.STATE_CHANGE,
    } <= kinds
    assert {StepKind.APPROVAL, StepKind.ACTION, StepKind.OUTCOME} <= {
        step.kind for step in trace.steps
    }


async def test_double_click_and_a_retried_job_run_the_action_once(make_settings, slack, airflow):
    async with start_bot(make_settings()) as bot:
        incident, request_id = await open_incident(bot, airflow)

        await asyncio.gather(
            *(
                click(bot, slack, incident, action="approve", value=request_id, user=user)
                for user in (ONCALL[0], ONCALL[0], ONCALL[1])
            )
        )
        await wait_for_state(bot, incident.id, State.RESOLVED)
        await slack.wait_for_calls("chat.postEphemeral", 3)
        await bot.runtime.queue.enqueue("run_action", request_id=request_id)
        await bot.wait_until_idle()
        allowed = await get_audit(bot, AuditKind.CLICK_ALLOWED)
        refused = await get_audit(bot, AuditKind.CLICK_REFUSED)

    assert len(clears(airflow)) == 1
    assert len(replies_saying(slack, "Fixed and verified")) == 1
    assert len(allowed) == 1
    assert len(refused) == 2


async def test_outsider_click_is_refused_privately_audited_and_changes_nothing(
    make_settings, slack, airflow
):
    async with start_bot(make_settings()) as bot:
        incident, request_id = await open_incident(bot, airflow)

        await click(bot, slack, incident, action="approve", value=request_id, user=OUTSIDER)
        [answer] = await slack.wait_for_calls("chat.postEphemeral")
        await bot.wait_until_idle()
        [refused] = await get_audit(bot, AuditKind.CLICK_REFUSED)
        current = await bot.runtime.store.get(incident.id)
        request = await bot.runtime.remediation.approvals.get(request_id)

    assert answer.params["user"] == OUTSIDER
    assert "not allowed to approve" in answer.params["text"]
    assert refused.actor == OUTSIDER
    assert refused.data["reason"] == "not-allowed"
    assert current.state is State.AWAITING_APPROVAL
    assert request.status is RequestStatus.PENDING
    assert airflow.writes == []


async def test_high_risk_fix_needs_two_distinct_leads(make_settings, slack, airflow):
    async with start_bot(make_settings()) as bot:
        incident, request_id = await open_incident(bot, airflow, HIGH_RISK_ERROR)

        for user, answers in ((LEADS[0], 1), (LEADS[0], 2), (ONCALL[0], 3)):
            await click(bot, slack, incident, action="approve", value=request_id, user=user)
            await slack.wait_for_calls("chat.postEphemeral", answers)
        await bot.wait_until_idle()
        waiting = await bot.runtime.store.get(incident.id)
        writes_before_second_lead = list(airflow.writes)

        await click(bot, slack, incident, action="approve", value=request_id, user=LEADS[1])
        await wait_for_state(bot, incident.id, State.RESOLVED)
        request = await bot.runtime.remediation.approvals.get(request_id)

    answers = [call.params["text"] for call in slack.calls_to("chat.postEphemeral")]
    assert waiting.state is State.AWAITING_APPROVAL
    assert writes_before_second_lead == []
    assert "waiting for 1 more approver" in answers[0]
    assert "Already approved by you" in answers[1]
    assert "not allowed to approve high-risk" in answers[2]
    assert request.approvers == list(LEADS)
    assert len(clears(airflow)) == 1


async def test_failed_verification_rolls_back_and_escalates_to_oncall(
    make_settings, slack, airflow
):
    airflow.outcome = "failed"
    async with start_bot(make_settings()) as bot:
        incident, request_id = await open_incident(bot, airflow)

        await click(bot, slack, incident, action="approve", value=request_id, user=ONCALL[0])
        await wait_for_state(bot, incident.id, State.ESCALATED)
        kinds = [entry.kind for entry in await get_audit(bot)]

    [rollback] = [request for request in airflow.writes if request.method == "PATCH"]
    [escalation] = replies_saying(slack, "Escalating")
    assert len(clears(airflow)) == 1
    assert rollback.json["new_state"] == "failed"
    assert f"<!subteam^{ONCALL_GROUP}>" in escalation.params["text"]
    assert "@warehouse-team" in escalation.params["text"]
    assert "verification failed, rolled back" in escalation.params["text"]
    assert replies_saying(slack, "Verification failed, rolled back")
    assert AuditKind.ROLLBACK in kinds
    assert AuditKind.ESCALATION in kinds


async def test_unknown_cause_escalates_with_a_mention_and_an_audit_entry(
    make_settings, slack, airflow
):
    error = "RuntimeError: the frobnicator wobbled"
    airflow.set_log(TASK, 2, [error_event(stack("RuntimeError", "the frobnicator wobbled"))])
    async with start_bot(make_settings()) as bot:
        headers = {"Authorization": f"Bearer {AIRFLOW_TOKEN}", "Content-Type": "application/json"}
        await bot.client.post("/webhooks/airflow", content=callback_body(error), headers=headers)
        await bot.wait_until_idle()
        [incident] = await bot.runtime.store.list_recent()
        [escalation] = await get_audit(bot, AuditKind.ESCALATION)

    [reply] = replies_saying(slack, "Escalating")
    assert incident.state is State.ESCALATED
    assert f"<!subteam^{ONCALL_GROUP}>" in reply.params["text"]
    assert "the cause is unknown" in escalation.data["reason"]
    assert airflow.writes == []


async def test_request_nobody_approves_in_time_escalates(make_settings, slack, airflow):
    async with start_bot(make_settings(minutes=0.03)) as bot:
        incident, request_id = await open_incident(bot, airflow)

        await wait_for_state(bot, incident.id, State.ESCALATED)
        request = await bot.runtime.remediation.approvals.get(request_id)

    assert request.status is RequestStatus.EXPIRED
    assert replies_saying(slack, "Nobody approved")
    assert replies_saying(slack, "Escalating")
    assert airflow.writes == []


async def test_escalation_timer_survives_a_restart_of_the_bot(make_settings, slack, airflow):
    settings = make_settings(minutes=0.1)
    async with start_bot(settings) as bot:
        incident, request_id = await open_incident(bot, airflow)

    async with start_bot(settings) as restarted:
        before = await restarted.runtime.store.get(incident.id)
        await wait_for_state(restarted, incident.id, State.ESCALATED, limit=25.0)
        request = await restarted.runtime.remediation.approvals.get(request_id)

    assert before.state is State.AWAITING_APPROVAL
    assert request.status is RequestStatus.EXPIRED
    assert replies_saying(slack, "Escalating")


@pytest.mark.parametrize(
    ("answer", "state", "reply"),
    [
        ("done", State.RESOLVED, "Fixed and verified"),
        ("not-done", State.ESCALATED, "Escalating"),
    ],
)
async def test_manual_step_waits_for_a_person_and_follows_their_answer(
    make_settings, slack, airflow, answer, state, reply
):
    async with start_bot(make_settings()) as bot:
        incident, request_id = await open_incident(bot, airflow, HANDOFF_ERROR)
        await click(bot, slack, incident, action="approve", value=request_id, user=ONCALL[0])
        await wait_for(lambda: has_reply(slack, "Waiting for a person"))
        await bot.wait_until_idle()

        await click(bot, slack, incident, action=answer, value=request_id, user=OUTSIDER)
        await slack.wait_for_calls("chat.postEphemeral", 2)
        await bot.wait_until_idle()
        after_outsider = await bot.runtime.store.get(incident.id)
        await click(bot, slack, incident, action=answer, value=request_id, user=ONCALL[1])
        await wait_for_state(bot, incident.id, state)

    [waiting] = replies_saying(slack, "Waiting for a person")
    refusal = slack.calls_to("chat.postEphemeral")[1]
    assert f"incident.{answer}" in json.dumps(waiting.params)
    assert refusal.params["user"] == OUTSIDER
    assert after_outsider.state is State.REMEDIATING
    assert replies_saying(slack, reply)
    assert airflow.writes == []


async def has_reply(slack, words):
    return bool(replies_saying(slack, words))


async def test_kill_switch_proposes_without_approve_button_and_refuses_approval(
    make_settings, slack, airflow
):
    async with start_bot(make_settings(observe_only=True)) as bot:
        incident, request_id = await open_incident(bot, airflow)

        await click(bot, slack, incident, action="approve", value=request_id, user=ONCALL[0])
        [answer] = await slack.wait_for_calls("chat.postEphemeral")
        await bot.wait_until_idle()
        current = await bot.runtime.store.get(incident.id)

    [proposal] = replies_saying(slack, "Approval needed")
    shown = json.dumps(proposal.params)
    assert "incident.approve" not in shown
    assert "OBSERVE_ONLY" in shown
    assert "observe-only" in answer.params["text"]
    assert current.state is State.AWAITING_APPROVAL
    assert airflow.writes == []


async def test_kill_switch_turned_on_after_approval_stops_the_queued_run(
    make_settings, slack, airflow
):
    async with start_bot(make_settings()) as bot:
        incident, request_id = await open_incident(bot, airflow)
    # Approved while no worker runs, so the run job waits in Redis for the next bot.
    async with start_bot(make_settings(workers="external")) as bot:
        await click(bot, slack, incident, action="approve", value=request_id, user=ONCALL[0])
        await slack.wait_for_calls("chat.postEphemeral")
        queued = await bot.runtime.queue.count("queued")

    async with start_bot(make_settings(observe_only=True)) as bot:
        await wait_for_state(bot, incident.id, State.ESCALATED)

    assert queued >= 1
    assert airflow.writes == []
    assert replies_saying(slack, "observe-only now")


async def test_audit_verify_passes_after_a_run_and_fails_after_an_entry_is_altered(
    make_settings, slack, airflow, redis, redis_url, monkeypatch
):
    async with start_bot(make_settings()) as bot:
        incident, request_id = await open_incident(bot, airflow)
        await click(bot, slack, incident, action="approve", value=request_id, user=ONCALL[0])
        await wait_for_state(bot, incident.id, State.RESOLVED)
    monkeypatch.setenv("REDIS_URL", redis_url)
    runner = CliRunner()

    intact = await asyncio.to_thread(runner.invoke, cli_app, ["audit", "verify"])
    entry = json.loads(await redis.lindex(AUDIT_KEY, 2))
    entry["actor"] = "someone-else"
    await redis.lset(AUDIT_KEY, 2, json.dumps(entry))
    broken = await asyncio.to_thread(runner.invoke, cli_app, ["audit", "verify"])

    assert intact.exit_code == 0, intact.output
    assert broken.exit_code != 0
    assert "audit chain broken at seq 3" in broken.output


GROUP_MEMBER = "U0INGROUP"
APPROVER_GROUP = "S0APPROVE"
GROUP_POLICY = f"""
roles:
  oncall:
    members: [{APPROVER_GROUP}]
approvals:
  low:
    roles: [oncall]
"""


async def test_slack_group_member_may_approve_when_the_role_lists_only_the_group(
    make_settings, slack, airflow, tmp_path
):
    policy = tmp_path / "group-policy.yaml"
    policy.write_text(GROUP_POLICY)
    slack.add_user_group(APPROVER_GROUP, handle="approvers", users=[GROUP_MEMBER, "U0OTHER01"])
    async with start_bot(make_settings(approval_policy_file=policy)) as bot:
        incident, request_id = await open_incident(bot, airflow)

        await click(bot, slack, incident, action="approve", value=request_id, user=OUTSIDER)
        [refusal] = await slack.wait_for_calls("chat.postEphemeral")
        await bot.wait_until_idle()
        after_outsider = await bot.runtime.remediation.approvals.get(request_id)
        await click(bot, slack, incident, action="approve", value=request_id, user=GROUP_MEMBER)
        await wait_for_state(bot, incident.id, State.RESOLVED)
        request = await bot.runtime.remediation.approvals.get(request_id)

    assert "not allowed to approve" in refusal.params["text"]
    assert after_outsider.status is RequestStatus.PENDING
    assert request.approvers == [GROUP_MEMBER]
    assert len(clears(airflow)) == 1
    assert len(slack.calls_to("usergroups.list")) == 1


async def test_late_click_after_resolve_command_is_answered_resolved_and_runs_nothing(
    make_settings, slack, airflow
):
    async with start_bot(make_settings()) as bot:
        incident, request_id = await open_incident(bot, airflow)
        body = build_slash_command(
            f"resolve {incident.id}", response_url=slack.response_url(), user=ONCALL[1]
        )
        headers = sign_request(body, secret=SLACK_SIGNING_SECRET)
        await bot.client.post("/slack/events", content=body, headers=headers)
        await wait_for_state(bot, incident.id, State.RESOLVED)

        await click(bot, slack, incident, action="approve", value=request_id, user=ONCALL[0])
        [answer] = await slack.wait_for_calls("chat.postEphemeral")
        await bot.wait_until_idle()
        request = await bot.runtime.remediation.approvals.get(request_id)
        current = await bot.runtime.store.get(incident.id)
        [refused] = await get_audit(bot, AuditKind.CLICK_REFUSED)

    assert "This incident is resolved" in answer.params["text"]
    assert request.status is RequestStatus.CANCELLED
    assert refused.data["reason"] == "resolved"
    assert current.state is State.RESOLVED
    assert airflow.writes == []


async def test_recovery_before_expiry_cancels_the_request_without_nobody_approved(
    make_settings, slack, airflow
):
    async with start_bot(make_settings(minutes=0.1)) as bot:
        incident, request_id = await open_incident(bot, airflow)
        headers = {"Authorization": f"Bearer {AIRFLOW_TOKEN}", "Content-Type": "application/json"}
        await bot.client.post(
            "/webhooks/airflow", content=callback_body("", state="success"), headers=headers
        )
        await wait_for_state(bot, incident.id, State.RESOLVED)

        async def is_cancelled():
            request = await bot.runtime.remediation.approvals.get(request_id)
            return request.status is RequestStatus.CANCELLED

        await wait_for(is_cancelled, limit=20.0)
        await bot.wait_until_idle()
        current = await bot.runtime.store.get(incident.id)
        resolved = await get_audit(bot, AuditKind.APPROVAL_RESOLVED)

    assert current.state is State.RESOLVED
    assert not replies_saying(slack, "Nobody approved")
    assert not replies_saying(slack, "Escalating")
    assert [entry.data["status"] for entry in resolved] == ["cancelled"]
    assert airflow.writes == []


# A later step of a fix fails its verification: the earlier steps that ran are taken back.

SWAP_ERROR = "WarehouseSwapError: the loader ran out of warehouse memory"
MEMORY_VARIABLE = f"{TASK.dag_id}.warehouse_memory"
TWO_STEP_PLAYBOOK = """
id: swap
title: Warehouse swap
failure_class: out-of-memory
applies_to: [airflow]
recognition:
  patterns:
    - regex: "WarehouseSwapError"
      weight: 0.97
diagnosis: The warehouse loader of {dag_id} ran out of memory.
remediation:
  - id: raise-memory
    title: Raise the warehouse memory of the loader
    action:
      kind: airflow.set_variable
      params:
        key: "{dag_id}.warehouse_memory"
        value: "8Gi"
    risk: low
    verification:
      kind: manual
      params:
        instructions: The variable holds the new value.
      timeout_seconds: 600
    rollback:
      kind: airflow.set_variable
      params:
        key: "{dag_id}.warehouse_memory"
        value: "{previous_value}"
  - id: clear-task
    title: Clear the failed task so it runs with more memory
    action:
      kind: airflow.clear_task_instances
      params:
        dag_id: "{dag_id}"
        dag_run_id: "{dag_run_id}"
        task_ids: ["{task_id}"]
    risk: low
    verification:
      kind: airflow.task_instance_state
      params:
        dag_id: "{dag_id}"
        dag_run_id: "{dag_run_id}"
        task_id: "{task_id}"
      timeout_seconds: 10
    rollback: null
escalation:
  team: "@warehouse-team"
  after_minutes: 30
"""


def variable_writes(airflow):
    return [
        (request.method, request.json["value"])
        for request in airflow.writes
        if "/variables" in request.path and request.method in ("PATCH", "POST")
    ]


async def get_open_request_id(bot, incident_id, step_id):
    requests = await bot.runtime.remediation.approvals.store.list_for_incident(incident_id)
    [request] = [request for request in requests if request.step_id == step_id]
    return request.id


async def run_a_fix_whose_second_step_fails(bot, slack, airflow):
    """Approve the variable step, confirm it done, approve the clear that fails again; then
    ask the flow to take earlier steps back a second time. Returns the incident."""
    incident, first_id = await open_incident(bot, airflow, SWAP_ERROR)
    await click(bot, slack, incident, action="approve", value=first_id, user=ONCALL[0])
    await wait_for(lambda: has_reply(slack, "Waiting for a person"))
    await bot.wait_until_idle()
    assert airflow.variables[MEMORY_VARIABLE]["value"] == "8Gi"

    await click(bot, slack, incident, action="done", value=first_id, user=ONCALL[1])
    await wait_for_state(bot, incident.id, State.AWAITING_APPROVAL)
    second_id = await get_open_request_id(bot, incident.id, "clear-task")
    await click(bot, slack, incident, action="approve", value=second_id, user=ONCALL[0])
    await wait_for_state(bot, incident.id, State.ESCALATED)

    # The same fix failing again finds nothing left to take back.
    remediation = bot.runtime.remediation
    await remediation._roll_back_earlier(await remediation.approvals.get(second_id))
    await bot.wait_until_idle()
    return incident


def to_thread_text(call):
    return json.dumps(call.params)


@pytest.fixture
def two_step_fix(make_settings, airflow, tmp_path):
    (tmp_path / "runbooks" / "swap.yaml").write_text(TWO_STEP_PLAYBOOK)
    airflow.variables[MEMORY_VARIABLE] = {"key": MEMORY_VARIABLE, "value": "2Gi"}
    airflow.outcome = "failed"  # the cleared task fails again
    return make_settings()


async def test_later_step_failing_verification_rolls_back_the_earlier_step_and_escalates(
    two_step_fix, slack, airflow
):
    async with start_bot(two_step_fix) as bot:
        incident = await run_a_fix_whose_second_step_fails(bot, slack, airflow)
        entries = await get_audit(bot)
        requests = await bot.runtime.remediation.approvals.store.list_for_incident(incident.id)
        current = await bot.runtime.store.get(incident.id)

    assert current.state is State.ESCALATED
    assert airflow.variables[MEMORY_VARIABLE]["value"] == "2Gi"
    assert variable_writes(airflow) == [("PATCH", "8Gi"), ("PATCH", "2Gi")]
    assert len(clears(airflow)) == 1
    assert {request.status for request in requests} == {RequestStatus.EXECUTED}
    [undone] = [
        call
        for call in slack.calls_to("chat.postMessage")
        if "`raise-memory` is taken back" in to_thread_text(call)
    ]
    assert "thread_ts" in undone.params
    assert "Restored the Variable `orders_daily.warehouse_memory` to `2Gi`" in to_thread_text(
        undone
    )
    [rollback] = [entry for entry in entries if entry.kind is AuditKind.ROLLBACK]
    assert rollback.data["rolled_back"] is True
    finished = [entry for entry in entries if entry.kind is AuditKind.ACTION_FINISHED]
    assert [entry.data["step_id"] for entry in finished] == [
        "raise-memory",
        "raise-memory",
        "clear-task",
        "raise-memory",
    ]
    assert finished[-1].data["rolled_back"] is True
    kinds = [entry.kind for entry in entries]
    assert kinds.index(AuditKind.ROLLBACK) < kinds.index(AuditKind.ESCALATION)
    [escalation] = replies_saying(slack, "Escalating")
    assert "@warehouse-team" in escalation.params["text"]


async def test_reply_for_a_step_taken_back_does_not_say_fixed(two_step_fix, slack, airflow):
    async with start_bot(two_step_fix) as bot:
        await run_a_fix_whose_second_step_fails(bot, slack, airflow)

    [undone] = [
        call
        for call in slack.calls_to("chat.postMessage")
        if "`raise-memory` is taken back" in to_thread_text(call)
    ]
    assert "Fixed and verified" not in undone.params["text"]
    assert undone.params["text"].startswith("Taken back because a later step failed")


SET_MEMORY_STEP = """
  - id: {id}
    title: Set the warehouse memory to {value}
    action:
      kind: airflow.set_variable
      params:
        key: "{{dag_id}}.warehouse_memory"
        value: "{value}"
    risk: low
    verification:
      kind: manual
      params:
        instructions: The variable holds the new value.
      timeout_seconds: 600
    rollback:
      kind: airflow.set_variable
      params:
        key: "{{dag_id}}.warehouse_memory"
        value: "{{previous_value}}"
"""


def build_three_step_playbook():
    """The two-step playbook with a second variable step between the first and the clear."""
    head, clear = TWO_STEP_PLAYBOOK.split("  - id: clear-task")
    head = head.replace('value: "8Gi"', 'value: "4Gi"')
    return (
        head
        + SET_MEMORY_STEP.format(id="raise-memory-more", value="8Gi").lstrip("\n")
        + ("  - id: clear-task" + clear)
    )


async def approve_and_confirm(bot, slack, incident, step_id):
    request_id = await get_open_request_id(bot, incident.id, step_id)
    await click(bot, slack, incident, action="approve", value=request_id, user=ONCALL[0])

    async def is_waiting():
        return (await bot.runtime.store.get(incident.id)).state is State.REMEDIATING and bool(
            [
                call
                for call in replies_saying(slack, "Waiting for a person")
                if request_id in to_thread_text(call)
            ]
        )

    await wait_for(is_waiting)
    await bot.wait_until_idle()
    await click(bot, slack, incident, action="done", value=request_id, user=ONCALL[1])
    await wait_for_state(bot, incident.id, State.AWAITING_APPROVAL)


async def test_earlier_steps_are_taken_back_newest_first(make_settings, slack, airflow, tmp_path):
    (tmp_path / "runbooks" / "swap.yaml").write_text(build_three_step_playbook())
    airflow.variables[MEMORY_VARIABLE] = {"key": MEMORY_VARIABLE, "value": "2Gi"}
    airflow.outcome = "failed"
    async with start_bot(make_settings()) as bot:
        incident, _ = await open_incident(bot, airflow, SWAP_ERROR)
        await approve_and_confirm(bot, slack, incident, "raise-memory")
        await approve_and_confirm(bot, slack, incident, "raise-memory-more")
        clear_id = await get_open_request_id(bot, incident.id, "clear-task")
        await click(bot, slack, incident, action="approve", value=clear_id, user=ONCALL[0])
        await wait_for_state(bot, incident.id, State.ESCALATED)
        rollbacks = await get_audit(bot, AuditKind.ROLLBACK)

    # Newest first: 8Gi goes back to 4Gi, then 4Gi to 2Gi; the other order would end on 4Gi.
    assert variable_writes(airflow) == [
        ("PATCH", "4Gi"),
        ("PATCH", "8Gi"),
        ("PATCH", "4Gi"),
        ("PATCH", "2Gi"),
    ]
    assert airflow.variables[MEMORY_VARIABLE]["value"] == "2Gi"
    assert len(rollbacks) == 2


# PLAYBOOK_VALUES: values a step needs that no alert carries (a rotation endpoint, say).

EXPIRED_KEY_ERROR = "WarehouseKeyExpiredError: the warehouse key expired"
ROTATION_URL = "https://secrets.internal/rotate"
ROTATE_PLAYBOOK = """
id: rotate
title: Warehouse key expired
failure_class: expired-credential
applies_to: [airflow]
recognition:
  patterns:
    - regex: "WarehouseKeyExpiredError"
      weight: 0.97
diagnosis: The warehouse key of {dag_id} expired.
remediation:
  - id: rotate-key
    title: Rotate the warehouse key
    action:
      kind: http.call
      params:
        method: POST
        url: "{credential_rotation_url}"
        body:
          dag_id: "{dag_id}"
        expected_status: [200, 202]
    risk: low
    dry_run: false
    verification:
      kind: manual
      params:
        instructions: The loader connects with the new key.
      timeout_seconds: 600
escalation:
  team: "@warehouse-team"
  after_minutes: 30
"""


@pytest.fixture
def rotate_settings(make_settings, tmp_path):
    (tmp_path / "runbooks" / "rotate.yaml").write_text(ROTATE_PLAYBOOK)

    def make(**overrides):
        return make_settings(action_http_allowed_hosts="secrets.internal", **overrides)

    return make


async def test_playbook_values_fill_a_placeholder_no_alert_carries_and_the_alert_wins(
    rotate_settings, slack, airflow
):
    values = {"credential_rotation_url": ROTATION_URL, "dag_id": "not_this_dag"}
    async with start_bot(rotate_settings(playbook_values=json.dumps(values))) as bot:
        incident, request_id = await open_incident(bot, airflow, EXPIRED_KEY_ERROR)
        request = await bot.runtime.remediation.approvals.get(request_id)
        current = await bot.runtime.store.get(incident.id)

    [proposal] = replies_saying(slack, "Approval needed: Rotate the warehouse key")
    assert ROTATION_URL in json.dumps(proposal.params)
    assert "incident.approve" in json.dumps(proposal.params)
    assert current.state is State.AWAITING_APPROVAL
    assert request.values["credential_rotation_url"] == ROTATION_URL
    assert request.values["dag_id"] == TASK.dag_id
    assert request.action.params.url == ROTATION_URL
    assert request.action.params.body == {"dag_id": TASK.dag_id}
    assert not replies_saying(slack, "Escalating")


async def test_step_whose_placeholder_no_value_fills_is_not_proposed_but_escalated(
    rotate_settings, slack, airflow
):
    airflow.set_log(TASK, 2, [error_event(stack("RuntimeError", EXPIRED_KEY_ERROR))])
    async with start_bot(rotate_settings()) as bot:
        headers = {"Authorization": f"Bearer {AIRFLOW_TOKEN}", "Content-Type": "application/json"}
        await bot.client.post(
            "/webhooks/airflow", content=callback_body(EXPIRED_KEY_ERROR), headers=headers
        )
        await bot.wait_until_idle()
        [incident] = await bot.runtime.store.list_recent()

    [escalation] = replies_saying(slack, "Escalating")
    assert incident.state is State.ESCALATED
    assert "cannot be proposed" in escalation.params["text"]
    assert "credential_rotation_url" in escalation.params["text"]
    assert not replies_saying(slack, "Approval needed")


async def test_bot_refuses_to_start_when_playbook_values_is_not_a_json_object(rotate_settings):
    with pytest.raises(ConfigError, match="PLAYBOOK_VALUES must be a JSON object"):
        async with start_bot(
            rotate_settings(playbook_values=f"credential_rotation_url={ROTATION_URL}")
        ):
            pass


SCHEMA_DRIFT_ERROR = "\"['amount'] not in index\""
CONTRACT_PLAYBOOK = """
id: contract-gate
title: Orders input drifted
failure_class: schema-drift
applies_to: [airflow]
recognition:
  patterns:
    - regex: "OrdersDriftError"
      weight: 0.99
diagnosis: The orders input drifted under {dag_id}.
remediation:
  - id: ask-producer
    title: Ask the producer to restore the layout
    action:
      kind: manual
      params:
        instructions: Ask the producer to restore the `amount` column.
    risk: low
    dry_run: false
    verification:
      kind: data.contract
      params:
        dag_id: "{dag_id}"
        instructions: The input has its contracted columns again.
      timeout_seconds: 1
  - id: clear-task
    title: Rerun the task on the restored input
    action:
      kind: airflow.clear_task_instances
      params:
        dag_id: "{dag_id}"
        dag_run_id: "{dag_run_id}"
        task_ids: ["{task_id}"]
    risk: low
    verification:
      kind: airflow.task_instance_state
      params:
        dag_id: "{dag_id}"
        dag_run_id: "{dag_run_id}"
        task_id: "{task_id}"
      timeout_seconds: 10
escalation:
  team: "@orders-producers"
  after_minutes: 30
"""


@pytest.fixture
def contract_settings(make_settings, tmp_path):
    """The bot with a data contract for the DAG of TASK and a playbook that checks it."""
    runbooks = tmp_path / "contract-runbooks"
    runbooks.mkdir()
    (runbooks / "contract-gate.yaml").write_text(CONTRACT_PLAYBOOK)
    write_contract(tmp_path / "contracts", dag_ids=[TASK.dag_id])
    policy = tmp_path / "contract-policy.yaml"
    policy.write_text(
        f"roles: {{oncall: {{members: [{ONCALL[0]}]}}}}\n"
        "approvals:\n  low: {roles: [oncall]}\n  medium: {roles: [oncall]}\n"
    )

    def make(**overrides):
        fields = {
            "runbooks_dirs": f"{tmp_path / 'runbooks'},{runbooks}",
            "data_contracts_dir": tmp_path / "contracts",
            "approval_policy_file": policy,
        }
        return make_settings(**(fields | overrides))

    return make


async def has_requests(bot, incident_id, count):
    requests = await bot.runtime.remediation.approvals.store.list_for_incident(incident_id)
    return len(requests) >= count


async def confirm_first_step(bot, slack, airflow, *, error, exc_type="RuntimeError"):
    incident, request_id = await open_incident(bot, airflow, error, exc_type)
    await click(bot, slack, incident, action="approve", value=request_id, user=ONCALL[0])
    await wait_for(lambda: has_reply(slack, "Waiting for a person"))
    await bot.wait_until_idle()
    await click(bot, slack, incident, action="done", value=request_id, user=ONCALL[0])
    return incident


async def test_schema_drift_rerun_is_proposed_once_the_input_meets_its_contract(
    contract_settings, slack, airflow, tmp_path
):
    (tmp_path / "contracts" / "orders.csv").write_text(GOOD_CSV)
    async with start_bot(contract_settings()) as bot:
        incident = await confirm_first_step(
            bot, slack, airflow, error=SCHEMA_DRIFT_ERROR, exc_type="KeyError"
        )
        await wait_for(lambda: has_requests(bot, incident.id, 2))
        await bot.wait_until_idle()
        requests = await bot.runtime.remediation.approvals.store.list_for_incident(incident.id)

    [verified] = [
        call
        for call in slack.calls_to("chat.postMessage")
        if "the orders input is within its data contract" in to_thread_text(call)
    ]
    assert "thread_ts" in verified.params
    assert [request.playbook_id for request in requests] == ["schema-drift-airflow"] * 2
    assert requests[-1].step_id == "clear-producer-and-downstream"
    assert requests[-1].status is RequestStatus.PENDING
    assert clears(airflow) == []


async def test_input_still_breaking_its_contract_escalates_without_a_rerun(
    contract_settings, slack, airflow, tmp_path
):
    (tmp_path / "contracts" / "orders.csv").write_text(RENAMED_CSV)
    async with start_bot(contract_settings()) as bot:
        incident = await confirm_first_step(
            bot, slack, airflow, error="OrdersDriftError: amount is gone"
        )
        await wait_for_state(bot, incident.id, State.ESCALATED)
        requests = await bot.runtime.remediation.approvals.store.list_for_incident(incident.id)

    [escalation] = replies_saying(slack, "Escalating")
    assert "@orders-producers" in escalation.params["text"]
    assert "missing amount; not in the contract: order_amount" in escalation.params["text"]
    assert [request.step_id for request in requests] == ["ask-producer"]
    assert airflow.writes == []
