"""How incidents map onto Jira: project and issue type, priorities, transitions, pacing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, TypeVar

from bot.alerts.models import Alert, AlertStatus, Severity
from bot.errors import ConfigError
from bot.incidents.models import Incident
from bot.incidents.routing import Routing
from bot.incidents.states import State
from bot.settings import Settings
from bot.tickets import messages

KeyT = TypeVar("KeyT", bound=StrEnum)


@dataclass(frozen=True)
class TicketPolicy:
    """The choices the ticket sync makes, read from settings and the routing rules once."""

    default_project: str
    default_issue_type: str
    transitions: Mapping[State, str]
    priorities: Mapping[Severity, str]
    base_url: str
    routing: Routing = field(default_factory=Routing)
    comment_interval_seconds: float = 2.0
    # Jira Cloud's search is eventually consistent: an issue whose create answer was lost
    # may not be found for a few seconds, so a second create waits this long.
    creation_grace_seconds: float = 60.0
    max_backoff_seconds: float = 300.0
    max_events_per_comment: int = 20
    max_comment_chars: int = 16_000

    def get_project(self, incident: Incident) -> tuple[str, str]:
        """The project key and issue type the incident's routing rule names."""
        route = self.routing.route(to_route_probe(incident))
        return (
            route.jira_project or self.default_project,
            route.jira_issue_type or self.default_issue_type,
        )


def to_route_probe(incident: Incident) -> Alert:
    """An alert with the incident's routing fields, for rules written against alerts."""
    # model_construct: rules read only service, team and tags, and the incident's source
    # may be one that Alert would not validate (a sample, a drill).
    fields: dict[str, Any] = {
        "source": incident.source,
        "delivery_id": incident.first_alert_id,
        "fingerprint": incident.fingerprint,
        "status": AlertStatus.FIRING,
        "severity": incident.severity,
        "title": incident.title,
        "service": incident.service,
        "team": incident.team,
        "tags": incident.tags,
    }
    return Alert.model_construct(**fields)


def to_ticket_policy(settings: Settings, *, routing: Routing) -> TicketPolicy:
    """Read the Jira settings. Raises ConfigError naming the setting and the pair at fault."""
    return TicketPolicy(
        default_project=settings.jira_project,
        default_issue_type=settings.jira_issue_type,
        transitions=to_mapping(settings.jira_transitions, State, setting="JIRA_TRANSITIONS"),
        priorities=to_mapping(settings.jira_priorities, Severity, setting="JIRA_PRIORITIES"),
        base_url=settings.base_url,
        routing=routing,
        comment_interval_seconds=settings.jira_comment_interval_seconds,
    )


def to_mapping(text: str, keys: type[KeyT], *, setting: str) -> dict[KeyT, str]:
    """Parse `key=value,key=value`, where every key must be a member of `keys`."""
    known = {member.value: member for member in keys}
    mapping: dict[KeyT, str] = {}
    for pair in filter(None, (part.strip() for part in text.split(","))):
        name, _, value = (part.strip() for part in pair.partition("="))
        if name not in known or not value:
            raise ConfigError(messages.to_bad_mapping(setting, pair, list(known)))
        mapping[known[name]] = value
    return mapping
