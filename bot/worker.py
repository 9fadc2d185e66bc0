"""Background jobs on saq, and the worker that runs them (in-process or on its own)."""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from typing import Any

from saq import CronJob, Worker
from saq.types import PartialTimersDict

from bot.alerts.models import Alert
from bot.diagnosis import flows as diagnosis_flows
from bot.diagnosis.models import Diagnosis
from bot.incidents import flows
from bot.incidents.states import State
from bot.runtime import Runtime
from bot.tickets import jobs as ticket_jobs

logger = logging.getLogger(__name__)


def _runtime(ctx: Any) -> Runtime:
    runtime: Runtime = ctx["runtime"]
    return runtime


async def handle_alert(ctx: Any, *, alert: dict[str, Any]) -> str:
    runtime = _runtime(ctx)
    placement = await flows.handle_alert(
        Alert.model_validate(alert),
        store=runtime.store,
        routing=runtime.routing,
        request_sync=runtime.jobs.request_sync,
        request_diagnosis=runtime.jobs.request_diagnosis,
        audit=runtime.audit,
    )
    return f"{placement.outcome} {placement.incident_id or ''}".strip()


async def diagnose_incident(ctx: Any, *, incident_id: str, alert: dict[str, Any]) -> str:
    runtime = _runtime(ctx)
    parsed = Alert.model_validate(alert)

    async def on_settled(incident_id: str, diagnosis: Diagnosis, state: State | None) -> None:
        await runtime.remediation.handle_diagnosed(incident_id, diagnosis, state, alert=parsed)

    diagnosis = await diagnosis_flows.diagnose_incident(
        incident_id,
        parsed,
        store=runtime.store,
        diagnoser=runtime.diagnoser,
        catalogue=runtime.catalogue,
        request_sync=runtime.jobs.request_sync,
        on_settled=on_settled,
    )
    return "skipped" if diagnosis is None else diagnosis.failure_class


async def run_action(ctx: Any, *, request_id: str) -> str:
    return await _runtime(ctx).remediation.run_approved(request_id)


async def confirm_action(ctx: Any, *, request_id: str, succeeded: bool, actor: str) -> str:
    return await _runtime(ctx).remediation.confirm(request_id, succeeded=succeeded, actor=actor)


async def expire_approval(ctx: Any, *, request_id: str) -> str:
    return await _runtime(ctx).remediation.expire(request_id)


async def sync_thread(ctx: Any, *, incident_id: str) -> None:
    runtime = _runtime(ctx)
    await flows.sync_thread(
        incident_id, store=runtime.store, chat=runtime.chat, redis=runtime.redis
    )


async def sweep(ctx: Any) -> int:
    """Re-queue the sync of every thread that lags behind, after outages outlasted retries."""
    runtime = _runtime(ctx)
    behind = await runtime.store.list_unsynced()
    for incident_id in behind:
        await runtime.jobs.request_sync(incident_id)
    if behind:
        logger.info("threads behind re-queued", extra={"count": len(behind)})
    return len(behind) + await ticket_jobs.requeue_lagging_tickets(runtime)


UPKEEP_TIMERS: PartialTimersDict = {"schedule": 1, "worker_info": 5, "sweep": 5, "abort": 1}


def build_worker(runtime: Runtime) -> Worker[Any]:
    async def startup(ctx: Any) -> None:
        ctx["runtime"] = runtime

    worker: Worker[Any] = Worker(
        runtime.queue,
        functions=[
            handle_alert,
            sync_thread,
            diagnose_incident,
            run_action,
            confirm_action,
            expire_approval,
            ticket_jobs.sync_ticket,
        ],
        cron_jobs=[CronJob(sweep, cron="* * * * *", unique=True)],
        concurrency=runtime.settings.worker_concurrency,
        # A bounded wait lets the worker notice a stop request instead of blocking in Redis.
        dequeue_timeout=1.0,
        # Known limit: saq's upkeep loops can swallow a cancellation and then sleep a whole
        # interval before they notice the stop; short intervals keep shutdown within seconds.
        timers=UPKEEP_TIMERS,
        shutdown_grace_period_s=runtime.settings.worker_shutdown_grace_seconds,
        startup=startup,
    )
    # saq would take SIGINT and SIGTERM for itself and stop only the worker; the entry point
    # (uvicorn for `serve`, `_work` for `worker`) owns the signals and stops the worker.
    worker.SIGNALS = []
    return worker


async def stop_worker(task: asyncio.Task[None]) -> None:
    """Stop a worker by cancelling the task running `Worker.start`.

    Cancelling the start task (rather than calling `Worker.stop` beside it) lets saq's own
    clean-up run against the stop event it created, even when the worker is still starting.
    """
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task
