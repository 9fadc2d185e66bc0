"""The Airflow executor against the Airflow 2 and 3 stand-ins over real HTTP."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter

from bot.actions.airflow import AirflowExecutor
from bot.actions.models import ActionError, ActionResult
from bot.diagnosis.collectors.airflow_api import AirflowApi
from bot.runbooks.models import Action, SetVariable
from tests.actions.conftest import RUN_ID, TASK, build_ctx
from tests.fakes.airflow import FakeAirflow, Task

ACTION = TypeAdapter(Action)
DAG = TASK.dag_id
VARIABLE = f"{DAG}.task_memory_limit"


def build_action(kind: str, **params: object) -> Action:
    return ACTION.validate_python({"kind": kind, "params": params})


def build_clear(**options: object) -> Action:
    params = {"dag_id": DAG, "dag_run_id": RUN_ID, "task_ids": [TASK.task_id], **options}
    return build_action("airflow.clear_task_instances", **params)


def build_set_variable(value: str = "4Gi") -> SetVariable:
    action = build_action("airflow.set_variable", key=VARIABLE, value=value)
    assert isinstance(action, SetVariable)
    return action


@pytest.mark.parametrize(
    "action",
    [
        build_clear(),
        build_action("airflow.trigger_dag_run", dag_id=DAG, conf={"reason": "rerun"}),
        build_action(
            "airflow.set_task_instance_state",
            dag_id=DAG,
            dag_run_id=RUN_ID,
            task_id=TASK.task_id,
            state="success",
        ),
        build_action("airflow.pause_dag", dag_id=DAG),
        build_action("airflow.unpause_dag", dag_id=DAG),
        build_set_variable(),
    ],
    ids=lambda action: action.kind,
)
async def test_preview_sends_no_write(
    airflow: tuple[FakeAirflow, str], api: AirflowApi, action: Action
) -> None:
    fake, _ = airflow

    preview = await AirflowExecutor(api).preview(action, build_ctx())

    assert preview.summary
    assert fake.writes == []


async def test_clear_preview_uses_airflow_dry_run_with_defaults_spelt_out(
    airflow: tuple[FakeAirflow, str], api: AirflowApi
) -> None:
    fake, _ = airflow

    preview = await AirflowExecutor(api).preview(build_clear(), build_ctx())

    clear = next(
        request for request in fake.requests if request.path.endswith("clearTaskInstances")
    )
    assert clear.json["dry_run"] is True
    assert clear.json["only_failed"] is True
    assert [item["task_id"] for item in preview.data["task_instances"]] == [TASK.task_id]
    assert fake.get_state(TASK) == "failed"


async def test_clear_executes_exactly_what_the_preview_showed(
    airflow: tuple[FakeAirflow, str], api: AirflowApi
) -> None:
    fake, _ = airflow
    executor = AirflowExecutor(api)
    action = build_clear(include_downstream=True)

    preview = await executor.preview(action, build_ctx())
    result = await executor.execute(action, build_ctx())

    [write] = fake.writes
    assert write.json == {**preview.data["request"], "dry_run": False}
    assert result.data["task_instances"] == preview.data["task_instances"]
    assert fake.get_state(TASK) is None


async def test_clear_of_a_successful_task_needs_only_failed_false(
    airflow: tuple[FakeAirflow, str], api: AirflowApi
) -> None:
    fake, _ = airflow
    fake.add_task_instance(TASK, state="success")
    executor = AirflowExecutor(api)

    default = await executor.preview(build_clear(), build_ctx())
    explicit = await executor.preview(build_clear(only_failed=False), build_ctx())

    assert default.data["task_instances"] == []
    assert [item["task_id"] for item in explicit.data["task_instances"]] == [TASK.task_id]


async def test_trigger_sends_null_logical_date_only_to_airflow_3(
    airflow: tuple[FakeAirflow, str], api: AirflowApi
) -> None:
    fake, _ = airflow
    action = build_action("airflow.trigger_dag_run", dag_id=DAG, conf={"reason": "rerun"})

    result = await AirflowExecutor(api).execute(action, build_ctx(attempt=2))

    [write] = fake.writes
    assert ("logical_date" in write.json) is (fake.version == "v2")
    assert write.json["conf"] == {"reason": "rerun"}
    run_id = result.values["dag_run_id"]
    assert run_id == "incident-bot__inc-1__step__2"
    assert (DAG, run_id) in fake.dag_runs


async def test_trigger_twice_for_one_attempt_adds_no_second_run(
    airflow: tuple[FakeAirflow, str], api: AirflowApi
) -> None:
    fake, _ = airflow
    executor = AirflowExecutor(api)
    action = build_action("airflow.trigger_dag_run", dag_id=DAG)
    await executor.execute(action, build_ctx())

    with pytest.raises(ActionError, match="409"):
        await executor.execute(action, build_ctx())

    assert len(fake.dag_runs) == 2


async def test_marking_the_last_failed_task_success_also_marks_the_run_success(
    airflow: tuple[FakeAirflow, str], api: AirflowApi
) -> None:
    fake, _ = airflow
    executor = AirflowExecutor(api)

    def build_mark(task_id: str) -> Action:
        return build_action(
            "airflow.set_task_instance_state",
            dag_id=DAG,
            dag_run_id=RUN_ID,
            task_id=task_id,
            state="success",
        )

    first = await executor.execute(build_mark(TASK.task_id), build_ctx())
    assert fake.dag_runs[(DAG, RUN_ID)]["state"] == "failed"
    last = await executor.execute(build_mark("load"), build_ctx())

    assert first.data["dag_run_state"] is None
    assert last.data["dag_run_state"] == "success"
    assert fake.get_state(Task(DAG, RUN_ID, "load")) == "success"
    assert fake.dag_runs[(DAG, RUN_ID)]["state"] == "success"
    state_writes = [write for write in fake.writes if "taskInstances" in write.path]
    # Airflow 2's task state PATCH is a dry run unless told otherwise.
    assert all(write.json.get("dry_run", False) is False for write in state_writes)


@pytest.mark.parametrize(
    ("kind", "paused"), [("airflow.pause_dag", True), ("airflow.unpause_dag", False)]
)
async def test_pause_and_unpause_patch_only_the_pause_flag(
    airflow: tuple[FakeAirflow, str], api: AirflowApi, kind: str, paused: bool
) -> None:
    fake, _ = airflow
    fake.add_dag(DAG, is_paused=not paused)

    await AirflowExecutor(api).execute(build_action(kind, dag_id=DAG), build_ctx())

    [write] = fake.writes
    assert (write.method, write.json, write.query) == (
        "PATCH",
        {"is_paused": paused},
        {"update_mask": "is_paused"},
    )
    assert fake.dags[DAG]["is_paused"] is paused


async def test_set_variable_records_the_previous_value_and_rollback_restores_it(
    airflow: tuple[FakeAirflow, str], api: AirflowApi
) -> None:
    fake, _ = airflow
    fake.variables[VARIABLE] = {"key": VARIABLE, "value": "2Gi", "description": "limit"}
    executor = AirflowExecutor(api)

    result = await executor.execute(build_set_variable(), build_ctx())
    assert fake.variables[VARIABLE]["value"] == "4Gi"
    await executor.rollback(build_set_variable("{previous_value}"), result, build_ctx())

    assert result.values == {"previous_value": "2Gi"}
    assert fake.variables[VARIABLE] == {"key": VARIABLE, "value": "2Gi", "description": "limit"}
    assert [write.method for write in fake.writes] == ["PATCH", "PATCH"]


async def test_set_variable_that_did_not_exist_is_deleted_on_rollback(
    airflow: tuple[FakeAirflow, str], api: AirflowApi
) -> None:
    fake, _ = airflow
    executor = AirflowExecutor(api)

    result = await executor.execute(build_set_variable(), build_ctx())
    assert fake.variables[VARIABLE]["value"] == "4Gi"
    rollback = await executor.rollback(build_set_variable("<previous_value>"), result, build_ctx())

    assert VARIABLE not in fake.variables
    assert rollback.data == {"restored": False, "deleted": True}
    assert [write.method for write in fake.writes] == ["POST", "DELETE"]


async def test_refused_write_raises_action_error_naming_what_failed(
    airflow: tuple[FakeAirflow, str], api: AirflowApi
) -> None:
    fake, _ = airflow
    fake.fail("clear", 403)

    with pytest.raises(ActionError, match="clear task instances"):
        await AirflowExecutor(api).execute(build_clear(), build_ctx())


def test_action_result_round_trips_through_json() -> None:
    result = ActionResult(kind="airflow.set_variable", summary="s", data={"existed": False})

    assert ActionResult.model_validate_json(result.model_dump_json()) == result
