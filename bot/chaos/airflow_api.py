"""The few calls the harness makes to the sandbox's Airflow 3 REST API (/api/v2).

Authentication is Airflow 3's own: `POST /auth/token` with user and password returns a
JWT that every later call presents as a bearer token.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from bot.chaos import messages
from bot.errors import BotError

logger = logging.getLogger(__name__)

FINISHED_STATES = frozenset({"success", "failed"})
POLL_SECONDS = 1.0
REQUEST_TIMEOUT_SECONDS = 30.0
EVENT_LOG_PAGE = 100


class SandboxApiError(BotError):
    """The sandbox's Airflow answered something the harness cannot use."""


@dataclass(frozen=True)
class DagRun:
    dag_id: str
    run_id: str
    state: str


class SandboxApi:
    """An authenticated client for one sandbox Airflow; close it with `aclose`."""

    def __init__(self, base_url: str, *, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self.password = password
        self.client = httpx.AsyncClient(base_url=self.base_url, timeout=REQUEST_TIMEOUT_SECONDS)
        self.token: str | None = None

    async def aclose(self) -> None:
        await self.client.aclose()

    async def get_token(self) -> str:
        """A JWT for the bot user, fetched once and reused (it lives 24 hours)."""
        if self.token is None:
            body = {"username": self.username, "password": self.password}
            response = await self.send("POST", "/auth/token", json=body, authenticated=False)
            self.token = str(response.json()["access_token"])
        return self.token

    async def get_health(self) -> dict[str, Any]:
        response = await self.send("GET", "/api/v2/monitor/health", authenticated=False)
        data: dict[str, Any] = response.json()
        return data

    async def get_dag(self, dag_id: str) -> dict[str, Any] | None:
        response = await self.send("GET", f"/api/v2/dags/{dag_id}", allow={404})
        if response.status_code == 404:
            return None
        data: dict[str, Any] = response.json()
        return data

    async def get_import_errors(self) -> list[dict[str, Any]]:
        response = await self.send("GET", "/api/v2/importErrors")
        errors: list[dict[str, Any]] = response.json().get("import_errors", [])
        return errors

    async def create_dag_run(self, dag_id: str, conf: dict[str, Any] | None = None) -> str:
        """Unpause `dag_id` and start a manual run of it; return the run id."""
        await self.send("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False})
        # A manual run needs an explicit null logical date in Airflow 3.
        body = {"logical_date": None, "conf": conf or {}}
        response = await self.send("POST", f"/api/v2/dags/{dag_id}/dagRuns", json=body)
        return str(response.json()["dag_run_id"])

    async def get_dag_run(self, dag_id: str, run_id: str) -> DagRun:
        response = await self.send("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        return DagRun(dag_id, run_id, str(response.json()["state"]))

    async def wait_for_dag_run(self, dag_id: str, run_id: str, *, within: float) -> DagRun:
        """Poll the run until it succeeds or fails; raise SandboxApiError after `within` s."""
        try:
            async with asyncio.timeout(within):
                # Airflow has no push notification for a run's end: polling is the way.
                while True:
                    run = await self.get_dag_run(dag_id, run_id)
                    if run.state in FINISHED_STATES:
                        break
                    await asyncio.sleep(POLL_SECONDS)
        except TimeoutError as exc:
            raise SandboxApiError(messages.to_run_timeout(dag_id, run_id, within)) from exc
        return run

    async def get_task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances"
        instances: list[dict[str, Any]] = (await self.send("GET", path)).json()["task_instances"]
        return instances

    async def get_task_log(
        self, dag_id: str, run_id: str, task_id: str, try_number: int
    ) -> list[dict[str, Any]]:
        """The structured log events of one try (Airflow 3 has no text/plain log)."""
        path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/logs/{try_number}"
        response = await self.send(
            "GET",
            path,
            params={"full_content": "true"},
            headers={"Accept": "application/json"},
        )
        content = response.json().get("content", [])
        return [event for event in content if isinstance(event, dict)]

    async def get_task_tries(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        """Every try of every task in the run (a cleared task's earlier tries included)."""
        tries: list[dict[str, Any]] = []
        for instance in await self.get_task_instances(dag_id, run_id):
            path = (
                f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{instance['task_id']}/tries"
            )
            tries.extend((await self.send("GET", path)).json()["task_instances"])
        return tries

    async def get_event_logs(self, *, owner: str, after: datetime) -> list[dict[str, Any]]:
        """Airflow's own record of what `owner` did through the API and UI since `after`.

        Read page by page: Airflow caps a page at its `maximum_page_limit` (100 by default).
        """
        entries: list[dict[str, Any]] = []
        while True:
            params = {
                "owner": owner,
                "after": after.isoformat(),
                "limit": str(EVENT_LOG_PAGE),
                "offset": str(len(entries)),
                "order_by": "id",
            }
            page = (await self.send("GET", "/api/v2/eventLogs", params=params)).json()
            entries.extend(page["event_logs"])
            if not page["event_logs"] or len(entries) >= page["total_entries"]:
                return entries

    async def send(
        self,
        method: str,
        path: str,
        *,
        authenticated: bool = True,
        allow: frozenset[int] | set[int] = frozenset(),
        **kwargs: Any,
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if authenticated:
            headers["Authorization"] = f"Bearer {await self.get_token()}"
        started = time.monotonic()
        response = await self.client.request(method, path, headers=headers, **kwargs)
        logger.info(
            "sandbox airflow %s %s: %d in %.0f ms",
            method,
            path,
            response.status_code,
            (time.monotonic() - started) * 1000,
        )
        if response.is_error and response.status_code not in allow:
            raise SandboxApiError(
                messages.to_api_refused(method, path, response.status_code, response.text)
            )
        return response
