from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from bot.alerts import datadog
from bot.alerts.models import AlertStatus, Link, Severity, Source
from bot.errors import AuthenticationFailed, BadRequest
from tests.alerts.files import load_payload, read_payload, to_body

HEADER = "X-Incident-Bot-Secret"
SECRET = SecretStr("s3cr3t-value-from-datadog")


def parse_default(**changes):
    return datadog.parse(to_body(load_payload("datadog_default_triggered.json") | changes))


def parse_custom(**changes):
    return datadog.parse(to_body(load_payload("datadog_custom_triggered.json") | changes))


# Authentication


@pytest.mark.parametrize("header", [HEADER, HEADER.lower(), HEADER.upper()])
def test_authenticate_accepts_matching_secret_in_any_header_case(header):
    datadog.authenticate({header: SECRET.get_secret_value()}, header_name=HEADER, secret=SECRET)


def test_authenticate_refuses_everything_when_secret_not_configured():
    with pytest.raises(AuthenticationFailed, match="DATADOG_SECRET"):
        datadog.authenticate({HEADER: ""}, header_name=HEADER, secret=SecretStr(""))


def test_authenticate_refuses_request_without_the_header():
    with pytest.raises(AuthenticationFailed, match=f"Missing header {HEADER}"):
        datadog.authenticate({"X-Other": "x"}, header_name=HEADER, secret=SECRET)


@pytest.mark.parametrize(
    "given", ["wrong", "", SECRET.get_secret_value()[:-1], SECRET.get_secret_value() + "x"]
)
def test_authenticate_refuses_wrong_secret(given):
    with pytest.raises(AuthenticationFailed, match="does not match"):
        datadog.authenticate({HEADER: given}, header_name=HEADER, secret=SECRET)


# The default payload


def test_default_payload_becomes_firing_alert_read_from_title():
    alert = datadog.parse(read_payload("datadog_default_triggered.json"))

    assert alert.source is Source.DATADOG
    assert alert.delivery_id == "7361538421945567829"
    assert alert.status is AlertStatus.FIRING
    assert alert.severity is Severity.HIGH
    assert alert.title == "Airflow task failures on orders_daily & retries"
    assert alert.tags == {"dag_id": "orders_daily", "task_id": "load_orders"}
    assert alert.pipeline is not None
    assert (alert.pipeline.dag_id, alert.pipeline.task_id) == ("orders_daily", "load_orders")
    assert alert.occurred_at == datetime(2024, 12, 3, 14, 50, 12, tzinfo=UTC)
    assert alert.raw["org"]["name"] == "Example Data"


def test_default_payload_message_drops_markdown_fences_and_handles_and_unescapes():
    alert = datadog.parse(read_payload("datadog_default_triggered.json"))

    assert alert.message.startswith("Task **load_orders** of DAG orders_daily failed 3 times")
    assert "data-platform & analytics-eng" in alert.message
    assert "\u00b7 [[Edit Monitor]" in alert.message
    assert "%%%" not in alert.message
    assert "@webhook" not in alert.message and "@slack" not in alert.message


def test_recovery_of_same_monitor_group_resolves_with_same_fingerprint():
    triggered = datadog.parse(read_payload("datadog_default_triggered.json"))
    recovered = datadog.parse(read_payload("datadog_default_recovered.json"))

    assert recovered.status is AlertStatus.RESOLVED
    assert recovered.fingerprint == triggered.fingerprint
    assert recovered.delivery_id != triggered.delivery_id


def test_other_monitor_group_gets_its_own_fingerprint():
    first = parse_default(title="[Triggered on {dag_id:orders_daily}] Task failures")
    other = parse_default(title="[Triggered on {dag_id:refunds_daily}] Task failures")

    assert first.fingerprint != other.fingerprint


@pytest.mark.parametrize(
    ("title", "status", "severity"),
    [
        ("[Triggered] Orders lag", AlertStatus.FIRING, Severity.MEDIUM),
        ("[Triggered on {host:etl-1}] Orders lag", AlertStatus.FIRING, Severity.MEDIUM),
        ("[P1] [Re-Triggered] Orders lag", AlertStatus.FIRING, Severity.CRITICAL),
        ("[P3] [Renotify] Orders lag", AlertStatus.FIRING, Severity.MEDIUM),
        ("[Recovered] Orders lag", AlertStatus.RESOLVED, Severity.MEDIUM),
        ("[P1] [Recovered on {host:etl-1}] Orders lag", AlertStatus.RESOLVED, Severity.CRITICAL),
        ("[Warn] Orders lag", AlertStatus.FIRING, Severity.LOW),
        ("[P1] [Re-Warn on {host:etl-1}] Orders lag", AlertStatus.FIRING, Severity.HIGH),
        ("[P5] [Warn] Orders lag", AlertStatus.FIRING, Severity.INFO),
        ("[No Data] Orders lag", AlertStatus.FIRING, Severity.LOW),
        ("[P2] [Re-No Data on {host:etl-1}] Orders lag", AlertStatus.FIRING, Severity.MEDIUM),
        ("Orders lag", AlertStatus.FIRING, Severity.MEDIUM),
    ],
)
def test_default_payload_reads_transition_and_priority_from_title(title, status, severity):
    alert = parse_default(title=title)

    assert (alert.status, alert.severity, alert.title) == (status, severity, "Orders lag")


def test_title_keeps_bracketed_words_that_are_not_datadog_tokens():
    alert = parse_default(title="[P2] [Triggered] [prod] Orders lag")

    assert alert.title == "[prod] Orders lag"
    assert alert.severity is Severity.HIGH


def test_default_payload_with_only_tokens_in_title_keeps_the_title():
    assert parse_default(title="[Triggered]").title == "[Triggered]"


# The custom payload


def test_custom_payload_uses_its_fields():
    alert = datadog.parse(read_payload("datadog_custom_triggered.json"))

    assert alert.status is AlertStatus.FIRING
    assert alert.severity is Severity.CRITICAL
    assert alert.title == "Rows loaded into warehouse.orders dropped to zero"
    assert alert.message.startswith("No rows reached warehouse.orders")
    assert (alert.service, alert.team) == ("orders", "data-platform")
    assert alert.links == [
        Link(
            title="Datadog event", url="https://app.datadoghq.eu/event/event?id=7361612097364591244"
        ),
        Link(title="Datadog monitor", url="https://app.datadoghq.eu/monitors/50219944"),
        Link(title="Graph snapshot", url=load_payload("datadog_custom_triggered.json")["snapshot"]),
    ]


def test_custom_payload_tags_keep_bare_monitor_tag_and_add_host():
    alert = parse_custom(hostname="airflow-worker-2")

    assert alert.tags == {
        "dag_id": "orders_daily",
        "env": "prod",
        "monitor": "",
        "service": "orders",
        "table": "orders",
        "team": "data-platform",
        "host": "airflow-worker-2",
    }


def test_custom_payload_fingerprint_is_monitor_and_scope_across_cycles_and_transitions():
    first = parse_custom()
    recovered = parse_custom(
        id="7361619911", transition="Recovered", alert_cycle_key="7361612097364591244"
    )
    next_cycle = parse_custom(id="7361700000", alert_cycle_key="7361700000")

    assert recovered.status is AlertStatus.RESOLVED
    assert first.fingerprint == recovered.fingerprint == next_cycle.fingerprint


def test_custom_payload_scope_order_and_spacing_do_not_change_fingerprint():
    one = parse_custom(scope="dag_id:orders_daily,task_id:load_orders")
    other = parse_custom(scope="task_id:load_orders, dag_id:orders_daily")

    assert one.fingerprint == other.fingerprint
    assert one.fingerprint != parse_custom(scope="dag_id:refunds_daily").fingerprint


def test_custom_transition_field_wins_over_title():
    alert = parse_custom(title="[Triggered] Orders lag", transition="Recovered")

    assert alert.status is AlertStatus.RESOLVED


def test_custom_transition_null_falls_back_to_title():
    alert = parse_custom(title="[Warn] Orders lag", transition="Null", priority="null")

    assert (alert.status, alert.severity) == (AlertStatus.FIRING, Severity.LOW)


def test_explicit_service_team_and_pipeline_fields_win_over_tags():
    alert = parse_custom(
        service="orders-api",
        team="payments",
        dag_id="orders_hourly",
        task_id="extract",
        run_id="scheduled__2024-12-03T14:00:00+00:00",
    )

    assert (alert.service, alert.team) == ("orders-api", "payments")
    assert alert.pipeline is not None
    assert alert.pipeline.dag_id == "orders_hourly"
    assert alert.pipeline.task_id == "extract"
    assert alert.pipeline.run_id == "scheduled__2024-12-03T14:00:00+00:00"


def test_alert_without_dag_has_no_pipeline():
    alert = parse_custom(scope="host:etl-1", tags="env:prod,monitor")

    assert alert.pipeline is None


# Rendering quirks


@pytest.mark.parametrize("value", ["null", "$ALERT_ID", "", None])
def test_unrendered_alert_id_falls_back_to_aggregation_key(value):
    one = parse_custom(alert_id=value)
    other = parse_custom(alert_id=value, scope="dag_id:refunds_daily")

    assert one.fingerprint == other.fingerprint  # the aggregation key alone
    assert one.fingerprint != parse_custom().fingerprint


def test_unrendered_ids_and_keys_fall_back_to_title_and_scope():
    alert = parse_custom(alert_id="$ALERT_ID", aggregation_key="$AGGREG_KEY")
    same_title = parse_custom(alert_id="null", aggregation_key="null", id="1")

    assert alert.fingerprint == same_title.fingerprint


@pytest.mark.parametrize("field", ["snapshot", "link", "hostname", "priority", "alert_cycle_key"])
@pytest.mark.parametrize("value", ["null", "$ALERT_CYCLE_KEY", "  "])
def test_null_and_literal_variable_values_count_as_absent(field, value):
    alert = parse_custom(**{field: value})
    absent = parse_custom(**{field: None})

    assert alert.model_dump(exclude={"raw"}) == absent.model_dump(exclude={"raw"})


def test_numbers_rendered_without_quotes_are_read_as_text():
    alert = parse_custom(id=7361612097364591244, alert_id=50219944, date=1733241600000)

    assert alert.delivery_id == "7361612097364591244"
    assert alert.fingerprint == parse_custom().fingerprint
    assert alert.occurred_at == datetime(2024, 12, 3, 16, 0, tzinfo=UTC)


def test_html_escaped_text_is_unescaped():
    alert = parse_custom(title="[Triggered] Orders &amp; refunds &lt;late&gt;", body="a &amp; b")

    assert (alert.title, alert.message) == ("Orders & refunds <late>", "a & b")


def test_tags_may_arrive_as_a_list():
    alert = parse_custom(tags=["env:prod", "monitor", "null"], scope="", title="[Triggered] x")

    assert alert.tags == {"env": "prod", "monitor": ""}


def test_missing_date_uses_last_updated_then_now():
    updated = parse_custom(date="null")
    neither = parse_custom(date="null", last_updated="$LAST_UPDATED")

    assert updated.occurred_at == datetime(2024, 12, 3, 16, 0, tzinfo=UTC)
    assert (datetime.now(UTC) - neither.occurred_at).total_seconds() < 60


def test_empty_body_falls_back_to_alert_status():
    alert = parse_custom(body="%%%\n@webhook-incident-bot\n%%%")

    assert alert.message.startswith("sum:warehouse.rows_loaded{table:orders}")


# Refusals


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"{not json", "not valid JSON"),
        (b"\xff\xfe\x00", "not valid JSON"),
        (b"", "not valid JSON"),
        (b'["a list"]', "must be a JSON object"),
        (b'{"title": "[Triggered] x"}', "Missing field id"),
        (b'{"id": "$ID", "title": "[Triggered] x"}', "Missing field id"),
        (b'{"id": "1", "title": "null"}', "Missing field title"),
        (b'{"id": "1", "title": "x", "date": "yesterday"}', "Field date is invalid"),
        (b'{"id": "1", "title": "x", "body": {"nested": true}}', "Field body is invalid"),
    ],
)
def test_malformed_payload_is_refused_with_a_message_naming_the_problem(body, problem):
    with pytest.raises(BadRequest, match=problem):
        datadog.parse(body)
