"""Routing rules: which channel (and Jira project) an alert's incident goes to."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.alerts.models import Alert
from bot.errors import ConfigError


class Match(BaseModel):
    """Conditions a rule needs; every one given must hold. `tag` is `key:value` or `key`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str | None = None
    team: str | None = None
    tag: str | None = None

    def is_match(self, alert: Alert) -> bool:
        if self.service is not None and alert.service != self.service:
            return False
        if self.team is not None and alert.team != self.team:
            return False
        if self.tag is not None:
            key, _, value = self.tag.partition(":")
            if key not in alert.tags or (value and alert.tags[key] != value):
                return False
        return True


class Route(BaseModel):
    """Where an incident is discussed and ticketed. Empty fields fall back to the defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    channel: str | None = None
    teams_conversation: str | None = None
    jira_project: str | None = None
    jira_issue_type: str | None = None


class Rule(Route):
    match: Match


class Routing(BaseModel):
    """The first rule that matches wins; `default` fills what it leaves empty."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default: Route = Route()
    rules: list[Rule] = []

    def route(self, alert: Alert) -> Route:
        for rule in self.rules:
            if rule.match.is_match(alert):
                merged = self.default.model_dump() | rule.model_dump(
                    exclude={"match"}, exclude_none=True
                )
                return Route.model_validate(merged)
        return self.default


def load_routing(path: Path | None, *, default_channel: str) -> Routing:
    """Read the routing file; raises ConfigError naming the file and the field at fault."""
    fallback = Route(channel=default_channel)
    if path is None:
        return Routing(default=fallback)
    try:
        data = yaml.safe_load(path.read_text()) or {}
        routing = Routing.model_validate(data)
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read routing rules: {exc}") from exc
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(part) for part in error["loc"])
        raise ConfigError(f"{path}: {field}: {error['msg']}") from exc
    if routing.default.channel is None:
        routing = routing.model_copy(
            update={"default": routing.default.model_copy(update={"channel": default_channel})}
        )
    return routing
