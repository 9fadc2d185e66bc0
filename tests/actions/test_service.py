"""The action runner: idempotency in Redis, verification, rollback and escalation, with the
real playbook steps against the Airflow stand-ins."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import redis.asyncio as aioredis

from bot.actions.models import ActionStatus, RunContext, RunOutcome, RunStatus
from bot.actions.service import ActionRunner, build_action_runner, to_action_key
from bot.runbooks.models import RemediationStep
from tests.actions.conftest import TASK, VALUES, build_settings, build_step, get_step
from tests.fakes.airflow import FakeAirflow

DAG = TASK.dag_id
VARIABLE = f"{DAG}.task_memory_limit"


def to_short_timeout(step: RemediationStep) -> RemediationStep:
    """The step with a one-second verification timeout, for checks that must time out."""
    check = step.verification.model_copy(update={"timeout_seconds": 1})
    return step.model_copy(update={"verification": check})


def get_real_writes(fake: FakeAirflow) -> list[str]:
    return [f"{write.method} {write.path}" for write in fake.writes]


async def run(
    runner: ActionRunner, step: RemediationStep, ctx: RunContext, attempt: int = 1
) -> RunOutcome:
    return await runner.run(step, incident_id="inc-1", attempt=attempt, ctx=ctx)


async def test_clear_step_runs_once_and_is_verified(
    airflow: tuple[FakeAirflow, str], runner: ActionRunner, run_ctx: RunContext
) -> None:
    fake, _ = airflow

    outcome = await run(runner, get_step("code-bug", "clear-failed-task"), run_ctx)

    assert (outcome.status, outcome.verified, outcome.escalate) == (RunStatus.EXECUTED, True, False)
    assert outcome.executed
    assert fake.get_state(TASK) == "success"
    assert len(fake.writes) == 1
    assert set(outcome.durations_ms) == {"action_ms", "verification_ms"}
    assert {call.method for call in outcome.calls if call.system == "airflow"} >= {"POST", "GET"}


async def test_preview_through_the_runner_writes_nothing(
    airflow: tuple[FakeAirflow, str], runner: ActionRunner, run_ctx: RunContext
) -> None:
    fake, _ = airflow

    preview = await runner.preview(
        get_step("code-bug", "clear-failed-task"), incident_id="inc-1", ctx=run_ctx
    )

    assert TASK.task_id in preview.summary
    assert fake.writes == []


async def test_two_concurrent_runs_of_one_key_execute_once(
    airflow: tuple[FakeAirflow, str], runner: ActionRunner, run_ctx: RunContext
) -> None:
    fake, _ = airflow
    step = get_step("code-bug", "clear-failed-task")

    first, second = await asyncio.gather(run(runner, step, run_ctx), run(runner, step, run_ctx))

    assert len(fake.writes) == 1
    assert sorted([first.duplicate, second.duplicate]) == [False, True]
    duplicate = first if first.duplicate else second
    assert duplicate.status == RunStatus.RUNNING
    assert "already running" in duplicate.details[0]


async def test_two_runners_sharing_redis_execute_once(
    airflow: tuple[FakeAirflow, str],
    http: httpx.AsyncClient,
    redis: aioredis.Redis,
    run_ctx: RunContext,
) -> None:
    fake, base_url = airflow
    workers = [build_action_runner(build_settings(base_url), http=http, redis=redis) for _ in "ab"]
    step = get_step("code-bug", "pause-dag")
    fake.add_dag(DAG)

    outcomes = await asyncio.gather(*(run(worker, step, run_ctx) for worker in workers))

    assert get_real_writes(fake) == [f"PATCH /api/{fake.version}/dags/{DAG}"]
    assert [outcome.duplicate for outcome in outcomes].count(False) == 1


async def test_retried_run_after_completion_returns_the_recorded_outcome(
    airflow: tuple[FakeAirflow, str], runner: ActionRunner, run_ctx: RunContext
) -> None:
    fake, _ = airflow
    step = get_step("code-bug", "clear-failed-task")
    first = await run(runner, step, run_ctx)

    retried = await run(runner, step, run_ctx)

    assert len(fake.writes) == 1
    assert retried.duplicate
    assert retried.status == RunStatus.EXECUTED
    assert retried.result == first.result
    assert "already ran" in retried.details[0]


async def test_next_attempt_runs_the_step_again(
    airflow: tuple[FakeAirflow, str], runner: ActionRunner, run_ctx: RunContext
) -> None:
    fake, _ = airflow
    step = get_step("code-bug", "clear-failed-task")
    fake.outcome = "failed"
    await run(runner, step, run_ctx, attempt=1)
    fake.outcome = "success"

    second = await run(runner, step, run_ctx, attempt=2)

    assert second.verified and not second.duplicate
    assert len(fake.writes) == 2


async def test_task_failing_again_after_clear_rolls_back_by_marking_it_failed(
    airflow: tuple[FakeAirflow, str], runner: ActionRunner, run_ctx: RunContext
) -> None:
    fake, _ = airflow
    fake.outcome = None
    step = build_step(
        action={
            "kind": "airflow.clear_task_instances",
            "params": {
                "dag_id": "{dag_id}",
                "dag_run_id": "{dag_run_id}",
                "task_ids": ["{task_id}"],
            },
        },
        verification={
            "kind": "airflow.task_instance_state",
            "params": {"dag_id": "{dag_id}", "dag_run_id": "{dag_run_id}", "task_id": "{task_id}"},
            "timeout_seconds": 1,
        },
        rollback={
            "kind": "airflow.set_task_instance_state",
            "params": {
                "dag_id": "{dag_id}",
                "dag_run_id": "{dag_run_id}",
                "task_id": "{task_id}",
                "state": "failed",
            },
        },
    )

    outcome = await run(runner, step, run_ctx)

    assert (outcome.verified, outcome.rolled_back, outcome.escalate) == (False, True, True)
    assert "timed out" in outcome.verification.summary  # type: ignore[union-attr]
    assert fake.get_state(TASK) == "failed"
    assert "rollback_ms" in outcome.durations_ms


async def test_task_failing_again_without_rollback_escalates(
    airflow: tuple[FakeAirflow, str], runner: ActionRunner, run_ctx: RunContext
) -> None:
    fake, _ = airflow
    fake.outcome = "failed"

    outcome = await run(runner, get_step("code-bug", "clear-failed-task"), run_ctx)

    assert (outcome.verified, outcome.rolled_back, outcome.escalate) == (False, False, True)
    assert outcome.verification.observed == "failed"  # type: ignore[union-attr]
    assert "no rollback" in outcome.details[-1]


async def test_unpause_that_does_not_hold_pauses_the_dag_again(
    airflow: tuple[FakeAirflow, str], runner: ActionRunner, run_ctx: RunContext
) -> None:
    fake, _ = airflow
    fake.add_dag(DAG, is_paused=True)
    fake.pause_overrides[DAG] = True

    outcome = await run(runner, to_short_timeout(get_step("code-bug", "unpause-dag")), run_ctx)

    assert (outcome.verified, outcome.rolled_back, outcome.escalate) == (False, True, True)
    assert [write.json for write in fake.writes] == [{"is_paused": False}, {"is_paused": True}]
    assert fake.dags[DAG]["is_paused"] is True


async def test_variable_step_waits_for_a_person_and_restores_the_value_when_it_did_not_work(
    airflow: tuple[FakeAirflow, str], runner: ActionRunner, run_ctx: RunContext
) -> None:
    fake, _ = airflow
    fake.variables[VARIABLE] = {"key": VARIABLE, "value": "2Gi", "description": None}
    step = get_step("out-of-memory-airflow", "raise-task-memory")

    waiting = await run(runner, step, run_ctx)
    assert waiting.status == RunStatus.WAITING
    assert fake.variables[VARIABLE]["value"] == "4Gi"
    outcome = await runner.confirm(
        step, incident_id="inc-1", attempt=1, ctx=run_ctx, succeeded=False
    )

    assert (outcome.verified, outcome.rolled_back, outcome.escalate) == (False, True, True)
    assert fake.variables[VARIABLE]["value"] == "2Gi"


async def test_manual_step_completes_once_when_marked_done(
    airflow: tuple[FakeAirflow, str], runner: ActionRunner, run_ctx: RunContext
) -> None:
    fake, _ = airflow
    step = get_step("code-bug", "fix-code")

    waiting = await run(runner, step, run_ctx)
    done = await runner.confirm(step, incident_id="inc-1", attempt=1, ctx=run_ctx)
    again = await runner.confirm(step, incident_id="inc-1", attempt=1, ctx=run_ctx)

    assert waiting.status == RunStatus.WAITING
    assert waiting.result.status == ActionStatus.WAITING  # type: ignore[union-attr]
    assert "Waiting for a person" in waiting.details[0]
    assert (done.status, done.verified, done.duplicate) == (RunStatus.EXECUTED, True, False)
    assert (again.verified, again.duplicate) == (True, True)
    assert fake.requests == []


async def test_triggered_run_is_verified_by_its_own_run_id(
    airflow: tuple[FakeAirflow, str], runner: ActionRunner, run_ctx: RunContext
) -> None:
    fake, _ = airflow

    outcome = await run(runner, get_step("dag-import-error", "trigger-missed-run"), run_ctx)

    run_id = outcome.result.values["dag_run_id"]  # type: ignore[union-attr]
    assert outcome.verified
    assert fake.dag_runs[(DAG, run_id)]["state"] == "success"


@pytest.mark.parametrize(
    ("playbook", "step_id", "values", "missing"),
    [
        ("code-bug", "clear-failed-task", {"dag_id": DAG, "task_id": "t"}, "dag_run_id"),
        ("expired-credential", "rotate-credential", VALUES, "credential_rotation_url"),
        ("code-bug", "pause-dag", {}, "dag_id"),
    ],
)
async def test_step_with_an_unfilled_placeholder_is_refused_before_anything_runs(
    airflow: tuple[FakeAirflow, str],
    runner: ActionRunner,
    playbook: str,
    step_id: str,
    values: dict[str, str],
    missing: str,
) -> None:
    fake, _ = airflow

    outcome = await run(runner, get_step(playbook, step_id), RunContext(values=values))

    assert outcome.status == RunStatus.REFUSED
    assert missing in (outcome.error or "")
    assert fake.requests == []
    assert await runner.get_outcome("inc-1", step_id, 1) is None


async def test_http_step_to_a_host_off_the_allow_list_is_refused_and_frees_its_key(
    runner: ActionRunner, redis: aioredis.Redis
) -> None:
    step = get_step("expired-credential", "rotate-credential")
    values = {**VALUES, "conn_id": "s3_raw", "incident_id": "inc-1"}
    values["credential_rotation_url"] = "https://vault.example.com/rotate"

    outcome = await run(runner, step, RunContext(values=values))

    assert outcome.status == RunStatus.REFUSED
    assert "vault.example.com" in (outcome.error or "")
    assert await redis.exists(to_action_key("inc-1", step.id, 1)) == 0


async def test_action_refused_by_airflow_is_recorded_and_escalated(
    airflow: tuple[FakeAirflow, str], runner: ActionRunner, run_ctx: RunContext
) -> None:
    fake, _ = airflow
    fake.fail("clear", 500)
    step = get_step("code-bug", "clear-failed-task")

    outcome = await run(runner, step, run_ctx)
    retried = await run(runner, step, run_ctx)

    assert (outcome.status, outcome.escalate, outcome.verified) == (RunStatus.FAILED, True, None)
    assert "500" in (outcome.error or "")
    assert retried.duplicate and retried.status == RunStatus.FAILED
    assert len(fake.writes) == 1


async def test_outcome_is_recorded_under_the_idempotency_key(
    airflow: tuple[FakeAirflow, str],
    runner: ActionRunner,
    run_ctx: RunContext,
    redis: aioredis.Redis,
) -> None:
    outcome = await run(runner, get_step("code-bug", "clear-failed-task"), run_ctx, attempt=3)

    assert outcome.key == "ib:action:inc-1:clear-failed-task:3"
    recorded = await runner.get_outcome("inc-1", "clear-failed-task", 3)
    assert recorded == outcome.model_copy(update={"calls": []})
    assert await redis.ttl(outcome.key) > 0


# Undoing an earlier step when a later step of the same fix failed (ActionRunner.roll_back)


async def roll_back(
    runner: ActionRunner, step: RemediationStep, ctx: RunContext
) -> RunOutcome | None:
    return await runner.roll_back(step, incident_id="inc-1", attempt=1, ctx=ctx)


async def run_and_confirm_raise_memory(
    fake: FakeAirflow, runner: ActionRunner, ctx: RunContext
) -> RemediationStep:
    """The real raise-task-memory step, run from 2Gi to 4Gi and marked done by a person."""
    fake.variables[VARIABLE] = {"key": VARIABLE, "value": "2Gi", "description": None}
    step = get_step("out-of-memory-airflow", "raise-task-memory")
    await run(runner, step, ctx)
    done = await runner.confirm(step, incident_id="inc-1", attempt=1, ctx=ctx)
    assert (done.status, done.verified) == (RunStatus.EXECUTED, True)
    assert fake.variables[VARIABLE]["value"] == "4Gi"
    return step


async def test_roll_back_restores_a_verified_step_once_and_records_it(
    airflow: tuple[FakeAirflow, str], runner: ActionRunner, run_ctx: RunContext
) -> None:
    fake, _ = airflow
    step = await run_and_confirm_raise_memory(fake, runner, run_ctx)
    writes_before = len(fake.writes)

    undone = await roll_back(runner, step, run_ctx)
    again = await roll_back(runner, step, run_ctx)

    assert undone is not None
    assert undone.rolled_back
    assert "is taken back" in undone.details[0]
    assert fake.variables[VARIABLE]["value"] == "2Gi"
    assert again is None
    [restore] = fake.writes[writes_before:]
    assert (restore.method, restore.json["value"]) == ("PATCH", "2Gi")
    recorded = await runner.get_outcome("inc-1", step.id, 1)
    assert recorded is not None and recorded.rolled_back
    assert {call.method for call in undone.calls if call.system == "airflow"} >= {"PATCH"}


async def test_two_concurrent_roll_backs_of_one_step_restore_once(
    airflow: tuple[FakeAirflow, str], runner: ActionRunner, run_ctx: RunContext
) -> None:
    fake, _ = airflow
    step = await run_and_confirm_raise_memory(fake, runner, run_ctx)
    writes_before = len(fake.writes)

    outcomes = await asyncio.gather(*(roll_back(runner, step, run_ctx) for _ in "ab"))

    assert [outcome is None for outcome in outcomes].count(False) == 1
    assert len(fake.writes) == writes_before + 1


async def test_roll_back_of_a_verified_step_without_rollback_does_nothing(
    airflow: tuple[FakeAirflow, str], runner: ActionRunner, run_ctx: RunContext
) -> None:
    fake, _ = airflow
    step = get_step("code-bug", "clear-failed-task")
    ran = await run(runner, step, run_ctx)
    assert ran.verified and step.rollback is None

    assert await roll_back(runner, step, run_ctx) is None
    assert len(fake.writes) == 1


async def test_roll_back_of_a_step_that_never_ran_does_nothing(
    airflow: tuple[FakeAirflow, str], runner: ActionRunner, run_ctx: RunContext
) -> None:
    fake, _ = airflow
    fake.variables[VARIABLE] = {"key": VARIABLE, "value": "2Gi", "description": None}

    undone = await roll_back(
        runner, get_step("out-of-memory-airflow", "raise-task-memory"), run_ctx
    )

    assert undone is None
    assert fake.writes == []


async def test_roll_back_of_a_step_still_waiting_for_a_person_does_nothing(
    airflow: tuple[FakeAirflow, str], runner: ActionRunner, run_ctx: RunContext
) -> None:
    fake, _ = airflow
    fake.variables[VARIABLE] = {"key": VARIABLE, "value": "2Gi", "description": None}
    step = get_step("out-of-memory-airflow", "raise-task-memory")
    await run(runner, step, run_ctx)

    assert await roll_back(runner, step, run_ctx) is None
    assert fake.variables[VARIABLE]["value"] == "4Gi"


async def test_roll_back_of_a_step_already_rolled_back_by_its_own_verification_does_nothing(
    airflow: tuple[FakeAirflow, str], runner: ActionRunner, run_ctx: RunContext
) -> None:
    fake, _ = airflow
    fake.variables[VARIABLE] = {"key": VARIABLE, "value": "2Gi", "description": None}
    step = get_step("out-of-memory-airflow", "raise-task-memory")
    await run(runner, step, run_ctx)
    failed = await runner.confirm(
        step, incident_id="inc-1", attempt=1, ctx=run_ctx, succeeded=False
    )
    assert failed.rolled_back
    writes_before = len(fake.writes)

    assert await roll_back(runner, step, run_ctx) is None
    assert len(fake.writes) == writes_before
