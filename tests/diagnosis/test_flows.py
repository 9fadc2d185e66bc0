"""Diagnosing an incident with the real store on Redis, the real catalogue and rule engine."""

from __future__ import annotations

import pytest

from bot.alerts.models import Alert, AlertStatus, PipelineContext, Source
from bot.diagnosis.flows import diagnose_incident, has_current_diagnosis
from bot.diagnosis.service import build_diagnoser
from bot.incidents import messages
from bot.incidents.models import Event, EventKind
from bot.incidents.states import State
from bot.incidents.store import IncidentStore
from bot.runbooks.loader import get_runbook_dirs, load_catalogue
from bot.settings import Settings

SCHEMA_DRIFT = (
    "Traceback (most recent call last):\n"
    '  File "/opt/airflow/dags/orders_daily.py", line 42, in load_orders\n'
    '    frame = frame[["order_id", "amount"]]\n'
    "KeyError: \"['amount'] not in index\""
)
UNRECOGNISABLE = "RuntimeError: the frobnicator wobbled"
RECOVERED_RETRY = (
    "WARNING - Retrying (Retry(total=2)) after connection broken by 'NewConnectionError: "
    "[Errno 111] Connection refused': /v2/latest?base=EUR\n"
    "INFO - fetched 168 rates\n"
    "INFO - Marking task as SUCCESS. dag_id=fx_rates, task_id=fetch_rates\n"
    "INFO - Task exited with return code 0"
)


def build_alert(message: str, *, delivery_id: str = "d-1") -> Alert:
    return Alert(
        source=Source.AIRFLOW,
        delivery_id=delivery_id,
        fingerprint="orders_daily/load_orders",
        status=AlertStatus.FIRING,
        title="Task load_orders of orders_daily: failed",
        message=message,
        pipeline=PipelineContext(dag_id="orders_daily", task_id="load_orders", run_id="r-1"),
    )


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(*get_runbook_dirs(Settings(_env_file=None)))


@pytest.fixture
async def diagnoser(catalogue):
    diagnoser = build_diagnoser(Settings(_env_file=None), catalogue)
    yield diagnoser
    await diagnoser.aclose()


@pytest.fixture
def store(redis):
    return IncidentStore(redis, reopen_window_seconds=600, dedup_ttl_seconds=600)


@pytest.fixture
def synced():
    return []


@pytest.fixture
def diagnose(store, diagnoser, catalogue, synced):
    async def request_sync(incident_id):
        synced.append(incident_id)

    async def run(incident_id, alert):
        return await diagnose_incident(
            incident_id,
            alert,
            store=store,
            diagnoser=diagnoser,
            catalogue=catalogue,
            request_sync=request_sync,
        )

    return run


async def open_incident(store, alert):
    placement = await store.place_alert(alert, channel="data-incidents")
    return placement.incident_id


def of_kind(events, kind):
    return [event for event in events if event.kind is kind]


async def test_schema_drift_is_posted_and_awaits_approval(store, diagnose, synced):
    alert = build_alert(SCHEMA_DRIFT)
    incident_id = await open_incident(store, alert)

    diagnosis = await diagnose(incident_id, alert)

    incident = await store.get(incident_id)
    events = await store.get_events(incident_id)
    [event] = of_kind(events, EventKind.DIAGNOSIS)
    assert diagnosis.failure_class == "schema-drift"
    assert incident.state is State.AWAITING_APPROVAL
    assert event.data["failure_class"] == "schema-drift"
    assert event.data["playbook_id"] == diagnosis.playbook_id
    assert event.data["confidence"] == diagnosis.confidence
    assert [e.data["to"] for e in of_kind(events, EventKind.STATE_CHANGED)] == [
        State.DIAGNOSING,
        State.AWAITING_APPROVAL,
    ]
    assert synced and set(synced) == {incident_id}


async def test_diagnosis_reply_is_the_rendered_message_with_the_proposed_steps(store, diagnose):
    alert = build_alert(SCHEMA_DRIFT)
    incident_id = await open_incident(store, alert)
    await diagnose(incident_id, alert)

    [event] = of_kind(await store.get_events(incident_id), EventKind.DIAGNOSIS)
    reply = messages.build_event(event)

    assert reply.header == "Diagnosis: schema-drift"
    assert {fact.label for fact in reply.facts} >= {"Class", "Confidence", "Playbook"}
    assert any(section.title == "Proposed steps (not run yet)" for section in reply.sections)


async def test_unknown_cause_escalates_saying_why(store, diagnose):
    alert = build_alert(UNRECOGNISABLE)
    incident_id = await open_incident(store, alert)

    diagnosis = await diagnose(incident_id, alert)

    incident = await store.get(incident_id)
    escalation = of_kind(await store.get_events(incident_id), EventKind.STATE_CHANGED)[-1]
    assert diagnosis.failure_class == "unknown"
    assert incident.state is State.ESCALATED
    assert escalation.data["to"] == State.ESCALATED
    assert "escalating" in escalation.text


async def test_no_failure_in_the_evidence_leaves_a_note_and_does_not_escalate(store, diagnose):
    alert = build_alert(RECOVERED_RETRY)
    incident_id = await open_incident(store, alert)

    diagnosis = await diagnose(incident_id, alert)

    incident = await store.get(incident_id)
    [note] = of_kind(await store.get_events(incident_id), EventKind.NOTE)
    assert diagnosis.failure_class == "none"
    assert incident.state is State.DIAGNOSING
    assert note.text == messages.to_no_failure_found()


async def test_second_run_of_the_job_changes_nothing(store, diagnose):
    alert = build_alert(SCHEMA_DRIFT)
    incident_id = await open_incident(store, alert)
    await diagnose(incident_id, alert)
    events_before = await store.get_events(incident_id)

    again = await diagnose(incident_id, alert)

    assert again is None
    assert await store.get_events(incident_id) == events_before


async def test_run_interrupted_while_diagnosing_is_finished_by_the_retry(store, diagnose):
    alert = build_alert(SCHEMA_DRIFT)
    incident_id = await open_incident(store, alert)
    await store.transition(incident_id, State.DIAGNOSING, actor="incident-bot")

    diagnosis = await diagnose(incident_id, alert)

    assert diagnosis is not None
    assert (await store.get(incident_id)).state is State.AWAITING_APPROVAL


async def test_incident_resolved_before_the_job_runs_is_left_alone(store, diagnose):
    alert = build_alert(SCHEMA_DRIFT)
    incident_id = await open_incident(store, alert)
    await store.transition(incident_id, State.RESOLVED, actor="alice")
    events_before = await store.get_events(incident_id)

    assert await diagnose(incident_id, alert) is None
    assert await store.get_events(incident_id) == events_before


async def test_reopened_incident_is_diagnosed_again(store, diagnose):
    first = build_alert(SCHEMA_DRIFT)
    incident_id = await open_incident(store, first)
    await diagnose(incident_id, first)
    await store.transition(incident_id, State.RESOLVED, actor="alice")
    await store.transition(incident_id, State.TRIGGERED, actor="airflow", text="re-triggered")

    diagnosis = await diagnose(incident_id, build_alert(UNRECOGNISABLE, delivery_id="d-2"))

    assert diagnosis.failure_class == "unknown"
    assert (await store.get(incident_id)).state is State.ESCALATED


def diagnosed() -> Event:
    return Event(kind=EventKind.DIAGNOSIS, text="schema drift")


def moved_to(state: State) -> Event:
    return Event(kind=EventKind.STATE_CHANGED, data={"from": "resolved", "to": state})


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([], False),
        ([diagnosed()], True),
        ([diagnosed(), moved_to(State.RESOLVED)], True),
        ([diagnosed(), moved_to(State.RESOLVED), moved_to(State.TRIGGERED)], False),
        ([moved_to(State.TRIGGERED), diagnosed()], True),
    ],
)
def test_a_diagnosis_counts_only_since_the_last_trigger(events, expected):
    assert has_current_diagnosis(events) is expected
