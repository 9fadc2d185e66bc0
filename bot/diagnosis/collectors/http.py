"""Outside HTTP calls made while collecting evidence: timed, logged and recorded.

Every call goes through `open_call`, which turns transport failures into `CollectorError`,
writes one INFO line (system, method, path, outcome, duration) and appends a `CallTiming`
to the `CallLog` of the diagnosis in progress, if any.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.diagnosis.collectors.base import CollectorError, FailureKind

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallTiming:
    """One outside call: where it went, how it ended and how long it took."""

    system: str
    method: str
    path: str
    outcome: str
    duration_ms: float
    status: int | None = None


@dataclass
class CallLog:
    """The calls made for one diagnosis, shared by the collectors it runs concurrently."""

    incident_id: str | None = None
    calls: list[CallTiming] = field(default_factory=list)


_current_log: ContextVar[CallLog | None] = ContextVar("diagnosis_call_log", default=None)


@contextmanager
def record_calls(incident_id: str | None = None) -> Iterator[CallLog]:
    """Collect the `CallTiming` of every call made inside the block (and its tasks)."""
    call_log = CallLog(incident_id=incident_id)
    token = _current_log.set(call_log)
    try:
        yield call_log
    finally:
        _current_log.reset(token)


def get_incident_id() -> str | None:
    call_log = _current_log.get()
    return call_log.incident_id if call_log else None


def add_call(timing: CallTiming) -> None:
    """Record a call made outside `open_call` (the Anthropic SDK's) in the current log."""
    call_log = _current_log.get()
    if call_log is not None:
        call_log.calls.append(timing)


@asynccontextmanager
async def open_call(
    client: httpx.AsyncClient, method: str, url: str, *, system: str, **kwargs: Any
) -> AsyncIterator[httpx.Response]:
    """Send a request and yield its response with the body still unread (streamed).

    Raises CollectorError for a timeout or a connection failure; HTTP status codes are left
    to the caller (see `raise_for_status`).
    """
    auth = kwargs.pop("auth", None)
    request = client.build_request(method, url, **kwargs)
    started = time.perf_counter()
    status: int | None = None
    outcome = "ok"
    try:
        response = await client.send(request, stream=True, auth=auth)
        status = response.status_code
        outcome = str(status)
        try:
            yield response
        finally:
            await response.aclose()
    except httpx.TimeoutException as exc:
        outcome = "timeout"
        raise CollectorError(system, FailureKind.TIMEOUT) from exc
    except httpx.TransportError as exc:
        outcome = "unreachable"
        raise CollectorError(system, FailureKind.UNREACHABLE, type(exc).__name__) from exc
    finally:
        _record(system, request, outcome, status, started)


def raise_for_status(response: httpx.Response, *, system: str) -> None:
    """Raise CollectorError for any answer other than 2xx."""
    status = response.status_code
    if 200 <= status < 300:
        return
    if status in (401, 403):
        raise CollectorError(system, FailureKind.AUTH_REFUSED, f"HTTP {status}")
    if status == 404:
        raise CollectorError(system, FailureKind.NOT_FOUND, response.request.url.path)
    raise CollectorError(system, FailureKind.HTTP_ERROR, f"HTTP {status}")


async def get_json(client: httpx.AsyncClient, url: str, *, system: str, **kwargs: Any) -> Any:
    """GET a JSON document; raises CollectorError for any failure."""
    async with open_call(client, "GET", url, system=system, **kwargs) as response:
        raise_for_status(response, system=system)
        await response.aread()
    try:
        return response.json()
    except ValueError as exc:
        raise CollectorError(system, FailureKind.BAD_RESPONSE, "not JSON") from exc


def _record(
    system: str, request: httpx.Request, outcome: str, status: int | None, started: float
) -> None:
    duration_ms = (time.perf_counter() - started) * 1000
    incident_id = get_incident_id()
    # The path only: query strings may carry continuation tokens.
    path = request.url.path
    logger.info(
        "%s %s %s: %s in %.0f ms",
        system,
        request.method,
        path,
        outcome,
        duration_ms,
        extra={"incident_id": incident_id, "system": system, "duration_ms": duration_ms},
    )
    add_call(CallTiming(system, request.method, path, outcome, duration_ms, status))
