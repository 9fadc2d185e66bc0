import asyncio
import time

import pytest

from bot.alerts.models import Alert, AlertStatus, Source
from bot.incidents import flows as incident_flows
from bot.tickets import jobs
from bot.tickets.models import DeadLetter
from bot.worker import build_worker, sweep
from tests.tickets.conftest import get_queued_jobs, open_incident, open_test_runtime


@pytest.fixture
async def runtime(redis, redis_url, jira):
    async with open_test_runtime(redis_url, jira) as runtime:
        yield runtime


def make_alert():
    return Alert(
        source=Source.DATADOG,
        delivery_id="d-worker",
        fingerprint="fp-worker",
        status=AlertStatus.FIRING,
        title="orders_daily failed",
    )


async def queued_functions(redis):
    return sorted(function for function, _, _ in await get_queued_jobs(redis))


async def test_request_sync_queues_the_ticket_sync_when_jira_is_configured(runtime, redis):
    await runtime.jobs.request_sync("INC-1")

    assert await queued_functions(redis) == ["sync_thread", "sync_ticket"]


async def test_request_sync_queues_no_ticket_sync_without_jira(redis, redis_url):
    async with open_test_runtime(redis_url, None) as runtime:
        await runtime.jobs.request_sync("INC-1")

    assert await queued_functions(redis) == ["sync_thread"]


async def test_worker_runs_the_ticket_sync_job(runtime):
    assert "sync_ticket" in build_worker(runtime).functions


async def test_job_brings_the_ticket_in_step(runtime, jira):
    incident_id = await open_incident(runtime.store)

    outcome = await jobs.sync_ticket({"runtime": runtime}, incident_id=incident_id)

    assert outcome == "in step"
    assert list(jira.issues) == ["OPS-1"]


async def test_job_told_to_wait_schedules_one_follow_up_at_the_retry_after(runtime, jira, redis):
    incident_id = await open_incident(runtime.store)
    jira.fail_next(status=429, retry_after=30)
    ctx = {"runtime": runtime}

    first = await jobs.sync_ticket(ctx, incident_id=incident_id)
    second = await jobs.sync_ticket(ctx, incident_id=incident_id)

    assert first.startswith("deferred") and second.startswith("deferred")
    [(function, kwargs, scheduled)] = await get_queued_jobs(redis)
    assert (function, kwargs) == ("sync_ticket", {"incident_id": incident_id})
    assert 28 < scheduled - time.time() <= 31
    assert len(jira.calls) == 1


async def test_lagging_tickets_are_requeued_but_parked_ones_are_not(runtime, redis):
    lagging = await open_incident(runtime.store, delivery_id="d1")
    parked = await open_incident(runtime.store, delivery_id="d2")
    await runtime.tickets.store.park(
        DeadLetter(incident_id=parked, operation="create the issue", error="Team is required.")
    )

    count = await jobs.requeue_lagging_tickets(runtime)

    assert count == 1
    assert await get_queued_jobs(redis) == [("sync_ticket", {"incident_id": lagging}, 0)]


async def test_sweep_requeues_a_lagging_ticket_whose_thread_is_in_step(runtime, redis):
    incident_id = await open_incident(runtime.store)
    await incident_flows.sync_thread(
        incident_id, store=runtime.store, chat=runtime.console, redis=runtime.redis
    )

    await sweep({"runtime": runtime})

    assert await get_queued_jobs(redis) == [("sync_ticket", {"incident_id": incident_id}, 0)]


async def test_job_does_nothing_while_jira_sync_is_off(redis, redis_url):
    async with open_test_runtime(redis_url, None) as runtime:
        incident_id = await open_incident(runtime.store)

        assert await jobs.sync_ticket({"runtime": runtime}, incident_id=incident_id) == (
            "jira sync is off"
        )


@pytest.mark.slow  # the worker waits out its shutdown grace period
async def test_alert_through_the_worker_opens_one_issue_and_comments_it(runtime, jira):
    worker = build_worker(runtime)
    task = asyncio.create_task(worker.start())
    try:
        await runtime.ingest.accept(make_alert())
        [create] = await jira.wait_for_calls("POST", "/issue")
        [comment] = await jira.wait_for_calls("POST", "/comment")
    finally:
        await worker.stop()
        task.cancel()

    assert create.body["fields"]["labels"] == ["incident-bot", "incident-bot-INC-1"]
    assert "orders\\_daily failed" in comment.body["body"]


async def test_sweep_opens_no_issues_for_incidents_from_before_jira_sync(runtime, redis):
    old = await open_incident(runtime.store)
    await runtime.redis.set("ib:tickets:since", time.time() + 2 * jobs.SWEEP_HISTORY_SECONDS)

    count = await jobs.requeue_lagging_tickets(runtime)

    assert count == 0
    assert ("sync_ticket", {"incident_id": old}, 0) not in await get_queued_jobs(redis)
