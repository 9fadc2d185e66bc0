from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.approvals.models import ApprovalRequest, RefusalReason, RequestStatus
from bot.approvals.policy import load_policy
from bot.approvals.service import ApprovalService, OutcomeKind, RequestNotApproved
from bot.approvals.store import ApprovalStore
from bot.runbooks.models import Risk
from tests.approvals.factories import (
    ACTION,
    LEADS,
    NOW,
    ONCALL_GROUP,
    POLICY,
    build_click,
    write_policy,
)


async def create(
    service: ApprovalService, risk: Risk = Risk.LOW, *, requester: str = "incident-bot"
) -> ApprovalRequest:
    return await service.create_request(
        incident_id="INC-7",
        playbook_id="schema-drift-airflow",
        step_id="clear-producer",
        title="Clear load_orders",
        action=ACTION,
        risk=risk,
        requester=requester,
        now=NOW,
    )


async def to_snapshot(redis: Redis) -> dict[bytes, object]:
    """Every key's value, to show that a refused click changed nothing."""
    snapshot: dict[bytes, object] = {}
    for key in await redis.keys("*"):
        kind = await redis.type(key)
        if kind == b"hash":
            snapshot[key] = await redis.hgetall(key)
        elif kind == b"zset":
            snapshot[key] = await redis.zrange(key, 0, -1, withscores=True)
        else:
            snapshot[key] = await redis.get(key)
    return snapshot


async def warm_up(redis: Redis, connections: int) -> None:
    """Open the pool's connections first, so concurrent clicks really overlap in Redis."""
    await asyncio.gather(*(redis.ping() for _ in range(connections)))


async def test_created_request_is_stored_with_expiry_from_policy(
    service: ApprovalService,
) -> None:
    request = await create(service, Risk.HIGH)

    stored = await service.get(request.id)

    assert stored == request
    assert stored.status is RequestStatus.PENDING
    assert stored.expires_at == NOW + timedelta(minutes=30)
    assert stored.attempt == 1


async def test_low_risk_approved_by_one_allowed_person(service: ApprovalService) -> None:
    request = await create(service, Risk.LOW)

    outcome = await service.handle_click(
        build_click("U0ONCALL", request.id, groups=(ONCALL_GROUP,)), now=NOW
    )

    assert outcome.kind is OutcomeKind.APPROVED
    assert outcome.request is not None
    assert outcome.request.approvers == ["U0ONCALL"]
    assert (await service.get(request.id)).status is RequestStatus.APPROVED


async def test_high_risk_needs_second_distinct_approver(service: ApprovalService) -> None:
    request = await create(service, Risk.HIGH)

    first = await service.handle_click(build_click(LEADS[0], request.id), now=NOW)
    again = await service.handle_click(build_click(LEADS[0], request.id), now=NOW)
    second = await service.handle_click(build_click(LEADS[1], request.id), now=NOW)

    assert (first.kind, first.waiting_for) == (OutcomeKind.RECORDED, 1)
    assert again.kind is OutcomeKind.REFUSED
    assert again.message.text == "Already approved by you; waiting for 1 more approver."
    assert second.kind is OutcomeKind.APPROVED
    assert (await service.get(request.id)).approvers == [LEADS[0], LEADS[1]]


@pytest.mark.parametrize(
    ("risk", "requester", "user", "expected"),
    [
        (Risk.HIGH, LEADS[0], LEADS[0], RefusalReason.REQUESTER),
        (Risk.HIGH, "incident-bot", "U0OUTSIDER", RefusalReason.NOT_ALLOWED),
        (Risk.LOW, "incident-bot", "U0OUTSIDER", RefusalReason.NOT_ALLOWED),
    ],
)
async def test_refused_click_changes_nothing(
    service: ApprovalService,
    redis: Redis,
    risk: Risk,
    requester: str,
    user: str,
    expected: RefusalReason,
) -> None:
    request = await create(service, risk, requester=requester)
    before = await to_snapshot(redis)

    outcome = await service.handle_click(build_click(user, request.id), now=NOW)

    assert outcome.kind is OutcomeKind.REFUSED
    assert outcome.refusal is not None
    assert outcome.refusal.reason is expected
    assert await to_snapshot(redis) == before


@pytest.mark.parametrize(
    "value", ["", "INC-7", "A" * 32, "../../approval:x", "x" * 200, "id with spaces"]
)
async def test_forged_request_id_is_refused(
    service: ApprovalService, redis: Redis, value: str
) -> None:
    await create(service, Risk.LOW)
    before = await to_snapshot(redis)

    outcome = await service.handle_click(build_click(LEADS[0], value), now=NOW)

    assert outcome.kind is OutcomeKind.REFUSED
    assert outcome.refusal is not None
    assert outcome.refusal.reason is RefusalReason.UNKNOWN_REQUEST
    assert await to_snapshot(redis) == before


async def test_new_proposal_supersedes_pending_one_for_same_step(
    service: ApprovalService,
) -> None:
    old = await create(service, Risk.LOW)
    new = await create(service, Risk.LOW)

    outcome = await service.handle_click(build_click(LEADS[0], old.id), now=NOW)

    assert outcome.refusal is not None
    assert outcome.refusal.reason is RefusalReason.SUPERSEDED
    assert (await service.get(old.id)).status is RequestStatus.SUPERSEDED
    assert (new.attempt, (await service.get(new.id)).status) == (2, RequestStatus.PENDING)


async def test_concurrent_proposals_leave_one_pending_request(
    service: ApprovalService, store: ApprovalStore
) -> None:
    await asyncio.gather(*(create(service, Risk.LOW) for _ in range(10)))

    statuses = [request.status for request in await store.list_for_incident("INC-7")]

    assert statuses.count(RequestStatus.PENDING) == 1
    assert statuses.count(RequestStatus.SUPERSEDED) == 9


async def test_click_after_expiry_is_refused_and_expire_due_closes_request(
    service: ApprovalService,
) -> None:
    request = await create(service, Risk.LOW)
    later = request.expires_at + timedelta(seconds=1)

    early = await service.expire_due(NOW)
    click = await service.handle_click(build_click(LEADS[0], request.id), now=later)
    expired = await service.expire_due(later)
    again = await service.expire_due(later)

    assert early == []
    assert click.refusal is not None
    assert click.message.text.startswith("This request expired at ")
    assert [item.id for item in expired] == [request.id]
    assert expired[0].status is RequestStatus.EXPIRED
    assert again == []


async def test_rejected_request_cannot_be_approved(service: ApprovalService) -> None:
    request = await create(service, Risk.MEDIUM)

    rejected = await service.handle_click(
        build_click(LEADS[0], request.id, action="reject"), now=NOW
    )
    approve = await service.handle_click(build_click(LEADS[1], request.id), now=NOW)

    assert rejected.kind is OutcomeKind.REJECTED
    assert approve.refusal is not None
    assert approve.refusal.reason is RefusalReason.CLOSED
    assert (await service.get(request.id)).status is RequestStatus.REJECTED


async def test_escalate_keeps_request_open_and_counts_once(service: ApprovalService) -> None:
    request = await create(service, Risk.HIGH)

    first = await service.handle_click(
        build_click("U0ANYONE", request.id, action="escalate"), now=NOW
    )
    again = await service.handle_click(
        build_click("U0OTHER", request.id, action="escalate"), now=NOW
    )
    approve = await service.handle_click(build_click(LEADS[0], request.id), now=NOW)

    assert first.kind is OutcomeKind.ESCALATE
    assert again.refusal is not None
    assert again.refusal.reason is RefusalReason.ALREADY_ESCALATED
    assert approve.kind is OutcomeKind.RECORDED


async def test_observe_only_refuses_every_approval(store: ApprovalStore, tmp_path: Path) -> None:
    policy = load_policy(write_policy(tmp_path, POLICY), observe_only=True)
    service = ApprovalService(store=store, policy=policy)
    request = await create(service, Risk.LOW)

    outcome = await service.handle_click(build_click(LEADS[0], request.id), now=NOW)

    assert outcome.message.text == (
        "The bot is in observe-only mode (OBSERVE_ONLY is set); nothing will run."
    )
    assert (await service.get(request.id)).approvals == []


async def test_mark_executed_only_after_approval_and_only_once(service: ApprovalService) -> None:
    request = await create(service, Risk.LOW)

    with pytest.raises(RequestNotApproved):
        await service.mark_executed(request.id, now=NOW)
    await service.handle_click(build_click(LEADS[0], request.id), now=NOW)
    executed = await service.mark_executed(request.id, now=NOW)
    again = await service.mark_executed(request.id, now=NOW)

    assert executed.status is again.status is RequestStatus.EXECUTED
    assert again.executed_at == NOW


async def test_cancelled_request_refuses_clicks_as_resolved(service: ApprovalService) -> None:
    request = await create(service, Risk.LOW)

    cancelled = await service.cancel(request.id, now=NOW)
    outcome = await service.handle_click(build_click(LEADS[0], request.id), now=NOW)

    assert cancelled is not None
    assert cancelled.status is RequestStatus.CANCELLED
    assert outcome.refusal is not None
    assert outcome.refusal.reason is RefusalReason.RESOLVED
    assert outcome.message.text.startswith("This incident is resolved")


async def test_twenty_concurrent_approvals_approve_low_risk_exactly_once(
    service: ApprovalService, redis: Redis
) -> None:
    request = await create(service, Risk.LOW)
    await warm_up(redis, 20)
    clicks = [
        build_click(f"U0ONCALL{number:02d}", request.id, groups=(ONCALL_GROUP,))
        for number in range(20)
    ]

    outcomes = await asyncio.gather(*(service.handle_click(click, now=NOW) for click in clicks))

    kinds = [outcome.kind for outcome in outcomes]
    assert kinds.count(OutcomeKind.APPROVED) == 1
    assert kinds.count(OutcomeKind.REFUSED) == 19
    assert len((await service.get(request.id)).approvals) == 1


@pytest.mark.parametrize("round_number", range(5))
async def test_concurrent_distinct_approvers_approve_high_risk_exactly_once(
    redis: Redis, redis_url: str, policy_path: Path, round_number: int
) -> None:
    # One client per approver, as if each click reached a different replica.
    clients = [Redis.from_url(redis_url) for _ in LEADS]
    services = [
        ApprovalService(store=ApprovalStore(client), policy=load_policy(policy_path))
        for client in clients
    ]
    request = await create(services[0], Risk.HIGH)
    for client in clients:
        await warm_up(client, 1)

    outcomes = await asyncio.gather(
        *(
            service.handle_click(build_click(lead, request.id), now=NOW)
            for service, lead in zip(services, LEADS, strict=True)
        )
    )
    stored = await services[0].get(request.id)
    for client in clients:
        await client.aclose()

    kinds = sorted(outcome.kind for outcome in outcomes)
    assert kinds == sorted([OutcomeKind.APPROVED, OutcomeKind.RECORDED, OutcomeKind.REFUSED])
    assert stored is not None
    assert len(set(stored.approvers)) == 2


async def test_concurrent_double_clicks_by_one_person_count_once(
    service: ApprovalService, redis: Redis
) -> None:
    request = await create(service, Risk.HIGH)
    await warm_up(redis, 10)

    outcomes = await asyncio.gather(
        *(service.handle_click(build_click(LEADS[0], request.id), now=NOW) for _ in range(10))
    )

    kinds = [outcome.kind for outcome in outcomes]
    assert kinds.count(OutcomeKind.RECORDED) == 1
    assert kinds.count(OutcomeKind.REFUSED) == 9
    assert (await service.get(request.id)).approvers == [LEADS[0]]
