"""A local stand-in for Jira's REST API, v2 (Server, Data Center) and v3 (Cloud).

    with serve_jira(deployment="Cloud") as jira:
        tracker = JiraTracker(url=jira.base_url, email="bot@example.com", token=SecretStr("t"))
        ...
        [create] = jira.calls_to("POST", "/issue")

It speaks Jira's wire format, for the chaos drills and the tests, and answers what the `jira`
client asks for the ticket sync: serverInfo, myself, field, issue create, get and edit,
comments (add and list), transitions (list, and do: 204 with no body), issue properties, and
search (`/search` on v2, `/search/jql` on v3; JQL `labels = "..."` is all it understands).
It records every call in arrival order and can be told to fail: an HTTP status (5xx, 429
with Retry-After...) for the next calls, a hang past the client's timeout, a field the
project demands on create, an answer lost after the issue was made, a search index that lags
behind creates, or being down (`set_down(True)`: 503 to everything, data kept) until set
back. `get_issues(label=...)` lists the issues made, with their labels.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.chaos.standins.server import serve_app

BOT_ACCOUNT_ID = "557058:bot-account"
BOT_NAME = "incident-bot"
WAIT_TIMEOUT_SECONDS = 5.0
STATUSES = ("To Do", "In Progress", "Done")
# Transition names differ from their target status for one of them, as in real workflows.
TRANSITIONS = (
    {"id": "11", "name": "To Do", "to": "To Do"},
    {"id": "21", "name": "Start work", "to": "In Progress"},
    {"id": "31", "name": "Done", "to": "Done"},
)
_LABEL_JQL = re.compile(r'labels\s*=\s*"([^"]+)"')
# An answer, called with the request and its JSON body while the stand-in's lock is held.
_Handler = Callable[[Request, Any], Response]


@dataclass(frozen=True)
class JiraCall:
    """One request the stand-in received, with the status it answered."""

    method: str
    path: str
    version: str
    params: dict[str, str]
    body: Any
    auth: str
    status: int
    received_at: float


@dataclass(frozen=True)
class Fault:
    """How to answer the next call whose `METHOD path` contains `only` (every call if None)."""

    status: int = 500
    retry_after: int | str | None = None
    hang_seconds: float = 0.0
    only: str | None = None
    hang_after_work: bool = False


@dataclass(frozen=True)
class IssueSummary:
    """What a drill checks of an issue: its key, summary, labels and status name."""

    key: str
    summary: str
    labels: tuple[str, ...]
    status: str


@dataclass
class StoredIssue:
    id: str
    key: str
    fields: dict[str, Any]
    comments: list[dict[str, Any]] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)


class JiraStandIn:
    """The stand-in's state: issues, recorded calls and queued faults."""

    def __init__(self, deployment: str = "Server") -> None:
        self.deployment = deployment
        self.base_url = ""
        self.issues: dict[str, StoredIssue] = {}
        self.calls: list[JiraCall] = []
        self.required_fields: dict[str, str] = {}
        self.search_lags = False
        self.is_down = False
        self._faults: deque[Fault] = deque()
        self._lose_create_answers = 0
        self._ids = itertools.count(10001)
        self._comment_ids = itertools.count(20001)
        self._changed = threading.Condition()

    # Telling it what to do

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        retry_after: int | str | None = None,
        only: str | None = None,
    ) -> None:
        """Answer the next `count` calls (matching `only`) with `status`."""
        with self._changed:
            self._faults.extend(Fault(status, retry_after, 0.0, only) for _ in range(count))

    def down_for(self, count: int) -> None:
        """Be down for the next `count` calls: 503 without a Retry-After."""
        self.fail_next(count, status=503)

    def hang_next(self, count: int = 1, *, seconds: float, only: str | None = None) -> None:
        """Hold the next `count` calls for `seconds` before answering them normally."""
        with self._changed:
            self._faults.extend(Fault(200, None, seconds, only) for _ in range(count))

    def hold_next_answer(self, *, seconds: float, only: str | None = None) -> None:
        """Do the next call's work and record it, then hold its answer for `seconds`."""
        with self._changed:
            self._faults.append(Fault(200, None, seconds, only, hang_after_work=True))

    def lose_next_create_answer(self, count: int = 1) -> None:
        """Create the next issue(s), then answer 502 as if the answer never made it back."""
        with self._changed:
            self._lose_create_answers += count

    def set_down(self, down: bool) -> None:
        """Answer every call 503, as Jira behind its proxy does while it is down, or stop.

        Nothing is changed while down, and queued faults wait for it to come back.
        """
        with self._changed:
            self.is_down = down

    # Reading what happened

    def calls_to(self, method: str, path_end: str) -> list[JiraCall]:
        with self._changed:
            return self._calls_to(method, path_end)

    def wait_for(
        self, method: str, path_end: str, count: int = 1, timeout: float = WAIT_TIMEOUT_SECONDS
    ) -> list[JiraCall]:
        """Block until `count` calls to `METHOD ...path_end` arrived; raise TimeoutError else."""
        with self._changed:
            arrived = self._changed.wait_for(
                lambda: len(self._calls_to(method, path_end)) >= count, timeout=timeout
            )
            if not arrived:
                raise TimeoutError(f"{count} {method} {path_end} did not arrive: {self.calls}")
            return self._calls_to(method, path_end)

    async def wait_for_calls(self, method: str, path_end: str, count: int = 1) -> list[JiraCall]:
        """`wait_for` without blocking the caller's event loop."""
        return await asyncio.to_thread(self.wait_for, method, path_end, count)

    def comments_on(self, key: str) -> list[dict[str, Any]]:
        with self._changed:
            return list(self.issues[key].comments)

    def status_of(self, key: str) -> str:
        with self._changed:
            return str(self.issues[key].fields["status"]["name"])

    def get_issues(self, *, label: str | None = None) -> list[IssueSummary]:
        """Every issue in creation order, or only those carrying `label`."""
        with self._changed:
            issues = list(self.issues.values())
        return [
            _to_summary(issue)
            for issue in issues
            if label is None or label in issue.fields.get("labels", [])
        ]

    def add_issue(self, key: str, *, labels: list[str], status: str = "To Do") -> StoredIssue:
        """An issue made outside the bot (or before a crash), visible to search at once."""
        with self._changed:
            return self._create(key.split("-")[0], {"summary": key, "labels": labels}, status)

    def _calls_to(self, method: str, path_end: str) -> list[JiraCall]:
        return [c for c in self.calls if c.method == method and c.path.endswith(path_end)]

    # Serving

    def build_app(self) -> Starlette:
        prefix = "/rest/api/{version}"
        return Starlette(
            routes=[
                Route(f"{prefix}/serverInfo", self._server_info),
                Route(f"{prefix}/myself", self._myself),
                Route(f"{prefix}/field", self._fields),
                Route(f"{prefix}/issue", self._create_issue, methods=["POST"]),
                Route(f"{prefix}/issue/{{ref}}", self._issue, methods=["GET", "PUT"]),
                Route(f"{prefix}/issue/{{ref}}/comment", self._comment, methods=["GET", "POST"]),
                Route(
                    f"{prefix}/issue/{{ref}}/transitions",
                    self._transitions,
                    methods=["GET", "POST"],
                ),
                Route(
                    f"{prefix}/issue/{{ref}}/properties/{{name}}",
                    self._property,
                    methods=["GET", "PUT"],
                ),
                Route(f"{prefix}/search", self._search),
                Route(f"{prefix}/search/jql", self._search),
            ]
        )

    async def _answer(self, request: Request, handle: _Handler) -> Response:
        """Record the call, apply a queued fault, else let `handle` answer it."""
        received_at = time.monotonic()
        raw = await request.body()
        body = _read_json(raw)
        auth = request.headers.get("authorization", "").split(" ")[0]
        with self._changed:
            down = self.is_down
            fault = None if down else self._take_fault(f"{request.method} {request.url.path}")
        held = fault.hang_seconds if fault is not None and fault.hang_after_work else 0.0
        if fault is not None and fault.hang_seconds:
            if not held:
                await asyncio.sleep(fault.hang_seconds)
            fault = None
        if down:
            response: Response = _to_fault_response(Fault(503))
        elif not auth:
            response = JSONResponse({"errorMessages": ["Unauthorized"]}, 401)
        elif fault is not None:
            response = _to_fault_response(fault)
        else:
            with self._changed:
                response = handle(request, body)
        with self._changed:
            self.calls.append(
                JiraCall(
                    method=request.method,
                    path=request.url.path,
                    version=request.path_params.get("version", ""),
                    params=dict(request.query_params),
                    body=body,
                    auth=auth,
                    status=response.status_code,
                    received_at=received_at,
                )
            )
            self._changed.notify_all()
        if held:
            await asyncio.sleep(held)
        return response

    def _take_fault(self, target: str) -> Fault | None:
        for index, fault in enumerate(self._faults):
            if fault.only is None or fault.only in target:
                del self._faults[index]
                return fault
        return None

    async def _server_info(self, request: Request) -> Response:
        return await self._answer(request, self._answer_server_info)

    async def _myself(self, request: Request) -> Response:
        return await self._answer(request, self._answer_myself)

    async def _fields(self, request: Request) -> Response:
        return await self._answer(request, self._answer_fields)

    async def _create_issue(self, request: Request) -> Response:
        return await self._answer(request, self._answer_create)

    async def _issue(self, request: Request) -> Response:
        return await self._answer(request, self._answer_issue)

    async def _comment(self, request: Request) -> Response:
        return await self._answer(request, self._answer_comment)

    async def _transitions(self, request: Request) -> Response:
        return await self._answer(request, self._answer_transitions)

    async def _property(self, request: Request) -> Response:
        return await self._answer(request, self._answer_property)

    async def _search(self, request: Request) -> Response:
        return await self._answer(request, self._answer_search)

    # Answers, each called with the lock held

    def _answer_server_info(self, request: Request, body: Any) -> Response:
        version = [1001, 0, 0] if self.deployment == "Cloud" else [9, 12, 0]
        return JSONResponse(
            {
                "baseUrl": self.base_url,
                "version": ".".join(map(str, version)),
                "versionNumbers": version,
                "deploymentType": self.deployment,
                "serverTitle": "Jira stand-in",
            }
        )

    def _answer_myself(self, request: Request, body: Any) -> Response:
        return JSONResponse(self._get_bot_user())

    def _answer_fields(self, request: Request, body: Any) -> Response:
        names = ("summary", "description", "labels", "status", "priority", "created")
        return JSONResponse([{"id": name, "name": name, "clauseNames": [name]} for name in names])

    def _answer_create(self, request: Request, body: Any) -> Response:
        fields = dict(body.get("fields") or {})
        missing = {
            name: message for name, message in self.required_fields.items() if name not in fields
        }
        if missing:
            return JSONResponse({"errorMessages": [], "errors": missing}, 400)
        project = (fields.get("project") or {}).get("key", "OPS")
        issue = self._create(project, fields, "To Do")
        if self._lose_create_answers:
            self._lose_create_answers -= 1
            return JSONResponse({"errorMessages": ["Bad gateway"]}, 502)
        url = self._issue_url(request, issue)
        return JSONResponse({"id": issue.id, "key": issue.key, "self": url}, 201)

    def _create(self, project: str, fields: dict[str, Any], status: str) -> StoredIssue:
        issue_id = str(next(self._ids))
        key = f"{project}-{len(self.issues) + 1}"
        fields = {**fields, "status": {"name": status}, "created": time.time()}
        issue = StoredIssue(id=issue_id, key=key, fields=fields)
        self.issues[key] = issue
        return issue

    def _answer_issue(self, request: Request, body: Any) -> Response:
        issue = self._find(request.path_params["ref"])
        if issue is None:
            return _not_found()
        if request.method == "PUT":
            issue.fields.update((body or {}).get("fields") or {})
            return Response(status_code=204)
        return JSONResponse(self._to_issue_json(request, issue))

    def _answer_comment(self, request: Request, body: Any) -> Response:
        issue = self._find(request.path_params["ref"])
        if issue is None:
            return _not_found()
        if request.method == "GET":
            total = len(issue.comments)
            return JSONResponse({"comments": issue.comments, "total": total, "startAt": 0})
        comment = {
            "id": str(next(self._comment_ids)),
            "body": body.get("body"),
            "author": self._get_bot_user(),
        }
        issue.comments.append(comment)
        return JSONResponse(comment, 201)

    def _get_bot_user(self) -> dict[str, Any]:
        if self.deployment == "Cloud":
            return {"accountId": BOT_ACCOUNT_ID, "displayName": BOT_NAME}
        return {"name": BOT_NAME, "key": BOT_NAME, "displayName": BOT_NAME}

    def _answer_transitions(self, request: Request, body: Any) -> Response:
        issue = self._find(request.path_params["ref"])
        if issue is None:
            return _not_found()
        current = issue.fields["status"]["name"]
        offered = [t for t in TRANSITIONS if t["to"] != current]
        if request.method == "GET":
            return JSONResponse({"transitions": [{**t, "to": {"name": t["to"]}} for t in offered]})
        wanted = str((body.get("transition") or {}).get("id"))
        chosen = next((t for t in offered if t["id"] == wanted), None)
        if chosen is None:
            return JSONResponse({"errorMessages": [f"Transition {wanted} is not valid"]}, 400)
        issue.fields["status"] = {"name": chosen["to"]}
        return Response(status_code=204)

    def _answer_property(self, request: Request, body: Any) -> Response:
        issue = self._find(request.path_params["ref"])
        if issue is None:
            return _not_found()
        name = request.path_params["name"]
        if request.method == "PUT":
            created = name not in issue.properties
            issue.properties[name] = body
            return Response(status_code=201 if created else 200)
        if name not in issue.properties:
            return _not_found()
        return JSONResponse({"key": name, "value": issue.properties[name]})

    def _answer_search(self, request: Request, body: Any) -> Response:
        jql = request.query_params.get("jql", "")
        found = _LABEL_JQL.search(jql)
        if found is None:
            return JSONResponse({"errorMessages": [f"The stand-in cannot read {jql!r}"]}, 400)
        matches = (
            []
            if self.search_lags
            else [
                issue
                for issue in self.issues.values()
                if found.group(1) in issue.fields.get("labels", [])
            ]
        )
        limit = int(request.query_params.get("maxResults", "50"))
        issues = [self._to_issue_json(request, issue) for issue in matches[:limit]]
        return JSONResponse(
            {
                "issues": issues,
                "total": len(matches),
                "startAt": 0,
                "maxResults": limit,
                "isLast": True,
            }
        )

    def _find(self, ref: str) -> StoredIssue | None:
        return self.issues.get(ref) or next(
            (issue for issue in self.issues.values() if issue.id == ref), None
        )

    def _to_issue_json(self, request: Request, issue: StoredIssue) -> dict[str, Any]:
        return {
            "id": issue.id,
            "key": issue.key,
            "self": self._issue_url(request, issue),
            "fields": issue.fields,
        }

    def _issue_url(self, request: Request, issue: StoredIssue) -> str:
        return f"{self.base_url}/rest/api/{request.path_params['version']}/issue/{issue.id}"


def _read_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")


def _to_fault_response(fault: Fault) -> Response:
    headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
    if fault.status == 429:
        headers["RateLimit-Reason"] = "jira-per-issue-on-write"
    return JSONResponse(
        {"errorMessages": [f"stand-in fault {fault.status}"]}, fault.status, headers
    )


def _to_summary(issue: StoredIssue) -> IssueSummary:
    return IssueSummary(
        key=issue.key,
        summary=str(issue.fields.get("summary", "")),
        labels=tuple(issue.fields.get("labels", [])),
        status=str(issue.fields["status"]["name"]),
    )


def _not_found() -> Response:
    return JSONResponse({"errorMessages": ["Issue does not exist"]}, 404)


@contextmanager
def serve_jira(deployment: str = "Server") -> Iterator[JiraStandIn]:
    """Serve a fresh stand-in (`Server` or `Cloud`) on a free loopback port."""
    jira = JiraStandIn(deployment)
    with serve_app(jira.build_app()) as base_url:
        jira.base_url = base_url
        yield jira
