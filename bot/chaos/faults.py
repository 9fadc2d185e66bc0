"""Switch the pipeline's faults from outside the DAG: its input file and the switch file.

A renamed column is a change in the data itself, so `bad-schema` rewrites the input CSV;
the services' faults are read from the switch file by fault_services.py on every request.
"""

from __future__ import annotations

import csv
import json
import logging
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


def write_input(input_dir: Path, *, drifted: bool = False) -> Path:
    """Write the pipeline's input CSV, with the `amount` column renamed when `drifted`."""
    input_dir.mkdir(parents=True, exist_ok=True)
    path = input_dir / INPUT_FILE
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(DRIFTED_HEADER if drifted else HEADER)
        writer.writerows(ORDERS)
    return path


def write_switch(switch_file: Path, fault: Fault) -> None:
    """Tell the reference service and the S3 gateway which fault to answer with."""
    switch_file.parent.mkdir(parents=True, exist_ok=True)
    # Written whole, then renamed, so a request never reads half a file.
    partial = switch_file.with_suffix(".tmp")
    partial.write_text(json.dumps({"fault": fault}), encoding="utf-8")
    partial.replace(switch_file)


def set_fault(*, input_dir: Path, switch_file: Path, fault: Fault) -> None:
    """Put the pipeline's surroundings in the state `fault` names (`none` clears them all)."""
    write_input(input_dir, drifted=fault == "bad-schema")
    write_switch(switch_file, fault)
    logger.info("chaos fault set: %s", fault)
