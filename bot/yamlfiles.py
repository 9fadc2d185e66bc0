"""Reading a YAML file into a pydantic model, with problems that name the file and the field.

Playbooks and chaos scenarios are both folders of such files; a bad file must fail start-up
(or `lint`) with its path and the field at fault, never a traceback.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

ModelT = TypeVar("ModelT", bound=BaseModel)


def get_model(
    path: Path,
    model: type[ModelT],
    problems: list[str],
    *,
    not_a_mapping: str,
    shown: Path | None = None,
    hidden_locations: Collection[str] = (),
) -> ModelT | None:
    """Validate one file as `model`; on failure append its problems and return None.

    `shown` is the path people see in messages; `hidden_locations` are discriminator tags
    pydantic puts into error locations that a reader does not want in a field path.
    """
    shown = shown or path
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(to_unreadable(shown, exc))
        return None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problems.append(to_yaml_problem(shown, line, str(getattr(exc, "problem", exc))))
        return None
    if not isinstance(data, dict):
        problems.append(not_a_mapping)
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        problems.extend(to_problems(shown, errors, hidden_locations=hidden_locations))
        return None


def to_problems(
    path: Path, errors: Iterable[ErrorDetails], *, hidden_locations: Collection[str] = ()
) -> list[str]:
    problems = []
    for error in errors:
        parts = [str(part) for part in error["loc"] if part not in hidden_locations]
        message = str(error["msg"]).removeprefix("Value error, ")
        problems.append(to_field_problem(path, ".".join(parts), message))
    return problems


def to_field_problem(path: Path, field: str, message: str) -> str:
    return f"{path}: {field}: {message}" if field else f"{path}: {message}"


def to_yaml_problem(path: Path, line: int | None, message: str) -> str:
    where = f"line {line}: " if line is not None else ""
    return f"{path}: {where}not valid YAML: {message}"


def to_unreadable(path: Path, exc: Exception) -> str:
    return f"{path}: cannot be read ({exc})"
