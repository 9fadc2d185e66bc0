"""Switch the pipelines' faults from outside the DAGs: their input and the switch file.

A renamed column is a change in the data itself, so `bad-schema` rewrites the input CSV.
The Spark job's faults are what an upstream team or an operator would do to it:
`spark-missing-input` removes its input folder, `spark-out-of-memory` raises the replay
factor in its parameters file past what the 512m driver holds. The services' faults are
read from the switch file by fault_services.py on every request.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import shutil
from pathlib import Path

from bot.chaos.models import Fault

logger = logging.getLogger(__name__)

INPUT_FILE = "orders.csv"
ORDERS = (
    ("O-1001", "C001", "120.50", "2026-01-05T09:12:00"),
    ("O-1002", "C002", "75.00", "2026-01-05T10:40:00"),
    ("O-1003", "C003", "310.25", "2026-01-05T11:03:00"),
    ("O-1004", "C004", "18.99", "2026-01-05T13:27:00"),
)
HEADER = ("order_id", "customer_id", "amount", "ordered_at")
# The upstream team "tidied" a column name: the drift the schema-drift playbook must catch.
DRIFTED_HEADER = ("order_id", "customer_id", "order_amount", "ordered_at")
SPARK_ORDERS_PATH = "spark/orders"
SPARK_PARAMS_FILE = "spark/rollup_params.json"
# Five million replays of each order collect ~20 M rows on the driver: an OutOfMemoryError
# in 512m after ~10 s, long before the Python side sees a row.
OVERSIZED_REPLAY_FACTOR = 5_000_000


def write_input(input_dir: Path, *, drifted: bool = False) -> Path:
    """Write the pipeline's input CSV, with the `amount` column renamed when `drifted`."""
    input_dir.mkdir(parents=True, exist_ok=True)
    path = input_dir / INPUT_FILE
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(DRIFTED_HEADER if drifted else HEADER)
        writer.writerows(ORDERS)
    return path


def write_spark_input(input_dir: Path, *, missing: bool = False, oversized: bool = False) -> Path:
    """Write the Spark job's input folder and parameters; leave the folder out when `missing`."""
    orders_dir = input_dir / SPARK_ORDERS_PATH
    shutil.rmtree(orders_dir, ignore_errors=True)
    if not missing:
        orders_dir.mkdir(parents=True)
        with (orders_dir / "part-00000.csv").open("w", encoding="utf-8", newline="") as file:
            writer = csv.writer(file)
            writer.writerow(HEADER)
            writer.writerows(ORDERS)
    params = {
        "orders_path": SPARK_ORDERS_PATH,
        "replay_factor": OVERSIZED_REPLAY_FACTOR if oversized else 1,
    }
    params_file = input_dir / SPARK_PARAMS_FILE
    params_file.parent.mkdir(parents=True, exist_ok=True)
    params_file.write_text(json.dumps(params, indent=2) + "\n", encoding="utf-8")
    return params_file


def write_switch(switch_file: Path, fault: Fault) -> None:
    """Tell the reference service and the S3 gateway which fault to answer with."""
    switch_file.parent.mkdir(parents=True, exist_ok=True)
    # Written whole, then renamed, so a request never reads half a file; the temporary name
    # is this process's own, as the secrets service rewrites the same switch.
    partial = switch_file.with_name(f"{switch_file.name}.{os.getpid()}.tmp")
    partial.write_text(json.dumps({"fault": fault}), encoding="utf-8")
    partial.replace(switch_file)


def set_fault(*, input_dir: Path, switch_file: Path, fault: Fault) -> None:
    """Put the pipeline's surroundings in the state `fault` names (`none` clears them all)."""
    write_input(input_dir, drifted=fault == "bad-schema")
    write_spark_input(
        input_dir,
        missing=fault == "spark-missing-input",
        oversized=fault == "spark-out-of-memory",
    )
    write_switch(switch_file, fault)
    logger.info("chaos fault set: %s", fault)
