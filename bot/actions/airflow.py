"""Airflow actions through its REST API (v2 for Airflow 3, v1 for Airflow 2).

Clearing previews with Airflow's own dry run: `clearTaskInstances` defaults to
`dry_run: true` and `only_failed: true`, so both are always sent explicitly. Every other
preview only reads. The client (auth, JWT refresh, version detection) is the diagnosis one.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from bot.actions import messages
from bot.actions.models import ActionContext, ActionError, ActionResult, Preview
from bot.diagnosis.collectors.airflow_api import AirflowApi
from bot.diagnosis.collectors.base import CollectorError, FailureKind
from bot.runbooks.models import (
    Action,
    ClearTaskInstances,
    PauseDag,
    SetTaskInstanceState,
    SetVariable,
    TriggerDagRun,
    UnpauseDag,
)

KINDS = frozenset(
    {
        "airflow.clear_task_instances",
        "airflow.trigger_dag_run",
        "airflow.set_task_instance_state",
        "airflow.pause_dag",
        "airflow.unpause_dag",
        "airflow.set_variable",
    }
)
# Airflow's run id pattern (airflow.models.dagrun RUN_ID_REGEX allows these characters).
RUN_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.~:+-]")
FAILED_STATES = frozenset({"failed", "upstream_failed"})


def to_path(*segments: str) -> str:
    return "/".join(quote(segment, safe="") for segment in segments)


def to_run_id(ctx: ActionContext) -> str:
    """A run id fixed by incident, step and attempt, so a repeated trigger cannot add a run."""
    return RUN_ID_UNSAFE.sub("-", f"incident-bot__{ctx.incident_id}__{ctx.step_id}__{ctx.attempt}")


class AirflowExecutor:
    """Runs the `airflow.*` action kinds."""

    kinds = KINDS

    def __init__(self, api: AirflowApi) -> None:
        self._api = api

    async def preview(self, action: Action, ctx: ActionContext) -> Preview:
        match action:
            case ClearTaskInstances():
                return await self._preview_clear(action)
            case TriggerDagRun():
                return await self._preview_trigger(action, ctx)
            case SetTaskInstanceState():
                return await self._preview_state(action)
            case PauseDag() | UnpauseDag():
                return await self._preview_pause(action)
            case SetVariable():
                return await self._preview_variable(action)
        raise ActionError(messages.build_unknown_kind_refusal(action.kind))

    async def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
        match action:
            case ClearTaskInstances():
                return await self._clear(action)
            case TriggerDagRun():
                return await self._trigger(action, ctx)
            case SetTaskInstanceState():
                return await self._set_state(action)
            case PauseDag() | UnpauseDag():
                return await self._set_paused(action)
            case SetVariable():
                return await self._set_variable(action)
        raise ActionError(messages.build_unknown_kind_refusal(action.kind))

    async def rollback(
        self, rollback_spec: Action, result: ActionResult, ctx: ActionContext
    ) -> ActionResult:
        """Undo `result`: a Variable gets its recorded value back (or is deleted again);
        every other kind runs the declared rollback action."""
        if isinstance(rollback_spec, SetVariable) and "existed" in result.data:
            return await self._restore_variable(rollback_spec.params.key, result.data)
        return await self.execute(rollback_spec, ctx)

    # Clear task instances

    async def _preview_clear(self, action: ClearTaskInstances) -> Preview:
        body = _to_clear_body(action, dry_run=True)
        cleared = await self._post_clear(action.params.dag_id, body)
        summary = messages.build_clear_preview(action.params.dag_id, cleared)
        return Preview(kind=action.kind, summary=summary, data=_to_clear_data(body, cleared))

    async def _clear(self, action: ClearTaskInstances) -> ActionResult:
        body = _to_clear_body(action, dry_run=False)
        cleared = await self._post_clear(action.params.dag_id, body)
        summary = messages.build_clear_result(action.params.dag_id, cleared)
        return ActionResult(kind=action.kind, summary=summary, data=_to_clear_data(body, cleared))

    async def _post_clear(self, dag_id: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        path = f"dags/{to_path(dag_id)}/clearTaskInstances"
        answer = await self._send("clear task instances", "POST", path, body)
        items = answer.get("task_instances", []) if isinstance(answer, dict) else []
        return [_to_task_ref(item) for item in items if isinstance(item, dict)]

    # Trigger a DAG run

    async def _preview_trigger(self, action: TriggerDagRun, ctx: ActionContext) -> Preview:
        dag = await self._get("read the DAG", f"dags/{to_path(action.params.dag_id)}")
        body = await self._to_trigger_body(action, ctx)
        is_paused = bool(dag.get("is_paused")) if isinstance(dag, dict) else False
        summary = messages.build_trigger_preview(
            action.params.dag_id, body["dag_run_id"], is_paused=is_paused
        )
        return Preview(kind=action.kind, summary=summary, data={"request": body})

    async def _trigger(self, action: TriggerDagRun, ctx: ActionContext) -> ActionResult:
        body = await self._to_trigger_body(action, ctx)
        path = f"dags/{to_path(action.params.dag_id)}/dagRuns"
        await self._send("trigger a DAG run", "POST", path, body)
        run_id = body["dag_run_id"]
        return ActionResult(
            kind=action.kind,
            summary=messages.build_trigger_result(action.params.dag_id, run_id),
            data={"request": body},
            values={"dag_run_id": run_id},
        )

    async def _to_trigger_body(self, action: TriggerDagRun, ctx: ActionContext) -> dict[str, Any]:
        body: dict[str, Any] = {"dag_run_id": to_run_id(ctx), "conf": action.params.conf}
        # Airflow 3 refuses a manual run without an explicit (null) logical date.
        if await self._api.get_version() == "v2":
            body["logical_date"] = None
        return body

    # Set a task instance's state

    async def _preview_state(self, action: SetTaskInstanceState) -> Preview:
        params = action.params
        instance = await self._get("read the task instance", _to_instance_path(action))
        current = instance.get("state") if isinstance(instance, dict) else None
        summary = messages.build_state_preview(params.task_id, current, params.state)
        return Preview(kind=action.kind, summary=summary, data=await self._to_state_body(action))

    async def _set_state(self, action: SetTaskInstanceState) -> ActionResult:
        params = action.params
        instance = await self._get("read the task instance", _to_instance_path(action))
        previous = instance.get("state") if isinstance(instance, dict) else None
        body = await self._to_state_body(action)
        await self._send("set the task state", "PATCH", _to_instance_path(action), body)
        run_state = await self._update_run_state(action)
        return ActionResult(
            kind=action.kind,
            summary=messages.build_state_result(params.task_id, previous, params.state, run_state),
            data={"request": body, "previous_state": previous, "dag_run_state": run_state},
        )

    async def _to_state_body(self, action: SetTaskInstanceState) -> dict[str, Any]:
        body: dict[str, Any] = {"new_state": action.params.state}
        # Airflow 2's UpdateTaskInstance defaults to a dry run.
        if await self._api.get_version() == "v1":
            body["dry_run"] = False
        return body

    async def _update_run_state(self, action: SetTaskInstanceState) -> str | None:
        """Bring a finished DAG run in line: marking its last failed task a success leaves the
        run failed, and marking a task of a successful run failed leaves the run a success."""
        params = action.params
        run_path = f"dags/{to_path(params.dag_id)}/dagRuns/{to_path(params.dag_run_id)}"
        run = await self._get("read the DAG run", run_path)
        run_state = run.get("state") if isinstance(run, dict) else None
        wanted: str | None = None
        if params.state == "failed" and run_state == "success":
            wanted = "failed"
        elif params.state != "failed" and run_state == "failed":
            wanted = None if await self._has_failed_tasks(run_path) else "success"
        if wanted is None:
            return None
        await self._send("set the DAG run state", "PATCH", run_path, {"state": wanted})
        return wanted

    async def _has_failed_tasks(self, run_path: str) -> bool:
        answer = await self._get("list task instances", f"{run_path}/taskInstances")
        items = answer.get("task_instances", []) if isinstance(answer, dict) else []
        return any(isinstance(item, dict) and item.get("state") in FAILED_STATES for item in items)

    # Pause and unpause

    async def _preview_pause(self, action: PauseDag | UnpauseDag) -> Preview:
        dag_id = action.params.dag_id
        dag = await self._get("read the DAG", f"dags/{to_path(dag_id)}")
        is_paused = bool(dag.get("is_paused")) if isinstance(dag, dict) else False
        pause = isinstance(action, PauseDag)
        summary = messages.build_pause_preview(dag_id, pause=pause, is_paused=is_paused)
        return Preview(kind=action.kind, summary=summary, data={"request": {"is_paused": pause}})

    async def _set_paused(self, action: PauseDag | UnpauseDag) -> ActionResult:
        dag_id = action.params.dag_id
        pause = isinstance(action, PauseDag)
        body = {"is_paused": pause}
        await self._send(
            "pause the DAG" if pause else "unpause the DAG",
            "PATCH",
            f"dags/{to_path(dag_id)}",
            body,
            params={"update_mask": "is_paused"},
        )
        summary = messages.build_pause_result(dag_id, pause=pause)
        return ActionResult(kind=action.kind, summary=summary, data={"request": body})

    # Variables

    async def _preview_variable(self, action: SetVariable) -> Preview:
        params = action.params
        previous = await self._get_variable(params.key)
        old_value = previous.get("value") if previous else None
        summary = messages.build_variable_preview(params.key, old_value, params.value)
        return Preview(kind=action.kind, summary=summary, data={"request": _to_variable(action)})

    async def _set_variable(self, action: SetVariable) -> ActionResult:
        params = action.params
        previous = await self._get_variable(params.key)
        body = _to_variable(action)
        if previous is None:
            await self._send("create the Variable", "POST", "variables", body)
        else:
            await self._send("set the Variable", "PATCH", f"variables/{to_path(params.key)}", body)
        previous_value = previous.get("value") if previous else None
        return ActionResult(
            kind=action.kind,
            summary=messages.build_variable_result(params.key, params.value),
            data={
                "request": body,
                "existed": previous is not None,
                "previous_value": previous_value,
                "previous_description": previous.get("description") if previous else None,
            },
            values={"previous_value": str(previous_value or "")},
        )

    async def _restore_variable(self, key: str, data: dict[str, Any]) -> ActionResult:
        path = f"variables/{to_path(key)}"
        if data["existed"]:
            body = {"key": key, "value": data["previous_value"]}
            if data.get("previous_description") is not None:
                body["description"] = data["previous_description"]
            await self._send("restore the Variable", "PATCH", path, body)
        else:
            await self._send("delete the Variable", "DELETE", path, None)
        previous = data["previous_value"] if data["existed"] else None
        return ActionResult(
            kind="airflow.set_variable",
            summary=messages.build_variable_restored(key, previous),
            data={"restored": data["existed"], "deleted": not data["existed"]},
        )

    async def _get_variable(self, key: str) -> dict[str, Any] | None:
        try:
            answer = await self._api.get_json(f"variables/{to_path(key)}")
        except CollectorError as exc:
            if exc.kind == FailureKind.NOT_FOUND:
                return None
            raise ActionError(
                messages.build_airflow_failure("read the Variable", str(exc))
            ) from exc
        return answer if isinstance(answer, dict) else None

    # Calls

    async def _get(self, what: str, path: str) -> Any:
        try:
            return await self._api.get_json(path)
        except CollectorError as exc:
            raise ActionError(messages.build_airflow_failure(what, str(exc))) from exc

    async def _send(
        self,
        what: str,
        method: str,
        path: str,
        body: Any,
        *,
        params: dict[str, str | int] | None = None,
    ) -> Any:
        try:
            return await self._api.send_json(method, path, body=body, params=params)
        except CollectorError as exc:
            raise ActionError(messages.build_airflow_failure(what, str(exc))) from exc


def _to_clear_body(action: ClearTaskInstances, *, dry_run: bool) -> dict[str, Any]:
    params = action.params
    body: dict[str, Any] = {
        "dry_run": dry_run,
        "task_ids": params.task_ids,
        "only_failed": params.only_failed,
        "include_downstream": params.include_downstream,
        "include_upstream": params.include_upstream,
    }
    if params.dag_run_id:
        body["dag_run_id"] = params.dag_run_id
    return body


def _to_clear_data(body: dict[str, Any], cleared: list[dict[str, Any]]) -> dict[str, Any]:
    request = {key: value for key, value in body.items() if key != "dry_run"}
    return {"request": request, "task_instances": cleared}


def _to_task_ref(item: dict[str, Any]) -> dict[str, Any]:
    return {key: item.get(key) for key in ("dag_id", "dag_run_id", "task_id", "map_index")}


def _to_instance_path(action: SetTaskInstanceState) -> str:
    params = action.params
    return "dags/" + to_path(
        params.dag_id, "dagRuns", params.dag_run_id, "taskInstances", params.task_id
    )


def _to_variable(action: SetVariable) -> dict[str, Any]:
    params = action.params
    body: dict[str, Any] = {"key": params.key, "value": params.value}
    if params.description is not None:
        body["description"] = params.description
    return body
