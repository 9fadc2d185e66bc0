"""The drills' own set-up, without the sandbox: their approval policy and their Redis."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from bot.approvals.models import Risk
from bot.approvals.policy import load_policy
from bot.chaos.drills import write_policy
from bot.chaos.harness import DrillOptions, to_slack_user
from bot.chaos.redis_server import open_redis_server
from bot.chaos.scenarios import BUILTIN_DIR, get_scenarios
from bot.chat.port import ButtonClick
from bot.state import to_retry


def test_policy_names_every_scripted_approver_and_the_drills_window(tmp_path: Path) -> None:
    options = DrillOptions(root=tmp_path, approval_window_seconds=30)
    scenarios = get_scenarios(BUILTIN_DIR).scenarios

    policy = load_policy(write_policy(options, scenarios))

    roles = policy.get_roles(Risk.HIGH)
    for name in ("approver-1", "approver-2"):
        click = ButtonClick(platform="slack", user=to_slack_user(name), action="approve", value="")
        assert policy.is_member(click, roles)
    stranger = ButtonClick(platform="slack", user="U0STRANGER", action="approve", value="")
    assert not policy.is_member(stranger, roles)
    assert policy.get_needed(Risk.HIGH) == 2
    assert policy.get_needed(Risk.MEDIUM) == 1
    assert policy.get_open_minutes(Risk.LOW) == 0.5
    assert not policy.is_observing


def test_slack_user_of_an_approver_looks_like_a_slack_id() -> None:
    assert to_slack_user("approver-1") == "UAPPROVER1"
    assert to_slack_user("on-call lead") == "UONCALLLEAD"


async def test_restarted_redis_keeps_writes_and_the_bots_client_rides_it_out(
    tmp_path: Path,
) -> None:
    async with open_redis_server(tmp_path / "redis") as server:
        # The client as the bot builds it: its dropped connection is retried, not raised.
        client = Redis.from_url(server.url, retry=to_retry())
        try:
            await client.set("incident", "INC-7")
            await server.restart()
            assert await client.get("incident") == b"INC-7"
        finally:
            await client.aclose()


async def test_a_new_drill_redis_starts_empty(tmp_path: Path) -> None:
    folder = tmp_path / "redis"
    async with open_redis_server(folder) as server:
        client = Redis.from_url(server.url)
        await client.set("left-over", "1")
        await client.aclose()

    async with open_redis_server(folder) as server:
        client = Redis.from_url(server.url)
        try:
            assert await client.get("left-over") is None
        finally:
            await client.aclose()
