"""The project's exception hierarchy.

Expected errors are the ones a person can fix (bad input, a refused click, an unknown
runbook field): they become a clear message and an INFO log line. Anything else is a bug
or an outage and is logged with its traceback.
"""

from __future__ import annotations


class BotError(Exception):
    """Base of every error incident-bot raises on purpose."""


class ExpectedError(BotError):
    """An error caused by input or permissions; its message is shown to the person."""

    status_code = 400


class BadRequest(ExpectedError):
    """A request body or field that cannot be understood."""

    status_code = 422


class AuthenticationFailed(ExpectedError):
    """Missing or wrong credentials or signature."""

    status_code = 401


class Forbidden(ExpectedError):
    """Authenticated, but not allowed to do this."""

    status_code = 403


class IllegalTransition(BotError):
    """An incident was asked to move to a state it cannot reach from its current one."""


class ConfigError(BotError):
    """Settings, routing rules or runbooks that cannot be used; raised at start-up."""
