"""Words the alert webhooks answer with when they refuse a request.

The webhook routes put these texts in the JSON body of a 400, 401 or 422 answer, so the
person configuring Datadog, SNS or Airflow can see what to fix.
"""

from __future__ import annotations

from collections.abc import Iterable


def to_invalid_json() -> str:
    return "The body is not valid JSON."


def to_not_an_object() -> str:
    return "The body must be a JSON object."


def to_missing_field(field: str) -> str:
    return f"Missing field {field}."


def to_invalid_field(field: str, problem: str) -> str:
    return f"Field {field} is invalid: {problem}."


def to_auth_not_configured(setting: str) -> str:
    return f"This webhook refuses every request until {setting} is set."


def to_missing_header(header: str) -> str:
    return f"Missing header {header}."


def to_wrong_secret(header: str) -> str:
    return f"The {header} header does not match the configured secret."


def to_missing_bearer_token() -> str:
    return "Missing header Authorization: Bearer <token>."


def to_wrong_bearer_token() -> str:
    return "The bearer token does not match the configured token."


def to_untrusted_url(field: str, url: str) -> str:
    return f"{field} {url!r} is not an https URL on an sns.<region>.amazonaws.com host."


def to_unknown_signature_version(version: str) -> str:
    return f"Unknown SNS SignatureVersion {version!r}; expected 1 or 2."


def to_bad_signature() -> str:
    return "The SNS message signature does not verify."


def to_bad_certificate(url: str, problem: str) -> str:
    return f"The SNS signing certificate at {url} cannot be used: {problem}."


def to_topic_not_allowed(topic_arn: str) -> str:
    return f"SNS topic {topic_arn} is not on the allow-list (SNS_TOPIC_ARNS)."


def to_not_a_notification(message_type: str) -> str:
    return f"An SNS {message_type} carries no alarm."


def to_not_a_cloudwatch_alarm(problem: str) -> str:
    return f"The SNS Message is not a CloudWatch alarm. {problem}"


def to_unknown_sample_kind(kind: str, kinds: Iterable[str]) -> str:
    return f"Unknown sample kind {kind!r}; choose one of {', '.join(kinds)}."


def to_airflow_title(dag_id: str, task_id: str, state: str) -> str:
    return f"Airflow task {dag_id}.{task_id}: {state.strip().lower().replace('_', ' ')}"


def to_airflow_state(state: str) -> str:
    return f"The task instance is {state.strip().lower().replace('_', ' ')}."


def to_metric_expression(query_id: str | None, expression: str) -> str:
    return f"{query_id} = {expression}" if query_id else expression


def to_alarm_rule(rule: str) -> str:
    return f"Rule: {rule}"


def to_triggered_by(alarm_names: Iterable[str]) -> str:
    return f"Triggered by: {', '.join(alarm_names)}"


# Titles of the links an alert carries into the incident thread.
DATADOG_EVENT_LINK = "Datadog event"
DATADOG_MONITOR_LINK = "Datadog monitor"
DATADOG_SNAPSHOT_LINK = "Graph snapshot"
CLOUDWATCH_ALARM_LINK = "CloudWatch alarm"
AIRFLOW_LOG_LINK = "Airflow log"
