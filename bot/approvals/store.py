"""Approval requests in Redis.

Keys (all under `ib:`):
  approval:{id}                        hash: doc (the request as JSON, without its status),
                                       status, and version (for compare-and-set)
  approval-step:{incident}:{step}      id of the step's latest request
  approval-attempt:{incident}:{step}   counter behind the step's attempt numbers
  approvals:pending                    sorted set of pending request ids by expiry time
  approvals:incident:{incident}        sorted set of an incident's request ids by creation time

The status lives beside the document so that creating a request can supersede the step's
previous one inside the same script, without decoding JSON in Lua.

Known limit: requests are kept without a time to live, like incidents; the audit log, not
this store, is the lasting record, so a retention sweep may delete closed requests freely.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from redis.asyncio import Redis

from bot.approvals.models import ApprovalRequest, RequestStatus

logger = logging.getLogger(__name__)

PREFIX = "ib:"
MAX_ATTEMPTS = 50

_CREATE = """
local previous = redis.call('GET', KEYS[1])
redis.call('SET', KEYS[1], ARGV[1])
redis.call('HSET', KEYS[2], 'doc', ARGV[2], 'status', 'pending', 'version', 0)
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
if not previous or previous == ARGV[1] then return false end
local previous_key = ARGV[5] .. 'approval:' .. previous
if redis.call('HGET', previous_key, 'status') ~= 'pending' then return false end
redis.call('HSET', previous_key, 'status', 'superseded')
redis.call('HINCRBY', previous_key, 'version', 1)
redis.call('ZREM', KEYS[3], previous)
return previous
"""

_COMPARE_AND_SET = """
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'doc', ARGV[2], 'status', ARGV[3], 'version', ARGV[1] + 1)
if ARGV[3] ~= 'pending' then redis.call('ZREM', KEYS[2], ARGV[4]) end
return 1
"""


class ConcurrentUpdate(Exception):
    """The request changed under us too many times in a row."""


class ApprovalStore:
    """Reads and writes approval requests; every change is a compare-and-set script."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._create = redis.register_script(_CREATE)
        self._compare_and_set = redis.register_script(_COMPARE_AND_SET)

    async def get_next_attempt(self, incident_id: str, step_id: str) -> int:
        return int(await self.redis.incr(_key(f"approval-attempt:{incident_id}:{step_id}")))

    async def create(self, request: ApprovalRequest) -> str | None:
        """Store a new pending request; returns the id of the pending one it superseded."""
        keys = [
            _key(f"approval-step:{request.incident_id}:{request.step_id}"),
            _key(f"approval:{request.id}"),
            _key("approvals:pending"),
            _key(f"approvals:incident:{request.incident_id}"),
        ]
        args: list[str | float] = [
            request.id,
            _to_doc(request),
            request.expires_at.timestamp(),
            request.created_at.timestamp(),
            PREFIX,
        ]
        superseded = await self._create(keys=keys, args=args)
        return None if superseded is None else _text(superseded)

    async def get(self, request_id: str) -> ApprovalRequest | None:
        found = await self._read(request_id)
        return None if found is None else found[0]

    async def update(
        self, request_id: str, change: Callable[[ApprovalRequest], ApprovalRequest | None]
    ) -> ApprovalRequest | None:
        """Apply `change` with compare-and-set, retrying when another writer got there first.

        `change` returns the new request, or None to leave it as it is; the answer is the
        request as stored afterwards, or None when there is no such request.
        """
        key = _key(f"approval:{request_id}")
        for _ in range(MAX_ATTEMPTS):
            found = await self._read(request_id)
            if found is None:
                return None
            current, version = found
            changed = change(current)
            if changed is None:
                return current
            args: list[str | int] = [version, _to_doc(changed), changed.status.value, request_id]
            if await self._compare_and_set(keys=[key, _key("approvals:pending")], args=args):
                return changed
        raise ConcurrentUpdate(request_id)

    async def list_due(self, now: datetime) -> list[str]:
        """Ids of pending requests whose expiry time has come."""
        due = await self.redis.zrangebyscore(_key("approvals:pending"), "-inf", now.timestamp())
        return [_text(item) for item in due]

    async def list_for_incident(self, incident_id: str) -> list[ApprovalRequest]:
        ids = await self.redis.zrange(_key(f"approvals:incident:{incident_id}"), 0, -1)
        found = [await self.get(_text(request_id)) for request_id in ids]
        return [request for request in found if request is not None]

    async def _read(self, request_id: str) -> tuple[ApprovalRequest, int] | None:
        doc, status, version = await self.redis.hmget(
            _key(f"approval:{request_id}"), ["doc", "status", "version"]
        )
        if doc is None:
            return None
        request = ApprovalRequest.model_validate_json(doc)
        request = request.model_copy(update={"status": RequestStatus(_text(status))})
        return request, int(_text(version))


def _to_doc(request: ApprovalRequest) -> str:
    return request.model_dump_json(exclude={"status"})


def _key(name: str) -> str:
    return PREFIX + name


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
