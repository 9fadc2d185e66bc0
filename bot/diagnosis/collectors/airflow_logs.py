"""Airflow task logs as plain text lines, whatever shape the API returned them in.

Airflow 3 returns structured events (one JSON object per event): the failing event carries
`error_detail`, a list of exceptions, outermost first, each with `exc_type`, `exc_value` and
`frames`, and later entries for its causes (`is_cause` marks `raise ... from`). They are
rendered as the Python traceback the task would have printed, so a reader (and the rule
engine) sees lines such as `KeyError: "['amount'] not in index"`.

Airflow 2 returns text; its JSON `content` is, in many versions, the Python repr of a list of
`(host, text)` tuples.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

# Keys rendered in the head of an event line, or as the traceback; the rest become key=value.
EVENT_FIELDS = frozenset({"timestamp", "event", "level", "logger", "error_detail", "sources"})
CAUSE_SEPARATOR = "The above exception was the direct cause of the following exception:"
CONTEXT_SEPARATOR = "During handling of the above exception, another exception occurred:"


def to_event_lines(event: dict[str, Any] | str) -> Iterator[str]:
    """The text lines for one Airflow 3 log event (a dict, or a line it could not parse)."""
    if isinstance(event, str):
        yield from event.splitlines()
        return
    yield _to_head_line(event)
    error_detail = event.get("error_detail")
    if isinstance(error_detail, list) and error_detail:
        yield from to_traceback_lines(error_detail)


def to_traceback_lines(stacks: list[Any]) -> Iterator[str]:
    """A Python-style traceback for structlog's exception stacks, root cause first."""
    chain = [stack for stack in stacks if isinstance(stack, dict)]
    for position, stack in enumerate(reversed(chain)):
        if position:
            previous = chain[len(chain) - position]
            yield ""
            yield CAUSE_SEPARATOR if previous.get("is_cause") else CONTEXT_SEPARATOR
            yield ""
        yield from _to_stack_lines(stack)


def to_v1_log_text(content: Any) -> str:
    """The text of an Airflow 2 log `content`, unwrapping a repr of (host, text) tuples."""
    if isinstance(content, list):
        return "\n".join(_to_host_text(item) for item in content)
    text = str(content)
    if text.startswith("[(") and text.endswith(")]"):
        try:
            parsed = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return text
        if isinstance(parsed, list):
            return "\n".join(_to_host_text(item) for item in parsed)
    return text


def _to_head_line(event: dict[str, Any]) -> str:
    parts: list[str] = []
    if timestamp := event.get("timestamp"):
        parts.append(f"[{timestamp}]")
    if level := event.get("level"):
        parts.append(str(level).upper())
    if logger_name := event.get("logger"):
        parts.append(str(logger_name))
    head = " ".join(parts)
    message = str(event.get("event", ""))
    extras = " ".join(
        f"{key}={value}"
        for key, value in event.items()
        if key not in EVENT_FIELDS and isinstance(value, str | int | float | bool)
    )
    line = f"{head} - {message}" if head else message
    return f"{line} {extras}" if extras else line


def _to_stack_lines(stack: dict[str, Any]) -> Iterator[str]:
    yield "Traceback (most recent call last):"
    for frame in stack.get("frames") or []:
        if isinstance(frame, dict):
            yield (
                f'  File "{frame.get("filename", "?")}", line {frame.get("lineno", "?")}, '
                f"in {frame.get('name', '?')}"
            )
    syntax_error = stack.get("syntax_error")
    if isinstance(syntax_error, dict):
        yield f'  File "{syntax_error.get("filename")}", line {syntax_error.get("lineno")}'
        yield f"    {str(syntax_error.get('line', '')).strip()}"
    exc_type = str(stack.get("exc_type", "Exception"))
    exc_value = str(stack.get("exc_value", ""))
    yield f"{exc_type}: {exc_value}" if exc_value else exc_type
    yield from (str(note) for note in stack.get("exc_notes") or [])
    for group_member in stack.get("exceptions") or []:
        if isinstance(group_member, dict):
            yield from (
                f"  | {line}" for line in to_traceback_lines(group_member.get("stacks", []))
            )


def _to_host_text(item: Any) -> str:
    if isinstance(item, list | tuple) and len(item) == 2:
        return str(item[1])
    return str(item)
