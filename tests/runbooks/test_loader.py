from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bot.diagnosis.models import FAILURE_CLASSES
from bot.errors import ConfigError
from bot.runbooks.loader import builtin_runbooks_dir, get_playbooks, load_catalogue
from bot.runbooks.models import ClearTaskInstances, Risk
from tests.runbooks.conftest import VALID_PLAYBOOK, WritePlaybook

REPOSITORY = Path(__file__).resolve().parents[2]


def test_builtin_catalogue_loads_every_playbook_file() -> None:
    catalogue = load_catalogue(builtin_runbooks_dir())

    assert len(catalogue) == len(list((REPOSITORY / "runbooks").glob("*.yaml")))
    assert {playbook.failure_class for playbook in catalogue.playbooks} == set(FAILURE_CLASSES)


def test_packaged_copy_holds_the_same_playbooks_as_the_repository_folder() -> None:
    packaged = REPOSITORY / "bot" / "runbooks" / "builtin"

    assert sorted(path.name for path in packaged.glob("*.yaml")) == sorted(
        path.name for path in (REPOSITORY / "runbooks").glob("*.yaml")
    )


def test_builtin_playbooks_name_the_platforms_their_remedies_differ_for() -> None:
    catalogue = load_catalogue(builtin_runbooks_dir())

    for failure_class in ("schema-drift", "out-of-memory", "dependency-unavailable"):
        airflow = catalogue.for_class(failure_class, "airflow")
        spark = catalogue.for_class(failure_class, "spark")
        assert airflow is not None and spark is not None
        assert airflow.id != spark.id


def test_valid_playbook_is_typed(write_playbook: WritePlaybook) -> None:
    catalogue = load_catalogue(write_playbook().parent)

    playbook = catalogue.get("schema-drift-test")
    assert playbook is not None
    step = playbook.remediation[0]
    assert isinstance(step.action, ClearTaskInstances)
    assert step.action.params.include_downstream is True
    assert step.risk is Risk.MEDIUM


def broken(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    data = copy.deepcopy(VALID_PLAYBOOK)
    change(data)
    return data


def set_in(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return change


def drop(path: str) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        del target[last]

    return change


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            set_in("remediation.0.risk", "extreme"),
            "remediation.0.risk: Input should be 'low', 'medium' or 'high'",
        ),
        (set_in("owner", "me"), "owner: Extra inputs are not permitted"),
        (
            set_in("remediation.0.action.params.force", True),
            "remediation.0.action.params.force: Extra inputs are not permitted",
        ),
        (
            set_in("remediation.0.action.kind", "airflow.delete_dag"),
            "remediation.0.action: Input tag 'airflow.delete_dag' found using 'kind' does not",
        ),
        (
            drop("remediation.0.action.params.dag_id"),
            "remediation.0.action.params.dag_id: Field required",
        ),
        (
            set_in("remediation.0.action", {"kind": "http.call", "params": {"url": "ftp://x"}}),
            "remediation.0.action.params.url: must start with https://, http:// or a {placeholder}",
        ),
        (
            set_in("remediation.0.verification.timeout_seconds", 0),
            "remediation.0.verification.timeout_seconds: Input should be greater than 0",
        ),
        (
            set_in("recognition.patterns.0.regex", "KeyError: ("),
            "recognition.patterns.0.regex: not a valid regular expression",
        ),
        (
            set_in("recognition.patterns.0.weight", 1.5),
            "recognition.patterns.0.weight: Input should be less than or equal to 1",
        ),
        (set_in("failure_class", "flaky"), "failure_class: must be one of schema-drift,"),
        (set_in("applies_to", ["airflow", "cobol"]), "applies_to.1: Input should be"),
        (
            set_in("diagnosis", "Column {colour} is gone"),
            "diagnosis: uses unknown placeholders: colour",
        ),
        (drop("escalation"), "escalation: Field required"),
        (
            set_in("remediation", [VALID_PLAYBOOK["remediation"][0]] * 2),
            "remediation: step ids must be unique",
        ),
    ],
)
def test_invalid_playbook_names_file_and_field(
    write_playbook: WritePlaybook, change: Callable[[dict[str, Any]], None], expected: str
) -> None:
    path = write_playbook(broken(change), name="schema-drift-airflow")

    with pytest.raises(ConfigError) as raised:
        load_catalogue(path.parent)

    assert f"schema-drift-airflow.yaml: {expected}" in str(raised.value)


def test_duplicate_id_across_folders_names_both_files(write_playbook: WritePlaybook) -> None:
    first = write_playbook(folder="builtin")
    second = write_playbook(folder="extra", name="mine")

    result = get_playbooks(first.parent, second.parent)

    assert len(result.playbooks) == 1
    assert result.problems == [f"{second}: id: 'schema-drift-test' is already defined in {first}"]


def test_yaml_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("id: broken\ntitle: [unclosed\nfailure_class: code-bug\n")

    result = get_playbooks(tmp_path)

    assert len(result.problems) == 1
    assert re.match(rf"{re.escape(str(path))}: line \d+: not valid YAML", result.problems[0])


@pytest.mark.parametrize("content", ["", "- just\n- a list\n", "plain text\n"])
def test_file_that_is_not_a_mapping_is_a_problem(tmp_path: Path, content: str) -> None:
    (tmp_path / "odd.yaml").write_text(content)

    result = get_playbooks(tmp_path)

    assert result.problems == [
        f"{tmp_path / 'odd.yaml'}: a playbook must be a YAML mapping with id, title, "
        "failure_class..."
    ]


def test_missing_and_empty_folders_are_problems(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()

    result = get_playbooks(tmp_path / "absent", tmp_path / "empty")

    assert result.problems == [
        f"{tmp_path / 'absent'}: no such file or folder of playbooks",
        f"{tmp_path / 'empty'}: holds no playbook (*.yaml or *.yml)",
    ]


def test_load_catalogue_lists_every_problem_at_once(write_playbook: WritePlaybook) -> None:
    write_playbook(broken(set_in("remediation.0.risk", "extreme")), name="one")
    path = write_playbook(broken(set_in("failure_class", "flaky")), name="two")

    with pytest.raises(ConfigError) as raised:
        load_catalogue(path.parent)

    lines = str(raised.value).splitlines()
    assert lines[0] == "2 problems in the runbook catalogue:"
    assert [line.split(": ")[1] for line in lines[1:]] == ["remediation.0.risk", "failure_class"]


def test_file_that_is_not_utf8_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "latin.yaml").write_bytes(b"id: caf\xe9\n")

    result = get_playbooks(tmp_path)

    assert len(result.problems) == 1
    assert result.problems[0].startswith(f"{tmp_path / 'latin.yaml'}: cannot be read (")
