"""A local stand-in for https://sns.<region>.amazonaws.com, reached over real HTTP and TLS.

The bot only talks to SNS hosts by name, so the stand-in is an HTTP CONNECT proxy that
terminates TLS itself, with a server certificate from a throw-away CA. Point an httpx
client at it with `proxy=stand_in.proxy_url` and `verify=stand_in.client_tls`, or set
HTTPS_PROXY and SSL_CERT_FILE for code that builds its own client.

    stand_in.answer("/cert.pem", 200, pem)
    ... code under test fetches https://sns.us-east-1.amazonaws.com/cert.pem ...
    assert stand_in.requests == [SnsRequest("sns.us-east-1.amazonaws.com", "GET", "/cert.pem")]
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from pathlib import Path
from typing import NamedTuple
from urllib.parse import urlsplit

from tests.alerts.keys import build_tls_files

HOST = "sns.us-east-1.amazonaws.com"


class SnsRequest(NamedTuple):
    host: str
    method: str
    target: str


class SnsStandIn:
    def __init__(self, folder: Path) -> None:
        self.ca_path, cert_path, key_path = build_tls_files(folder, HOST)
        self.server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server_tls.load_cert_chain(cert_path, key_path)
        self.client_tls = ssl.create_default_context(cafile=str(self.ca_path))
        self.requests: list[SnsRequest] = []
        self.answers: dict[str, tuple[int, bytes]] = {}
        self.hanging: set[str] = set()
        self.proxy_url = ""
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    def answer(self, path: str, status: int, body: bytes = b"") -> None:
        self.answers[path] = (status, body)

    def hang(self, path: str) -> None:
        """Accept requests on `path` and never answer them."""
        self.hanging.add(path)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.proxy_url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        for handler in self._handlers:
            handler.cancel()
        if self._handlers:
            await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            await self._serve(reader, writer)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass
        finally:
            self._handlers.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connect = (await reader.readline()).decode()
        await _skip_headers(reader)
        host = connect.split()[1].rpartition(":")[0]
        writer.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
        await writer.drain()
        await writer.start_tls(self.server_tls)

        method, target, _ = (await reader.readline()).decode().split(" ", 2)
        await _skip_headers(reader)
        self.requests.append(SnsRequest(host, method, target))
        path = urlsplit(target).path
        if path in self.hanging:
            await asyncio.Event().wait()
        status, body = self.answers.get(path, (404, b"<Error>NotFound</Error>"))
        head = f"HTTP/1.1 {status} -\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        writer.write(head.encode() + body)
        await writer.drain()


async def _skip_headers(reader: asyncio.StreamReader) -> None:
    while (await reader.readline()) not in (b"\r\n", b"\n", b""):
        pass
