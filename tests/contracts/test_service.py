"""Loading contracts and checking an input against one, from a file or over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.chaos.standins.server import serve_app
from bot.contracts.models import DataContract
from bot.contracts.service import (
    SAMPLE_BYTES,
    SAMPLE_ROWS,
    ContractInputError,
    check_contract,
    load_contracts,
    to_report,
    to_text,
)
from bot.errors import ConfigError
from tests.contracts.conftest import GOOD_CSV, RENAMED_CSV, write_contract


class CsvServer:
    """A file server holding one CSV; it records the Range header of every request."""

    def __init__(self, body: str) -> None:
        self.body = body
        self.ranges: list[str | None] = []
        self.app = Starlette(routes=[Route("/landing/orders.csv", self.get_file)])

    async def get_file(self, request: Request) -> Response:
        self.ranges.append(request.headers.get("range"))
        return PlainTextResponse(self.body, media_type="text/csv")


@pytest.fixture
def csv_server() -> Iterator[tuple[CsvServer, str]]:
    server = CsvServer(GOOD_CSV)
    with serve_app(server.app) as base_url:
        yield server, f"{base_url}/landing/orders.csv"


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


def test_contracts_are_found_by_the_dags_that_consume_them(tmp_path: Path) -> None:
    write_contract(tmp_path, "orders", dag_ids=["orders_pipeline", "orders_backfill"])
    write_contract(tmp_path, "refunds")

    contracts = load_contracts(tmp_path)

    orders = contracts.get_for_dag("orders_backfill")
    assert orders is not None and orders.dataset == "orders"
    assert contracts.get_for_dag("refunds_pipeline") is not None
    assert contracts.get_for_dag("unknown_dag") is None


def test_no_folder_means_no_contracts() -> None:
    assert load_contracts(None).get_for_dag("orders_pipeline") is None


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"columns": {"amount": "money"}}, "orders.yaml: columns.amount: Input should be"),
        ({"owner": "team-a"}, "orders.yaml: owner: Extra inputs are not permitted"),
        ({"dag_ids": []}, "orders.yaml: dag_ids: List should have at least 1 item"),
    ],
)
def test_a_bad_contract_fails_naming_its_file_and_field(
    tmp_path: Path, fields: dict[str, object], problem: str
) -> None:
    write_contract(tmp_path, **fields)

    with pytest.raises(ConfigError) as raised:
        load_contracts(tmp_path)

    assert problem in str(raised.value)


def test_a_dag_claimed_by_two_contracts_fails(tmp_path: Path) -> None:
    write_contract(tmp_path, "orders")
    write_contract(tmp_path, "orders_v2", dag_ids=["orders_pipeline"])

    with pytest.raises(ConfigError, match=r"orders_v2\.yaml: dag_ids: orders_pipeline already"):
        load_contracts(tmp_path)


def test_a_missing_folder_fails_saying_which(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"DATA_CONTRACTS_DIR .*nowhere is not a folder"):
        load_contracts(tmp_path / "nowhere")


async def test_an_input_file_that_matches_meets_its_contract(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    contract = load_contracts_for(tmp_path, GOOD_CSV)

    report = await check_contract(contract, http=http)

    assert report.is_met
    assert report.rows_checked == 2
    assert report.missing == report.unexpected == []


async def test_a_renamed_column_is_missing_and_its_new_name_unexpected(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    contract = load_contracts_for(tmp_path, RENAMED_CSV)

    report = await check_contract(contract, http=http)

    assert not report.is_met
    assert report.missing == ["amount"]
    assert report.unexpected == ["order_amount"]


async def test_a_value_of_the_wrong_type_breaks_the_contract(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    contract = load_contracts_for(tmp_path, GOOD_CSV + "O-3,C003,n/a,2026-01-05T11:03:00\n")

    report = await check_contract(contract, http=http)

    assert report.mistyped == {"amount": "n/a"}
    assert not report.is_met


async def test_a_missing_input_file_is_an_input_error(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    contract = load_contracts_for(tmp_path, None)

    with pytest.raises(ContractInputError, match=r"orders\.csv does not exist"):
        await check_contract(contract, http=http)


async def test_an_input_over_http_is_read_with_a_range_request(
    tmp_path: Path, http: httpx.AsyncClient, csv_server: tuple[CsvServer, str]
) -> None:
    server, url = csv_server
    server.body = RENAMED_CSV
    write_contract(tmp_path, input=url)
    contract = load_contracts(tmp_path).get_for_dag("orders_pipeline")
    assert contract is not None

    report = await check_contract(contract, http=http)

    assert report.missing == ["amount"]
    assert server.ranges == [f"bytes=0-{SAMPLE_BYTES}"]


async def test_an_unreachable_http_input_is_an_input_error(
    tmp_path: Path, http: httpx.AsyncClient, csv_server: tuple[CsvServer, str]
) -> None:
    _, url = csv_server
    write_contract(tmp_path, input=url.replace("orders.csv", "gone.csv"))
    contract = load_contracts(tmp_path).get_for_dag("orders_pipeline")
    assert contract is not None

    with pytest.raises(ContractInputError, match=r"gone\.csv could not be read"):
        await check_contract(contract, http=http)


def test_only_a_sample_of_the_rows_is_judged(tmp_path: Path) -> None:
    contract = load_contracts_for(tmp_path, GOOD_CSV)
    rows = "".join(f"O-{n},C001,1.0,2026-01-05T09:12:00\n" for n in range(SAMPLE_ROWS + 5))
    late_bad_row = "O-x,C001,n/a,2026-01-05T09:12:00\n"

    report = to_report(contract, GOOD_CSV + rows + late_bad_row)

    assert report.rows_checked == SAMPLE_ROWS
    assert report.is_met


def test_an_input_without_a_header_is_an_input_error(tmp_path: Path) -> None:
    contract = load_contracts_for(tmp_path, GOOD_CSV)

    with pytest.raises(ContractInputError, match="has no header row"):
        to_report(contract, "")


def load_contracts_for(folder: Path, csv_text: str | None) -> DataContract:
    """The orders contract, its input file holding `csv_text` (or no file at all)."""
    write_contract(folder)
    if csv_text is not None:
        (folder / "orders.csv").write_text(csv_text, encoding="utf-8")
    contract = load_contracts(folder).get_for_dag("orders_pipeline")
    assert contract is not None
    return contract


async def test_a_byte_order_mark_is_not_part_of_the_first_column(
    tmp_path: Path, http: httpx.AsyncClient
) -> None:
    contract = load_contracts_for(tmp_path, None)
    (tmp_path / "orders.csv").write_bytes(GOOD_CSV.encode("utf-8-sig"))

    report = await check_contract(contract, http=http)

    assert report.is_met


def test_a_column_name_with_a_space_is_not_the_contracted_column(tmp_path: Path) -> None:
    contract = load_contracts_for(tmp_path, GOOD_CSV)

    report = to_report(contract, GOOD_CSV.replace(",amount,", ", amount,", 1))

    assert report.missing == ["amount"]
    assert report.unexpected == [" amount"]


def test_a_sample_cut_inside_a_row_leaves_that_row_out() -> None:
    row = "O-1,C001,1.0,2026-01-05T09:12:00,Zürich\n".encode()
    rows = row * (SAMPLE_BYTES // len(row) + 2)

    text = to_text(b"order_id\n" + rows)

    assert text.endswith("Zürich\n")
    assert len(text.encode()) <= SAMPLE_BYTES
