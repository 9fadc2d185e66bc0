"""Filling a step's placeholders, and refusing what stays unfilled."""

from __future__ import annotations

import pytest
from pydantic import TypeAdapter

from bot.actions.models import ActionRefused
from bot.actions.params import to_filled_spec, to_playbook_values
from bot.errors import ConfigError
from bot.runbooks.models import Action, ClearTaskInstances, HttpCall

ACTION = TypeAdapter(Action)


def build_clear() -> Action:
    params = {"dag_id": "{dag_id}", "dag_run_id": "{dag_run_id}", "task_ids": ["{task_id}"]}
    return ACTION.validate_python({"kind": "airflow.clear_task_instances", "params": params})


def test_placeholders_in_nested_params_are_filled() -> None:
    values = {"dag_id": "etl", "dag_run_id": "run+1", "task_id": "load"}

    filled = to_filled_spec(build_clear(), values, step_id="clear")

    assert isinstance(filled, ClearTaskInstances)
    assert (filled.params.dag_id, filled.params.dag_run_id) == ("etl", "run+1")
    assert filled.params.task_ids == ["load"]


@pytest.mark.parametrize(
    "values",
    [{"dag_id": "etl", "task_id": "load"}, {"dag_id": "etl", "task_id": "load", "dag_run_id": ""}],
)
def test_missing_value_is_refused_naming_the_placeholder(values: dict[str, str]) -> None:
    with pytest.raises(ActionRefused, match="`dag_run_id`"):
        to_filled_spec(build_clear(), values, step_id="clear")


def test_value_that_is_itself_an_unfilled_marker_is_refused() -> None:
    values = {"dag_id": "etl", "task_id": "<task_id>", "dag_run_id": "r"}

    with pytest.raises(ActionRefused, match="task_id"):
        to_filled_spec(build_clear(), values, step_id="clear")


def test_allowed_names_stay_for_later_filling() -> None:
    action = ACTION.validate_python(
        {
            "kind": "airflow.set_variable",
            "params": {"key": "{dag_id}.limit", "value": "{previous_value}"},
        }
    )

    filled = to_filled_spec(
        action, {"dag_id": "etl"}, step_id="s", allowed=frozenset({"previous_value"})
    )

    assert filled.params.value == "{previous_value}"  # type: ignore[union-attr]


def test_unfilled_url_is_refused_rather_than_failing_validation() -> None:
    action = HttpCall.model_validate(
        {"kind": "http.call", "params": {"url": "{credential_rotation_url}"}}
    )

    with pytest.raises(ActionRefused, match="credential_rotation_url"):
        to_filled_spec(action, {}, step_id="rotate")


def test_playbook_values_setting_is_read_as_names_and_text_values() -> None:
    setting = '{"credential_rotation_url": "https://secrets.internal/rotate", "retries": 3}'

    values = to_playbook_values(setting)

    assert values == {"credential_rotation_url": "https://secrets.internal/rotate", "retries": "3"}


@pytest.mark.parametrize("setting", ["", "   ", "{}"])
def test_empty_playbook_values_setting_gives_no_values(setting: str) -> None:
    assert to_playbook_values(setting) == {}


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        ("credential_rotation_url=https://secrets.internal/rotate", "Expecting value"),
        ('{"credential_rotation_url": ', "Expecting value"),
        ('["https://secrets.internal/rotate"]', "not an object"),
        ('"https://secrets.internal/rotate"', "not an object"),
    ],
)
def test_playbook_values_that_are_not_a_json_object_are_a_config_error(
    setting: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        to_playbook_values(setting)

    assert "PLAYBOOK_VALUES must be a JSON object" in str(raised.value)
    assert problem in str(raised.value)


def test_playbook_values_refuse_nested_and_empty_values():
    with pytest.raises(ConfigError, match="url: values must be text or numbers"):
        to_playbook_values('{"url": {"host": "x"}, "ok": "y"}')
    with pytest.raises(ConfigError, match="missing: values must be text or numbers"):
        to_playbook_values('{"missing": null}')
