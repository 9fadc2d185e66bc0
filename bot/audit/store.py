"""The audit log: an append-only, hash-chained list in Redis.

Keys (under `ib:`):
  audit     list of entries as canonical JSON; entry `seq` sits at index `seq - 1`

Appending is optimistic. The writer reads the last entry, builds and hashes the next one in
Python (Redis Lua offers SHA-1 only), and a script pushes it only if the list still has the
length the writer saw. Otherwise another writer got there first, and the writer starts over
from the new last entry. A lock would serialise writers too, but one that expires while its
holder is paused lets a second writer in and forks the chain; the length check cannot be
outlived. Within one process an asyncio lock queues writers, so only writers in different
processes ever race.

Nothing here edits or removes an entry.

Known limit: the chain proves nothing about entries cut from its end; keep the `checked`
count and `last_hash` that `verify` returns somewhere outside Redis to prove the tail too.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

from bot.audit import messages
from bot.audit.models import GENESIS_HASH, AuditEntry, AuditKind, VerifyResult, to_hash
from bot.audit.redaction import redact
from bot.errors import BotError

logger = logging.getLogger(__name__)

AUDIT_KEY = "ib:audit"
BATCH_SIZE = 500
# Each lost race means another process appended; this many in a row means something is wrong.
MAX_ATTEMPTS = 100

_APPEND_IF_LENGTH = """
if redis.call('LLEN', KEYS[1]) ~= tonumber(ARGV[1]) then return 0 end
redis.call('RPUSH', KEYS[1], ARGV[2])
return 1
"""


class AuditContention(BotError):
    """Other writers kept winning the race for the chain's head."""


class AuditLog:
    """Appends to, reads and verifies the audit chain."""

    def __init__(self, redis: Redis) -> None:
        self.redis = redis
        self._append_if_length = redis.register_script(_APPEND_IF_LENGTH)
        self._local_writers = asyncio.Lock()

    async def append(
        self,
        kind: AuditKind,
        *,
        actor: str,
        incident_id: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> AuditEntry:
        """Chain a new entry onto the log, with secrets in `data` masked.

        Raises AuditContention when other processes win the race MAX_ATTEMPTS times in a row.
        """
        fields: dict[str, Any] = {"kind": kind, "actor": actor, "incident_id": incident_id}
        fields["data"] = redact(data or {})
        async with self._local_writers:
            for _ in range(MAX_ATTEMPTS):
                seq, prev_hash = await self._get_head()
                entry = AuditEntry.model_validate(fields | {"seq": seq, "prev_hash": prev_hash})
                entry = entry.with_hash()
                if await self._append_if_length(keys=[AUDIT_KEY], args=[seq - 1, entry.to_json()]):
                    return entry
                logger.debug("audit append lost the race for seq %d; retrying", seq)
        raise AuditContention(messages.to_contention(MAX_ATTEMPTS))

    async def count(self) -> int:
        return int(await self.redis.llen(AUDIT_KEY))

    async def iterate(
        self, *, start: int = 0, batch_size: int = BATCH_SIZE
    ) -> AsyncIterator[AuditEntry]:
        """Every entry in chain order from the `start`-th (0-based), read in batches."""
        async for raw in self.iterate_json(start=start, batch_size=batch_size):
            yield AuditEntry.model_validate_json(raw)

    async def iterate_json(
        self, *, start: int = 0, batch_size: int = BATCH_SIZE
    ) -> AsyncIterator[str]:
        """Every entry in chain order as the JSON text stored, whatever it holds."""
        while batch := await self.redis.lrange(AUDIT_KEY, start, start + batch_size - 1):
            for raw in batch:
                yield raw.decode() if isinstance(raw, bytes) else str(raw)
            start += len(batch)

    async def verify(self, *, batch_size: int = BATCH_SIZE) -> VerifyResult:
        """Walk the chain: each hash recomputed, each link and seq checked, stop at the first fault.

        Entries are checked as stored, not as parsed, so a value whose type was changed by
        hand cannot slip through a lenient parse.
        """
        checked = 0
        prev_hash = GENESIS_HASH
        async for raw in self.iterate_json(batch_size=batch_size):
            seq = checked + 1
            fields = _to_fields(raw)
            reason = _get_fault(fields, seq=seq, prev_hash=prev_hash)
            if reason is not None:
                logger.warning("audit chain broken at seq %d: %s", seq, reason)
                return VerifyResult(ok=False, checked=checked, first_bad_seq=seq, reason=reason)
            prev_hash = str(fields["hash"])
            checked = seq
        return VerifyResult(ok=True, checked=checked, last_hash=prev_hash)

    async def _get_head(self) -> tuple[int, str]:
        """The next seq and the hash it must link to.

        The seq comes from the list's length, so an entry altered by hand cannot stop
        appends; `verify` reports it instead.
        """
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.llen(AUDIT_KEY)
            pipe.lindex(AUDIT_KEY, -1)
            length, last = await pipe.execute()
        if last is None:
            return 1, GENESIS_HASH
        return int(length) + 1, str(_to_fields(last).get("hash", ""))


def _to_fields(raw: str | bytes) -> dict[str, Any]:
    """The stored entry's fields, or an empty dict for text that is not a JSON object."""
    try:
        fields = json.loads(raw)
    except ValueError:
        return {}
    return fields if isinstance(fields, dict) else {}


def _get_fault(fields: dict[str, Any], *, seq: int, prev_hash: str) -> str | None:
    """Why the entry stored at position `seq` breaks the chain, or None when it holds.

    Only the chain's own fields are checked for shape: an entry of a kind this version does
    not know is still a sound link.
    """
    if not fields:
        return messages.to_unreadable_entry()
    if fields.get("seq") != seq:
        return messages.to_seq_gap(expected=seq, found=fields.get("seq"))
    if fields.get("hash") != to_hash(fields):
        return messages.to_hash_mismatch()
    if fields.get("prev_hash") != prev_hash:
        return messages.to_broken_link(seq - 1)
    return None
