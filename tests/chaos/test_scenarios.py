from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from typer.testing import CliRunner

from bot.approvals.policy import DEFAULT_APPROVERS_NEEDED
from bot.chaos.models import Behaviour, DependencyFault, Scenario
from bot.chaos.scenarios import BUILTIN_DIR, get_scenarios, load_scenarios
from bot.cli import app
from bot.errors import ConfigError
from bot.runbooks.catalogue import Catalogue
from bot.runbooks.loader import builtin_runbooks_dir, load_catalogue
from bot.runbooks.models import Risk

VALID_SCENARIO: dict[str, Any] = {
    "name": "bad-schema-custom",
    "fault": "bad-schema",
    "dag_id": "orders_pipeline",
    "approval": {"behaviour": "approve"},
    "expected": {
        "failure_class": "schema-drift",
        "playbook": "schema-drift-airflow",
        "outcome": "verified",
    },
}


def write_scenario(folder: Path, data: object, name: str = "scenario.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def changed(path: str, value: object) -> dict[str, Any]:
    """VALID_SCENARIO with the dotted `path` set to `value` (None removes the key)."""
    data = copy.deepcopy(VALID_SCENARIO)
    *parents, last = path.split(".")
    target = data
    for part in parents:
        target = target[part]
    if value is None:
        del target[last]
    else:
        target[last] = value
    return data


def test_builtin_scenarios_cover_every_fault_and_approver_behaviour() -> None:
    scenarios = load_scenarios()

    assert {scenario.fault for scenario in scenarios} == {
        "none",
        "bad-schema",
        "flaky-dependency",
        "expired-credential",
        "permission-denied",
        "spark-out-of-memory",
        "spark-missing-input",
    }
    behaviours = {scenario.approval.behaviour for scenario in scenarios if scenario.approval}
    assert behaviours == set(get_args(Behaviour))


def test_every_builtin_fault_is_driven_by_three_behaviours() -> None:
    behaviours: dict[str, set[str]] = {}
    for scenario in load_scenarios():
        if scenario.approval is not None:
            behaviours.setdefault(scenario.fault, set()).add(scenario.approval.behaviour)

    assert behaviours.keys() == {scenario.fault for scenario in load_scenarios()} - {"none"}
    for fault, driven_by in behaviours.items():
        assert len(driven_by) >= 3, f"{fault}: {sorted(driven_by)}"


def test_builtin_scenarios_hold_every_dependency_fault() -> None:
    held = {fault for scenario in load_scenarios() for fault in scenario.dependency_faults}

    assert held == set(get_args(DependencyFault))


def test_builtin_scenarios_name_playbooks_of_their_failure_class() -> None:
    catalogue = load_catalogue(builtin_runbooks_dir())

    for scenario in load_scenarios():
        if scenario.expected.playbook is None:
            continue
        playbook = catalogue.get(scenario.expected.playbook)
        assert playbook is not None, scenario.name
        assert playbook.failure_class == scenario.expected.failure_class


def is_high_risk(scenario: Scenario, catalogue: Catalogue) -> bool:
    playbook = catalogue.get(scenario.expected.playbook or "")
    return playbook is not None and any(step.risk is Risk.HIGH for step in playbook.remediation)


def test_high_risk_scenarios_name_as_many_distinct_approvers_as_the_policy_needs() -> None:
    catalogue = load_catalogue(builtin_runbooks_dir())

    high_risk = [scenario for scenario in load_scenarios() if is_high_risk(scenario, catalogue)]

    assert {scenario.fault for scenario in high_risk} >= {"expired-credential"}
    for scenario in high_risk:
        assert scenario.approval is not None, scenario.name
        approvers = set(scenario.approval.approvers)
        assert len(approvers) >= DEFAULT_APPROVERS_NEEDED[Risk.HIGH], scenario.name


def test_scenario_accepts_every_known_dependency_fault(tmp_path: Path) -> None:
    faults = list(get_args(DependencyFault))
    write_scenario(tmp_path, changed("dependency_faults", faults))

    [scenario] = load_scenarios(tmp_path)

    assert scenario.dependency_faults == faults


def test_user_folder_adds_scenarios_to_the_builtin_ones(tmp_path: Path) -> None:
    write_scenario(tmp_path, VALID_SCENARIO)

    names = [scenario.name for scenario in load_scenarios(BUILTIN_DIR, tmp_path)]

    assert "bad-schema-custom" in names
    assert "control-no-fault" in names


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (changed("surprise", True), "surprise", "Extra inputs are not permitted"),
        (changed("fault", "meteor"), "fault", "Input should be"),
        (changed("approval.behaviour", "maybe"), "approval.behaviour", "Input should be"),
        (changed("approval.approvers", ["ann", "ann"]), "approval.approvers", "distinct"),
        (changed("expected.failure_class", "gremlins"), "expected.failure_class", "one of"),
        (changed("expected.outcome", "rolled_back"), "", "leads to outcome verified"),
        (
            changed("approval.behaviour", "approve-while-fault-present"),
            "",
            "leads to outcome rolled_back or escalated",
        ),
        (changed("expected.playbook", None), "", "expected.playbook"),
        (changed("approval", None), "", "needs an approval behaviour"),
        (changed("fault", "spark-out-of-memory"), "", "requires: [java]"),
        (changed("fault", "none"), "", "must expect outcome no_incident"),
        (changed("name", "Bad Name"), "name", "should match pattern"),
        (changed("dag_id", None), "dag_id", "Field required"),
        (
            changed("dependency_faults", ["slack-errors", "meteor"]),
            "dependency_faults.1",
            "Input should be 'slack-errors', 'jira-down', 'redis-restart' or 'llm-overloaded'",
        ),
        (changed("dependency_faults", "jira-down"), "dependency_faults", "a valid list"),
    ],
)
def test_invalid_scenario_names_file_and_field(
    tmp_path: Path, data: dict[str, Any], field: str, message: str
) -> None:
    path = write_scenario(tmp_path, data)

    with pytest.raises(ConfigError) as raised:
        load_scenarios(tmp_path)

    text = str(raised.value)
    assert f"{path}: {field}: " in text if field else f"{path}: " in text
    assert message in text


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("name: [unclosed", "not valid YAML"),
        ("- a list", "must be a YAML mapping"),
    ],
)
def test_unparseable_scenario_file_is_named(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(content, encoding="utf-8")

    problems = get_scenarios(path).problems

    assert len(problems) == 1
    assert problems[0].startswith(f"{path}: ")
    assert message in problems[0]


def test_duplicate_scenario_name_is_a_problem(tmp_path: Path) -> None:
    first = write_scenario(tmp_path, VALID_SCENARIO, "a.yaml")
    second = write_scenario(tmp_path, VALID_SCENARIO, "b.yaml")

    problems = get_scenarios(tmp_path).problems

    assert problems == [f"{second}: name: 'bad-schema-custom' is already defined in {first}"]


def test_missing_folder_is_a_problem(tmp_path: Path) -> None:
    assert get_scenarios(tmp_path / "nowhere").problems == [
        f"{tmp_path / 'nowhere'}: no such file or folder of scenarios"
    ]


def test_cli_lists_builtin_and_user_scenarios(tmp_path: Path) -> None:
    write_scenario(tmp_path, VALID_SCENARIO)

    result = CliRunner().invoke(
        app, ["chaos", "scenarios", "--dir", str(tmp_path)], env={"COLUMNS": "250"}
    )

    assert result.exit_code == 0, result.output
    assert "bad-schema-custom" in result.output
    for scenario in load_scenarios():
        assert scenario.name in result.output


def test_cli_exits_2_naming_the_broken_scenario(tmp_path: Path) -> None:
    path = write_scenario(tmp_path, changed("fault", "meteor"))

    result = CliRunner().invoke(app, ["chaos", "scenarios", "--dir", str(tmp_path)])

    assert result.exit_code == 2
    assert f"{path}: fault: " in result.output


def test_dry_run_says_what_each_named_scenario_would_do() -> None:
    result = CliRunner().invoke(
        app, ["chaos", "run", "--dry-run", "control-no-fault", "permission-denied-reject"]
    )

    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("control-no-fault: inject none; trigger orders_pipeline")
    assert lines[1].endswith("approver-1 rejects; expect outcome escalated")


def test_dry_run_refuses_an_unknown_scenario_name() -> None:
    result = CliRunner().invoke(app, ["chaos", "run", "--dry-run", "no-such-drill"])

    assert result.exit_code == 2
    assert "unknown scenario no-such-drill" in result.output


def test_run_refuses_an_unknown_output_format() -> None:
    result = CliRunner().invoke(
        app, ["chaos", "run", "--dry-run", "--format", "xml"], env={"COLUMNS": "200"}
    )

    assert result.exit_code == 2
    assert "'xml' is not one of 'table', 'json'" in result.output


def test_dry_run_starts_nothing_and_writes_no_report(tmp_path: Path) -> None:
    folder, root = tmp_path / "report", tmp_path / "root"

    result = CliRunner().invoke(
        app,
        [
            *("chaos", "run", "control-no-fault", "--dry-run", "--format", "json"),
            *("--report", str(folder), "--root", str(root)),
        ],
    )

    assert result.exit_code == 0, result.output
    assert result.output.startswith("control-no-fault: inject none")
    assert not folder.exists()
    assert not root.exists()
