"""Run any ASGI app on a free loopback port in a background thread, for the stand-ins.

    with serve_app(app) as base_url:
        httpx.get(f"{base_url}/healthz")

The server runs its own event loop in its own thread, so the bot talks to it over real HTTP
from its own loop, and blocking clients (the Jira client, the Teams key fetch) work too.

`StandIn` is the base of the stand-ins that speak a vendor's wire format (Anthropic here;
Airflow, Spark and Teams in the tests): it records every request and answers with injected
faults (an HTTP status, or a hang) by route name. The chaos drills and the tests use them.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import uvicorn
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from bot.chaos.ports import bind_loopback

STARTUP_TIMEOUT_SECONDS = 10.0


class _Server(uvicorn.Server):
    """A uvicorn server that tells the calling thread when it accepts connections."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            super().run(sockets)
        finally:
            # A failed start must not leave the calling thread waiting for the full timeout.
            self.ready.set()


@contextmanager
def serve_app(app: ASGIApp, *, host: str = "127.0.0.1") -> Iterator[str]:
    """Serve `app` until the block ends and yield its base URL (no trailing slash).

    Raises RuntimeError when the server does not start. On exit, requests still in flight
    (a stand-in told to hang) are cancelled rather than waited for.
    """
    sock = bind_loopback(host)
    port = sock.getsockname()[1]
    # log_config=None leaves logging to the caller (pytest, the drill's CLI) instead of
    # installing uvicorn's handlers.
    config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False)
    server = _Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        if not server.ready.wait(STARTUP_TIMEOUT_SECONDS) or not server.started:
            raise RuntimeError(f"stand-in server on port {port} did not start")
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        server.force_exit = True
        thread.join(STARTUP_TIMEOUT_SECONDS)
        sock.close()


class RecordedRequest(NamedTuple):
    """One request a stand-in received; `json` is None when the body was not JSON."""

    method: str
    path: str
    json: Any
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class Fault:
    """What a faulted route answers instead: a status and body, or no answer at all."""

    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False
    times: int | None = None


class StandIn:
    """Base of the stand-in servers: records every request and injects faults by route name.

    Subclasses list their routes with `to_route(path, name, endpoint)`; callers use
    `fail("log", 500)`, `fail("messages", 429, times=1)` or `hang("log")`, and read
    `requests` (or `writes`, the requests other than GET) afterwards.
    """

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self._faults: dict[str, Fault] = {}

    @property
    def writes(self) -> list[RecordedRequest]:
        return [request for request in self.requests if request.method not in ("GET", "HEAD")]

    def fail(self, route: str, status: int = 500, *, body: Any = None, **options: Any) -> None:
        self._faults[route] = Fault(status=status, body=body, **options)

    def hang(self, route: str) -> None:
        """Accept the request on `route` and never answer (until the server stops)."""
        self._faults[route] = Fault(hang=True)

    def clear_faults(self) -> None:
        self._faults.clear()

    def to_route(
        self,
        path: str,
        name: str,
        endpoint: Callable[[Request], Awaitable[Response]],
        methods: tuple[str, ...] = ("GET",),
    ) -> Route:
        async def handle(request: Request) -> Response:
            await self._record(request)
            fault = self._take_fault(name)
            if fault is None:
                return await endpoint(request)
            if fault.hang:
                await asyncio.Event().wait()
            return JSONResponse(fault.body, status_code=fault.status, headers=fault.headers)

        return Route(path, handle, methods=list(methods), name=name)

    def _take_fault(self, name: str) -> Fault | None:
        fault = self._faults.get(name) or self._faults.get("*")
        if fault is None or fault.times is None:
            return fault
        fault.times -= 1
        if fault.times <= 0:
            self._faults = {key: value for key, value in self._faults.items() if value is not fault}
        return fault

    async def _record(self, request: Request) -> None:
        body = await request.body()
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            payload = None
        self.requests.append(
            RecordedRequest(
                request.method,
                request.url.path,
                payload,
                dict(request.query_params),
                dict(request.headers),
            )
        )
