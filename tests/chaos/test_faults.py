from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from bot.chaos.faults import set_fault
from bot.chaos.models import Fault


def read_header(input_dir: Path) -> list[str]:
    with (input_dir / "orders.csv").open(encoding="utf-8", newline="") as file:
        return next(csv.reader(file))


@pytest.mark.parametrize(
    ("fault", "has_amount"),
    [("bad-schema", False), ("none", True), ("flaky-dependency", True)],
)
def test_only_bad_schema_renames_the_amount_column(
    tmp_path: Path, fault: Fault, has_amount: bool
) -> None:
    set_fault(input_dir=tmp_path / "input", switch_file=tmp_path / "faults.json", fault=fault)

    assert ("amount" in read_header(tmp_path / "input")) is has_amount


def test_switch_file_names_the_fault_for_the_services(tmp_path: Path) -> None:
    switch_file = tmp_path / "run" / "faults.json"

    set_fault(input_dir=tmp_path / "input", switch_file=switch_file, fault="expired-credential")

    assert json.loads(switch_file.read_text(encoding="utf-8")) == {"fault": "expired-credential"}


def test_clearing_a_fault_restores_the_contract_columns(tmp_path: Path) -> None:
    paths = {"input_dir": tmp_path / "input", "switch_file": tmp_path / "faults.json"}
    set_fault(**paths, fault="bad-schema")

    set_fault(**paths, fault="none")

    assert read_header(tmp_path / "input") == ["order_id", "customer_id", "amount", "ordered_at"]
