import pytest

from bot.alerts.models import AlertStatus, Source
from bot.alerts.samples import SAMPLE_KINDS, sample_alert
from bot.errors import BadRequest


def test_sample_kinds_are_the_three_sources():
    assert SAMPLE_KINDS == ("datadog", "cloudwatch", "airflow")


@pytest.mark.parametrize("kind", SAMPLE_KINDS)
def test_sample_is_a_firing_alert_from_its_source(kind):
    alert = sample_alert(kind)

    assert alert.source is Source(kind)
    assert alert.status is AlertStatus.FIRING
    assert alert.title and alert.message and alert.links


@pytest.mark.parametrize("kind", SAMPLE_KINDS)
def test_each_sample_is_a_new_delivery_of_the_same_problem(kind):
    first, second = sample_alert(kind), sample_alert(kind)

    assert first.delivery_id != second.delivery_id
    assert first.fingerprint == second.fingerprint


@pytest.mark.parametrize("kind", ["datadog", "airflow"])
def test_pipeline_samples_point_at_the_failing_orders_task(kind):
    pipeline = sample_alert(kind).pipeline

    assert pipeline is not None
    assert (pipeline.dag_id, pipeline.task_id) == ("orders_daily", "load_orders")


def test_airflow_sample_fails_on_a_renamed_column():
    alert = sample_alert("airflow")

    assert alert.pipeline.exception.endswith("KeyError: \"['amount'] not in index\"")
    assert (alert.service, alert.team) == ("orders", "data-platform")


def test_cloudwatch_sample_is_a_glue_job_alarm():
    alert = sample_alert("cloudwatch")

    assert alert.tags["JobName"] == "orders-etl"
    assert alert.links[0].url.startswith("https://eu-west-1.console.aws.amazon.com/cloudwatch/")


@pytest.mark.parametrize("kind", ["", "pagerduty", "Datadog"])
def test_unknown_kind_is_refused_naming_the_kinds(kind):
    with pytest.raises(BadRequest, match="choose one of datadog, cloudwatch, airflow"):
        sample_alert(kind)
