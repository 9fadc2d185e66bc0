"""Filling a step's placeholders from the diagnosis, and refusing a step left unfilled."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from bot.actions import messages
from bot.actions.models import ActionRefused
from bot.errors import ConfigError
from bot.runbooks.models import PLACEHOLDER, to_filled_template

# `to_filled_template` writes a name it has no value for as `<name>`.
UNFILLED = re.compile(r"<([a-z][a-z0-9_]*)>")
SpecT = TypeVar("SpecT", bound=BaseModel)


def to_filled_spec(
    spec: SpecT,
    values: Mapping[str, str],
    *,
    step_id: str,
    allowed: frozenset[str] = frozenset(),
) -> SpecT:
    """The action or verification with every `{name}` in its params replaced by its value.

    Raises ActionRefused naming the placeholders that have no value; names in `allowed`
    stay as they are (a rollback's `{previous_value}` is only known after the action ran).
    """
    document = spec.model_dump()
    params = to_filled_value(
        document["params"], {**{name: f"{{{name}}}" for name in allowed}, **values}
    )
    if unfilled := sorted(set(get_unfilled_names(params)) - allowed):
        raise ActionRefused(messages.build_unfilled_refusal(step_id, unfilled))
    try:
        return spec.model_validate({**document, "params": params})
    except ValidationError as exc:
        raise ActionRefused(messages.build_invalid_params_refusal(step_id, str(exc))) from exc


def to_filled_value(value: Any, values: Mapping[str, str]) -> Any:
    if isinstance(value, str):
        return to_filled_template(value, values)
    if isinstance(value, list):
        return [to_filled_value(item, values) for item in value]
    if isinstance(value, dict):
        return {key: to_filled_value(item, values) for key, item in value.items()}
    return value


def get_unfilled_names(value: Any) -> Iterator[str]:
    """Placeholder names left in a params document, written `<name>` or `{name}`."""
    if isinstance(value, str):
        yield from UNFILLED.findall(value)
        yield from PLACEHOLDER.findall(value)
    elif isinstance(value, list):
        for item in value:
            yield from get_unfilled_names(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from get_unfilled_names(item)


def to_playbook_values(setting: str) -> dict[str, str]:
    """The values of PLAYBOOK_VALUES; raises ConfigError when it is not a JSON object."""
    if not setting.strip():
        return {}
    try:
        document = json.loads(setting)
    except ValueError as exc:
        raise ConfigError(messages.build_bad_playbook_values(str(exc))) from exc
    if not isinstance(document, dict):
        raise ConfigError(messages.build_bad_playbook_values("not an object"))
    nested = [name for name, value in document.items() if not isinstance(value, str | int | float)]
    if nested:
        problem = f"{', '.join(nested)}: values must be text or numbers"
        raise ConfigError(messages.build_bad_playbook_values(problem))
    return {str(name): str(value) for name, value in document.items()}
