"""What people read about data contracts: check results and load problems."""

from __future__ import annotations

from pathlib import Path

from bot.contracts.models import ContractReport, DataContract


def to_subject(contract: DataContract) -> str:
    return f"the {contract.dataset} input"


def to_report_summary(contract: DataContract, report: ContractReport) -> str:
    """What the check saw, after "the orders input is": within its contract, or how not."""
    rows = f"{report.rows_checked} row{'s' if report.rows_checked != 1 else ''} checked"
    if report.is_met:
        extra = f"; also carries {', '.join(report.unexpected)}" if report.unexpected else ""
        return f"within its data contract ({rows}{extra})"
    problems = []
    if report.missing:
        problems.append(f"missing {', '.join(report.missing)}")
    if report.unexpected:
        problems.append(f"not in the contract: {', '.join(report.unexpected)}")
    problems.extend(
        f"{column} holds {value!r}, not {contract.columns[column]}"
        for column, value in report.mistyped.items()
    )
    return f"outside its data contract ({'; '.join(problems)}; {rows})"


def to_input_missing(location: str) -> str:
    return f"the contracted input {location} does not exist"


def to_input_unreadable(location: str, reason: str) -> str:
    return f"the contracted input {location} could not be read: {reason}"


def to_input_empty(location: str) -> str:
    return f"the contracted input {location} has no header row"


def to_missing_folder(folder: Path) -> str:
    return f"DATA_CONTRACTS_DIR {folder} is not a folder; create it or unset the setting"


def to_not_a_mapping(path: Path) -> str:
    return f"{path}: a data contract is a mapping with dataset, dag_ids, input and columns"


def to_claimed_twice(path: Path, dag_id: str, first: Path) -> str:
    return f"{path}: dag_ids: {dag_id} already has the contract in {first}"


def to_load_failed(problems: list[str]) -> str:
    lines = "\n".join(f"  {problem}" for problem in problems)
    return f"data contracts could not be loaded; fix these and start again:\n{lines}"
