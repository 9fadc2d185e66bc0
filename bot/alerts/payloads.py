"""Reading webhook bodies and shared secrets, the same way for every alert source."""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, SecretStr, ValidationError

from bot.alerts import messages
from bot.errors import AuthenticationFailed, BadRequest

ModelT = TypeVar("ModelT", bound=BaseModel)


def to_object(body: bytes | str) -> dict[str, Any]:
    """Parse a JSON object. Raises BadRequest for invalid JSON or any other JSON value."""
    try:
        data = json.loads(body)
    except ValueError:
        raise BadRequest(messages.to_invalid_json()) from None
    if not isinstance(data, dict):
        raise BadRequest(messages.to_not_an_object())
    return data


def to_model(model: type[ModelT], data: Mapping[str, Any]) -> ModelT:
    """Validate `data` into `model`. Raises BadRequest naming the first field at fault."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise BadRequest(to_problem(error)) from None


def to_problem(error: ValidationError) -> str:
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"]) or "body"
    if first["type"] == "missing":
        return messages.to_missing_field(field)
    return messages.to_invalid_field(field, first["msg"])


def get_header(headers: Mapping[str, str], name: str) -> str | None:
    """A header by name, ignoring case also when `headers` is a plain dict."""
    if (value := headers.get(name)) is not None:
        return value
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def is_same_secret(given: str, expected: SecretStr) -> bool:
    """Compare in constant time; an unset secret matches nothing."""
    secret = expected.get_secret_value()
    return bool(secret) and hmac.compare_digest(given.encode(), secret.encode())


def check_configured(secret: SecretStr, *, setting: str) -> None:
    """Raise AuthenticationFailed when the secret a webhook needs is not set."""
    if not secret.get_secret_value():
        raise AuthenticationFailed(messages.to_auth_not_configured(setting))
