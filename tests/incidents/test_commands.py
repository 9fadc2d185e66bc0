import pytest

from bot.alerts.models import Alert, AlertStatus, Source
from bot.chat.port import ButtonClick, CommandRequest, ThreadRef
from bot.incidents.commands import IncidentCommands, to_incident_id
from bot.incidents.states import State
from bot.incidents.store import IncidentStore


@pytest.fixture
def store(redis):
    return IncidentStore(redis, reopen_window_seconds=0, dedup_ttl_seconds=600)


@pytest.fixture
def synced():
    return []


@pytest.fixture
def commands(store, synced):
    async def request_sync(incident_id):
        synced.append(incident_id)

    return IncidentCommands(store=store, request_sync=request_sync)


async def open_incident(store, delivery_id="d1", fingerprint="fp"):
    alert = Alert(
        source=Source.DATADOG,
        delivery_id=delivery_id,
        fingerprint=fingerprint,
        status=AlertStatus.FIRING,
        title=f"{fingerprint} failed",
    )
    placement = await store.place_alert(alert, channel="c")
    return placement.incident_id


def command(text, *, thread=None):
    return CommandRequest(platform="slack", user="U1", channel="c", text=text, thread=thread)


@pytest.mark.parametrize(
    ("reference", "incident_id"),
    [("INC-12", "INC-12"), ("inc12", "INC-12"), ("12", "INC-12"), ("twelve", None)],
)
def test_incident_references_are_normalised(reference, incident_id):
    assert to_incident_id(reference) == incident_id


async def test_list_names_every_open_incident(store, commands):
    await open_incident(store, "d1", "orders")
    await open_incident(store, "d2", "payments")
    answer = await commands.handle_command(command("list"))
    assert "INC-1" in answer.sections[0].text and "INC-2" in answer.sections[0].text


async def test_ack_by_reference_acknowledges_and_requests_a_sync(store, commands, synced):
    incident_id = await open_incident(store)
    answer = await commands.handle_command(command(f"ack {incident_id}"))
    incident = await store.get(incident_id)
    assert (incident.state, incident.acknowledged_by) == (State.ACKNOWLEDGED, "U1")
    assert "now Acknowledged" in answer.text
    assert synced == [incident_id]


async def test_status_without_reference_uses_the_thread(store, commands):
    incident_id = await open_incident(store)
    thread = ThreadRef(platform="slack", channel="c", root_id="1.0001")
    await store.set_thread(incident_id, thread)
    answer = await commands.handle_command(command("status", thread=thread))
    assert answer.header.startswith(incident_id)
    assert answer.buttons == []


async def test_resolving_twice_says_it_is_already_resolved(store, commands):
    incident_id = await open_incident(store)
    await commands.handle_command(command(f"resolve {incident_id}"))
    answer = await commands.handle_command(command(f"resolve {incident_id}"))
    assert "already Resolved" in answer.text


async def test_ack_of_a_resolved_incident_is_refused_and_changes_nothing(store, commands):
    incident_id = await open_incident(store)
    await store.transition(incident_id, State.RESOLVED, actor="datadog")
    answer = await commands.handle_command(command(f"ack {incident_id}"))
    assert "cannot be moved" in answer.text
    assert (await store.get(incident_id)).acknowledged_by is None


async def test_ack_of_an_escalated_incident_keeps_its_state(store, commands):
    incident_id = await open_incident(store)
    await store.transition(incident_id, State.ESCALATED, actor="incident-bot")
    click = ButtonClick(platform="console", user="ana", action="ack", value=incident_id)
    answer = await commands.handle_click(click)
    assert answer.text == f"You acknowledged {incident_id}; it stays Escalated."


@pytest.mark.parametrize("text", ["frobnicate", "status INC-99", "ack"])
async def test_bad_commands_get_a_helpful_answer(commands, text):
    answer = await commands.handle_command(command(text))
    assert answer.tone == "warning"


async def test_help_lists_the_commands(commands):
    answer = await commands.handle_command(command("help"))
    assert "/incident resolve" in answer.sections[0].text
