from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli import app

runner = CliRunner()

OOM_LOG = (
    "24/06/01 04:10:00 ERROR Executor: Exception in task 3.0 in stage 2.0 (TID 9)\n"
    "java.lang.OutOfMemoryError: Java heap space\n"
    "24/06/01 04:10:05 ERROR TaskSetManager: Task 3 in stage 2.0 failed 4 times; aborting job"
)
HEALTHY_LOG = (
    "[2024-06-01, 04:00:09 UTC] {logging_mixin.py:188} INFO - loaded 120 rows, 0 errors\n"
    "[2024-06-01, 04:00:09 UTC] {taskinstance.py:1206} INFO - Marking task as SUCCESS."
)
CONTRACT_FIELDS = {
    "cases",
    "accuracy",
    "misdiagnosis_rate",
    "abstain_rate",
    "false_positive_rate",
    "latency_ms",
    "per_class",
}


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    path = tmp_path / "cases.jsonl"
    lines = [
        {"id": "oom", "text": OOM_LOG, "label": "out-of-memory", "platform": "spark"},
        {"id": "mislabelled", "text": OOM_LOG, "label": "disk-full"},
        {"id": "healthy", "text": HEALTHY_LOG, "label": "none", "source": {"url": "x"}},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


def test_json_format_prints_one_object_with_the_contract_fields(dataset: Path) -> None:
    result = runner.invoke(app, ["eval", str(dataset), "--format", "json"])

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert CONTRACT_FIELDS <= report.keys()
    assert report["cases"] == 3
    assert report["accuracy"] == 0.5
    assert report["misdiagnosis_rate"] == 0.5
    assert report["abstain_rate"] == 0.0
    assert report["false_positive_rate"] == 0.0
    assert set(report["latency_ms"]) == {"p50", "p95", "p99"}
    assert report["per_class"]["out-of-memory"] == {
        "precision": 0.5,
        "recall": 1.0,
        "support": 1,
    }
    assert report["per_class"]["disk-full"] == {"precision": 0.0, "recall": 0.0, "support": 1}


def test_table_format_shows_per_class_scores_and_mistakes(dataset: Path) -> None:
    result = runner.invoke(app, ["eval", str(dataset)])

    assert result.exit_code == 0, result.output
    assert "precision" in result.output
    assert "out-of-memory" in result.output
    assert "mislabelled: expected disk-full, got out-of-memory" in result.output


def test_malformed_line_exits_non_zero_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_text('{"id": "a", "text": "x", "label": "none"}\n{"id": "b", "text": \n')

    result = runner.invoke(app, ["eval", str(path), "--format", "json"])

    assert result.exit_code == 2
    assert f"{path}: line 2: Invalid JSON" in result.output
    assert "1 malformed line; nothing was scored" in result.output


def test_missing_file_exits_non_zero(tmp_path: Path) -> None:
    result = runner.invoke(app, ["eval", str(tmp_path / "absent.jsonl")])

    assert result.exit_code == 2
    assert "cannot be read" in result.output
