import json
from datetime import UTC, datetime

import pytest

from bot.alerts import cloudwatch
from bot.alerts.models import AlertStatus, Link, Severity, Source
from bot.errors import BadRequest
from tests.alerts.files import load_payload, to_body

TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:data-pipeline-alarms"


def build_envelope(alarm, **changes):
    message = alarm if isinstance(alarm, str) else json.dumps(alarm)
    data = load_payload("sns_notification.json") | {"Message": message} | changes
    return cloudwatch.parse_envelope(to_body(data))


def load_alarm(name="cloudwatch_metric_alarm.json", **changes):
    return load_payload(name) | changes


def test_metric_alarm_becomes_firing_alert():
    alert = cloudwatch.to_alert(build_envelope(load_alarm()))

    assert alert.source is Source.CLOUDWATCH
    assert alert.delivery_id == "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324"
    assert (alert.status, alert.severity) == (AlertStatus.FIRING, Severity.HIGH)
    assert alert.title == "glue-orders-etl-failed-tasks"
    assert alert.message.startswith("Threshold Crossed: 1 out of the last 1 datapoints")
    assert "The orders-etl Glue job has failed tasks." in alert.message
    assert alert.occurred_at == datetime(2024, 12, 3, 2, 15, 27, 123000, tzinfo=UTC)
    assert alert.raw["AlarmArn"].endswith(":alarm:glue-orders-etl-failed-tasks")


def test_metric_alarm_tags_come_from_dimensions():
    alert = cloudwatch.to_alert(build_envelope(load_alarm()))

    assert alert.tags == {
        "aws_account": "123456789012",
        "aws_region": "eu-west-1",
        "namespace": "Glue",
        "JobName": "orders-etl",
        "JobRunId": "ALL",
        "Type": "count",
    }


def test_alert_links_to_the_alarm_in_the_console():
    alert = cloudwatch.to_alert(build_envelope(load_alarm(AlarmName="orders etl/failed")))

    assert alert.links == [
        Link(
            title="CloudWatch alarm",
            url="https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1"
            "#alarmsV2:alarm/orders%20etl%2Ffailed",
        )
    ]


def test_china_region_links_to_the_china_console():
    arn = "arn:aws-cn:cloudwatch:cn-north-1:123456789012:alarm:glue-orders-etl-failed-tasks"
    alert = cloudwatch.to_alert(build_envelope(load_alarm(AlarmArn=arn)))

    assert alert.links[0].url.startswith("https://cn-north-1.console.amazonaws.cn/cloudwatch/")


@pytest.mark.parametrize(
    ("state", "status", "severity"),
    [
        ("ALARM", AlertStatus.FIRING, Severity.HIGH),
        ("INSUFFICIENT_DATA", AlertStatus.FIRING, Severity.LOW),
        ("OK", AlertStatus.RESOLVED, Severity.INFO),
    ],
)
def test_new_state_sets_status_and_severity(state, status, severity):
    alert = cloudwatch.to_alert(build_envelope(load_alarm(NewStateValue=state)))

    assert (alert.status, alert.severity) == (status, severity)


def test_alarm_and_its_recovery_share_a_fingerprint():
    firing = cloudwatch.to_alert(build_envelope(load_alarm()))
    recovered = cloudwatch.to_alert(
        build_envelope(load_alarm(NewStateValue="OK", OldStateValue="ALARM"), MessageId="m-2")
    )

    assert firing.fingerprint == recovered.fingerprint
    assert firing.delivery_id != recovered.delivery_id


def test_alarm_without_arn_is_fingerprinted_by_account_region_and_name():
    alarm = {k: v for k, v in load_alarm().items() if k != "AlarmArn"}
    first = cloudwatch.to_alert(build_envelope(alarm))
    again = cloudwatch.to_alert(build_envelope(alarm | {"NewStateValue": "OK"}, MessageId="m-2"))
    other = cloudwatch.to_alert(build_envelope(alarm | {"AlarmName": "glue-refunds-etl"}))
    other_account = cloudwatch.to_alert(build_envelope(alarm | {"AWSAccountId": "210987654321"}))

    assert first.fingerprint == again.fingerprint
    assert len({first.fingerprint, other.fingerprint, other_account.fingerprint}) == 3
    assert first.tags["aws_region"] == "eu-west-1"  # from the topic ARN


def test_metric_math_alarm_takes_tags_from_its_metrics():
    alert = cloudwatch.to_alert(build_envelope(load_alarm("cloudwatch_metric_math_alarm.json")))

    assert alert.status is AlertStatus.FIRING
    assert alert.tags == {
        "aws_account": "123456789012",
        "aws_region": "us-east-1",
        "namespace": "AWS/ApiGateway",
        "ApiName": "orders-api",
        "Stage": "prod",
    }
    assert "e1 = 100 * errors / requests" in alert.message
    assert alert.links[0].url.startswith("https://us-east-1.console.aws.amazon.com/")


def test_composite_alarm_names_its_rule_and_triggering_children():
    alert = cloudwatch.to_alert(build_envelope(load_alarm("cloudwatch_composite_alarm.json")))

    assert alert.title == "orders-pipeline-unhealthy"
    assert alert.tags == {"aws_account": "123456789012", "aws_region": "eu-west-1"}
    assert 'Rule: ALARM("glue-orders-etl-failed-tasks") OR ALARM("orders-api-5xx-rate")' in (
        alert.message
    )
    assert "Triggered by: glue-orders-etl-failed-tasks" in alert.message


def test_lambda_relayed_envelope_becomes_the_same_alert():
    data = load_payload("sns_notification.json") | {"Message": json.dumps(load_alarm())}
    data["SigningCertUrl"] = data.pop("SigningCertURL")
    data["Subject"] = None

    relayed = cloudwatch.to_alert(cloudwatch.parse_envelope(to_body(data)))

    assert relayed == cloudwatch.to_alert(build_envelope(load_alarm()))


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ("ALARM: orders etl failed", "It is not JSON"),
        ('["ALARM"]', "It is not a JSON object"),
        (json.dumps({"Records": [{"eventSource": "aws:s3"}]}), "Missing field AlarmName"),
        (
            json.dumps({k: v for k, v in load_alarm().items() if k != "AWSAccountId"}),
            "Missing field AWSAccountId",
        ),
        (json.dumps(load_alarm(NewStateValue="BROKEN")), "Field NewStateValue is invalid"),
        (json.dumps(load_alarm(StateChangeTime="tuesday")), "Field StateChangeTime is invalid"),
    ],
)
def test_message_that_is_not_a_cloudwatch_alarm_is_refused(message, problem):
    with pytest.raises(BadRequest, match=f"not a CloudWatch alarm. {problem}"):
        cloudwatch.to_alert(build_envelope(message))


@pytest.mark.parametrize("message_type", ["SubscriptionConfirmation", "UnsubscribeConfirmation"])
def test_confirmation_is_not_an_alert(message_type):
    with pytest.raises(BadRequest, match=f"An SNS {message_type} carries no alarm"):
        cloudwatch.to_alert(build_envelope(load_alarm(), Type=message_type))
