"""The ticket sync's state in Redis. The incident's timeline itself is the outbox.

Keys (all under `ib:`):
  incident:{id}:ticket      hash: the TicketPointer (issue key, events posted, state...)
  ticket:key:{key}          the incident a Jira issue belongs to, by issue key
  ticket:id:{id}            the same, by Jira's numeric issue id
  tickets:dead              hash: incident id -> the DeadLetter its ticket sync waits behind
  tickets:account           JSON list of the ids of the account the bot writes to Jira as
  tickets:seen:{delivery}   a Jira webhook delivery already turned into a timeline event
  tickets:since             when the sweep first looked for lagging tickets (epoch seconds)
  lock:ticket:{id}          held by whoever syncs the incident's ticket
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

from redis.asyncio import Redis
from redis.asyncio.lock import Lock
from redis.typing import EncodableT, FieldT

from bot.tickets.models import DeadLetter, TicketPointer, TicketRef

PREFIX = "ib:"
LOCK_TIMEOUT_SECONDS = 120


class TicketStore:
    """Reads and writes the ticket sync's pointers, dead letters and webhook dedup keys."""

    def __init__(self, redis: Redis, *, seen_ttl_seconds: int = 7 * 86_400) -> None:
        self.redis = redis
        self.seen_ttl_seconds = seen_ttl_seconds

    def lock(self, incident_id: str) -> Lock:
        return self.redis.lock(_key(f"lock:ticket:{incident_id}"), timeout=LOCK_TIMEOUT_SECONDS)

    async def get_pointer(self, incident_id: str) -> TicketPointer:
        raw = await self.redis.hgetall(_pointer_key(incident_id))
        return TicketPointer.model_validate({_text(k): _text(v) for k, v in raw.items()})

    async def update_pointer(self, incident_id: str, fields: Mapping[str, object]) -> None:
        """Write the given pointer fields; a None value removes the field."""
        present: dict[FieldT, EncodableT] = {
            name: _to_field(value) for name, value in fields.items() if value is not None
        }
        absent = [name for name, value in fields.items() if value is None]
        async with self.redis.pipeline(transaction=True) as pipe:
            if present:
                pipe.hset(_pointer_key(incident_id), mapping=present)
            if absent:
                pipe.hdel(_pointer_key(incident_id), *absent)
            await pipe.execute()

    async def set_issue(
        self, incident_id: str, ref: TicketRef, fields: Mapping[str, object]
    ) -> None:
        """Record the incident's issue, findable from its key and id, with pointer fields."""
        await self.redis.set(_key(f"ticket:key:{ref.key}"), incident_id)
        if ref.id:
            await self.redis.set(_key(f"ticket:id:{ref.id}"), incident_id)
        await self.update_pointer(incident_id, {"key": ref.key, "issue_id": ref.id, **fields})

    async def find_incident(self, *, key: str | None, issue_id: str | None) -> str | None:
        names = [f"ticket:key:{key}"] if key else []
        if issue_id:
            names.append(f"ticket:id:{issue_id}")
        for name in names:
            if (found := await self.redis.get(_key(name))) is not None:
                return _text(found)
        return None

    async def park(self, letter: DeadLetter) -> None:
        """Put the refused operation on the dead-letter list and stop the incident's sync."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(_key("tickets:dead"), letter.incident_id, letter.model_dump_json())
            pipe.hset(_pointer_key(letter.incident_id), "parked", "1")
            await pipe.execute()

    async def unpark(self, incident_id: str) -> DeadLetter | None:
        """Take the incident off the dead-letter list and let its sync start afresh.

        Returns the dead letter, or None (changing nothing) when the incident had none.
        """
        letter = await self.get_dead_letter(incident_id)
        if letter is None:
            return None
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(_key("tickets:dead"), incident_id)
            pipe.hset(_pointer_key(incident_id), mapping={"parked": "0", "failures": "0"})
            pipe.hdel(_pointer_key(incident_id), "hold_until", "creating")
            await pipe.execute()
        return letter

    async def get_dead_letter(self, incident_id: str) -> DeadLetter | None:
        raw = await self.redis.hget(_key("tickets:dead"), incident_id)
        return None if raw is None else DeadLetter.model_validate_json(raw)

    async def list_dead_letters(self) -> list[DeadLetter]:
        raw = await self.redis.hvals(_key("tickets:dead"))
        return sorted((DeadLetter.model_validate_json(item) for item in raw), key=lambda d: d.at)

    async def get_account(self) -> frozenset[str]:
        raw = await self.redis.get(_key("tickets:account"))
        return frozenset() if raw is None else frozenset(json.loads(raw))

    async def set_account(self, ids: frozenset[str]) -> None:
        await self.redis.set(_key("tickets:account"), json.dumps(sorted(ids)))

    async def get_since(self) -> float:
        """When the sweep first ran on this Redis; the first call sets it to now."""
        await self.redis.set(_key("tickets:since"), time.time(), nx=True)
        return float(_text(await self.redis.get(_key("tickets:since"))))

    async def is_new_delivery(self, delivery_id: str) -> bool:
        """Remember a webhook delivery; False when it was seen before."""
        key = _key(f"tickets:seen:{delivery_id}")
        return bool(await self.redis.set(key, 1, nx=True, ex=self.seen_ttl_seconds))

    async def forget_delivery(self, delivery_id: str) -> None:
        await self.redis.delete(_key(f"tickets:seen:{delivery_id}"))


def _to_field(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


def _pointer_key(incident_id: str) -> str:
    return _key(f"incident:{incident_id}:ticket")


def _key(name: str) -> str:
    return PREFIX + name


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
