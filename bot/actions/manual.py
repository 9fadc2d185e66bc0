"""A step a person carries out and marks done in the thread.

Executing it only records that the bot is waiting; `mark_done` (a button, a console command)
records the person's answer, which the `manual` verification then reads.
"""

from __future__ import annotations

from enum import StrEnum

import redis.asyncio as aioredis

from bot.actions import messages
from bot.actions.models import ActionContext, ActionError, ActionResult, ActionStatus, Preview
from bot.runbooks.models import Action, ManualAction


class ManualState(StrEnum):
    WAITING = "waiting"
    DONE = "done"
    FAILED = "failed"


def to_manual_key(ctx: ActionContext) -> str:
    return f"ib:manual:{ctx.incident_id}:{ctx.step_id}:{ctx.attempt}"


class ManualExecutor:
    """Runs `manual` actions: waits for a person instead of calling a system."""

    kinds = frozenset({"manual"})

    def __init__(self, redis: aioredis.Redis, *, ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl_seconds = ttl_seconds

    async def preview(self, action: Action, ctx: ActionContext) -> Preview:
        instructions = _to_instructions(action)
        summary = messages.build_manual_preview(instructions)
        return Preview(kind=action.kind, summary=summary, data={"instructions": instructions})

    async def execute(self, action: Action, ctx: ActionContext) -> ActionResult:
        instructions = _to_instructions(action)
        await self._redis.set(
            to_manual_key(ctx), ManualState.WAITING, nx=True, ex=self._ttl_seconds
        )
        return ActionResult(
            kind=action.kind,
            status=ActionStatus.WAITING,
            summary=messages.build_manual_waiting(instructions),
            data={"instructions": instructions},
        )

    async def rollback(
        self, rollback_spec: Action, result: ActionResult, ctx: ActionContext
    ) -> ActionResult:
        instructions = _to_instructions(rollback_spec)
        return ActionResult(
            kind=rollback_spec.kind,
            status=ActionStatus.WAITING,
            summary=messages.build_manual_rollback_waiting(instructions),
            data={"instructions": instructions},
        )

    async def mark_done(self, ctx: ActionContext, *, succeeded: bool = True) -> None:
        """Record a person's answer: done, or tried and it did not work."""
        state = ManualState.DONE if succeeded else ManualState.FAILED
        await self._redis.set(to_manual_key(ctx), state, ex=self._ttl_seconds)

    async def get_state(self, ctx: ActionContext) -> ManualState | None:
        value = await self._redis.get(to_manual_key(ctx))
        if value is None:
            return None
        return ManualState(value.decode() if isinstance(value, bytes) else value)


def _to_instructions(action: Action) -> str:
    if not isinstance(action, ManualAction):
        raise ActionError(messages.build_unknown_kind_refusal(action.kind))
    return action.params.instructions
