"""A stand-in for Airflow's REST API: Airflow 3 (`/api/v2`, JWT) or Airflow 2 (`/api/v1`, basic).

    airflow = FakeAirflow(version="v2")
    airflow.add_task_instance(TASK, state="failed", try_number=2)
    airflow.set_log(TASK, 2, [event(...), error_event(...)])
    with serve_app(airflow.app) as base_url:
        ...
    assert not airflow.writes

Response shapes follow Airflow's own: v2 logs are structured events, as NDJSON for
`Accept: application/x-ndjson`, as `{"content": [...]}` for JSON and 406 for text/plain;
v1 logs are text for text/plain and, for JSON, the Python repr of `[(host, text)]`.
Route names for faults: version, token, task_instance, log.

It also plays Airflow's write endpoints for the remediation actions, with Airflow's own
defaults (`clearTaskInstances` is a dry run unless `"dry_run": false`, and clears only failed
task instances unless `"only_failed": false`; Airflow 2's task state PATCH is a dry run unless
told otherwise). A cleared task instance or a triggered run stays pending for
`pending_polls` reads, then takes `outcome` ("success", "failed", or None to never finish):

    airflow.add_dag_run(TASK.dag_id, TASK.run_id, state="failed")
    airflow.outcome = "failed"  # the rerun fails again
    airflow.variables["key"] = {"key": "key", "value": "1", "description": None}

A task instance can also be scripted to answer a state per read, the last one staying (a
failure callback arrives while Airflow still reports the task running):

    airflow.script_states(TASK, ["running", "running", "failed"])

A dry-run clear changes nothing, so `writes` leaves it out. Write route names for faults:
clear, trigger, task_state, dag_run, dag, variable. `include_downstream` and
`include_upstream` are accepted but the stand-in has no task graph.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from bot.chaos.standins.server import RecordedRequest, StandIn

LogContent = str | list[dict[str, Any]] | Callable[[], Iterable[str]]
HOST = "worker-1.internal"
FAILED = frozenset({"failed", "upstream_failed"})
USERNAME = "bot"
PASSWORD = "op"


@dataclass(frozen=True)
class Task:
    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1


def event(
    message: str, *, level: str = "info", logger: str = "task", **extra: Any
) -> dict[str, Any]:
    """One Airflow 3 structured log event."""
    return {
        "timestamp": "2025-06-01T10:00:00.000000Z",
        "event": message,
        "level": level,
        "logger": logger,
        **extra,
    }


def error_event(
    *stacks: dict[str, Any], message: str = "Task failed with exception"
) -> dict[str, Any]:
    """The event Airflow 3 logs when a task raises: `error_detail`, outermost exception first."""
    return event(message, level="error", logger="task", error_detail=list(stacks))


def stack(
    exc_type: str, exc_value: str, *, is_cause: bool = False, frames: int = 2
) -> dict[str, Any]:
    return {
        "exc_type": exc_type,
        "exc_value": exc_value,
        "exc_notes": [],
        "syntax_error": None,
        "is_cause": is_cause,
        "frames": [
            {"filename": f"/opt/airflow/dags/etl_{index}.py", "lineno": 10 + index, "name": "run"}
            for index in range(frames)
        ],
        "is_group": False,
        "exceptions": [],
    }


class FakeAirflow(StandIn):
    def __init__(
        self,
        *,
        version: Literal["v1", "v2"] = "v2",
        username: str = USERNAME,
        password: str = PASSWORD,
        static_token: str | None = None,
        streams_ndjson: bool = True,
    ) -> None:
        super().__init__()
        self.version = version
        self.username = username
        self.password = password
        self.static_token = static_token
        # False plays an Airflow 3 that answers JSON even when NDJSON is asked for.
        self.streams_ndjson = streams_ndjson
        self.issued_tokens: list[str] = []
        self._valid_tokens: set[str] = set()
        self._task_instances: dict[Task, dict[str, Any]] = {}
        self._logs: dict[tuple[Task, int], LogContent] = {}
        self.dags: dict[str, dict[str, Any]] = {}
        self.dag_runs: dict[tuple[str, str], dict[str, Any]] = {}
        self.variables: dict[str, dict[str, Any]] = {}
        self.outcome: str | None = "success"
        # DAG ids whose pause flag reads this value whatever is written: another operator,
        # or Airflow pausing a DAG after too many failed runs.
        self.pause_overrides: dict[str, bool] = {}
        self.pending_polls = 1
        self._pending: dict[Task | tuple[str, str], int] = {}
        self._scripted_states: dict[Task, list[str]] = {}
        self.app = Starlette(routes=self.to_routes() + self.to_write_routes())

    @property
    def writes(self) -> list[RecordedRequest]:
        """Requests that could change Airflow: anything but GET, not the token exchange, and
        not a dry-run clear (Airflow's default when `dry_run` is not false)."""
        return [
            request
            for request in super().writes
            if request.path != "/auth/token" and not _is_dry_run_clear(request)
        ]

    def to_routes(self) -> list[Route]:
        """The read routes; subclasses or other stand-ins add write routes to this list."""
        instance = "/api/{version}/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
        return [
            self.to_route("/api/{version}/version", "version", self._get_version),
            self.to_route("/auth/token", "token", self._create_token, methods=("POST",)),
            self.to_route(instance, "task_instance", self._get_task_instance),
            self.to_route(instance + "/{map_index:int}", "task_instance", self._get_task_instance),
            self.to_route(instance + "/logs/{try_number:int}", "log", self._get_log),
        ]

    def to_write_routes(self) -> list[Route]:
        dag = "/api/{version}/dags/{dag_id}"
        run = dag + "/dagRuns/{run_id}"
        instance = run + "/taskInstances/{task_id}"
        variable = "/api/{version}/variables/{key}"
        return [
            self.to_route(dag, "dag", self._get_dag),
            self.to_route(dag, "dag", self._update_dag, methods=("PATCH",)),
            self.to_route(dag + "/clearTaskInstances", "clear", self._clear, methods=("POST",)),
            self.to_route(dag + "/dagRuns", "trigger", self._trigger, methods=("POST",)),
            self.to_route(run, "dag_run", self._get_dag_run),
            self.to_route(run, "dag_run", self._update_dag_run, methods=("PATCH",)),
            self.to_route(run + "/taskInstances", "task_instance", self._list_task_instances),
            self.to_route(instance, "task_state", self._update_task_state, methods=("PATCH",)),
            self.to_route(variable, "variable", self._get_variable),
            self.to_route(variable, "variable", self._update_variable, methods=("PATCH",)),
            self.to_route(variable, "variable", self._delete_variable, methods=("DELETE",)),
            self.to_route(
                "/api/{version}/variables", "variable", self._create_variable, methods=("POST",)
            ),
        ]

    def add_dag(self, dag_id: str, *, is_paused: bool = False) -> None:
        self.dags[dag_id] = {"dag_id": dag_id, "is_paused": is_paused}

    def add_dag_run(self, dag_id: str, run_id: str, *, state: str = "failed") -> None:
        self.dags.setdefault(dag_id, {"dag_id": dag_id, "is_paused": False})
        self.dag_runs[(dag_id, run_id)] = {"dag_id": dag_id, "dag_run_id": run_id, "state": state}

    def get_state(self, task: Task) -> str | None:
        state: str | None = self._task_instances[task]["state"]
        return state

    def add_task_instance(self, task: Task, **fields: Any) -> None:
        self._task_instances[task] = {
            "task_id": task.task_id,
            "dag_id": task.dag_id,
            "dag_run_id": task.run_id,
            "map_index": task.map_index,
            "state": "failed",
            "try_number": 1,
            "max_tries": 1,
            "hostname": HOST,
            "duration": 12.5,
            "operator": "PythonOperator",
            **fields,
        }

    def script_states(self, task: Task, states: Iterable[str]) -> None:
        """The states successive reads of the task instance answer; the last one stays."""
        self._scripted_states[task] = list(states)

    def set_log(self, task: Task, try_number: int, content: LogContent) -> None:
        """Events (v2), text (v1), or a function yielding raw body chunks for huge logs."""
        self._logs[(task, try_number)] = content

    def expire_tokens(self) -> None:
        """Every JWT issued so far is refused with 401 from now on."""
        self._valid_tokens.clear()

    async def _get_version(self, request: Request) -> Response:
        if request.path_params["version"] != self.version:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        number = "3.0.2" if self.version == "v2" else "2.10.5"
        return JSONResponse({"version": number, "git_version": None})

    async def _create_token(self, request: Request) -> Response:
        if self.version != "v2":
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        body = await request.json()
        if (body.get("username"), body.get("password")) != (self.username, self.password):
            return JSONResponse({"detail": "Invalid credentials"}, status_code=401)
        token = secrets.token_urlsafe(16)
        self.issued_tokens.append(token)
        self._valid_tokens.add(token)
        return JSONResponse({"access_token": token}, status_code=201)

    async def _get_task_instance(self, request: Request) -> Response:
        if refused := self._refuse(request):
            return refused
        task = _to_task(request)
        if task not in self._task_instances:
            return JSONResponse({"detail": "TaskInstance not found"}, status_code=404)
        if script := self._scripted_states.get(task):
            self._task_instances[task]["state"] = script.pop(0) if len(script) > 1 else script[0]
        self._settle(task, self._task_instances[task])
        return JSONResponse(self._task_instances[task])

    async def _get_log(self, request: Request) -> Response:
        if refused := self._refuse(request):
            return refused
        task = _to_task(request, map_index=int(request.query_params.get("map_index", -1)))
        content = self._logs.get((task, request.path_params["try_number"]))
        if content is None:
            return JSONResponse({"detail": "TaskInstance not found"}, status_code=404)
        accept = request.headers.get("accept", "")
        if self.version == "v2":
            if not self.streams_ndjson:
                accept = "application/json"
            return _to_v2_log_response(content, accept)
        return _to_v1_log_response(content, accept)

    def _refuse(self, request: Request) -> Response | None:
        if request.path_params["version"] != self.version:
            return JSONResponse({"detail": "Not Found"}, status_code=404)
        authorization = request.headers.get("authorization", "")
        if self.static_token and authorization == f"Bearer {self.static_token}":
            return None
        if self.version == "v2":
            token = authorization.removeprefix("Bearer ")
            if token in self._valid_tokens:
                return None
            return JSONResponse({"detail": "Invalid JWT token"}, status_code=401)
        expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        if authorization == f"Basic {expected}":
            return None
        return JSONResponse({"detail": "Unauthorized"}, status_code=401)

    # Write endpoints

    async def _get_dag(self, request: Request) -> Response:
        if refused := self._refuse(request):
            return refused
        dag_id = request.path_params["dag_id"]
        if dag_id not in self.dags:
            return JSONResponse({"detail": "DAG not found"}, status_code=404)
        if dag_id in self.pause_overrides:
            return JSONResponse({**self.dags[dag_id], "is_paused": self.pause_overrides[dag_id]})
        return JSONResponse(self.dags[dag_id])

    async def _update_dag(self, request: Request) -> Response:
        if refused := self._refuse(request):
            return refused
        dag = self.dags.get(request.path_params["dag_id"])
        if dag is None:
            return JSONResponse({"detail": "DAG not found"}, status_code=404)
        dag["is_paused"] = bool((await request.json())["is_paused"])
        return JSONResponse(dag)

    async def _clear(self, request: Request) -> Response:
        if refused := self._refuse(request):
            return refused
        body = await request.json()
        dag_id = request.path_params["dag_id"]
        chosen = [
            task
            for task in self._task_instances
            if task.dag_id == dag_id
            and task.task_id in body.get("task_ids", [])
            and body.get("dag_run_id") in (None, task.run_id)
            and (not body.get("only_failed", True) or self.get_state(task) in FAILED)
        ]
        if body.get("dry_run", True) is False:
            for task in chosen:
                self._start(task, self._task_instances[task], pending=None)
                self._start((dag_id, task.run_id), self.dag_runs.get((dag_id, task.run_id)))
        cleared = [self._task_instances[task] for task in chosen]
        return JSONResponse({"task_instances": cleared, "total_entries": len(cleared)})

    async def _trigger(self, request: Request) -> Response:
        if refused := self._refuse(request):
            return refused
        body = await request.json()
        if self.version == "v2" and "logical_date" not in body:
            return JSONResponse({"detail": "logical_date: Field required"}, status_code=422)
        if self.version == "v1" and "logical_date" in body and body["logical_date"] is None:
            return JSONResponse({"detail": "logical_date: None is not a date-time"}, 400)
        dag_id = request.path_params["dag_id"]
        run_id = body.get("dag_run_id") or f"manual__{len(self.dag_runs)}"
        if (dag_id, run_id) in self.dag_runs:
            return JSONResponse({"detail": "DAGRun already exists"}, status_code=409)
        self.add_dag_run(dag_id, run_id, state="queued")
        self._start((dag_id, run_id), self.dag_runs[(dag_id, run_id)])
        return JSONResponse(self.dag_runs[(dag_id, run_id)])

    async def _get_dag_run(self, request: Request) -> Response:
        if refused := self._refuse(request):
            return refused
        key = (request.path_params["dag_id"], request.path_params["run_id"])
        if key not in self.dag_runs:
            return JSONResponse({"detail": "DAGRun not found"}, status_code=404)
        self._settle(key, self.dag_runs[key])
        return JSONResponse(self.dag_runs[key])

    async def _update_dag_run(self, request: Request) -> Response:
        if refused := self._refuse(request):
            return refused
        key = (request.path_params["dag_id"], request.path_params["run_id"])
        if key not in self.dag_runs:
            return JSONResponse({"detail": "DAGRun not found"}, status_code=404)
        self.dag_runs[key]["state"] = (await request.json())["state"]
        return JSONResponse(self.dag_runs[key])

    async def _list_task_instances(self, request: Request) -> Response:
        if refused := self._refuse(request):
            return refused
        params = request.path_params
        found = [
            fields
            for task, fields in self._task_instances.items()
            if (task.dag_id, task.run_id) == (params["dag_id"], params["run_id"])
        ]
        return JSONResponse({"task_instances": found, "total_entries": len(found)})

    async def _update_task_state(self, request: Request) -> Response:
        if refused := self._refuse(request):
            return refused
        task = _to_task(request)
        if task not in self._task_instances:
            return JSONResponse({"detail": "TaskInstance not found"}, status_code=404)
        body = await request.json()
        # Airflow 2's UpdateTaskInstance defaults to a dry run; Airflow 3 has no such field.
        if self.version == "v2" or body.get("dry_run", True) is False:
            self._pending.pop(task, None)
            self._task_instances[task]["state"] = body["new_state"]
        return JSONResponse(self._task_instances[task])

    async def _get_variable(self, request: Request) -> Response:
        if refused := self._refuse(request):
            return refused
        variable = self.variables.get(request.path_params["key"])
        if variable is None:
            return JSONResponse({"detail": "Variable not found"}, status_code=404)
        return JSONResponse(variable)

    async def _create_variable(self, request: Request) -> Response:
        if refused := self._refuse(request):
            return refused
        body = await request.json()
        if body["key"] in self.variables:
            return JSONResponse({"detail": "Variable already exists"}, status_code=409)
        self.variables[body["key"]] = {"description": None, **body}
        return JSONResponse(self.variables[body["key"]], status_code=201)

    async def _update_variable(self, request: Request) -> Response:
        if refused := self._refuse(request):
            return refused
        key = request.path_params["key"]
        if key not in self.variables:
            return JSONResponse({"detail": "Variable not found"}, status_code=404)
        self.variables[key].update(await request.json())
        return JSONResponse(self.variables[key])

    async def _delete_variable(self, request: Request) -> Response:
        if refused := self._refuse(request):
            return refused
        if self.variables.pop(request.path_params["key"], None) is None:
            return JSONResponse({"detail": "Variable not found"}, status_code=404)
        return Response(status_code=204)

    def _start(
        self,
        key: Task | tuple[str, str],
        fields: dict[str, Any] | None,
        pending: str | None = "queued",
    ) -> None:
        """Put a task instance or run back to pending; `outcome` shows after some reads."""
        if fields is None:
            return
        fields["state"] = pending
        self._pending[key] = self.pending_polls

    def _settle(self, key: Task | tuple[str, str], fields: dict[str, Any]) -> None:
        if key not in self._pending or self.outcome is None:
            return
        if self._pending[key] > 0:
            self._pending[key] -= 1
            return
        del self._pending[key]
        fields["state"] = self.outcome
        if not isinstance(key, Task):
            self._settle_tasks_of(*key)

    def _settle_tasks_of(self, dag_id: str, run_id: str) -> None:
        """A run that ended took its cleared tasks with it, to the same state."""
        for task in [key for key in self._pending if isinstance(key, Task)]:
            if (task.dag_id, task.run_id) == (dag_id, run_id):
                del self._pending[task]
                self._task_instances[task]["state"] = self.outcome


def _is_dry_run_clear(request: RecordedRequest) -> bool:
    body = request.json if isinstance(request.json, dict) else {}
    return request.path.endswith("/clearTaskInstances") and body.get("dry_run", True) is not False


def _to_task(request: Request, *, map_index: int | None = None) -> Task:
    params = request.path_params
    index = params.get("map_index", -1) if map_index is None else map_index
    return Task(params["dag_id"], params["run_id"], params["task_id"], index)


def _to_v2_log_response(content: LogContent, accept: str) -> Response:
    if "application/x-ndjson" in accept:
        return StreamingResponse(_to_ndjson(content), media_type="application/x-ndjson")
    if "application/json" in accept:
        events = content if isinstance(content, list) else list(_to_ndjson_events(content))
        return JSONResponse({"content": events, "continuation_token": None})
    return JSONResponse({"detail": "Only application/json or application/x-ndjson"}, 406)


def _to_v1_log_response(content: LogContent, accept: str) -> Response:
    if "text/plain" in accept:
        if callable(content):
            return StreamingResponse(iter(content()), media_type="text/plain")
        return PlainTextResponse(str(content))
    text = "".join(content()) if callable(content) else str(content)
    # Airflow 2 serialises [(host, text)] with str(), so JSON clients get a Python repr.
    return JSONResponse({"content": repr([(HOST, text)]), "continuation_token": "token-1"})


def _to_ndjson(content: LogContent) -> Iterator[str]:
    if callable(content):
        yield from content()
    elif isinstance(content, list):
        yield from (json.dumps(item) + "\n" for item in content)
    else:
        yield from (json.dumps(event(line)) + "\n" for line in content.splitlines())


def _to_ndjson_events(content: LogContent) -> Iterator[dict[str, Any]]:
    for chunk in _to_ndjson(content):
        for line in chunk.splitlines():
            if line.strip():
                yield json.loads(line)
