"""What a Datadog webhook sent: the payload model and the event title's tokens.

Datadog renders every variable as text: unused ones as the string `null`, some unknown
ones as the variable's own name (`$ALERT_CYCLE_KEY`), dates as epoch milliseconds, tags as
one comma-separated string, and text HTML-escaped (`&amp;`). The field types undo that.
The title reads `[P1] [Triggered on {dag_id:orders}] Orders lag`; see
https://docs.datadoghq.com/integrations/webhooks/ for the variables.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from bot.alerts.models import to_tags

UNRENDERED_VARIABLE = re.compile(r"\$[A-Z][A-Z0-9_]*(\[[^\]]*\])?")
TITLE_TOKEN = re.compile(r"\s*\[([^\[\]]*)\]")
SCOPED_TRANSITION = re.compile(r"(?P<transition>[^{]*?)(?:\s+on\s+\{(?P<scope>.*)\})?")
PRIORITY = re.compile(r"P([1-5])", re.IGNORECASE)


def to_text(value: object) -> object:
    """Rendered text, or None for an empty, `null` or unrendered variable."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        return value
    text = html.unescape(value).strip()
    if not text or text.lower() == "null" or UNRENDERED_VARIABLE.fullmatch(text):
        return None
    return text


def to_datetime(value: object) -> object:
    """An epoch-millisecond string (as Datadog sends `$DATE`) as an aware datetime."""
    text = to_text(value)
    if isinstance(text, str) and text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    return text


def to_tag_map(value: object) -> object:
    """`$TAGS` as one comma-separated string, or a list of `key:value` strings."""
    if isinstance(value, list):
        return to_tags([item for item in map(to_text, value) if isinstance(item, str)])
    text = to_text(value)
    return to_tags(text) if isinstance(text, str) or text is None else text


Text = Annotated[str | None, BeforeValidator(to_text)]
Epoch = Annotated[datetime | None, BeforeValidator(to_datetime)]
Tags = Annotated[dict[str, str], BeforeValidator(to_tag_map)]


class Transition(StrEnum):
    TRIGGERED = "triggered"
    RECOVERED = "recovered"
    WARN = "warn"
    NO_DATA = "no data"
    RENOTIFY = "renotify"


class DatadogPayload(BaseModel):
    """The default webhook payload, plus the optional fields of the custom template."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: Text = None
    title: Text = None
    body: Text = None
    date: Epoch = None
    last_updated: Epoch = None
    event_type: Text = None
    alert_id: Text = None
    alert_cycle_key: Text = None
    aggregation_key: Text = None
    transition: Text = None
    priority: Text = None
    alert_status: Text = None
    scope: Text = None
    tags: Tags = Field(default_factory=dict)
    link: Text = None
    snapshot: Text = None
    hostname: Text = None
    query: Text = None
    service: Text = None
    team: Text = None
    dag_id: Text = None
    task_id: Text = None
    run_id: Text = None


@dataclass
class TitleParts:
    name: str
    transition: Transition | None = None
    priority: str | None = None
    scope: str | None = None


def to_title_parts(title: str) -> TitleParts:
    """Split the leading `[P1]` and `[Triggered on {scope}]` tokens off an event title."""
    parts = TitleParts(name=title)
    position = 0
    while match := TITLE_TOKEN.match(title, position):
        token = match.group(1).strip()
        scoped = SCOPED_TRANSITION.fullmatch(token)
        if PRIORITY.fullmatch(token):
            parts.priority = token
        elif scoped and (transition := to_transition(scoped["transition"])):
            parts.transition, parts.scope = transition, scoped["scope"]
        else:
            break
        position = match.end()
    parts.name = title[position:].strip() or title
    return parts


def to_transition(text: str | None) -> Transition | None:
    """Read `Triggered`, `Re-Triggered`, `Recovered`, `Warn`, `No Data`, `Renotify`..."""
    words = (text or "").strip().lower()
    if "recovered" in words or "resolved" in words:
        return Transition.RECOVERED
    words = words.removeprefix("re-")
    return next((transition for transition in Transition if transition == words), None)


def to_scope(scope: str | None) -> str:
    """Order the `key:value` parts of a scope so the same group always reads the same."""
    return ",".join(sorted(part.strip() for part in (scope or "").split(",") if part.strip()))
