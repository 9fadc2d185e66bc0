"""Column types: what a CSV cell must look like to pass as each contracted type."""

from __future__ import annotations

import pytest

from bot.contracts.models import ContractReport, is_of_type


@pytest.mark.parametrize(
    ("value", "column_type", "passes"),
    [
        ("120.50", "float64", True),
        ("1e3", "float64", True),
        ("twelve", "float64", False),
        ("42", "int64", True),
        ("4.2", "int64", False),
        ("true", "bool", True),
        ("0", "bool", True),
        ("yes", "bool", False),
        ("2026-01-05T09:12:00", "datetime64[ns]", True),
        ("2026-01-05 09:12:00+00:00", "datetime64[ns]", True),
        ("05/01/2026", "datetime64[ns]", False),
        ("2026-01-05", "date", True),
        ("anything at all", "string", True),
        ("", "float64", True),
        ("", "int64", False),
    ],
)
def test_cell_parses_as_its_contracted_type(value: str, column_type, passes: bool) -> None:
    assert is_of_type(value, column_type) is passes


@pytest.mark.parametrize(
    ("fields", "is_met"),
    [
        ({}, True),
        ({"unexpected": ["note"]}, True),
        ({"missing": ["amount"]}, False),
        ({"mistyped": {"amount": "twelve"}}, False),
    ],
)
def test_only_missing_or_mistyped_columns_break_a_contract(fields, is_met: bool) -> None:
    report = ContractReport(dataset="orders", rows_checked=2, **fields)

    assert report.is_met is is_met
