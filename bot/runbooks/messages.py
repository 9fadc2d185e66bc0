"""Words people read about playbooks: load errors and the lint report."""

from __future__ import annotations

from pathlib import Path


def to_not_a_mapping(path: Path) -> str:
    return f"{path}: a playbook must be a YAML mapping with id, title, failure_class..."


def to_duplicate_id(path: Path, playbook_id: str, first: Path) -> str:
    return f"{path}: id: '{playbook_id}' is already defined in {first}"


def to_missing_folder(path: Path) -> str:
    return f"{path}: no such file or folder of playbooks"


def to_no_playbooks(path: Path) -> str:
    return f"{path}: holds no playbook (*.yaml or *.yml)"


def to_load_failed(problems: list[str]) -> str:
    count = len(problems)
    header = f"{count} problem{'s' if count != 1 else ''} in the runbook catalogue:"
    return "\n".join([header, *problems])


def to_lint_passed(count: int, folders: list[Path]) -> str:
    where = ", ".join(str(folder) for folder in folders)
    return f"{count} playbook{'s' if count != 1 else ''} valid in {where}"


def to_lint_failed(count: int) -> str:
    return f"{count} problem{'s' if count != 1 else ''} found"
