import pytest

from bot.alerts.models import Alert, AlertStatus, Source
from bot.errors import ConfigError
from bot.incidents.routing import load_routing


def make_alert(**fields):
    base = {
        "source": Source.DATADOG,
        "delivery_id": "1",
        "fingerprint": "fp",
        "status": AlertStatus.FIRING,
        "title": "t",
    }
    return Alert(**(base | fields))


@pytest.fixture
def routing(tmp_path):
    path = tmp_path / "routing.yaml"
    path.write_text(
        """
default: {jira_project: OPS}
rules:
  - match: {service: orders}
    channel: data-orders
    jira_project: DATA
  - match: {team: platform}
    channel: platform-oncall
  - match: {tag: "env:prod"}
    channel: prod-incidents
"""
    )
    return load_routing(path, default_channel="incidents")


@pytest.mark.parametrize(
    ("fields", "channel", "project"),
    [
        ({"service": "orders"}, "data-orders", "DATA"),
        ({"team": "platform"}, "platform-oncall", "OPS"),
        ({"tags": {"env": "prod"}}, "prod-incidents", "OPS"),
        ({"tags": {"env": "dev"}}, "incidents", "OPS"),
        ({"service": "orders", "team": "platform"}, "data-orders", "DATA"),
    ],
)
def test_first_matching_rule_wins_and_defaults_fill_the_rest(routing, fields, channel, project):
    route = routing.route(make_alert(**fields))
    assert (route.channel, route.jira_project) == (channel, project)


def test_unknown_routing_field_names_file_and_field(tmp_path):
    path = tmp_path / "routing.yaml"
    path.write_text("rules:\n  - match: {servce: orders}\n    channel: x\n")
    with pytest.raises(ConfigError, match=r"routing.yaml: rules\.0\.match\.servce"):
        load_routing(path, default_channel="incidents")


def test_no_routing_file_sends_everything_to_the_default_channel():
    routing = load_routing(None, default_channel="alerts")
    assert routing.route(make_alert(service="x")).channel == "alerts"
