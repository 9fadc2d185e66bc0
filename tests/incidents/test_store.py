import asyncio

import pytest

from bot.alerts.models import Alert, AlertStatus, Source
from bot.errors import IllegalTransition
from bot.incidents.states import State
from bot.incidents.store import IncidentStore, Outcome


def make_alert(delivery_id="d1", *, status=AlertStatus.FIRING, fingerprint="fp-1"):
    return Alert(
        source=Source.DATADOG,
        delivery_id=delivery_id,
        fingerprint=fingerprint,
        status=status,
        title="orders_daily failed",
    )


@pytest.fixture
def store(redis):
    return IncidentStore(redis, reopen_window_seconds=3600, dedup_ttl_seconds=600)


async def test_first_firing_alert_opens_an_incident(store):
    placement = await store.place_alert(make_alert(), channel="incidents")
    incident = await store.get(placement.incident_id)
    assert placement.outcome is Outcome.OPENED
    assert incident.id == "INC-1"
    assert (incident.state, incident.channel) == (State.TRIGGERED, "incidents")


async def test_same_delivery_twice_is_recognised_and_changes_nothing(store):
    first = await store.place_alert(make_alert(), channel="incidents")
    again = await store.place_alert(make_alert(), channel="incidents")
    assert again.redelivered and again.incident_id == first.incident_id
    assert again.outcome is Outcome.OPENED
    assert len(await store.get_events(first.incident_id)) == 1


async def test_alert_with_open_fingerprint_joins_the_incident(store):
    first = await store.place_alert(make_alert("d1"), channel="incidents")
    second = await store.place_alert(make_alert("d2"), channel="incidents")
    assert second.outcome is Outcome.JOINED
    assert second.incident_id == first.incident_id
    assert await store.count_alerts(first.incident_id) == 2


async def test_concurrent_deliveries_open_exactly_one_incident(store):
    alerts = [make_alert(f"d{n}") for n in range(20)]
    placements = await asyncio.gather(*(store.place_alert(a, channel="c") for a in alerts))
    assert {p.incident_id for p in placements} == {"INC-1"}
    assert [p.outcome for p in placements].count(Outcome.OPENED) == 1
    assert len(await store.list_open()) == 1


async def test_recovery_without_open_incident_is_ignored(store):
    placement = await store.place_alert(
        make_alert(status=AlertStatus.RESOLVED), channel="incidents"
    )
    assert placement.outcome is Outcome.IGNORED
    assert placement.incident_id is None


async def test_retrigger_within_window_reopens_the_resolved_incident(store):
    first = await store.place_alert(make_alert("d1"), channel="c")
    await store.transition(first.incident_id, State.RESOLVED, actor="datadog")
    again = await store.place_alert(make_alert("d2"), channel="c")
    assert again.outcome is Outcome.REOPENED
    assert again.incident_id == first.incident_id


async def test_retrigger_without_window_opens_a_new_incident(redis):
    store = IncidentStore(redis, reopen_window_seconds=0, dedup_ttl_seconds=600)
    first = await store.place_alert(make_alert("d1"), channel="c")
    await store.transition(first.incident_id, State.RESOLVED, actor="datadog")
    again = await store.place_alert(make_alert("d2"), channel="c")
    assert again.outcome is Outcome.OPENED
    assert again.incident_id == "INC-2"


async def test_transition_records_state_and_event(store):
    placement = await store.place_alert(make_alert(), channel="c")
    incident = await store.transition(placement.incident_id, State.ACKNOWLEDGED, actor="U1")
    events = await store.get_events(placement.incident_id)
    assert incident.acknowledged_by == "U1"
    assert events[-1].data == {"from": State.TRIGGERED, "to": State.ACKNOWLEDGED}


async def test_illegal_transition_raises_and_changes_nothing(store):
    placement = await store.place_alert(make_alert(), channel="c")
    await store.transition(placement.incident_id, State.RESOLVED, actor="U1")
    with pytest.raises(IllegalTransition):
        await store.transition(placement.incident_id, State.ACKNOWLEDGED, actor="U1")
    assert (await store.get(placement.incident_id)).state is State.RESOLVED


async def test_concurrent_updates_are_all_applied(store):
    placement = await store.place_alert(make_alert(), channel="c")

    def add_tag(n):
        return lambda incident: incident.model_copy(update={"tags": incident.tags | {f"t{n}": "x"}})

    await asyncio.gather(*(store.update(placement.incident_id, add_tag(n)) for n in range(10)))
    incident = await store.get(placement.incident_id)
    assert len(incident.tags) == 10
    assert incident.version == 10


async def test_acknowledging_work_in_progress_keeps_its_state(store):
    placement = await store.place_alert(make_alert(), channel="c")
    await store.transition(placement.incident_id, State.DIAGNOSING, actor="bot")
    incident = await store.acknowledge(placement.incident_id, actor="U2")
    assert (incident.state, incident.acknowledged_by) == (State.DIAGNOSING, "U2")
    assert await store.acknowledge(placement.incident_id, actor="U3") is None


async def test_every_state_change_is_audited_with_actor(redis):
    from bot.audit.store import AuditLog

    audit = AuditLog(redis)
    store = IncidentStore(redis, reopen_window_seconds=0, dedup_ttl_seconds=600, audit=audit)
    placement = await store.place_alert(make_alert(), channel="c")
    await store.transition(placement.incident_id, State.DIAGNOSING, actor="incident-bot")
    await store.acknowledge(placement.incident_id, actor="U7")
    entries = [entry async for entry in audit.iterate()]
    assert [(e.kind, e.actor) for e in entries] == [
        ("state_change", "incident-bot"),
        ("state_change", "U7"),
    ]
    assert entries[0].data["to"] == State.DIAGNOSING
    assert (await audit.verify()).ok
