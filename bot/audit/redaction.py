"""Masking secrets before anything is written to the audit log or a trace.

Two nets: a key that names a secret masks its whole value, and a value that looks like a
credential (a Slack token, a bearer or basic header, an AWS access key id, a JWT) is masked
wherever it appears, also inside a longer string such as a log line.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic_core import to_jsonable_python

REDACTED = "[redacted]"

# Whole words of a normalised key (`accessToken` -> `access_token`); `max_tokens` and
# `input_tokens` stay readable because `tokens` is not `token`.
_SECRET_WORDS = frozenset(
    {
        "apikey",
        "authorization",
        "cookie",
        "credential",
        "credentials",
        "passphrase",
        "passwd",
        "password",
        "secret",
        "token",
    }
)
_SECRET_PHRASES = ("api_key", "access_key", "private_key", "secret_key", "set_cookie")

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[^a-z0-9]+")
_SECRET_VALUES = re.compile(
    r"xox[abeprs]-[A-Za-z0-9-]+"  # Slack bot, user, app-level and refresh tokens
    r"|xapp-[A-Za-z0-9-]+"
    r"|(?i:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"  # HTTP Authorization credentials
    r"|\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"  # AWS access key ids: long-term and STS
    r"|\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"  # JWTs
)


def redact(value: object) -> Any:
    """A JSON-ready copy of `value` with every secret masked; the input is left untouched.

    Pydantic models, dataclasses, datetimes and enums become their JSON forms first, and
    objects with no JSON form become their `str()`.
    """
    return _mask(to_jsonable_python(value, fallback=str))


def is_secret_key(key: str) -> bool:
    normalised = _SEPARATORS.sub("_", _CAMEL_BOUNDARY.sub("_", key).lower()).strip("_")
    if any(phrase in normalised for phrase in _SECRET_PHRASES):
        return True
    return not _SECRET_WORDS.isdisjoint(normalised.split("_"))


def _mask(value: Any) -> Any:
    if isinstance(value, dict):
        # Keys become strings here, as JSON would make them, so sorting them cannot fail.
        return {
            str(key): REDACTED if is_secret_key(str(key)) else _mask(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_mask(item) for item in value]
    if isinstance(value, str):
        return _SECRET_VALUES.sub(REDACTED, value)
    return value
