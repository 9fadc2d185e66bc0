"""Incidents in Redis.

Keys (all under `ib:`):
  incident:seq              counter behind INC-n ids
  incident:{id}             hash: doc (the Incident as JSON) and version (for compare-and-set)
  incident:{id}:events      list of Event JSON, the timeline a thread replays
  incident:{id}:alerts      set of alert delivery keys that joined the incident
  incident:{id}:sync        hash: posted (events already in the thread), rendered (root version)
  fp:{fingerprint}          id of the open incident with that fingerprint
  fp-resolved:{fingerprint} id of a recently resolved one, kept for the reopen window
  delivery:{source}:{id}    outcome of an alert delivery already processed
  thread:{platform}:{channel}:{root}  the incident a chat thread belongs to
  incidents                 sorted set of every incident by opening time
  incidents:open            sorted set of open incidents
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from redis.asyncio import Redis

from bot.alerts.models import Alert
from bot.audit.models import AuditKind
from bot.audit.store import AuditLog
from bot.chat.port import ThreadRef
from bot.incidents.models import Event, EventKind, Incident, utcnow
from bot.incidents.states import State, check_transition

logger = logging.getLogger(__name__)

PREFIX = "ib:"

# One script does the whole check-and-create, so concurrent deliveries of one alert to
# several processes can only ever open one incident. The incident key is built inside the
# script from the new id; that is fine on a single Redis, not on a Redis Cluster.
_OPEN_OR_JOIN = """
local seen = redis.call('GET', KEYS[4])
if seen then return {'seen', seen} end
local firing = ARGV[1] == '1'
local id = redis.call('GET', KEYS[1])
local outcome
if id then
  outcome = firing and 'joined' or 'resolving'
elseif not firing then
  outcome = 'ignored'
  id = ''
else
  local recent = redis.call('GET', KEYS[2])
  if recent and ARGV[5] == '1' then
    outcome = 'reopened'
    id = recent
    redis.call('DEL', KEYS[2])
  else
    outcome = 'opened'
    id = 'INC-' .. redis.call('INCR', KEYS[3])
    -- The document arrives without its id; splice it in as the first member.
    local doc = '{"id":"' .. id .. '",' .. string.sub(ARGV[2], 2)
    redis.call('HSET', ARGV[6] .. 'incident:' .. id, 'doc', doc, 'version', 0)
    redis.call('ZADD', ARGV[6] .. 'incidents', ARGV[3], id)
  end
  redis.call('SET', KEYS[1], id)
  redis.call('ZADD', ARGV[6] .. 'incidents:open', ARGV[3], id)
end
if id ~= '' then
  redis.call('SADD', ARGV[6] .. 'incident:' .. id .. ':alerts', KEYS[4])
  redis.call('RPUSH', ARGV[6] .. 'incident:' .. id .. ':events', ARGV[7])
end
redis.call('SET', KEYS[4], outcome .. ' ' .. id, 'EX', ARGV[4])
return {outcome, outcome .. ' ' .. id}
"""

_COMPARE_AND_SET = """
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'doc', ARGV[2], 'version', ARGV[3])
return 1
"""

_RELEASE_FINGERPRINT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  if tonumber(ARGV[2]) > 0 then redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2]) end
end
redis.call('ZREM', KEYS[3], ARGV[1])
return 1
"""


class Outcome(StrEnum):
    OPENED = "opened"
    JOINED = "joined"
    REOPENED = "reopened"
    RESOLVING = "resolving"
    IGNORED = "ignored"


@dataclass(frozen=True)
class Placement:
    """Where an alert landed: the outcome and the incident it belongs to, if any."""

    outcome: Outcome
    incident_id: str | None
    redelivered: bool = False


class ConcurrentUpdate(Exception):
    """The incident changed under us too many times in a row."""


class IncidentStore:
    """Reads and writes incidents; every write that must be atomic is one Lua script."""

    def __init__(
        self,
        redis: Redis,
        *,
        reopen_window_seconds: int,
        dedup_ttl_seconds: int,
        audit: AuditLog | None = None,
    ):
        self.redis = redis
        # Every state change is audited here, in the one place that makes it.
        self.audit = audit
        self.reopen_window_seconds = reopen_window_seconds
        self.dedup_ttl_seconds = dedup_ttl_seconds
        self._open_or_join = redis.register_script(_OPEN_OR_JOIN)
        self._compare_and_set = redis.register_script(_COMPARE_AND_SET)
        self._release_fingerprint = redis.register_script(_RELEASE_FINGERPRINT)

    async def place_alert(self, alert: Alert, *, channel: str) -> Placement:
        """Open an incident for a firing alert, or join the open one with its fingerprint.

        Idempotent per delivery: a second call for the same alert returns the first outcome
        with `redelivered` set.
        """
        draft = to_draft(alert, channel=channel)
        event = to_alert_event(alert)
        keys = [
            _key(f"fp:{alert.fingerprint}"),
            _key(f"fp-resolved:{alert.fingerprint}"),
            _key("incident:seq"),
            _key(f"delivery:{alert.source}:{alert.delivery_id}"),
        ]
        args = [
            "1" if alert.is_firing else "0",
            draft.model_dump_json(exclude={"id"}),
            utcnow().timestamp(),
            self.dedup_ttl_seconds,
            "1" if self.reopen_window_seconds > 0 else "0",
            PREFIX,
            event.model_dump_json(),
        ]
        kind, record = await self._open_or_join(keys=keys, args=args)
        outcome, _, incident_id = _text(record).partition(" ")
        return Placement(
            outcome=Outcome(outcome),
            incident_id=incident_id or None,
            redelivered=_text(kind) == "seen",
        )

    async def get(self, incident_id: str) -> Incident | None:
        doc = await self.redis.hget(_key(f"incident:{incident_id}"), "doc")
        return None if doc is None else Incident.model_validate_json(doc)

    async def update(
        self, incident_id: str, change: Callable[[Incident], Incident | None]
    ) -> Incident:
        """Apply `change` with compare-and-set, retrying when another writer got there first.

        `change` returns the new incident, or None to leave it as it is.
        """
        key = _key(f"incident:{incident_id}")
        for _ in range(20):
            doc, raw_version = await self.redis.hmget(key, ["doc", "version"])
            if doc is None:
                raise KeyError(incident_id)
            current = Incident.model_validate_json(doc)
            version = int(_text(raw_version))
            changed = change(current)
            if changed is None:
                return current
            changed = changed.model_copy(update={"version": version + 1, "updated_at": utcnow()})
            args: list[str | int] = [version, changed.model_dump_json(), changed.version]
            if await self._compare_and_set(keys=[key], args=args):
                return changed
        raise ConcurrentUpdate(incident_id)

    async def transition(
        self, incident_id: str, target: State, *, actor: str, text: str = ""
    ) -> Incident | None:
        """Move an incident to `target` and record it; None when it is already there.

        Raises IllegalTransition when `target` cannot follow the current state.
        """
        moved: list[State] = []

        def change(incident: Incident) -> Incident | None:
            moved.clear()
            if incident.state is target:
                return None
            check_transition(incident.state, target)
            moved.append(incident.state)
            return incident.model_copy(update=_state_fields(target, actor))

        incident = await self.update(incident_id, change)
        if not moved:
            return None
        if target is State.RESOLVED:
            await self._release(incident)
        states = {"from": moved[0], "to": target}
        await self.append_event(
            incident_id, Event(kind=EventKind.STATE_CHANGED, actor=actor, text=text, data=states)
        )
        await self._audit_change(incident_id, actor=actor, data={**states, "text": text})
        return incident

    async def acknowledge(self, incident_id: str, *, actor: str) -> Incident | None:
        """Record who took the incident on; None when someone already had.

        Only a TRIGGERED incident changes state; work under way keeps its state.
        """
        incident = await self.get(incident_id)
        if incident is None or incident.acknowledged_by is not None:
            return None
        if incident.state is State.TRIGGERED:
            return await self.transition(incident_id, State.ACKNOWLEDGED, actor=actor)
        if incident.state is State.RESOLVED:
            check_transition(incident.state, State.ACKNOWLEDGED)
        fields = _state_fields(State.ACKNOWLEDGED, actor)
        del fields["state"]
        acknowledged = await self.update(incident_id, lambda i: i.model_copy(update=fields))
        await self._audit_change(
            incident_id, actor=actor, data={"state": incident.state, "acknowledged_by": actor}
        )
        await self.append_event(
            incident_id, Event(kind=EventKind.NOTE, actor=actor, text=f"acknowledged by {actor}")
        )
        return acknowledged

    async def _audit_change(self, incident_id: str, *, actor: str, data: dict[str, object]) -> None:
        if self.audit is not None:
            await self.audit.append(
                AuditKind.STATE_CHANGE, actor=actor, incident_id=incident_id, data=data
            )

    async def _release(self, incident: Incident) -> None:
        keys = [
            _key(f"fp:{incident.fingerprint}"),
            _key(f"fp-resolved:{incident.fingerprint}"),
            _key("incidents:open"),
        ]
        await self._release_fingerprint(keys=keys, args=[incident.id, self.reopen_window_seconds])

    async def set_thread(self, incident_id: str, thread: ThreadRef) -> Incident:
        """Record where the incident's thread lives, findable from the thread later."""
        key = _key(f"thread:{thread.platform}:{thread.channel}:{thread.root_id}")
        await self.redis.set(key, incident_id)
        return await self.update(
            incident_id, lambda incident: incident.model_copy(update={"thread": thread})
        )

    async def find_by_thread(self, thread: ThreadRef) -> Incident | None:
        key = _key(f"thread:{thread.platform}:{thread.channel}:{thread.root_id}")
        incident_id = await self.redis.get(key)
        return None if incident_id is None else await self.get(_text(incident_id))

    async def append_event(self, incident_id: str, event: Event) -> None:
        await self.redis.rpush(_key(f"incident:{incident_id}:events"), event.model_dump_json())

    async def get_events(self, incident_id: str, start: int = 0) -> list[Event]:
        raw = await self.redis.lrange(_key(f"incident:{incident_id}:events"), start, -1)
        return [Event.model_validate_json(item) for item in raw]

    async def count_alerts(self, incident_id: str) -> int:
        return int(await self.redis.scard(_key(f"incident:{incident_id}:alerts")))

    async def list_open(self) -> list[Incident]:
        return await self._get_many(await self.redis.zrange(_key("incidents:open"), 0, -1))

    async def list_recent(self, limit: int = 20) -> list[Incident]:
        return await self._get_many(await self.redis.zrevrange(_key("incidents"), 0, limit - 1))

    async def _get_many(self, ids: Sequence[object]) -> list[Incident]:
        found = [await self.get(_text(incident_id)) for incident_id in ids]
        return [incident for incident in found if incident is not None]

    async def get_sync(self, incident_id: str) -> tuple[int, int]:
        """How many events the thread shows, and which incident version the root shows."""
        posted, rendered = await self.redis.hmget(
            _key(f"incident:{incident_id}:sync"), ["posted", "rendered"]
        )
        return int(_text(posted or "0")), int(_text(rendered if rendered is not None else "-1"))

    async def set_posted(self, incident_id: str, posted: int) -> None:
        await self.redis.hset(_key(f"incident:{incident_id}:sync"), "posted", posted)

    async def set_rendered(self, incident_id: str, version: int) -> None:
        await self.redis.hset(_key(f"incident:{incident_id}:sync"), "rendered", version)

    async def list_unsynced(self) -> list[str]:
        """Open or recent incidents whose thread is missing or behind their timeline."""
        recent = await self.redis.zrevrange(_key("incidents"), 0, 199)
        ids = [_text(item) for item in recent]
        behind = []
        for incident_id in ids:
            posted, rendered = await self.get_sync(incident_id)
            length = await self.redis.llen(_key(f"incident:{incident_id}:events"))
            incident = await self.get(incident_id)
            if incident and (posted < length or rendered < incident.version or not incident.thread):
                behind.append(incident_id)
        return behind


def to_draft(alert: Alert, *, channel: str) -> Incident:
    """The incident a firing alert opens, before the store gives it an id."""
    return Incident(
        id="",
        fingerprint=alert.fingerprint,
        title=alert.title,
        severity=alert.severity,
        source=alert.source,
        service=alert.service,
        team=alert.team,
        tags=alert.tags,
        channel=channel,
        first_alert_id=alert.delivery_id,
    )


def to_alert_event(alert: Alert) -> Event:
    kind = EventKind.ALERT if alert.is_firing else EventKind.ALERT_RESOLVED
    return Event(
        kind=kind,
        actor=alert.source,
        text=alert.title,
        data={
            "delivery_id": alert.delivery_id,
            "severity": alert.severity,
            "message": alert.message[:2000],
            "links": [link.model_dump() for link in alert.links],
        },
    )


def _state_fields(target: State, actor: str) -> dict[str, object]:
    now = utcnow()
    fields: dict[str, object] = {"state": target}
    if target is State.ACKNOWLEDGED:
        fields |= {"acknowledged_by": actor, "acknowledged_at": now}
    elif target is State.RESOLVED:
        fields |= {"resolved_by": actor, "resolved_at": now}
    elif target is State.TRIGGERED:
        fields |= {"resolved_by": None, "resolved_at": None}
    return fields


def _key(name: str) -> str:
    return PREFIX + name


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
