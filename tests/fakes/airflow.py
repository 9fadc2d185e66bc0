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

from tests.fakes.server import RecordedRequest, StandIn

LogContent = str | list[dict[str, Any]] | Callable[[], Iterable[str]]
HOST = "worker-1.internal"
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
        self.app = Starlette(routes=self.to_routes())

    @property
    def writes(self) -> list[RecordedRequest]:
        """Requests that could change Airflow: anything but GET, and not the token exchange."""
        return [request for request in super().writes if request.path != "/auth/token"]

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
