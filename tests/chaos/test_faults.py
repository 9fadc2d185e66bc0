from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from bot.chaos.faults import (
    OVERSIZED_REPLAY_FACTOR,
    SPARK_ORDERS_PATH,
    SPARK_PARAMS_FILE,
    set_fault,
)
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


def read_spark_params(input_dir: Path) -> dict[str, object]:
    params: dict[str, object] = json.loads((input_dir / SPARK_PARAMS_FILE).read_text("utf-8"))
    return params


@pytest.mark.parametrize(
    ("fault", "has_orders", "replay_factor"),
    [
        ("none", True, 1),
        ("bad-schema", True, 1),
        ("spark-missing-input", False, 1),
        ("spark-out-of-memory", True, OVERSIZED_REPLAY_FACTOR),
    ],
)
def test_spark_faults_change_only_the_spark_jobs_input_and_parameters(
    tmp_path: Path, fault: Fault, has_orders: bool, replay_factor: int
) -> None:
    input_dir = tmp_path / "input"

    set_fault(input_dir=input_dir, switch_file=tmp_path / "faults.json", fault=fault)

    assert (input_dir / SPARK_ORDERS_PATH).is_dir() is has_orders
    assert read_spark_params(input_dir) == {
        "orders_path": SPARK_ORDERS_PATH,
        "replay_factor": replay_factor,
    }


def test_clearing_spark_faults_restores_the_input_folder_and_the_replay_factor(
    tmp_path: Path,
) -> None:
    paths = {"input_dir": tmp_path / "input", "switch_file": tmp_path / "faults.json"}
    set_fault(**paths, fault="spark-missing-input")
    set_fault(**paths, fault="spark-out-of-memory")

    set_fault(**paths, fault="none")

    [part] = (tmp_path / "input" / SPARK_ORDERS_PATH).iterdir()
    with part.open(encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    assert rows[0] == ["order_id", "customer_id", "amount", "ordered_at"]
    assert len(rows) == 5
    assert read_spark_params(tmp_path / "input")["replay_factor"] == 1
