"""Playbook files for loader and lint tests, built from a valid one and then broken."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

VALID_PLAYBOOK: dict[str, Any] = {
    "id": "schema-drift-test",
    "title": "Input schema changed",
    "failure_class": "schema-drift",
    "applies_to": ["airflow"],
    "recognition": {
        "patterns": [{"regex": r"KeyError: '(?P<column>\w+)'", "weight": 0.9}],
        "excluding": ["Broken DAG"],
    },
    "diagnosis": "Task {task_id} lost column {column}: {matched_line}",
    "checks": ["Compare the producer's schema with the contract."],
    "remediation": [
        {
            "id": "clear-producer",
            "title": "Clear the producing task with downstream",
            "action": {
                "kind": "airflow.clear_task_instances",
                "params": {
                    "dag_id": "{dag_id}",
                    "task_ids": ["{task_id}"],
                    "include_downstream": True,
                },
            },
            "risk": "medium",
            "dry_run": True,
            "verification": {
                "kind": "airflow.task_instance_state",
                "params": {"dag_id": "{dag_id}", "task_id": "{task_id}"},
                "timeout_seconds": 600,
            },
            "rollback": None,
        }
    ],
    "escalation": {"team": "data-engineering", "after_minutes": 30},
}

WritePlaybook = Callable[..., Path]


@pytest.fixture
def write_playbook(tmp_path: Path) -> WritePlaybook:
    """Write a playbook (the valid one, or the given mapping) as `<folder>/<name>.yaml`."""

    def write(data: Any = None, *, name: str = "playbook", folder: str = "runbooks") -> Path:
        directory = tmp_path / folder
        directory.mkdir(exist_ok=True)
        path = directory / f"{name}.yaml"
        path.write_text(yaml.safe_dump(VALID_PLAYBOOK if data is None else data))
        return path

    return write
