"""Realistic sample alerts for the console's "send a sample alert" form.

Each sample is a vendor payload run through the real parser, so it shows exactly what a
live alert of that kind becomes. Every call gets a fresh delivery id, so a second sample is
not dropped as a redelivery but joins the incident the first one opened.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from bot.alerts import airflow, cloudwatch, datadog, messages
from bot.alerts.models import Alert
from bot.alerts.sns import SnsEnvelope
from bot.errors import BadRequest

ACCOUNT_ID = "123456789012"
REGION = "eu-west-1"
KEY_ERROR_TRACEBACK = """Traceback (most recent call last):
  File "/opt/airflow/dags/orders_daily.py", line 42, in load_orders
    frame = frame[["order_id", "customer_id", "amount", "currency"]]
  File "/usr/local/lib/python3.11/site-packages/pandas/core/frame.py", line 3899, in __getitem__
    indexer = self.columns._get_indexer_strict(key, "columns")[1]
KeyError: "['amount'] not in index\""""


def sample_alert(kind: str) -> Alert:
    """A sample alert of `kind` (one of SAMPLE_KINDS). Raises BadRequest for another kind."""
    build = SAMPLES.get(kind)
    if build is None:
        raise BadRequest(messages.to_unknown_sample_kind(kind, SAMPLE_KINDS))
    return build()


def _build_datadog() -> Alert:
    now_ms = str(int(datetime.now(UTC).timestamp() * 1000))
    event_id = str(random.randrange(10**18, 10**19))  # noqa: S311 - an id, not a secret
    payload = {
        "id": event_id,
        "title": "[P2] [Triggered on {dag_id:orders_daily,task_id:load_orders}] "
        "Airflow task failures on orders_daily",
        "body": "%%%\nTask load_orders of orders_daily failed 3 times in the last 15 minutes."
        "\n\n@webhook-incident-bot\n%%%",
        "date": now_ms,
        "last_updated": now_ms,
        "event_type": "query_alert_monitor",
        "org": {"id": "1200345", "name": "Example Data"},
        "alert_id": "48213377",
        "alert_cycle_key": "7315546207061473021",
        "aggregation_key": "5b1f0e2c9d8a47c3b6e1f2a3d4c5b6a",
        "transition": "Triggered",
        "priority": "P2",
        "alert_status": "airflow.task.failures over dag_id:orders_daily was > 0 "
        "during the last 15m",
        "scope": "dag_id:orders_daily,task_id:load_orders",
        "tags": "dag_id:orders_daily,env:prod,monitor,service:orders,task_id:load_orders,"
        "team:data-platform",
        "link": f"https://app.datadoghq.com/event/event?id={event_id}",
        "snapshot": "null",
        "hostname": "airflow-worker-2",
        "query": "sum(last_15m):sum:airflow.task.failures{dag_id:orders_daily} "
        "by {dag_id,task_id}.as_count() > 0",
    }
    return datadog.parse(json.dumps(payload).encode())


def _build_cloudwatch() -> Alert:
    now = datetime.now(UTC)
    alarm_name = "glue-orders-etl-failed-tasks"
    alarm = {
        "AlarmName": alarm_name,
        "AlarmDescription": "The orders-etl Glue job has failed tasks; the nightly load is stuck.",
        "AWSAccountId": ACCOUNT_ID,
        "NewStateValue": "ALARM",
        "NewStateReason": "Threshold Crossed: 1 out of the last 1 datapoints [4.0] was greater "
        "than or equal to the threshold (1.0).",
        "StateChangeTime": now.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        "Region": "EU (Ireland)",
        "AlarmArn": f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{alarm_name}",
        "OldStateValue": "OK",
        "Trigger": {
            "MetricName": "glue.driver.aggregate.numFailedTasks",
            "Namespace": "Glue",
            "Statistic": "SUM",
            "Dimensions": [
                {"value": "orders-etl", "name": "JobName"},
                {"value": "ALL", "name": "JobRunId"},
                {"value": "count", "name": "Type"},
            ],
            "Period": 300,
            "EvaluationPeriods": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "Threshold": 1.0,
        },
    }
    # Unsigned: the sample never passes the webhook's signature check.
    envelope = SnsEnvelope(
        Type="Notification",
        MessageId=str(uuid.uuid4()),
        TopicArn=f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:data-pipeline-alarms",
        Subject=f'ALARM: "{alarm_name}" in EU (Ireland)',
        Message=json.dumps(alarm),
        Timestamp=now.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        SignatureVersion="2",
        Signature="",
        SigningCertURL="",
    )
    return cloudwatch.to_alert(envelope)


def _build_airflow() -> Alert:
    run_id = f"manual__{datetime.now(UTC).isoformat()}"
    payload = {
        "dag_id": "orders_daily",
        "task_id": "load_orders",
        "run_id": run_id,
        "try_number": 1,
        "map_index": -1,
        "state": "failed",
        "exception": KEY_ERROR_TRACEBACK,
        "log_url": "http://localhost:8080/dags/orders_daily/runs/"
        f"{run_id}/tasks/load_orders?try_number=1",
        "owner": "data-platform",
        "tags": ["service:orders", "team:data-platform", "tier:1"],
    }
    return airflow.parse(json.dumps(payload).encode())


SAMPLES: dict[str, Callable[[], Alert]] = {
    "datadog": _build_datadog,
    "cloudwatch": _build_cloudwatch,
    "airflow": _build_airflow,
}
SAMPLE_KINDS: tuple[str, ...] = tuple(SAMPLES)
