from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.approvals.models import RefusalReason, RequestStatus, Vote
from bot.approvals.policy import Policy, load_policy
from bot.errors import ConfigError
from bot.runbooks.models import Risk
from tests.approvals.factories import (
    COMMANDER,
    LEADS,
    NOW,
    ONCALL_GROUP,
    POLICY,
    build_click,
    build_request,
    write_policy,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "approval-policy.example.yaml"
FRIDAY_EVENING = datetime(2026, 12, 4, 17, 0, tzinfo=UTC)
SATURDAY_EARLY = datetime(2026, 12, 5, 7, 59, tzinfo=UTC)
SATURDAY_MORNING = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)
THURSDAY_EVENING = datetime(2026, 12, 3, 17, 0, tzinfo=UTC)
CHRISTMAS = datetime(2026, 12, 25, 12, 0, tzinfo=UTC)


def to_broken(path: str, value: Any) -> dict[str, Any]:
    """The test policy with the dotted `path` set to `value`."""
    data = copy.deepcopy(POLICY)
    *parents, last = path.split(".")
    target: Any = data
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("moed", "act", "moed: Extra inputs are not permitted"),
        ("mode", "maybe", "mode: Input should be 'act' or 'observe'"),
        ("roles.oncall.members", ["alice"], "roles.oncall.members: 'alice' is none of"),
        ("roles.Bad_Name", {"members": ["U0X1"]}, "roles.Bad_Name.[key]"),
        ("approvals.low.roles", ["ghost"], "approvals.low.roles: unknown role 'ghost'"),
        ("approvals.low.aprovers_needed", 1, "approvals.low.aprovers_needed: Extra inputs"),
        ("approvals.critical", {"roles": []}, "approvals.critical.[key]"),
        ("approvals.high.requester_may_approve", True, "approvals.high.requester_may_approve"),
        ("approvals.high.approvers_needed", 1, "approvals.high.approvers_needed: high risk"),
        ("approvals.medium.open_minutes", 0, "approvals.medium.open_minutes"),
        ("freeze.timezone", "Mars/Olympus", "freeze.timezone: unknown time zone"),
        ("freeze.approvers", ["ghost"], "freeze.approvers: unknown role 'ghost'"),
        ("freeze.weekly.0.start", 960, "freeze.weekly.0.start: write the time in quotes"),
        ("freeze.weekly.0.days", ["friday"], "freeze.weekly.0.days.0"),
        ("freeze.dates.0.end", "2026-12-01", "freeze.dates.0: end must not be before start"),
    ],
)
def test_invalid_policy_names_file_and_field(
    tmp_path: Path, path: str, value: Any, expected: str
) -> None:
    file = write_policy(tmp_path, to_broken(path, value))

    with pytest.raises(ConfigError) as raised:
        load_policy(file)

    assert str(raised.value).startswith(f"{file}: ")
    assert expected in str(raised.value)


def test_policy_that_is_not_yaml_names_file_and_line(tmp_path: Path) -> None:
    file = tmp_path / "policy.yaml"
    file.write_text("roles:\n  oncall: [unclosed\n", encoding="utf-8")

    with pytest.raises(ConfigError, match=r"policy\.yaml: the approval policy is not valid YAML"):
        load_policy(file)


def test_missing_policy_file_names_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.yaml: cannot read the approval policy"):
        load_policy(tmp_path / "missing.yaml")


def test_example_policy_in_docs_loads() -> None:
    policy = load_policy(EXAMPLE)

    assert policy.get_needed(Risk.HIGH) == 2
    assert policy.get_roles(Risk.HIGH) == ("oncall-lead",)


def test_without_policy_file_nobody_may_approve() -> None:
    policy = load_policy(None)
    request = build_request(Risk.LOW)

    verdict = policy.check(request, build_click(LEADS[0], request.id), now=NOW)

    assert policy.is_observing and policy.source is None
    assert verdict.refusal is not None
    assert verdict.refusal.reason is RefusalReason.OBSERVE_ONLY


def test_observe_only_setting_overrides_act_mode(tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path, POLICY), observe_only=True)
    request = build_request(Risk.LOW)

    verdict = policy.check(request, build_click(LEADS[0], request.id), now=NOW)

    assert policy.is_forced_observe
    assert verdict.refusal is not None
    assert verdict.refusal.reason is RefusalReason.OBSERVE_ONLY


def test_observe_mode_in_file_refuses_approval_but_allows_reject(tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path, to_broken("mode", "observe")))
    request = build_request(Risk.LOW)

    approve = policy.check(request, build_click(LEADS[0], request.id), now=NOW)
    reject = policy.check(request, build_click(LEADS[0], request.id, action="reject"), now=NOW)

    assert approve.refusal is not None
    assert approve.refusal.reason is RefusalReason.OBSERVE_ONLY
    assert reject.refusal is None


@pytest.mark.parametrize(
    ("risk", "user", "platform", "groups", "now", "expected"),
    [
        (Risk.LOW, "U0SOMEONE", "slack", (ONCALL_GROUP,), NOW, None),
        (Risk.LOW, "U0SOMEONE", "slack", (), NOW, RefusalReason.NOT_ALLOWED),
        (Risk.LOW, "U0SOMEONE", "slack", ("S0OTHER",), NOW, RefusalReason.NOT_ALLOWED),
        (Risk.LOW, "alice", "console", (), NOW, None),
        (Risk.LOW, "console:alice", "console", (), NOW, None),
        (Risk.LOW, "alice", "slack", (), NOW, RefusalReason.NOT_ALLOWED),
        (Risk.MEDIUM, "alice", "console", (), NOW, RefusalReason.NOT_ALLOWED),
        (Risk.MEDIUM, "bob", "console", (), NOW, None),
        (Risk.MEDIUM, LEADS[0], "slack", (), NOW, None),
        (Risk.HIGH, "U0SOMEONE", "slack", (ONCALL_GROUP,), NOW, RefusalReason.NOT_ALLOWED),
        (Risk.HIGH, LEADS[1], "slack", (), NOW, None),
        (Risk.MEDIUM, LEADS[0], "slack", (), FRIDAY_EVENING, RefusalReason.NOT_ALLOWED),
        (Risk.MEDIUM, COMMANDER, "slack", (), FRIDAY_EVENING, None),
        (Risk.MEDIUM, LEADS[0], "slack", (), SATURDAY_EARLY, RefusalReason.NOT_ALLOWED),
        (Risk.MEDIUM, LEADS[0], "slack", (), SATURDAY_MORNING, None),
        (Risk.MEDIUM, LEADS[0], "slack", (), THURSDAY_EVENING, None),
        (Risk.LOW, "U0SOMEONE", "slack", (ONCALL_GROUP,), FRIDAY_EVENING, None),
        (Risk.HIGH, LEADS[0], "slack", (), CHRISTMAS, RefusalReason.NOT_ALLOWED),
        (Risk.HIGH, COMMANDER, "slack", (), CHRISTMAS, None),
    ],
)
def test_approval_is_decided_by_role_group_risk_and_freeze(
    policy: Policy,
    risk: Risk,
    user: str,
    platform: str,
    groups: tuple[str, ...],
    now: datetime,
    expected: RefusalReason | None,
) -> None:
    request = build_request(risk, expires_at=now + timedelta(hours=1))
    click = build_click(user, request.id, platform=platform, groups=groups)

    verdict = policy.check(request, click, now=now)

    assert (verdict.refusal.reason if verdict.refusal else None) is expected


@pytest.mark.parametrize(
    ("risk", "requester", "user", "platform", "expected"),
    [
        (Risk.LOW, "console:alice", "alice", "console", None),
        (Risk.MEDIUM, LEADS[0], LEADS[0], "slack", RefusalReason.REQUESTER),
        (Risk.HIGH, LEADS[0], LEADS[0], "slack", RefusalReason.REQUESTER),
        (Risk.HIGH, LEADS[0], LEADS[1], "slack", None),
    ],
)
def test_requester_approves_only_where_policy_allows_and_never_high_risk(
    policy: Policy,
    risk: Risk,
    requester: str,
    user: str,
    platform: str,
    expected: RefusalReason | None,
) -> None:
    request = build_request(risk, requester=requester)

    verdict = policy.check(request, build_click(user, request.id, platform=platform), now=NOW)

    assert (verdict.refusal.reason if verdict.refusal else None) is expected


def test_high_risk_needs_two_distinct_approvers(policy: Policy) -> None:
    first = Vote(user=LEADS[0], at=NOW)
    request = build_request(Risk.HIGH, approvals=[first])

    again = policy.check(request, build_click(LEADS[0], request.id), now=NOW)
    other = policy.check(request, build_click(LEADS[1], request.id), now=NOW)

    assert again.needed == other.needed == 2
    assert again.refusal is not None
    assert again.refusal.reason is RefusalReason.ALREADY_APPROVED
    assert again.refusal.waiting_for == 1
    assert other.refusal is None


def test_freeze_without_approvers_lets_nobody_approve(tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path, to_broken("freeze.approvers", [])))
    request = build_request(Risk.HIGH, expires_at=FRIDAY_EVENING + timedelta(hours=1))

    verdict = policy.check(request, build_click(COMMANDER, request.id), now=FRIDAY_EVENING)

    assert verdict.refusal is not None
    assert verdict.refusal.reason is RefusalReason.FROZEN
    assert verdict.refusal.freeze is not None
    assert verdict.refusal.freeze.until == SATURDAY_MORNING


def test_freeze_follows_its_time_zone(tmp_path: Path) -> None:
    # 16:30 in Berlin is 15:30 UTC: frozen in Berlin time, not yet in UTC.
    policy = load_policy(write_policy(tmp_path, to_broken("freeze.timezone", "Europe/Berlin")))
    now = datetime(2026, 12, 4, 15, 30, tzinfo=UTC)

    assert policy.freeze.get_active(now, Risk.MEDIUM) is not None
    assert policy.freeze.get_active(now - timedelta(hours=1), Risk.MEDIUM) is None


@pytest.mark.parametrize(
    ("changes", "now", "expected"),
    [
        ({}, NOW + timedelta(minutes=60), RefusalReason.EXPIRED),
        ({"status": RequestStatus.EXPIRED}, NOW, RefusalReason.EXPIRED),
        ({"status": RequestStatus.SUPERSEDED}, NOW, RefusalReason.SUPERSEDED),
        ({"status": RequestStatus.APPROVED}, NOW, RefusalReason.CLOSED),
        ({"status": RequestStatus.REJECTED}, NOW, RefusalReason.CLOSED),
        ({"status": RequestStatus.CANCELLED}, NOW, RefusalReason.RESOLVED),
        ({"status": RequestStatus.EXECUTED}, NOW, RefusalReason.CLOSED),
    ],
)
def test_only_open_unexpired_requests_can_be_clicked(
    policy: Policy, changes: dict[str, Any], now: datetime, expected: RefusalReason
) -> None:
    request = build_request(Risk.LOW, **changes)

    for action in ("approve", "reject", "escalate"):
        click = build_click(LEADS[0], request.id, action=action)
        verdict = policy.check(request, click, now=now)
        assert verdict.refusal is not None
        assert verdict.refusal.reason is expected


@pytest.mark.parametrize(
    ("user", "requester", "now", "expected"),
    [
        ("U0OUTSIDER", "incident-bot", NOW, RefusalReason.NOT_ALLOWED),
        ("U0OUTSIDER", "U0OUTSIDER", NOW, None),
        (LEADS[0], "incident-bot", NOW, None),
        (COMMANDER, "incident-bot", NOW, None),
        (LEADS[0], "incident-bot", FRIDAY_EVENING, None),
    ],
)
def test_reject_is_open_to_approver_roles_and_requester(
    policy: Policy, user: str, requester: str, now: datetime, expected: RefusalReason | None
) -> None:
    request = build_request(Risk.HIGH, requester=requester, expires_at=now + timedelta(hours=1))

    verdict = policy.check(request, build_click(user, request.id, action="reject"), now=now)

    assert (verdict.refusal.reason if verdict.refusal else None) is expected


def test_escalate_is_open_to_anyone_once(policy: Policy) -> None:
    request = build_request(Risk.HIGH)
    escalated = build_request(Risk.HIGH, escalations=[Vote(user=LEADS[0], at=NOW)])

    first = policy.check(request, build_click("U0ANYONE", request.id, action="escalate"), now=NOW)
    again = policy.check(escalated, build_click("U0ANYONE", request.id, action="escalate"), now=NOW)

    assert first.refusal is None
    assert again.refusal is not None
    assert again.refusal.reason is RefusalReason.ALREADY_ESCALATED


def test_unknown_button_action_is_refused(policy: Policy) -> None:
    request = build_request(Risk.LOW)

    verdict = policy.check(request, build_click(LEADS[0], request.id, action="resolve"), now=NOW)

    assert verdict.refusal is not None
    assert verdict.refusal.reason is RefusalReason.UNKNOWN_ACTION
