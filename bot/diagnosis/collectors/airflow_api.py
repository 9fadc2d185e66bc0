"""A client for Airflow's REST API: version 2 (Airflow 3) and version 1 (Airflow 2).

Diagnosis only reads through it; `send_json` is the one door for the approved remediation
actions in `bot.actions.airflow`, which also read through `get_json`.

Airflow 3 authenticates with a JWT from `POST /auth/token` (or a static token); the JWT is
cached and fetched again once when a call answers 401. Airflow 2 takes basic auth.
Run ids contain `:` and `+`, so every path segment is URL-encoded.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import quote

import httpx

from bot.diagnosis.collectors.airflow_logs import to_event_lines, to_v1_log_text
from bot.diagnosis.collectors.base import CollectorError, FailureKind
from bot.diagnosis.collectors.excerpt import LineSplitter, LogExcerpt
from bot.diagnosis.collectors.http import open_call, raise_for_status

SYSTEM = "airflow"
ApiVersion = Literal["v1", "v2"]
# One Airflow 3 event (a traceback included) fits in this; longer raw lines are cut.
MAX_EVENT_CHARS = 1_000_000
MAX_TEXT_LINE_CHARS = 20_000
# A JSON log body must be parsed whole; past this size the bot refuses rather than buffer it.
MAX_JSON_LOG_BYTES = 20_000_000


@dataclass(frozen=True)
class TaskRef:
    """The task instance an alert points at."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int | None = None

    def to_path(self) -> str:
        segments = (self.dag_id, "dagRuns", self.run_id, "taskInstances", self.task_id)
        return "dags/" + "/".join(quote(segment, safe="") for segment in segments)


class AirflowApi:
    """Reads task instances and their logs; detects the API version on first use."""

    def __init__(
        self,
        *,
        client: httpx.AsyncClient,
        base_url: str,
        version: Literal["auto", "v1", "v2"] = "auto",
        username: str = "",
        password: str = "",
        static_token: str = "",
    ) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")
        self._version: ApiVersion | None = None if version == "auto" else version
        self._username = username
        self._password = password
        self._static_token = static_token
        self._jwt: str | None = None
        self._lock = asyncio.Lock()

    @property
    def base_url(self) -> str:
        return self._base_url

    async def get_version(self) -> ApiVersion:
        """The API version to use, detected from `/api/v2/version` then `/api/v1/version`."""
        if self._version is None:
            async with self._lock:
                if self._version is None:
                    self._version = await self._detect_version()
        return self._version

    async def get_task_instance(self, task: TaskRef) -> dict[str, Any]:
        path = task.to_path()
        if task.map_index is not None and task.map_index >= 0:
            path += f"/{task.map_index}"
        body = await self._get_json(path)
        if not isinstance(body, dict):
            raise CollectorError(SYSTEM, FailureKind.BAD_RESPONSE, "task instance is not an object")
        return body

    async def read_log(self, task: TaskRef, try_number: int, excerpt: LogExcerpt) -> None:
        """Stream the log of one try into `excerpt`, which keeps a bounded part of it."""
        version = await self.get_version()
        params: dict[str, str | int] = {"full_content": "true"}
        if task.map_index is not None and task.map_index >= 0:
            params["map_index"] = task.map_index
        accept = "application/x-ndjson" if version == "v2" else "text/plain"
        path = f"{task.to_path()}/logs/{try_number}"
        async with self._open(path, params=params, accept=accept) as response:
            content_type = response.headers.get("content-type", "")
            if "json" in content_type and "ndjson" not in content_type:
                await _read_json_log(response, excerpt)
            else:
                await _read_streamed_log(response, excerpt, structured=version == "v2")

    async def get_json(self, path: str) -> Any:
        """GET an API path (relative to `/api/{version}/`) and return its JSON answer.

        Raises CollectorError; a missing resource has kind NOT_FOUND.
        """
        return await self._get_json(path)

    async def send_json(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: dict[str, str | int] | None = None,
    ) -> Any:
        """Send a JSON body to an API path; returns the JSON answer, or None when it has none.

        Raises CollectorError for a refusal, a missing resource or any status but 2xx.
        """
        opened = self._open(
            path, accept="application/json", method=method, body=body, params=params
        )
        async with opened as response:
            await response.aread()
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise CollectorError(SYSTEM, FailureKind.BAD_RESPONSE, "not JSON") from exc

    async def _detect_version(self) -> ApiVersion:
        for version in ("v2", "v1"):
            url = f"{self._base_url}/api/{version}/version"
            async with open_call(self._client, "GET", url, system=SYSTEM) as response:
                if response.status_code == 404:
                    continue
                raise_for_status(response, system=SYSTEM)
                return version
        raise CollectorError(SYSTEM, FailureKind.NOT_FOUND, "no /api/v2 or /api/v1 version")

    async def _get_json(self, path: str) -> Any:
        async with self._open(path, accept="application/json") as response:
            await response.aread()
        try:
            return response.json()
        except ValueError as exc:
            raise CollectorError(SYSTEM, FailureKind.BAD_RESPONSE, "not JSON") from exc

    @asynccontextmanager
    async def _open(
        self,
        path: str,
        *,
        accept: str,
        params: dict[str, str | int] | None = None,
        method: str = "GET",
        body: Any = None,
    ) -> AsyncIterator[httpx.Response]:
        """Call an API path, fetching a new JWT once when the cached one is refused."""
        version = await self.get_version()
        url = f"{self._base_url}/api/{version}/{path}"
        auth = self._get_basic_auth(version)
        content = {} if body is None else {"json": body}
        for attempt in (1, 2):
            headers = {"Accept": accept, **await self._get_token_header(refresh=attempt == 2)}
            async with open_call(
                self._client,
                method,
                url,
                system=SYSTEM,
                params=params,
                headers=headers,
                auth=auth,
                **content,
            ) as response:
                if response.status_code == 401 and attempt == 1 and self._uses_jwt(version):
                    continue
                raise_for_status(response, system=SYSTEM)
                yield response
                return

    async def _get_token_header(self, *, refresh: bool) -> dict[str, str]:
        if self._static_token:
            return {"Authorization": f"Bearer {self._static_token}"}
        if not self._uses_jwt(await self.get_version()):
            return {}
        if refresh or self._jwt is None:
            async with self._lock:
                if refresh or self._jwt is None:
                    self._jwt = await self._fetch_jwt()
        return {"Authorization": f"Bearer {self._jwt}"}

    def _uses_jwt(self, version: ApiVersion) -> bool:
        return version == "v2" and not self._static_token and bool(self._username)

    def _get_basic_auth(self, version: ApiVersion) -> httpx.BasicAuth | None:
        if version == "v1" and self._username and not self._static_token:
            return httpx.BasicAuth(self._username, self._password)
        return None

    async def _fetch_jwt(self) -> str:
        url = f"{self._base_url}/auth/token"
        payload = {"username": self._username, "password": self._password}
        async with open_call(self._client, "POST", url, system=SYSTEM, json=payload) as response:
            raise_for_status(response, system=SYSTEM)
            await response.aread()
        try:
            token = response.json().get("access_token")
        except (ValueError, AttributeError) as exc:
            raise CollectorError(SYSTEM, FailureKind.BAD_RESPONSE, "token answer") from exc
        if not isinstance(token, str) or not token:
            raise CollectorError(SYSTEM, FailureKind.BAD_RESPONSE, "no access_token")
        return token


async def _read_streamed_log(
    response: httpx.Response, excerpt: LogExcerpt, *, structured: bool
) -> None:
    splitter = LineSplitter(MAX_EVENT_CHARS if structured else MAX_TEXT_LINE_CHARS)
    async for lines in _iterate_lines(response, splitter):
        for line in lines:
            for text_line in _to_lines(line, structured=structured):
                excerpt.add(text_line)


async def _iterate_lines(
    response: httpx.Response, splitter: LineSplitter
) -> AsyncIterator[list[str]]:
    async for chunk in response.aiter_text():
        yield splitter.feed(chunk)
    yield splitter.flush()


def _to_lines(line: str, *, structured: bool) -> list[str]:
    if not structured or not line.startswith("{"):
        return [line]
    try:
        event = json.loads(line)
    except ValueError:
        return [line]
    return list(to_event_lines(event if isinstance(event, dict) else line))


async def _read_json_log(response: httpx.Response, excerpt: LogExcerpt) -> None:
    body = bytearray()
    async for chunk in response.aiter_bytes():
        body.extend(chunk)
        if len(body) > MAX_JSON_LOG_BYTES:
            raise CollectorError(SYSTEM, FailureKind.BAD_RESPONSE, "JSON log too large")
    try:
        document = json.loads(bytes(body))
    except ValueError as exc:
        raise CollectorError(SYSTEM, FailureKind.BAD_RESPONSE, "log is not JSON") from exc
    content = document.get("content") if isinstance(document, dict) else None
    if isinstance(content, list) and any(isinstance(item, dict) for item in content):
        for event in content:
            for line in to_event_lines(event if isinstance(event, dict | str) else str(event)):
                excerpt.add(line)
        return
    for line in to_v1_log_text(content if content is not None else "").splitlines():
        excerpt.add(line)
