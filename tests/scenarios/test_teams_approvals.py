"""A diagnosed Airflow failure approved, or refused, by a click on a Teams card.

Real Redis and the real Teams SDK; the Bot Connector, the key server and Airflow are
stand-ins over real HTTP. Clicks are `adaptiveCard/action` invokes carrying a Bot Framework
JWT signed with the key server's throw-away key.
"""

import json

import pytest

from bot.approvals.models import RequestStatus
from bot.audit.models import AuditKind
from bot.incidents.states import State
from tests.fakes.teams import APP_ID, TENANT_ID, build_click, serve_teams
from tests.scenarios.harness import build_settings, start_bot
from tests.scenarios.test_approvals import (
    AIRFLOW_API_TOKEN,
    POLICY,
    clears,
    get_audit,
    open_incident,
    wait_for_state,
    write_runbooks,
)

# The Airflow stand-in fixture, shared with the Slack approval scenarios.
from tests.scenarios.test_approvals import airflow as airflow
from tests.scenarios.test_teams import DEFAULT_CONVERSATION, use_test_tokens

ALLOWED = "5d1c3f1e-0000-4000-8000-00000000a110"
DISALLOWED = "5d1c3f1e-0000-4000-8000-00000000d150"
LEAD = "5d1c3f1e-0000-4000-8000-00000000ead0"


@pytest.fixture
def teams():
    with serve_teams() as stand_in:
        yield stand_in


@pytest.fixture
def settings(redis, redis_url, teams, airflow, tmp_path):
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY.format(oncall=f"teams:{ALLOWED}", leads=f"teams:{LEAD}", minutes=60))
    return build_settings(
        redis_url,
        teams_app_id=APP_ID,
        teams_app_password="test-password",
        teams_tenant_id=TENANT_ID,
        teams_service_url=teams.service_url,
        teams_openid_metadata_url=teams.keys.openid_metadata_url,
        teams_default_conversation=DEFAULT_CONVERSATION,
        airflow_url=airflow.base_url,
        airflow_token=AIRFLOW_API_TOKEN,
        airflow_api_version="v2",
        runbooks_dirs=str(write_runbooks(tmp_path / "runbooks")),
        approval_policy_file=policy,
        action_poll_interval_seconds=0.05,
    )


def get_approve_value(teams):
    """The `data.value` of the Approve button on the proposal card the bot posted."""
    values = [
        action["data"]["value"]
        for call in teams.calls_to("reply")
        for action in find_actions(call.json)
        if action.get("verb") == "incident.approve"
    ]
    [value] = values
    return value


def find_actions(node):
    if isinstance(node, dict):
        if node.get("type") == "Action.Execute":
            yield node
        for child in node.values():
            yield from find_actions(child)
    elif isinstance(node, list):
        for child in node:
            yield from find_actions(child)


async def click_approve(bot, teams, incident, value, *, user, token=None):
    click = build_click(
        "incident.approve",
        value,
        service_url=teams.service_url,
        user=user,
        conversation=f"{incident.thread.channel};messageid={incident.thread.root_id}",
        card_id=incident.thread.root_id,
    )
    token = token or teams.keys.sign_token(serviceurl=teams.service_url)
    headers = {"Authorization": f"Bearer {token}"}
    return await bot.client.post("/teams/messages", json=click, headers=headers)


def has_reply(teams, words):
    return any(words in json.dumps(call.json) for call in teams.calls_to("reply"))


async def test_allowed_teams_user_approves_in_the_invoke_answer_and_the_fix_runs_once(
    settings, teams, airflow
):
    async with start_bot(settings, prepare=use_test_tokens(teams)) as bot:
        incident, request_id = await open_incident(bot, airflow)
        value = get_approve_value(teams)
        writes_before_click = list(airflow.writes)

        answer = await click_approve(bot, teams, incident, value, user=ALLOWED)
        await wait_for_state(bot, incident.id, State.RESOLVED)
        request = await bot.runtime.remediation.approvals.get(request_id)
        [allowed] = await get_audit(bot, AuditKind.CLICK_ALLOWED)

    assert value == request_id
    assert writes_before_click == []
    assert answer.status_code == 200
    assert answer.json()["type"] == "application/vnd.microsoft.activity.message"
    assert "will run now" in answer.json()["value"]
    assert f"teams:{ALLOWED}" in answer.json()["value"]
    assert [clear.json["dry_run"] for clear in clears(airflow)] == [False]
    assert request.status is RequestStatus.EXECUTED
    assert request.approvers == [f"teams:{ALLOWED}"]
    assert allowed.actor == f"teams:{ALLOWED}"
    assert has_reply(teams, "Fixed and verified")


async def test_disallowed_teams_user_is_refused_in_the_invoke_answer_and_audited(
    settings, teams, airflow
):
    async with start_bot(settings, prepare=use_test_tokens(teams)) as bot:
        incident, request_id = await open_incident(bot, airflow)
        value = get_approve_value(teams)

        answer = await click_approve(bot, teams, incident, value, user=DISALLOWED)
        await bot.wait_until_idle()
        [refused] = await get_audit(bot, AuditKind.CLICK_REFUSED)
        current = await bot.runtime.store.get(incident.id)
        request = await bot.runtime.remediation.approvals.get(request_id)

    assert answer.status_code == 200
    assert "not allowed to approve" in answer.json()["value"]
    assert refused.actor == f"teams:{DISALLOWED}"
    assert refused.data["reason"] == "not-allowed"
    assert refused.data["platform"] == "teams"
    assert current.state is State.AWAITING_APPROVAL
    assert request.status is RequestStatus.PENDING
    assert airflow.writes == []


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({"serviceurl": "https://elsewhere.example/"}, id="mismatched-serviceurl"),
        pytest.param({"aud": "someone-else"}, id="wrong-audience"),
    ],
)
async def test_click_with_a_bad_token_gets_401_and_changes_nothing(
    settings, teams, airflow, claims
):
    async with start_bot(settings, prepare=use_test_tokens(teams)) as bot:
        incident, request_id = await open_incident(bot, airflow)
        value = get_approve_value(teams)
        audit_before = await get_audit(bot)

        token = teams.keys.sign_token(**({"serviceurl": teams.service_url} | claims))
        answer = await click_approve(bot, teams, incident, value, user=ALLOWED, token=token)
        await bot.wait_until_idle()
        current = await bot.runtime.store.get(incident.id)
        request = await bot.runtime.remediation.approvals.get(request_id)
        audit_after = await get_audit(bot)

    assert answer.status_code == 401
    assert current.state is State.AWAITING_APPROVAL
    assert request.status is RequestStatus.PENDING
    assert request.approvers == []
    assert audit_after == audit_before
    assert airflow.writes == []
