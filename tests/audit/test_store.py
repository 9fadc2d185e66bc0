"""The audit chain in a real Redis: appends link up, races keep it whole, edits are caught."""

import asyncio
import hashlib
import json

import pytest
import redis.asyncio as aioredis

from bot.audit.models import GENESIS_HASH, AuditKind
from bot.audit.redaction import REDACTED
from bot.audit.store import AUDIT_KEY, AuditLog


async def append_three(log):
    await log.append(AuditKind.ALERT, actor="datadog", incident_id="INC-1", data={"n": 1})
    await log.append(AuditKind.DIAGNOSIS, actor="incident-bot", incident_id="INC-1")
    await log.append(AuditKind.CLICK_ALLOWED, actor="U123", incident_id="INC-1")


async def test_appended_entries_link_into_a_chain_that_verifies(redis):
    log = AuditLog(redis)

    await append_three(log)
    entries = [entry async for entry in log.iterate()]
    result = await log.verify()

    assert [entry.seq for entry in entries] == [1, 2, 3]
    assert entries[0].prev_hash == GENESIS_HASH
    assert [entry.prev_hash for entry in entries[1:]] == [entry.hash for entry in entries[:2]]
    assert (result.ok, result.checked, result.first_bad_seq) == (True, 3, None)
    assert result.last_hash == entries[-1].hash


async def test_hash_is_sha256_of_sorted_compact_json_without_the_hash(redis):
    entry = await AuditLog(redis).append(AuditKind.ESCALATION, actor="incident-bot", data={"b": 1})

    stored = json.loads(await redis.lindex(AUDIT_KEY, 0))
    content = {name: value for name, value in stored.items() if name != "hash"}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    assert stored["hash"] == entry.hash == hashlib.sha256(canonical.encode()).hexdigest()
    assert stored["at"].endswith("Z")


async def test_empty_log_verifies_with_nothing_checked(redis):
    result = await AuditLog(redis).verify()

    assert (result.ok, result.checked) == (True, 0)


async def test_concurrent_appends_from_two_clients_keep_seq_continuous(redis, redis_url):
    other = aioredis.Redis.from_url(redis_url)
    # Two logs per client stand for four processes: each has its own in-process queue.
    logs = [AuditLog(redis), AuditLog(redis), AuditLog(other), AuditLog(other)]
    try:
        await asyncio.gather(
            *(
                logs[n % len(logs)].append(AuditKind.STATE_CHANGE, actor=f"worker-{n}")
                for n in range(60)
            )
        )
        entries = [entry async for entry in logs[0].iterate()]
        result = await logs[0].verify()
    finally:
        await other.aclose()

    assert [entry.seq for entry in entries] == list(range(1, 61))
    assert sorted(entry.actor for entry in entries) == sorted(f"worker-{n}" for n in range(60))
    assert (result.ok, result.checked) == (True, 60)


async def test_iterate_reads_every_entry_in_order_across_batches(redis):
    log = AuditLog(redis)
    for n in range(5):
        await log.append(AuditKind.ACTION_STARTED, actor="incident-bot", data={"n": n})

    entries = [entry async for entry in log.iterate(batch_size=2)]

    assert [entry.data["n"] for entry in entries] == [0, 1, 2, 3, 4]


async def test_iterate_from_a_start_skips_the_entries_before_it(redis):
    log = AuditLog(redis)
    for n in range(5):
        await log.append(AuditKind.ACTION_STARTED, actor="incident-bot", data={"n": n})

    entries = [entry async for entry in log.iterate(start=3, batch_size=1)]

    assert [(entry.seq, entry.data["n"]) for entry in entries] == [(4, 3), (5, 4)]


async def test_append_masks_secrets_in_data(redis):
    log = AuditLog(redis)

    entry = await log.append(
        AuditKind.ACTION_FINISHED,
        actor="incident-bot",
        data={"request": {"headers": {"Authorization": "Bearer abcdefgh123"}}, "status": 200},
    )

    stored = (await redis.lindex(AUDIT_KEY, 0)).decode()
    assert entry.data == {"request": {"headers": {"Authorization": REDACTED}}, "status": 200}
    assert "abcdefgh123" not in stored


def change_actor(entry):
    return entry | {"actor": "someone-else"}


def change_actor_and_rehash(entry):
    changed = entry | {"actor": "someone-else"}
    content = {name: value for name, value in changed.items() if name != "hash"}
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return changed | {"hash": hashlib.sha256(canonical.encode()).hexdigest()}


def change_seq_type(entry):
    return entry | {"seq": str(entry["seq"])}


@pytest.mark.parametrize(
    ("edit", "bad_seq", "reason"),
    [
        (change_actor, 2, "hash does not match"),
        (change_actor_and_rehash, 3, "prev_hash does not match the hash of entry 2"),
        (change_seq_type, 2, "expected seq 2"),
    ],
)
async def test_entry_edited_by_hand_breaks_verify_at_that_link(redis, edit, bad_seq, reason):
    log = AuditLog(redis)
    await append_three(log)

    stored = json.loads(await redis.lindex(AUDIT_KEY, 1))
    await redis.lset(AUDIT_KEY, 1, json.dumps(edit(stored)))
    result = await log.verify()

    assert (result.ok, result.first_bad_seq, result.checked) == (False, bad_seq, bad_seq - 1)
    assert reason in result.reason


async def test_removed_entry_shows_as_a_seq_gap(redis):
    log = AuditLog(redis)
    await append_three(log)

    await redis.lrem(AUDIT_KEY, 1, await redis.lindex(AUDIT_KEY, 0))
    result = await log.verify()

    assert (result.ok, result.first_bad_seq) == (False, 1)
    assert "expected seq 1, found 2" in result.reason


async def test_unreadable_entry_is_reported_and_appends_go_on(redis):
    log = AuditLog(redis)
    await append_three(log)

    await redis.lset(AUDIT_KEY, 2, "not json")
    appended = await log.append(AuditKind.ROLLBACK, actor="incident-bot")
    result = await log.verify()

    assert appended.seq == 4
    assert (result.ok, result.first_bad_seq) == (False, 3)
    assert "not a JSON object" in result.reason
