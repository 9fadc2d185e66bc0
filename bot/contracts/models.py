"""A data contract: the columns and types a dataset must carry, and where to read it.

    dataset: orders
    dag_ids: [orders_pipeline]          # the DAGs that consume it
    input: /data/landing/orders.csv     # a CSV file, or an http(s) URL of one
    columns:
      order_id: string
      amount: float64
      ordered_at: datetime64[ns]

Types are pandas dtype names, the ones a consuming task casts to with `astype`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ColumnType = Literal[
    "string", "object", "int64", "int32", "float64", "float32", "bool", "datetime64[ns]", "date"
]


class DataContract(BaseModel):
    """One dataset's contract, as its YAML file declares it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str = Field(pattern=r"^[A-Za-z0-9][\w.-]*$", max_length=120)
    dag_ids: list[str] = Field(min_length=1)
    input: str = Field(min_length=1)
    columns: dict[str, ColumnType] = Field(min_length=1)


class ContractReport(BaseModel):
    """How a sample of the input compares with its contract."""

    model_config = ConfigDict(frozen=True)

    dataset: str
    rows_checked: int
    missing: list[str] = Field(default_factory=list)
    unexpected: list[str] = Field(default_factory=list)
    # column -> the first value that does not parse as the contracted type
    mistyped: dict[str, str] = Field(default_factory=dict)

    @property
    def is_met(self) -> bool:
        """Extra columns do not break a consumer that selects its columns; the rest does."""
        return not self.missing and not self.mistyped


# pandas' int64 and int32 hold no null: `astype` raises on an empty cell.
NON_NULLABLE = frozenset({"int64", "int32"})


def is_of_type(value: str, column_type: ColumnType) -> bool:
    """Whether one CSV cell parses as `column_type`; an empty cell is a null, which every
    type but the integers holds."""
    if not value:
        return column_type not in NON_NULLABLE
    if column_type in ("string", "object"):
        return True
    parsers: dict[str, Callable[[str], object]] = {
        "int64": int,
        "int32": int,
        "float64": float,
        "float32": float,
        "bool": to_bool,
        "datetime64[ns]": datetime.fromisoformat,
        "date": date.fromisoformat,
    }
    try:
        parsers[column_type](value.strip())
    except ValueError:
        return False
    return True


def to_bool(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ValueError(value)
