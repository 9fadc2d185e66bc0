"""CloudWatch alarms delivered through Amazon SNS, as Alerts.

The alarm is JSON inside the envelope's Message string. A metric alarm has
Trigger.MetricName/Namespace/Dimensions, a metric-math alarm Trigger.Metrics and no
MetricName, a composite alarm AlarmRule and TriggeringChildren and no Trigger. See
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
The envelope and its signature live in bot.alerts.sns and are re-exported here.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, ValidationError

from bot.alerts import messages, payloads
from bot.alerts.models import Alert, AlertStatus, Link, Severity, Source, to_fingerprint
from bot.alerts.sns import (
    SnsEnvelope,
    SnsUnavailable,
    SnsVerifier,
    confirm_subscription,
    is_topic_allowed,
    parse_envelope,
)
from bot.errors import BadRequest

__all__ = [
    "SnsEnvelope",
    "SnsUnavailable",
    "SnsVerifier",
    "confirm_subscription",
    "is_topic_allowed",
    "parse_envelope",
    "to_alert",
]

STATES = {
    "ALARM": (AlertStatus.FIRING, Severity.HIGH),
    "INSUFFICIENT_DATA": (AlertStatus.FIRING, Severity.LOW),
    "OK": (AlertStatus.RESOLVED, Severity.INFO),
}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Dimension(_Model):
    name: str = Field(validation_alias=AliasChoices("name", "Name"))
    value: str = Field(validation_alias=AliasChoices("value", "Value"))


class AlarmMetric(_Model):
    MetricName: str | None = None
    Namespace: str | None = None
    Dimensions: list[Dimension] = Field(default_factory=list)


class AlarmMetricStat(_Model):
    Metric: AlarmMetric


class MetricQuery(_Model):
    Id: str | None = None
    Expression: str | None = None
    Label: str | None = None
    MetricStat: AlarmMetricStat | None = None


class AlarmTrigger(AlarmMetric):
    Metrics: list[MetricQuery] = Field(default_factory=list)


class ChildAlarm(_Model):
    Arn: str


class AlarmMessage(_Model):
    AlarmName: str
    AWSAccountId: str
    NewStateValue: Literal["ALARM", "OK", "INSUFFICIENT_DATA"]
    AlarmDescription: str | None = None
    OldStateValue: str | None = None
    NewStateReason: str = ""
    StateChangeTime: datetime | None = None
    Region: str | None = None
    AlarmArn: str | None = None
    Trigger: AlarmTrigger | None = None
    AlarmRule: str | None = None
    TriggeringChildren: list[ChildAlarm] = Field(default_factory=list)


def to_alert(envelope: SnsEnvelope) -> Alert:
    """Turn an SNS Notification holding a CloudWatch alarm into an Alert. Raises BadRequest."""
    if envelope.Type != "Notification":
        raise BadRequest(messages.to_not_a_notification(envelope.Type))
    data, alarm = _to_alarm(envelope.Message)
    region = _to_region(alarm.AlarmArn) or _to_region(envelope.TopicArn)
    status, severity = STATES[alarm.NewStateValue]
    if alarm.AlarmArn:
        fingerprint = to_fingerprint(Source.CLOUDWATCH, alarm.AlarmArn)
    else:
        place = region or alarm.Region
        fingerprint = to_fingerprint(Source.CLOUDWATCH, alarm.AWSAccountId, place, alarm.AlarmName)

    return Alert(
        source=Source.CLOUDWATCH,
        delivery_id=envelope.MessageId,
        fingerprint=fingerprint,
        status=status,
        severity=severity,
        title=alarm.AlarmName,
        message=_to_message(alarm),
        tags=_to_tags(alarm, region),
        links=[_to_console_link(alarm.AlarmName, region)] if region else [],
        occurred_at=alarm.StateChangeTime or datetime.now(UTC),
        raw=data,
    )


def _to_alarm(message: str) -> tuple[dict[str, Any], AlarmMessage]:
    try:
        data = json.loads(message)
    except ValueError:
        raise BadRequest(messages.to_not_a_cloudwatch_alarm("It is not JSON.")) from None
    if not isinstance(data, dict):
        raise BadRequest(messages.to_not_a_cloudwatch_alarm("It is not a JSON object."))
    try:
        return data, AlarmMessage.model_validate(data)
    except ValidationError as error:
        problem = payloads.to_problem(error)
        raise BadRequest(messages.to_not_a_cloudwatch_alarm(problem)) from None


def _to_region(arn: str | None) -> str | None:
    """The region code in `arn:aws:cloudwatch:eu-west-1:123456789012:alarm:name`."""
    parts = (arn or "").split(":")
    return parts[3] if len(parts) > 4 and parts[0] == "arn" and parts[3] else None


def _to_metrics(alarm: AlarmMessage) -> list[AlarmMetric]:
    if alarm.Trigger is None:
        return []
    queries = [query.MetricStat.Metric for query in alarm.Trigger.Metrics if query.MetricStat]
    return [alarm.Trigger, *queries] if alarm.Trigger.MetricName else queries


def _to_tags(alarm: AlarmMessage, region: str | None) -> dict[str, str]:
    tags = {"aws_account": alarm.AWSAccountId}
    if region:
        tags["aws_region"] = region
    for metric in _to_metrics(alarm):
        if metric.Namespace:
            tags.setdefault("namespace", metric.Namespace)
        tags.update((dimension.name, dimension.value) for dimension in metric.Dimensions)
    return tags


def _to_message(alarm: AlarmMessage) -> str:
    lines = [alarm.NewStateReason, alarm.AlarmDescription or ""]
    if alarm.Trigger:
        queries = [query for query in alarm.Trigger.Metrics if query.Expression]
        lines += [
            messages.to_metric_expression(query.Id, query.Expression or "") for query in queries
        ]
    if alarm.AlarmRule:
        lines.append(messages.to_alarm_rule(alarm.AlarmRule))
    if alarm.TriggeringChildren:
        names = [child.Arn.rpartition(":alarm:")[2] for child in alarm.TriggeringChildren]
        lines.append(messages.to_triggered_by(names))
    return "\n".join(line for line in lines if line)


def _to_console_link(name: str, region: str) -> Link:
    domain = "console.amazonaws.cn" if region.startswith("cn-") else "console.aws.amazon.com"
    url = (
        f"https://{region}.{domain}/cloudwatch/home?region={region}"
        f"#alarmsV2:alarm/{quote(name, safe='')}"
    )
    return Link(title=messages.CLOUDWATCH_ALARM_LINK, url=url)
