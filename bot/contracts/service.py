"""Load data contracts from a folder and check a dataset's input against its contract.

    contract = load_contracts(Path("contracts")).get_for_dag("orders_pipeline")
    report = await check_contract(contract, http=client)

The check reads the input's header and a sample of its rows (a local CSV file, or one
served over http(s) from an allowed host), never the whole file, and changes nothing.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from collections.abc import Iterable
from pathlib import Path

import httpx

from bot.contracts import messages
from bot.contracts.models import ContractReport, DataContract, is_of_type
from bot.diagnosis.collectors.base import CollectorError
from bot.diagnosis.collectors.http import open_call, raise_for_status
from bot.errors import BotError, ConfigError
from bot.yamlfiles import get_model

logger = logging.getLogger(__name__)

SAMPLE_ROWS = 1000
SAMPLE_BYTES = 1024 * 1024
SYSTEM = "contract-input"


class ContractInputError(BotError):
    """The contracted input could not be read (gone, unreachable, not CSV)."""


class Contracts:
    """The contracts of one folder, found by the DAGs that consume their datasets."""

    def __init__(self, contracts: Iterable[DataContract] = ()) -> None:
        self._by_dag = {dag_id: contract for contract in contracts for dag_id in contract.dag_ids}

    def get_for_dag(self, dag_id: str) -> DataContract | None:
        return self._by_dag.get(dag_id)


def load_contracts(folder: Path | None) -> Contracts:
    """Every `*.yaml` contract in `folder` (none when it is None).

    Raises ConfigError naming each bad file and field, or a DAG claimed by two contracts.
    """
    if folder is None:
        return Contracts()
    if not folder.is_dir():
        raise ConfigError(messages.to_missing_folder(folder))
    problems: list[str] = []
    contracts: list[DataContract] = []
    owners: dict[str, Path] = {}
    for path in sorted(folder.glob("*.yaml")):
        contract = get_model(
            path, DataContract, problems, not_a_mapping=messages.to_not_a_mapping(path)
        )
        if contract is None:
            continue
        for dag_id in contract.dag_ids:
            if dag_id in owners:
                problems.append(messages.to_claimed_twice(path, dag_id, owners[dag_id]))
            owners[dag_id] = path
        contracts.append(contract)
    if problems:
        raise ConfigError(messages.to_load_failed(problems))
    logger.info("data contracts loaded: %d from %s", len(contracts), folder)
    return Contracts(contracts)


def is_remote(contract: DataContract) -> bool:
    return contract.input.startswith(("http://", "https://"))


async def check_contract(contract: DataContract, *, http: httpx.AsyncClient) -> ContractReport:
    """Compare the header and sampled rows of the contracted input with the contract.

    Raises ContractInputError when the input cannot be read.
    """
    if is_remote(contract):
        sample = await get_remote_sample(contract.input, http)
    else:
        sample = await asyncio.to_thread(get_local_sample, Path(contract.input))
    return to_report(contract, to_text(sample))


def get_local_sample(path: Path) -> bytes:
    try:
        with path.open("rb") as file:
            return file.read(SAMPLE_BYTES + 1)
    except FileNotFoundError as exc:
        raise ContractInputError(messages.to_input_missing(str(path))) from exc
    except OSError as exc:
        raise ContractInputError(messages.to_input_unreadable(str(path), str(exc))) from exc


async def get_remote_sample(url: str, http: httpx.AsyncClient) -> bytes:
    # A Range request keeps a large file from being downloaded; a server without range
    # support answers 200 and the stream is cut after the sample. One byte more than the
    # sample tells whether the file goes on.
    headers = {"Range": f"bytes=0-{SAMPLE_BYTES}"}
    chunks: list[bytes] = []
    size = 0
    try:
        async with open_call(http, "GET", url, system=SYSTEM, headers=headers) as response:
            raise_for_status(response, system=SYSTEM)
            async for chunk in response.aiter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size > SAMPLE_BYTES:
                    break
    except CollectorError as exc:
        raise ContractInputError(messages.to_input_unreadable(url, str(exc))) from exc
    return b"".join(chunks)


def to_text(sample: bytes) -> str:
    """The sample as text, cut after its last whole row when the file goes on past it.

    A byte-order mark is dropped, as pandas drops it.
    """
    if len(sample) > SAMPLE_BYTES:
        sample = sample[: sample.rfind(b"\n", 0, SAMPLE_BYTES) + 1]
    return sample.decode("utf-8-sig", errors="replace")


def to_report(contract: DataContract, text: str) -> ContractReport:
    """Compare a CSV sample's header and rows with `contract`.

    Column names are compared exactly: pandas would not find `amount` under ` amount`.
    """
    rows = csv.reader(io.StringIO(text))
    header = next(rows, None)
    if not header:
        raise ContractInputError(messages.to_input_empty(contract.input))
    positions = {name: index for index, name in enumerate(header)}
    mistyped: dict[str, str] = {}
    checked = 0
    for row in rows:
        if checked >= SAMPLE_ROWS:
            break
        checked += 1
        for column, column_type in contract.columns.items():
            index = positions.get(column)
            if index is None or column in mistyped or index >= len(row):
                continue
            if not is_of_type(row[index], column_type):
                mistyped[column] = row[index]
    return ContractReport(
        dataset=contract.dataset,
        rows_checked=checked,
        missing=[column for column in contract.columns if column not in positions],
        unexpected=[column for column in header if column not in contract.columns],
        mistyped=mistyped,
    )
