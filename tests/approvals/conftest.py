"""Fixtures: the test policy loaded from a file, and a store and service on real Redis."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.approvals.policy import Policy, load_policy
from bot.approvals.service import ApprovalService
from bot.approvals.store import ApprovalStore
from tests.approvals.factories import POLICY, write_policy


@pytest.fixture
def policy_path(tmp_path: Path) -> Path:
    return write_policy(tmp_path, POLICY)


@pytest.fixture
def policy(policy_path: Path) -> Policy:
    return load_policy(policy_path)


@pytest.fixture
def store(redis: Redis) -> ApprovalStore:
    return ApprovalStore(redis)


@pytest.fixture
def service(store: ApprovalStore, policy: Policy) -> ApprovalService:
    return ApprovalService(store=store, policy=policy)
