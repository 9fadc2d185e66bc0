from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from bot.cli import app
from tests.runbooks.conftest import VALID_PLAYBOOK, WritePlaybook

runner = CliRunner()


def test_lint_of_builtin_catalogue_exits_zero_with_a_count() -> None:
    result = runner.invoke(app, ["runbooks", "lint"])

    assert result.exit_code == 0, result.output
    assert "17 playbooks valid in" in result.output


def test_lint_of_valid_folder_counts_its_playbooks(write_playbook: WritePlaybook) -> None:
    path = write_playbook()

    result = runner.invoke(app, ["runbooks", "lint", str(path.parent)])

    assert result.exit_code == 0, result.output
    assert f"1 playbook valid in {path.parent}" in result.output


def test_lint_of_invalid_playbook_exits_non_zero_naming_file_and_field(
    write_playbook: WritePlaybook,
) -> None:
    path = write_playbook({**VALID_PLAYBOOK, "failure_class": "flaky"}, name="bad")

    result = runner.invoke(app, ["runbooks", "lint", str(path.parent)])

    assert result.exit_code == 1
    assert f"{path}: failure_class: must be one of" in result.output
    assert "1 problem found" in result.output


def test_lint_of_missing_path_exits_non_zero(tmp_path: Path) -> None:
    result = runner.invoke(app, ["runbooks", "lint", str(tmp_path / "absent")])

    assert result.exit_code == 1
    assert "no such file or folder of playbooks" in result.output
