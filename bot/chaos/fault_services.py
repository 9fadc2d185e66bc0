"""The pipeline's outside dependencies, with faults switched by a JSON file.

Runs as a script under the sandbox's own Python (standard library only, no `bot` import):

    python fault_services.py SWITCH_FILE REFERENCE_PORT GATEWAY_PORT SECRETS_PORT MOTO_URL

- a reference-data service: `GET /customers` answers each customer's region, or 503
  while the switch says `flaky-dependency`;
- an S3 gateway in front of moto: it forwards every request, or answers AWS's own error
  documents while the switch says `expired-credential` (ExpiredToken, 400) or
  `permission-denied` (AccessDenied, 403). moto itself has no expired tokens;
- a secrets service: `POST /secrets/rotate` with `{"conn_id": ..., "reason": ...}` issues a
  new version of a connection's credential. Rotating the lake's (`orders_lake`) lifts
  `expired-credential` and nothing else: a new key does not grant a missing permission.
  `GET /secrets/rotations` lists every rotation with its time, for the drills' score.

The switch file holds `{"fault": NAME}` and is read on every request; the secrets service
rewrites it when a rotation lifts the fault.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import threading
import uuid
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

HOST = "127.0.0.1"
CUSTOMERS = {
    "C001": "emea",
    "C002": "amer",
    "C003": "apac",
    "C004": "emea",
}
# Error documents as S3 sends them:
# https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html
S3_ERRORS = {
    "expired-credential": (400, "ExpiredToken", "The provided token has expired."),
    "permission-denied": (403, "AccessDenied", "Access Denied"),
}
# The fault a rotation of the lake's connection lifts; every other fault outlives a new key.
ROTATION_LIFTS = "expired-credential"
LAKE_CONN_ID = "orders_lake"
MAX_BODY_BYTES = 64 * 1024
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


def get_fault(switch_file: Path) -> str:
    try:
        data = json.loads(switch_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "none"
    fault = data.get("fault", "none") if isinstance(data, dict) else "none"
    return str(fault)


def write_fault(switch_file: Path, fault: str) -> None:
    # Written whole, then renamed, so a request never reads half a file; the temporary name
    # is this process's own, as the harness writes the same switch.
    partial = switch_file.with_name(f"{switch_file.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps({"fault": fault}), encoding="utf-8")
    partial.replace(switch_file)


def send_body(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class ReferenceHandler(BaseHTTPRequestHandler):
    switch_file: Path

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self.send_body(200, b"ok", "text/plain")
        elif get_fault(self.switch_file) == "flaky-dependency":
            self.send_body(503, b"reference data is temporarily unavailable", "text/plain")
        elif self.path == "/customers":
            self.send_body(200, json.dumps(CUSTOMERS).encode(), "application/json")
        else:
            self.send_body(404, b"not found", "text/plain")

    def send_body(self, status: int, body: bytes, content_type: str) -> None:
        send_body(self, status, body, content_type)


class SecretsHandler(BaseHTTPRequestHandler):
    switch_file: Path
    # One version counter per server, shared by its request threads.
    lock = threading.Lock()
    version = 1
    # One record per server, shared by its request threads.
    rotations: list[dict[str, object]] = []

    def do_GET(self) -> None:
        if self.path == "/healthz":
            send_body(self, 200, b"ok", "text/plain")
        elif self.path == "/secrets/rotations":
            with self.lock:
                self.send_json(200, {"rotations": list(self.rotations)})
        else:
            self.send_json(404, {"error": "not found"})

    def do_POST(self) -> None:
        if self.path != "/secrets/rotate":
            self.send_json(404, {"error": "not found"})
            return
        request = self.read_json()
        conn_id = request.get("conn_id")
        if not isinstance(conn_id, str) or not conn_id.strip():
            self.send_json(400, {"error": "a JSON body with a non-empty conn_id is required"})
            return
        self.send_json(200, self.rotate(conn_id, str(request.get("reason") or "")))

    def rotate(self, conn_id: str, reason: str) -> dict[str, object]:
        with self.lock:
            type(self).version += 1
            version = type(self).version
            fault = get_fault(self.switch_file)
            lifted = fault == ROTATION_LIFTS and conn_id == LAKE_CONN_ID
            if lifted:
                write_fault(self.switch_file, "none")
            rotation: dict[str, object] = {
                "conn_id": conn_id,
                "version": f"v{version}",
                "rotated_at": datetime.now(UTC).isoformat(),
                "lifted_fault": fault if lifted else None,
            }
            self.rotations.append(rotation)
        print(f"rotated {conn_id} to version {version}; reason: {reason!r}", flush=True)
        return rotation

    def read_json(self) -> dict[str, object]:
        """The request's JSON object, or an empty one when the body is anything else."""
        length = min(int(self.headers.get("Content-Length") or 0), MAX_BODY_BYTES)
        try:
            body = json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def send_json(self, status: int, body: dict[str, object]) -> None:
        send_body(self, status, json.dumps(body).encode(), "application/json")


class GatewayHandler(BaseHTTPRequestHandler):
    switch_file: Path
    moto_url: str
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.handle_s3()

    def do_HEAD(self) -> None:
        self.handle_s3()

    def do_PUT(self) -> None:
        self.handle_s3()

    def do_POST(self) -> None:
        self.handle_s3()

    def do_DELETE(self) -> None:
        self.handle_s3()

    def handle_s3(self) -> None:
        body = self.read_body()
        error = S3_ERRORS.get(get_fault(self.switch_file))
        if error is None:
            self.forward(body)
        else:
            self.send_error_document(*error)

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def forward(self, body: bytes) -> None:
        target = urlsplit(self.moto_url)
        connection = http.client.HTTPConnection(target.netloc, timeout=30)
        headers = {
            name: value
            for name, value in self.headers.items()
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length"
        }
        headers["Content-Length"] = str(len(body))
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
        finally:
            connection.close()
        self.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP and name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def send_error_document(self, status: int, code: str, message: str) -> None:
        request_id = uuid.uuid4().hex[:16].upper()
        document = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<RequestId>{request_id}</RequestId></Error>"
        ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/xml")
        self.send_header("x-amz-request-id", request_id)
        self.send_header("Content-Length", str(len(document)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(document)


def create_servers(
    switch_file: Path,
    reference_port: int,
    gateway_port: int,
    secrets_port: int,
    moto_url: str,
) -> list[ThreadingHTTPServer]:
    """The reference service, the S3 gateway and the secrets service, bound to loopback.

    Port 0 picks a free one.
    """
    reference = type("Reference", (ReferenceHandler,), {"switch_file": switch_file})
    gateway = type("Gateway", (GatewayHandler,), {"switch_file": switch_file, "moto_url": moto_url})
    secrets = type(
        "Secrets",
        (SecretsHandler,),
        {"switch_file": switch_file, "lock": threading.Lock(), "version": 1, "rotations": []},
    )
    return [
        ThreadingHTTPServer((HOST, reference_port), reference),
        ThreadingHTTPServer((HOST, gateway_port), gateway),
        ThreadingHTTPServer((HOST, secrets_port), secrets),
    ]


def main(argv: list[str]) -> None:
    switch_file, reference_port, gateway_port, secrets_port, moto_url = argv
    servers = create_servers(
        Path(switch_file), int(reference_port), int(gateway_port), int(secrets_port), moto_url
    )
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    print(
        f"reference on {reference_port}, S3 gateway on {gateway_port}, secrets on {secrets_port}",
        flush=True,
    )
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main(sys.argv[1:])
