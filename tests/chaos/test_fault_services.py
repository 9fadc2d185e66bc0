from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.chaos.fault_services import create_servers
from bot.chaos.faults import write_switch
from bot.chaos.models import Fault
from bot.chaos.standins.server import serve_app


@dataclass
class Services:
    reference_url: str
    gateway_url: str
    secrets_url: str
    switch_file: Path
    upstream_requests: list[dict[str, Any]]

    def set_fault(self, fault: Fault) -> None:
        write_switch(self.switch_file, fault)


def create_upstream(received: list[dict[str, Any]]) -> Starlette:
    """Stands in for moto: records what the gateway forwarded and answers like S3."""

    async def handle(request: Request) -> Response:
        body = await request.body()
        received.append({"method": request.method, "path": request.url.path, "body": body})
        return Response(b"", status_code=200, headers={"ETag": '"abc"'})

    return Starlette(routes=[Route("/{path:path}", handle, methods=["GET", "PUT", "HEAD"])])


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    received: list[dict[str, Any]] = []
    switch_file = tmp_path / "faults.json"
    with serve_app(create_upstream(received)) as upstream_url:
        servers = create_servers(switch_file, 0, 0, 0, upstream_url)
        threads = [
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
            for server in servers
        ]
        for thread in threads:
            thread.start()
        reference, gateway, secrets = (f"http://127.0.0.1:{s.server_address[1]}" for s in servers)
        try:
            yield Services(reference, gateway, secrets, switch_file, received)
        finally:
            for server in servers:
                server.shutdown()
                server.server_close()
            for thread in threads:
                thread.join()


def test_reference_service_answers_customer_regions_without_a_fault(services: Services) -> None:
    response = httpx.get(f"{services.reference_url}/customers")

    assert response.status_code == 200
    assert response.json()["C001"] == "emea"


def test_reference_service_answers_503_while_the_dependency_is_flaky(services: Services) -> None:
    services.set_fault("flaky-dependency")

    assert httpx.get(f"{services.reference_url}/customers").status_code == 503
    assert httpx.get(f"{services.reference_url}/healthz").status_code == 200


def test_gateway_forwards_requests_to_s3_without_a_fault(services: Services) -> None:
    response = httpx.put(f"{services.gateway_url}/orders-lake/a/key.parquet", content=b"PAR1")

    assert response.status_code == 200
    assert response.headers["etag"] == '"abc"'
    assert services.upstream_requests == [
        {"method": "PUT", "path": "/orders-lake/a/key.parquet", "body": b"PAR1"}
    ]


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ("expired-credential", 400, "<Code>ExpiredToken</Code>"),
        ("permission-denied", 403, "<Code>AccessDenied</Code>"),
    ],
)
def test_gateway_answers_the_aws_error_document_for_its_fault(
    services: Services, fault: Fault, status: int, code: str
) -> None:
    services.set_fault(fault)

    response = httpx.put(f"{services.gateway_url}/orders-lake/key", content=b"PAR1")

    assert response.status_code == status
    assert code in response.text
    assert services.upstream_requests == []


def test_gateway_ignores_faults_meant_for_other_services(services: Services) -> None:
    services.set_fault("flaky-dependency")

    assert httpx.get(f"{services.gateway_url}/orders-lake").status_code == 200


def rotate(services: Services, body: object) -> httpx.Response:
    return httpx.post(f"{services.secrets_url}/secrets/rotate", json=body)


def test_rotation_lifts_the_expired_credential_and_names_the_new_version(
    services: Services,
) -> None:
    services.set_fault("expired-credential")

    response = rotate(services, {"conn_id": "orders_lake", "reason": "incident 7"})

    assert response.status_code == 200
    assert response.json()["conn_id"] == "orders_lake"
    assert response.json()["version"] == "v2"
    assert response.json()["lifted_fault"] == "expired-credential"
    assert httpx.put(f"{services.gateway_url}/orders-lake/key", content=b"x").status_code == 200


def test_each_rotation_issues_a_newer_version(services: Services) -> None:
    versions = [rotate(services, {"conn_id": "aws_default"}).json()["version"] for _ in range(2)]

    assert versions == ["v2", "v3"]


def test_rotation_leaves_a_missing_permission_in_place(services: Services) -> None:
    services.set_fault("permission-denied")

    response = rotate(services, {"conn_id": "orders_lake", "reason": "wrong playbook"})

    assert response.status_code == 200
    assert response.json()["lifted_fault"] is None
    assert httpx.put(f"{services.gateway_url}/orders-lake/key", content=b"x").status_code == 403


def test_rotating_another_connection_leaves_the_lake_credential_expired(
    services: Services,
) -> None:
    services.set_fault("expired-credential")

    response = rotate(services, {"conn_id": "aws_default", "reason": "wrong connection"})

    assert response.json()["lifted_fault"] is None
    assert httpx.put(f"{services.gateway_url}/orders-lake/key", content=b"x").status_code == 400


def test_rotations_are_listed_in_order_with_their_times(services: Services) -> None:
    rotate(services, {"conn_id": "orders_lake"})
    rotate(services, {"conn_id": "aws_default"})

    rotations = httpx.get(f"{services.secrets_url}/secrets/rotations").json()["rotations"]

    assert [rotation["conn_id"] for rotation in rotations] == ["orders_lake", "aws_default"]
    times = [datetime.fromisoformat(rotation["rotated_at"]) for rotation in rotations]
    assert times == sorted(times)


@pytest.mark.parametrize("body", [{"reason": "no connection"}, {"conn_id": " "}, ["aws_default"]])
def test_rotation_without_a_connection_id_is_refused_and_changes_nothing(
    services: Services, body: object
) -> None:
    services.set_fault("expired-credential")

    response = rotate(services, body)

    assert response.status_code == 400
    assert "conn_id" in response.json()["error"]
    assert httpx.put(f"{services.gateway_url}/orders-lake/key", content=b"x").status_code == 400
