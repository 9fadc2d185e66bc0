"""Fixtures for the ticket sync: a Jira stand-in, the real tracker over it, and incidents."""

import json
from contextlib import asynccontextmanager

import pytest
from pydantic import SecretStr

from bot.alerts.models import Alert, AlertStatus, Severity, Source
from bot.chaos.standins.jira import serve_jira
from bot.incidents.models import Incident
from bot.incidents.routing import Match, Routing, Rule
from bot.incidents.states import State
from bot.incidents.store import IncidentStore
from bot.runtime import open_runtime
from bot.settings import Settings
from bot.tickets.jira_adapter import JiraTracker
from bot.tickets.policy import TicketPolicy
from bot.tickets.service import TicketService
from bot.tickets.store import TicketStore

TRANSITIONS = {"remediating": "In Progress", "resolved": "Done", "triggered": "To Do"}
PRIORITIES = {"critical": "Highest", "high": "High", "medium": "Medium"}


@pytest.fixture
def jira():
    with serve_jira("Server") as stand_in:
        yield stand_in


@pytest.fixture
def store(redis):
    return IncidentStore(redis, reopen_window_seconds=3600, dedup_ttl_seconds=600)


def build_policy(**changes):
    fields = {
        "default_project": "OPS",
        "default_issue_type": "Incident",
        "transitions": {State(name): value for name, value in TRANSITIONS.items()},
        "priorities": {Severity(name): value for name, value in PRIORITIES.items()},
        "base_url": "http://bot.test",
        "routing": Routing(
            rules=[Rule(match=Match(service="orders"), jira_project="DATA", jira_issue_type="Bug")]
        ),
        "comment_interval_seconds": 0.0,
        "max_backoff_seconds": 0.0,
    }
    return TicketPolicy(**(fields | changes))


def build_tickets(redis, jira, *, timeout_seconds=5.0, email="", **policy_changes):
    tracker = JiraTracker(
        url=jira.base_url,
        email=email,
        token=SecretStr("test-token"),
        timeout_seconds=timeout_seconds,
    )
    return TicketService(
        tracker=tracker, store=TicketStore(redis), policy=build_policy(**policy_changes)
    )


@pytest.fixture
def tickets(redis, jira):
    return build_tickets(redis, jira)


class SyncRequests:
    """A request_sync that remembers which incidents asked for a sync."""

    def __init__(self):
        self.incident_ids = []

    async def __call__(self, incident_id):
        self.incident_ids.append(incident_id)


@pytest.fixture
def requested():
    return SyncRequests()


def make_incident(**fields):
    values = {
        "id": "INC-1",
        "fingerprint": "fp",
        "title": "orders_daily failed",
        "severity": Severity.HIGH,
        "source": "datadog",
        "channel": "incidents",
        "first_alert_id": "d1",
    }
    return Incident(**(values | fields))


async def open_incident(store, *, delivery_id="d1", service=None, severity=Severity.HIGH):
    alert = Alert(
        source=Source.DATADOG,
        delivery_id=delivery_id,
        fingerprint=f"fp-{delivery_id}",
        status=AlertStatus.FIRING,
        severity=severity,
        title="orders_daily failed",
        message="Task exited with return code 1",
        service=service,
    )
    placement = await store.place_alert(alert, channel="incidents")
    return placement.incident_id


async def get_queued_jobs(redis):
    """The saq jobs waiting on the bot's queue: (function, kwargs, scheduled epoch)."""
    job_ids = await redis.zrange("saq:incident-bot:incomplete", 0, -1)
    jobs = [json.loads(await redis.get(job_id)) for job_id in job_ids]
    return [(job["function"], job.get("kwargs", {}), job.get("scheduled", 0)) for job in jobs]


WEBHOOK_SECRET = "hook-secret"


@asynccontextmanager
async def open_test_runtime(redis_url, jira, **overrides):
    """The bot's real runtime on the test Redis, with Jira pointed at the stand-in."""
    fields = {
        "redis_url": redis_url,
        "jira_url": jira.base_url if jira else "",
        "jira_api_token": SecretStr("test-token"),
        "jira_webhook_secret": SecretStr(WEBHOOK_SECRET),
        "jira_comment_interval_seconds": 0.0,
    }
    async with open_runtime(Settings(_env_file=None, **(fields | overrides))) as runtime:
        yield runtime
