"""Data contracts written the way a team keeps them: one YAML file per dataset."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ORDERS_COLUMNS = {
    "order_id": "string",
    "customer_id": "string",
    "amount": "float64",
    "ordered_at": "datetime64[ns]",
}
GOOD_CSV = (
    "order_id,customer_id,amount,ordered_at\n"
    "O-1,C001,120.50,2026-01-05T09:12:00\n"
    "O-2,C002,75.00,2026-01-05T10:40:00\n"
)
RENAMED_CSV = GOOD_CSV.replace("amount", "order_amount", 1)


def write_contract(folder: Path, name: str = "orders", **fields: Any) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    document = {
        "dataset": name,
        "dag_ids": [f"{name}_pipeline"],
        "input": str(folder / f"{name}.csv"),
        "columns": ORDERS_COLUMNS,
    } | fields
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path
