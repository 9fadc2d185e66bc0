import pytest
from pydantic import SecretStr

from bot.alerts.models import Severity
from bot.errors import ConfigError
from bot.incidents.routing import Match, Routing, Rule
from bot.incidents.states import State
from bot.settings import Settings
from bot.tickets.policy import to_mapping, to_ticket_policy
from bot.tickets.service import build_ticket_service
from tests.tickets.conftest import build_policy, make_incident


def test_default_settings_map_remediation_resolution_and_reopen():
    policy = to_ticket_policy(Settings(_env_file=None), routing=Routing())

    assert policy.transitions == {
        State.REMEDIATING: "In Progress",
        State.RESOLVED: "Done",
        State.TRIGGERED: "To Do",
    }
    assert policy.priorities[Severity.CRITICAL] == "Highest"


def test_mapping_ignores_spaces_and_empty_parts():
    mapping = to_mapping(" resolved = Done ,, triggered=Reopen issue ", State, setting="X")

    assert mapping == {State.RESOLVED: "Done", State.TRIGGERED: "Reopen issue"}


@pytest.mark.parametrize("text", ["closed=Done", "resolved", "resolved=", "=Done"])
def test_mapping_with_an_unknown_state_or_no_value_is_refused(text):
    with pytest.raises(ConfigError, match=r"JIRA_TRANSITIONS: .* is not NAME=VALUE"):
        to_mapping(text, State, setting="JIRA_TRANSITIONS")


@pytest.mark.parametrize(
    ("fields", "project"),
    [({"service": "orders"}, ("DATA", "Bug")), ({"service": "billing"}, ("OPS", "Incident"))],
)
def test_project_and_issue_type_follow_the_routing_rules(fields, project):
    assert build_policy().get_project(make_incident(**fields)) == project


def test_project_routing_accepts_sources_alerts_do_not_know():
    routing = Routing(rules=[Rule(match=Match(tag="team:data"), jira_project="DATA")])
    incident = make_incident(source="drill", tags={"team": "data"})

    assert build_policy(routing=routing).get_project(incident) == ("DATA", "Incident")


def test_ticket_service_is_off_without_a_jira_url(redis):
    settings = Settings(_env_file=None, jira_url="")

    assert build_ticket_service(settings, routing=Routing(), redis=redis) is None


def test_jira_url_without_a_token_is_refused_at_start(redis):
    settings = Settings(_env_file=None, jira_url="https://jira.test", jira_api_token=SecretStr(""))

    with pytest.raises(ConfigError, match="JIRA_API_TOKEN"):
        build_ticket_service(settings, routing=Routing(), redis=redis)
