"""The pipeline's outside dependencies, with faults switched by a JSON file.

Runs as a script under the sandbox's own Python (standard library only, no `bot` import):

    python fault_services.py SWITCH_FILE REFERENCE_PORT GATEWAY_PORT MOTO_URL

- a reference-data service: `GET /customers` answers each customer's region, or 503
  while the switch says `flaky-dependency`;
- an S3 gateway in front of moto: it forwards every request, or answers AWS's own error
  documents while the switch says `expired-credential` (ExpiredToken, 400) or
  `permission-denied` (AccessDenied, 403). moto itself has no expired tokens.

The switch file holds `{"fault": NAME}` and is read on every request.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import uuid
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
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


def get_fault(switch_file: Path) -> str:
    try:
        data = json.loads(switch_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "none"
    fault = data.get("fault", "none") if isinstance(data, dict) else "none"
    return str(fault)


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
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


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
    switch_file: Path, reference_port: int, gateway_port: int, moto_url: str
) -> list[ThreadingHTTPServer]:
    """The reference service and the S3 gateway, bound to loopback (port 0 picks one)."""
    reference = type("Reference", (ReferenceHandler,), {"switch_file": switch_file})
    gateway = type("Gateway", (GatewayHandler,), {"switch_file": switch_file, "moto_url": moto_url})
    return [
        ThreadingHTTPServer((HOST, reference_port), reference),
        ThreadingHTTPServer((HOST, gateway_port), gateway),
    ]


def main(argv: list[str]) -> None:
    switch_file, reference_port, gateway_port, moto_url = argv
    servers = create_servers(Path(switch_file), int(reference_port), int(gateway_port), moto_url)
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    print(f"reference on {reference_port}, S3 gateway on {gateway_port}", flush=True)
    for thread in threads:
        thread.join()


if __name__ == "__main__":
    main(sys.argv[1:])
