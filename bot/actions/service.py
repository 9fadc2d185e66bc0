"""Running one approved remediation step: once, verified, rolled back when it did not work.

    runner = build_action_runner(settings, http=http, redis=redis)
    outcome = await runner.run(step, incident_id="inc-1", attempt=1, ctx=RunContext(values))

The idempotency key `ib:action:{incident}:{step}:{attempt}` is taken with SET NX before
anything is sent, so a double click, a retried job or a second worker gets the recorded
outcome (or "already running") instead of a second execution. The final outcome is
recorded under the same key.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable

import httpx
import redis.asyncio as aioredis

from bot.actions import messages
from bot.actions.airflow import AirflowExecutor
from bot.actions.base import Executor
from bot.actions.http import HttpExecutor, to_allowed_hosts, to_secrets
from bot.actions.manual import ManualExecutor
from bot.actions.models import (
    ActionContext,
    ActionRefused,
    ActionResult,
    ActionStatus,
    Preview,
    RunContext,
    RunOutcome,
    RunStatus,
    VerificationResult,
    VerificationStatus,
)
from bot.actions.params import to_filled_spec
from bot.actions.verification import Verifier
from bot.contracts.service import load_contracts
from bot.diagnosis.collectors.http import record_calls
from bot.diagnosis.service import build_airflow_api
from bot.errors import BotError
from bot.runbooks.models import Action, RemediationStep
from bot.settings import Settings

logger = logging.getLogger(__name__)

# Names only the action itself can fill (set_variable records the value it replaced).
RESULT_PLACEHOLDERS = frozenset({"previous_value", "dag_run_id"})


def to_action_key(incident_id: str, step_id: str, attempt: int) -> str:
    return f"ib:action:{incident_id}:{step_id}:{attempt}"


class ActionRunner:
    """Previews, runs and confirms remediation steps through the executors of their kinds."""

    def __init__(
        self,
        *,
        redis: aioredis.Redis,
        executors: Iterable[Executor],
        verifier: Verifier,
        manual: ManualExecutor,
        ttl_seconds: int,
    ) -> None:
        self._redis = redis
        self._executors = {kind: executor for executor in executors for kind in executor.kinds}
        self._verifier = verifier
        self._manual = manual
        self._ttl_seconds = ttl_seconds

    async def preview(self, step: RemediationStep, *, incident_id: str, ctx: RunContext) -> Preview:
        """What the step would do, from reads only (and Airflow's dry-run clear).

        Raises ActionRefused for an unfilled placeholder or a kind without an executor.
        """
        action_ctx = ActionContext(incident_id, step.id, 1, ctx.values)
        action = to_filled_spec(step.action, ctx.values, step_id=step.id)
        with record_calls(incident_id):
            return await self._get_executor(action).preview(action, action_ctx)

    async def run(
        self, step: RemediationStep, *, incident_id: str, attempt: int, ctx: RunContext
    ) -> RunOutcome:
        """Run the step once for this attempt, verify it, and roll it back if that fails.

        Never raises for a refusal or a failed call: the outcome says what happened. The
        outcome's `calls` lists the outside calls this call made, for the incident's trace.
        """
        with record_calls(incident_id) as call_log:
            outcome = await self._run(step, incident_id=incident_id, attempt=attempt, ctx=ctx)
        return outcome.model_copy(update={"calls": call_log.calls})

    async def _run(
        self, step: RemediationStep, *, incident_id: str, attempt: int, ctx: RunContext
    ) -> RunOutcome:
        key = to_action_key(incident_id, step.id, attempt)
        action_ctx = ActionContext(incident_id, step.id, attempt, ctx.values)
        try:
            action = self._to_checked_action(step, ctx)
            executor = self._get_executor(action)
        except ActionRefused as exc:
            logger.info("action %s refused: %s", key, exc, extra={"incident_id": incident_id})
            return self._to_outcome(key, step, RunStatus.REFUSED, error=str(exc))
        running = self._to_outcome(key, step, RunStatus.RUNNING)
        if not await self._redis.set(key, running.model_dump_json(), nx=True, ex=self._ttl_seconds):
            return await self._get_duplicate(key, step)

        started = time.perf_counter()
        # Known limit: a job cancelled while its action runs leaves the key "running" until
        # it expires; the next attempt number runs the step again.
        try:
            result = await executor.execute(action, action_ctx)
        except ActionRefused as exc:
            # Refused before anything was sent: free the key so a corrected setting can run it.
            await self._redis.delete(key)
            logger.info("action %s refused: %s", key, exc, extra={"incident_id": incident_id})
            return self._to_outcome(key, step, RunStatus.REFUSED, error=str(exc))
        except BotError as exc:
            outcome = self._to_failed(key, step, str(exc), started)
            return await self._record(outcome, incident_id)
        except Exception:
            await self._record(self._to_failed(key, step, "unexpected error", started), incident_id)
            raise
        durations = {"action_ms": _since(started)}
        outcome = await self._settle(step, result, action_ctx, durations=durations)
        return await self._record(outcome, incident_id)

    async def confirm(
        self,
        step: RemediationStep,
        *,
        incident_id: str,
        attempt: int,
        ctx: RunContext,
        succeeded: bool = True,
    ) -> RunOutcome:
        """A person marks a step that waits for them done (or reports it did not work).

        Only the first confirmation of a waiting step counts; any other call returns the
        recorded outcome with `duplicate` set.
        """
        with record_calls(incident_id) as call_log:
            outcome = await self._confirm(
                step, incident_id=incident_id, attempt=attempt, ctx=ctx, succeeded=succeeded
            )
        return outcome.model_copy(update={"calls": call_log.calls})

    async def _confirm(
        self,
        step: RemediationStep,
        *,
        incident_id: str,
        attempt: int,
        ctx: RunContext,
        succeeded: bool,
    ) -> RunOutcome:
        key = to_action_key(incident_id, step.id, attempt)
        recorded = await self.get_outcome(incident_id, step.id, attempt)
        if recorded is None or recorded.status != RunStatus.WAITING or recorded.result is None:
            return await self._get_duplicate(key, step)
        if not await self._redis.set(
            f"{key}:confirm", ctx.actor or "-", nx=True, ex=self._ttl_seconds
        ):
            return await self._get_duplicate(key, step)

        action_ctx = ActionContext(incident_id, step.id, attempt, ctx.values)
        await self._manual.mark_done(action_ctx, succeeded=succeeded)
        result = recorded.result.model_copy(update={"status": ActionStatus.DONE})
        durations = dict(recorded.durations_ms)
        outcome = await self._settle(step, result, action_ctx, durations=durations)
        return await self._record(outcome, incident_id)

    async def roll_back(
        self, step: RemediationStep, *, incident_id: str, attempt: int, ctx: RunContext
    ) -> RunOutcome | None:
        """Undo a step that ran and verified, because a later step of the fix failed.

        Returns None when there is nothing to undo: no rollback declared, the step never
        ran or did not verify, or it was rolled back already (only the first call acts).
        """
        recorded = await self.get_outcome(incident_id, step.id, attempt)
        if step.rollback is None or recorded is None or recorded.result is None:
            return None
        if not recorded.verified or recorded.rolled_back:
            return None
        key = to_action_key(incident_id, step.id, attempt)
        if not await self._redis.set(f"{key}:rollback", "1", nx=True, ex=self._ttl_seconds):
            return None
        action_ctx = ActionContext(incident_id, step.id, attempt, ctx.values)
        with record_calls(incident_id) as call_log:
            details = [messages.build_undoing(step.id)]
            outcome = await self._roll_back(
                step, recorded, recorded.result, action_ctx, details=details
            )
        await self._record(outcome, incident_id)
        return outcome.model_copy(update={"calls": call_log.calls})

    async def get_outcome(self, incident_id: str, step_id: str, attempt: int) -> RunOutcome | None:
        """The outcome recorded for this attempt of the step, if it has started."""
        raw = await self._redis.get(to_action_key(incident_id, step_id, attempt))
        return None if raw is None else RunOutcome.model_validate_json(raw)

    async def _settle(
        self,
        step: RemediationStep,
        result: ActionResult,
        ctx: ActionContext,
        *,
        durations: dict[str, float],
    ) -> RunOutcome:
        """Verify what the action did and roll it back when that fails."""
        key = to_action_key(ctx.incident_id, step.id, ctx.attempt)
        if result.status == ActionStatus.WAITING:
            return self._to_outcome(
                key,
                step,
                RunStatus.WAITING,
                result=result,
                durations=durations,
                details=[result.summary],
            )

        started = time.perf_counter()
        verification = await self._verify(step, result, ctx)
        durations = {**durations, "verification_ms": _since(started)}
        details = [result.summary, verification.summary]
        waiting = verification.status == VerificationStatus.WAITING
        status = RunStatus.WAITING if waiting else RunStatus.EXECUTED
        outcome = self._to_outcome(
            key, step, status, result=result, durations=durations, details=details
        ).model_copy(update={"verification": verification})
        if waiting:
            return outcome
        if verification.status == VerificationStatus.PASSED:
            return outcome.model_copy(update={"verified": True})
        failed = outcome.model_copy(update={"verified": False})
        return await self._roll_back(step, failed, result, ctx, details=details)

    async def _verify(
        self, step: RemediationStep, result: ActionResult, ctx: ActionContext
    ) -> VerificationResult:
        values = {**ctx.values, **result.values}
        try:
            check = to_filled_spec(step.verification, values, step_id=step.id)
            return await self._verifier.verify(check, result, ctx)
        except BotError as exc:
            return VerificationResult(
                kind=step.verification.kind, status=VerificationStatus.FAILED, summary=str(exc)
            )

    async def _roll_back(
        self,
        step: RemediationStep,
        outcome: RunOutcome,
        result: ActionResult,
        ctx: ActionContext,
        *,
        details: list[str],
    ) -> RunOutcome:
        if step.rollback is None:
            details.append(messages.build_no_rollback(step.id))
            return outcome.model_copy(update={"escalate": True, "details": details})
        started = time.perf_counter()
        try:
            # A value the action reported may be empty (a Variable that did not exist had no
            # previous value); its executor restores from the recorded result instead.
            spec = to_filled_spec(
                step.rollback,
                {**ctx.values, **result.values},
                step_id=step.id,
                allowed=frozenset(result.values),
            )
            rollback = await self._get_executor(spec).rollback(spec, result, ctx)
        except BotError as exc:
            details.append(messages.build_rollback_failed(str(exc)))
            durations = {**outcome.durations_ms, "rollback_ms": _since(started)}
            return outcome.model_copy(
                update={
                    "escalate": True,
                    "error": str(exc),
                    "details": details,
                    "durations_ms": durations,
                }
            )
        details.append(rollback.summary)
        return outcome.model_copy(
            update={
                "rolled_back": rollback.status == ActionStatus.DONE,
                "rollback": rollback,
                "escalate": True,
                "details": details,
                "durations_ms": {**outcome.durations_ms, "rollback_ms": _since(started)},
            }
        )

    def _to_checked_action(self, step: RemediationStep, ctx: RunContext) -> Action:
        """The filled action, once its verification and rollback are known to be fillable too."""
        action = to_filled_spec(step.action, ctx.values, step_id=step.id)
        allowed = RESULT_PLACEHOLDERS
        to_filled_spec(step.verification, ctx.values, step_id=step.id, allowed=allowed)
        if step.rollback is not None:
            to_filled_spec(step.rollback, ctx.values, step_id=step.id, allowed=allowed)
        return action

    def _get_executor(self, action: Action) -> Executor:
        executor = self._executors.get(action.kind)
        if executor is None:
            raise ActionRefused(messages.build_unknown_kind_refusal(action.kind))
        return executor

    async def _get_duplicate(self, key: str, step: RemediationStep) -> RunOutcome:
        raw = await self._redis.get(key)
        if raw is None:
            # The key expired between the two calls, or the step never ran.
            return self._to_outcome(key, step, RunStatus.RUNNING, duplicate=True)
        recorded = RunOutcome.model_validate_json(raw)
        if recorded.status == RunStatus.RUNNING:
            note = messages.build_already_running(step.id)
        else:
            note = messages.build_already_done(step.id, recorded.status)
        return recorded.model_copy(update={"duplicate": True, "details": [note, *recorded.details]})

    async def _record(self, outcome: RunOutcome, incident_id: str) -> RunOutcome:
        await self._redis.set(outcome.key, outcome.model_dump_json(), ex=self._ttl_seconds)
        total = sum(outcome.durations_ms.values())
        logger.info(
            "action %s %s: %s (verified %s, rolled back %s, escalate %s) in %.0f ms",
            outcome.kind,
            outcome.key,
            outcome.status,
            outcome.verified,
            outcome.rolled_back,
            outcome.escalate,
            total,
            extra={"incident_id": incident_id, "duration_ms": total},
        )
        return outcome

    def _to_failed(self, key: str, step: RemediationStep, error: str, started: float) -> RunOutcome:
        return self._to_outcome(
            key,
            step,
            RunStatus.FAILED,
            error=error,
            escalate=True,
            details=[messages.build_action_failed(error)],
            durations={"action_ms": _since(started)},
        )

    @staticmethod
    def _to_outcome(
        key: str,
        step: RemediationStep,
        status: RunStatus,
        *,
        result: ActionResult | None = None,
        error: str | None = None,
        escalate: bool = False,
        duplicate: bool = False,
        details: list[str] | None = None,
        durations: dict[str, float] | None = None,
    ) -> RunOutcome:
        return RunOutcome(
            key=key,
            step_id=step.id,
            kind=step.action.kind,
            status=status,
            result=result,
            error=error,
            escalate=escalate,
            duplicate=duplicate,
            details=details or ([error] if error else []),
            durations_ms=durations or {},
        )


def build_action_runner(
    settings: Settings, *, http: httpx.AsyncClient, redis: aioredis.Redis
) -> ActionRunner:
    """The runner with every executor the settings allow; Airflow kinds need AIRFLOW_URL.

    Raises ConfigError when a data contract in DATA_CONTRACTS_DIR is not valid.
    """
    allowed_hosts = to_allowed_hosts(settings.action_http_allowed_hosts)
    manual = ManualExecutor(redis, ttl_seconds=settings.action_record_ttl_seconds)
    airflow = build_airflow_api(settings, http)
    executors: list[Executor] = [
        HttpExecutor(
            client=http,
            allowed_hosts=allowed_hosts,
            secrets=to_secrets(settings.action_http_secrets),
        ),
        manual,
    ]
    if airflow is not None:
        executors.append(AirflowExecutor(airflow))
    verifier = Verifier(
        airflow=airflow,
        http=http,
        allowed_hosts=allowed_hosts,
        manual=manual,
        poll_interval_seconds=settings.action_poll_interval_seconds,
        contracts=load_contracts(settings.data_contracts_dir),
    )
    return ActionRunner(
        redis=redis,
        executors=executors,
        verifier=verifier,
        manual=manual,
        ttl_seconds=settings.action_record_ttl_seconds,
    )


def _since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
