"""Datadog monitor webhooks: the shared-secret header and both payload shapes.

Datadog does not sign webhooks, so the secret is a custom header the user configures. The
default payload carries only the event (id, title, body, date) and the transition, priority
and scope are read from its title, e.g. `[P1] [Triggered on {dag_id:orders}] Orders lag`.
The custom payload in docs/datadog.md keeps those fields and adds the monitor id, scope,
tags and links. See https://docs.datadoghq.com/integrations/webhooks/ for the variables.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

from pydantic import SecretStr

from bot.alerts import messages, payloads
from bot.alerts.datadog_payload import (
    PRIORITY,
    DatadogPayload,
    Transition,
    to_scope,
    to_title_parts,
    to_transition,
)
from bot.alerts.models import (
    Alert,
    AlertStatus,
    Link,
    PipelineContext,
    Severity,
    Source,
    to_fingerprint,
    to_tags,
)
from bot.errors import AuthenticationFailed, BadRequest

MARKDOWN_FENCE = "%%%"
# In a monitor message every @-token is a notification handle (@webhook-x, @slack-y, @a@b.c).
HANDLE = re.compile(r"(?<!\S)@\S+")
BLANK_LINES = re.compile(r"\n\s*\n\s*\n+")
PRIORITY_SEVERITIES = {
    "1": Severity.CRITICAL,
    "2": Severity.HIGH,
    "3": Severity.MEDIUM,
    "4": Severity.LOW,
    "5": Severity.INFO,
}
ONE_LOWER = {
    Severity.CRITICAL: Severity.HIGH,
    Severity.HIGH: Severity.MEDIUM,
    Severity.MEDIUM: Severity.LOW,
    Severity.LOW: Severity.INFO,
    Severity.INFO: Severity.INFO,
}


def authenticate(headers: Mapping[str, str], *, header_name: str, secret: SecretStr) -> None:
    """Check the shared-secret header. Raises AuthenticationFailed."""
    payloads.check_configured(secret, setting="DATADOG_SECRET")
    given = payloads.get_header(headers, header_name)
    if given is None:
        raise AuthenticationFailed(messages.to_missing_header(header_name))
    if not payloads.is_same_secret(given, secret):
        raise AuthenticationFailed(messages.to_wrong_secret(header_name))


def parse(body: bytes) -> Alert:
    """Turn a default or custom Datadog payload into an Alert. Raises BadRequest."""
    data = payloads.to_object(body)
    payload = payloads.to_model(DatadogPayload, data)
    if payload.id is None:
        raise BadRequest(messages.to_missing_field("id"))
    if payload.title is None:
        raise BadRequest(messages.to_missing_field("title"))

    title = to_title_parts(payload.title)
    transition = to_transition(payload.transition) or title.transition or Transition.TRIGGERED
    scope = to_scope(payload.scope or title.scope)
    tags = {**to_tags(scope), **payload.tags}
    if payload.hostname:
        tags.setdefault("host", payload.hostname)

    return Alert(
        source=Source.DATADOG,
        delivery_id=payload.id,
        fingerprint=_to_fingerprint(payload, name=title.name, scope=scope),
        status=AlertStatus.RESOLVED if transition is Transition.RECOVERED else AlertStatus.FIRING,
        severity=to_severity(transition, payload.priority or title.priority),
        title=title.name,
        message=_to_message(payload),
        service=payload.service or tags.get("service") or None,
        team=payload.team or tags.get("team") or None,
        tags=tags,
        links=_to_links(payload),
        pipeline=_to_pipeline(payload, tags),
        occurred_at=payload.date or payload.last_updated or datetime.now(UTC),
        raw=data,
    )


def to_severity(transition: Transition, priority: str | None) -> Severity:
    match = PRIORITY.fullmatch((priority or "").strip())
    severity = PRIORITY_SEVERITIES[match[1]] if match else Severity.MEDIUM
    if transition in (Transition.WARN, Transition.NO_DATA):
        return ONE_LOWER[severity]
    return severity


def _to_fingerprint(payload: DatadogPayload, *, name: str, scope: str) -> str:
    # One incident per monitor group. The aggregation key is only the fallback: how stable
    # it is across a monitor's transitions is not documented.
    if payload.alert_id:
        return to_fingerprint(Source.DATADOG, "monitor", payload.alert_id, scope)
    if payload.aggregation_key:
        return to_fingerprint(Source.DATADOG, "aggregation", payload.aggregation_key)
    return to_fingerprint(Source.DATADOG, "title", name, scope)


def _to_message(payload: DatadogPayload) -> str:
    body = (payload.body or "").strip().removeprefix(MARKDOWN_FENCE).removesuffix(MARKDOWN_FENCE)
    body = BLANK_LINES.sub("\n\n", HANDLE.sub("", body)).strip()
    return body or payload.alert_status or ""


def _to_links(payload: DatadogPayload) -> list[Link]:
    links = []
    if payload.link:
        links.append(Link(title=messages.DATADOG_EVENT_LINK, url=payload.link))
        site = urlsplit(payload.link)
        if payload.alert_id and site.scheme == "https" and site.netloc:
            monitor_url = f"https://{site.netloc}/monitors/{payload.alert_id}"
            links.append(Link(title=messages.DATADOG_MONITOR_LINK, url=monitor_url))
    if payload.snapshot:
        links.append(Link(title=messages.DATADOG_SNAPSHOT_LINK, url=payload.snapshot))
    return links


def _to_pipeline(payload: DatadogPayload, tags: dict[str, str]) -> PipelineContext | None:
    dag_id = payload.dag_id or tags.get("dag_id")
    if not dag_id:
        return None
    return PipelineContext(
        dag_id=dag_id,
        task_id=payload.task_id or tags.get("task_id") or None,
        run_id=payload.run_id or tags.get("run_id") or None,
    )
