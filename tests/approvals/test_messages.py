from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.approvals import messages
from bot.approvals.freeze import ActiveFreeze
from bot.approvals.models import Refusal, RefusalReason, RequestStatus, Vote
from bot.approvals.policy import Policy, load_policy
from bot.chat.models import ButtonStyle
from bot.runbooks.models import Risk
from tests.approvals.factories import LEADS, NOW, POLICY, build_request, write_policy


def test_approval_message_buttons_carry_only_the_request_id(policy: Policy) -> None:
    request = build_request(Risk.HIGH)

    message = messages.build_approval_message(request, preview="would clear 3 tasks", policy=policy)

    assert [(button.action, button.style) for button in message.buttons] == [
        ("approve", ButtonStyle.PRIMARY),
        ("reject", ButtonStyle.DANGER),
        ("escalate", ButtonStyle.DEFAULT),
    ]
    assert {button.value for button in message.buttons} == {request.id}
    facts = {fact.label: fact.value for fact in message.facts}
    assert facts["Who may approve"] == "oncall-lead"
    assert facts["Approvals needed"] == "2 distinct"
    assert facts["Expires"] == "2026-12-01 11:00 UTC"
    assert message.sections[0].text == "would clear 3 tasks"
    assert message.sections[0].preformatted


@pytest.mark.parametrize(
    ("observe_only", "expected"),
    [
        (True, "The bot is in observe-only mode (OBSERVE_ONLY is set); nothing will run."),
        (None, "No approval policy is configured (APPROVAL_POLICY_FILE), so nobody may approve"),
    ],
)
def test_observe_mode_message_has_no_approve_button_and_says_why(
    tmp_path: Path, observe_only: bool | None, expected: str
) -> None:
    path = None if observe_only is None else write_policy(tmp_path, POLICY)
    policy = load_policy(path, observe_only=bool(observe_only))

    message = messages.build_approval_message(build_request(), preview="", policy=policy)

    assert "approve" not in [button.action for button in message.buttons]
    assert message.sections[-1].text.startswith(expected)


FRIDAY_FREEZE = ActiveFreeze(name="Friday evening", until=datetime(2026, 12, 5, 8, tzinfo=UTC))
APPROVED_BY_LEAD = {"status": RequestStatus.APPROVED, "approvals": [Vote(user=LEADS[0], at=NOW)]}


@pytest.mark.parametrize(
    ("refusal", "fields", "expected"),
    [
        (
            Refusal(RefusalReason.NOT_ALLOWED, "approve", roles=("oncall-lead",)),
            {"risk": Risk.HIGH},
            "You are not allowed to approve high-risk actions (roles that may: oncall-lead).",
        ),
        (
            Refusal(
                RefusalReason.NOT_ALLOWED,
                "approve",
                roles=("incident-commander",),
                freeze=FRIDAY_FREEZE,
            ),
            {"risk": Risk.MEDIUM},
            "You are not allowed to approve medium-risk actions (roles that may: "
            "incident-commander) during the change freeze 'Friday evening'.",
        ),
        (
            Refusal(RefusalReason.FROZEN, "approve", freeze=FRIDAY_FREEZE),
            {},
            "Changes are frozen (Friday evening) until 2026-12-05 08:00 UTC; "
            "nobody may approve until then.",
        ),
        (
            Refusal(RefusalReason.ALREADY_APPROVED, "approve", waiting_for=1),
            {},
            "Already approved by you; waiting for 1 more approver.",
        ),
        (
            Refusal(RefusalReason.EXPIRED, "approve"),
            {},
            "This request expired at 2026-12-01 11:00 UTC; nothing will run.",
        ),
        (
            Refusal(RefusalReason.SUPERSEDED, "approve"),
            {},
            "A newer proposal replaced this request; use the buttons on the latest one.",
        ),
        (
            Refusal(RefusalReason.RESOLVED, "approve"),
            {"status": RequestStatus.CANCELLED},
            "This incident is resolved; the request was cancelled and nothing will run.",
        ),
        (
            Refusal(RefusalReason.CLOSED, "approve"),
            APPROVED_BY_LEAD,
            "Already approved by U0LEAD1; nothing more is needed.",
        ),
        (
            Refusal(RefusalReason.REQUESTER, "approve", roles=("oncall-lead",)),
            {},
            "You asked for this action, so you may not approve it (roles that may: oncall-lead).",
        ),
        (
            Refusal(RefusalReason.NOBODY_MAY, "approve"),
            {"risk": Risk.MEDIUM},
            "The approval policy lets no role approve medium-risk actions.",
        ),
    ],
)
def test_refusal_text_says_why_nothing_changed(
    policy: Policy, refusal: Refusal, fields: dict[str, object], expected: str
) -> None:
    request = build_request(**fields)

    assert messages.build_refusal(refusal, request, policy=policy).text == expected


def test_unknown_request_refusal_needs_no_request(policy: Policy) -> None:
    refusal = Refusal(RefusalReason.UNKNOWN_REQUEST, "approve")

    text = messages.build_refusal(refusal, None, policy=policy).text

    assert text == "This approval request does not exist (or no longer does); nothing changed."
