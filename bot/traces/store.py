"""Recording incident traces in Redis.

Keys (under `ib:`):
  trace:{incident_id}   list of TraceStep JSON in step order; step `seq` sits at `seq - 1`
  traces                sorted set of traced incidents by the time of their first step

Known limit: traces never expire; they are kept for distillation until removed by hand.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from redis.asyncio import Redis

from bot.audit.redaction import redact
from bot.traces.bounds import get_size, to_bounded
from bot.traces.models import OpenStep, StepKind, Trace, TraceStep

logger = logging.getLogger(__name__)

PREFIX = "ib:"
# A Claude answer or a task log excerpt fits; a whole log or a DataFrame dump does not.
MAX_VALUE_BYTES = 32_000
MAX_STRING_CHARS = 8_000

# The seq is the list's length at the moment of the push, so two writers cannot take the
# same one, and the step is spliced in with it as its first member.
_APPEND_STEP = """
local seq = redis.call('LLEN', KEYS[1]) + 1
redis.call('RPUSH', KEYS[1], '{"seq":' .. seq .. ',' .. string.sub(ARGV[1], 2))
redis.call('ZADD', KEYS[2], 'NX', ARGV[2], ARGV[3])
return seq
"""


class TraceRecorder:
    """Appends steps to incident traces and reads them back; secrets are masked on the way in."""

    def __init__(
        self,
        redis: Redis,
        *,
        max_value_bytes: int = MAX_VALUE_BYTES,
        max_string_chars: int = MAX_STRING_CHARS,
    ) -> None:
        self.redis = redis
        self.max_value_bytes = max_value_bytes
        self.max_string_chars = max_string_chars
        self._append_step = redis.register_script(_APPEND_STEP)

    async def add_step(
        self,
        incident_id: str,
        kind: StepKind,
        name: str,
        *,
        input: Any = None,
        output: Any = None,
        duration_ms: float | None = None,
        error: str | None = None,
    ) -> TraceStep:
        """Append one step to the incident's trace and return it with its seq."""
        masked_input, masked_output = redact(input), redact(output)
        step = TraceStep(
            kind=kind,
            name=name,
            input=self._to_bounded(masked_input),
            output=self._to_bounded(masked_output),
            duration_ms=duration_ms,
            size_bytes=get_size(masked_input) + get_size(masked_output),
            error=None if error is None else redact(error),
        )
        keys = [_key(f"trace:{incident_id}"), _key("traces")]
        args: list[str | float] = [
            step.model_dump_json(exclude={"seq"}),
            step.at.timestamp(),
            incident_id,
        ]
        seq = int(await self._append_step(keys=keys, args=args))
        return step.model_copy(update={"seq": seq})

    @asynccontextmanager
    async def step(
        self, incident_id: str, kind: StepKind, name: str, *, input: Any = None
    ) -> AsyncIterator[OpenStep]:
        """Time the block and record it as one step, whether it returns or raises.

        The block sets `output` (and `error` for a failure that raises nothing) on the
        object it is given:

            async with traces.step(incident_id, StepKind.EVIDENCE_CALL, "airflow.log") as step:
                step.output = await airflow.get_log(...)
        """
        opened = OpenStep()
        started = time.perf_counter()
        try:
            yield opened
        except asyncio.CancelledError:
            opened.error = "cancelled"
            raise
        except Exception as exc:
            opened.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            await self.add_step(
                incident_id,
                kind,
                name,
                input=input,
                output=opened.output,
                duration_ms=(time.perf_counter() - started) * 1000,
                error=opened.error,
            )

    async def get_trace(self, incident_id: str) -> Trace:
        """The incident's steps in order; none when nothing was recorded."""
        raw = await self.redis.lrange(_key(f"trace:{incident_id}"), 0, -1)
        steps = [TraceStep.model_validate_json(item) for item in raw]
        return Trace(incident_id=incident_id, steps=steps)

    async def list_incident_ids(self) -> list[str]:
        """Every traced incident, oldest first trace step first."""
        ids = await self.redis.zrange(_key("traces"), 0, -1)
        return [item.decode() if isinstance(item, bytes) else str(item) for item in ids]

    def _to_bounded(self, value: Any) -> Any:
        return to_bounded(value, max_bytes=self.max_value_bytes, max_chars=self.max_string_chars)


def _key(name: str) -> str:
    return PREFIX + name
