import asyncio

import pytest

from bot.chaos.standins.jira import BOT_NAME
from bot.incidents.models import Event, EventKind
from bot.incidents.states import State
from bot.tickets import flows
from bot.tickets.jira_format import to_plain_text
from bot.tickets.models import FROM_JIRA, FROM_TICKET_SYNC, ORIGIN
from tests.tickets.conftest import build_tickets, open_incident


async def sync(incident_id, *, store, tickets, requested):
    await flows.sync_ticket(incident_id, store=store, tickets=tickets, request_sync=requested)


async def sync_until_in_step(incident_id, *, store, tickets, requested, attempts=20):
    """Run the sync as the job queue would, each deferred try followed by another."""
    deferrals = 0
    for _ in range(attempts):
        try:
            await sync(incident_id, store=store, tickets=tickets, requested=requested)
            return deferrals
        except flows.SyncDeferred:
            deferrals += 1
    raise AssertionError(f"{incident_id} still not in step after {attempts} tries")


async def add_note(store, incident_id, text, **data):
    await store.append_event(incident_id, Event(kind=EventKind.NOTE, text=text, data=data))


def comment_texts(jira, key):
    return [to_plain_text(comment["body"]) for comment in jira.comments_on(key)]


async def test_first_sync_creates_one_labelled_issue_in_the_routed_project(
    store, tickets, jira, requested
):
    incident_id = await open_incident(store, service="orders")

    await sync(incident_id, store=store, tickets=tickets, requested=requested)

    [create] = jira.calls_to("POST", "/issue")
    fields = create.body["fields"]
    assert (fields["project"], fields["issuetype"]) == ({"key": "DATA"}, {"name": "Bug"})
    assert fields["labels"] == ["incident-bot", f"incident-bot-{incident_id}"]
    assert fields["priority"] == {"name": "High"}
    assert fields["summary"] == f"{incident_id}: orders_daily failed"
    assert "h3. INC-1: orders\\_daily failed" in fields["description"]
    assert jira.issues["DATA-1"].properties["incident-bot"]["incident"] == incident_id
    assert (await tickets.store.get_pointer(incident_id)).key == "DATA-1"


async def test_sync_with_nothing_new_writes_nothing(store, tickets, jira, requested):
    incident_id = await open_incident(store)
    await sync(incident_id, store=store, tickets=tickets, requested=requested)
    calls_before = len(jira.calls)

    await sync(incident_id, store=store, tickets=tickets, requested=requested)

    assert len(jira.calls) == calls_before


async def test_pending_events_are_coalesced_into_one_comment_in_order(
    store, tickets, jira, requested
):
    incident_id = await open_incident(store)
    for text in ("first note", "second note", "third note"):
        await add_note(store, incident_id, text)

    await sync(incident_id, store=store, tickets=tickets, requested=requested)

    [comment] = comment_texts(jira, "OPS-1")
    positions = [comment.index(text) for text in ("Alert firing", "first", "second", "third")]
    assert positions == sorted(positions)
    assert comment.endswith(f"incident-bot · {incident_id} · events 1-4_")


@pytest.mark.parametrize(("limit", "expected_comments"), [(1, 5), (2, 3), (20, 1)])
async def test_a_backlog_is_split_into_comments_of_at_most_the_limit(
    redis, store, jira, requested, limit, expected_comments
):
    tickets = build_tickets(redis, jira, max_events_per_comment=limit)
    incident_id = await open_incident(store)
    for number in range(1, 5):
        await add_note(store, incident_id, f"note {number}")

    await sync(incident_id, store=store, tickets=tickets, requested=requested)

    texts = comment_texts(jira, "OPS-1")
    assert len(texts) == expected_comments
    joined = "\n".join(texts)
    positions = [joined.index(f"note {number}") for number in range(1, 5)]
    assert positions == sorted(positions)


async def test_lost_create_answer_is_found_by_label_instead_of_creating_again(
    store, tickets, jira, requested
):
    incident_id = await open_incident(store)
    jira.lose_next_create_answer()

    deferrals = await sync_until_in_step(
        incident_id, store=store, tickets=tickets, requested=requested
    )

    assert deferrals == 1
    assert len(jira.calls_to("POST", "/issue")) == 1
    assert list(jira.issues) == ["OPS-1"]
    assert len(jira.comments_on("OPS-1")) == 1


async def test_process_dying_during_create_still_gives_one_issue(store, tickets, jira, requested):
    incident_id = await open_incident(store)
    jira.hold_next_answer(seconds=2.0, only="POST /rest/api/2/issue")
    first = asyncio.create_task(
        sync(incident_id, store=store, tickets=tickets, requested=requested)
    )
    await jira.wait_for_calls("POST", "/issue")

    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    await sync_until_in_step(incident_id, store=store, tickets=tickets, requested=requested)

    assert list(jira.issues) == ["OPS-1"]
    assert (await tickets.store.get_pointer(incident_id)).key == "OPS-1"


async def test_lagging_search_defers_a_second_create_instead_of_duplicating(
    store, tickets, jira, requested
):
    incident_id = await open_incident(store)
    jira.lose_next_create_answer()
    jira.search_lags = True

    with pytest.raises(flows.SyncDeferred):
        await sync(incident_id, store=store, tickets=tickets, requested=requested)
    with pytest.raises(flows.SyncDeferred) as deferred:
        await sync(incident_id, store=store, tickets=tickets, requested=requested)

    assert 59 < deferred.value.delay <= 60
    assert len(jira.calls_to("POST", "/issue")) == 1


async def test_all_comments_arrive_in_order_once_jira_is_back(store, tickets, jira, requested):
    incident_id = await open_incident(store)
    await sync(incident_id, store=store, tickets=tickets, requested=requested)
    jira.down_for(6)

    for number in range(1, 4):
        await add_note(store, incident_id, f"during outage {number}")
        with pytest.raises(flows.SyncDeferred):
            await sync(incident_id, store=store, tickets=tickets, requested=requested)
    await sync_until_in_step(incident_id, store=store, tickets=tickets, requested=requested)

    later = "\n".join(comment_texts(jira, "OPS-1")[1:])
    positions = [later.index(f"during outage {number}") for number in range(1, 4)]
    assert positions == sorted(positions)
    assert later.count("during outage 1") == 1


async def test_outage_before_the_issue_exists_delays_creation_and_loses_nothing(
    store, tickets, jira, requested
):
    jira.down_for(4)
    incident_id = await open_incident(store)
    await add_note(store, incident_id, "written while jira was down")

    deferrals = await sync_until_in_step(
        incident_id, store=store, tickets=tickets, requested=requested
    )

    assert deferrals >= 1
    assert list(jira.issues) == ["OPS-1"]
    assert "written while jira was down" in comment_texts(jira, "OPS-1")[0]


async def test_rate_limited_sync_waits_for_retry_after_before_calling_jira_again(
    store, tickets, jira, requested
):
    incident_id = await open_incident(store)
    jira.fail_next(status=429, retry_after=30, only="/comment")

    with pytest.raises(flows.SyncDeferred) as first:
        await sync(incident_id, store=store, tickets=tickets, requested=requested)
    calls = len(jira.calls)
    with pytest.raises(flows.SyncDeferred) as second:
        await sync(incident_id, store=store, tickets=tickets, requested=requested)

    assert 29 < first.value.delay <= 30
    assert 28 < second.value.delay <= 30
    assert len(jira.calls) == calls
    await tickets.store.update_pointer(incident_id, {"hold_until": 0})  # 30 s have passed
    await sync(incident_id, store=store, tickets=tickets, requested=requested)
    assert len(jira.comments_on("OPS-1")) == 1


async def test_comment_whose_answer_timed_out_is_not_written_twice(redis, store, jira, requested):
    tickets = build_tickets(redis, jira, timeout_seconds=0.5)
    incident_id = await open_incident(store)
    await sync(incident_id, store=store, tickets=tickets, requested=requested)
    await add_note(store, incident_id, "slow note")
    jira.hang_next(seconds=1.0, only="POST /rest/api/2/issue/OPS-1/comment")

    with pytest.raises(flows.SyncDeferred):
        await sync(incident_id, store=store, tickets=tickets, requested=requested)
    await asyncio.to_thread(jira.wait_for, "POST", "/comment", 2)
    await sync_until_in_step(incident_id, store=store, tickets=tickets, requested=requested)

    assert [text.count("slow note") for text in comment_texts(jira, "OPS-1")] == [0, 1]


async def test_incident_states_move_the_issue_by_transition_name(store, tickets, jira, requested):
    incident_id = await open_incident(store)
    await sync(incident_id, store=store, tickets=tickets, requested=requested)
    statuses = []
    path = [State.AWAITING_APPROVAL, State.REMEDIATING, State.RESOLVED, State.TRIGGERED]

    for state in [State.ACKNOWLEDGED, *path]:
        await store.transition(incident_id, state, actor="alice")
        await sync(incident_id, store=store, tickets=tickets, requested=requested)
        statuses.append(jira.status_of("OPS-1"))

    assert statuses == ["To Do", "To Do", "In Progress", "Done", "To Do"]


async def test_description_is_updated_once_a_diagnosis_is_known(store, tickets, jira, requested):
    incident_id = await open_incident(store)
    await sync(incident_id, store=store, tickets=tickets, requested=requested)
    diagnosis = Event(
        kind=EventKind.DIAGNOSIS,
        text="The input schema changed: column order_id is missing.",
        data={"failure_class": "schema-drift", "confidence": 0.9},
    )
    await store.append_event(incident_id, diagnosis)

    await sync(incident_id, store=store, tickets=tickets, requested=requested)
    await sync(incident_id, store=store, tickets=tickets, requested=requested)

    [edit] = jira.calls_to("PUT", "/issue/10001")
    description = edit.body["fields"]["description"]
    assert "column order\\_id is missing" in description
    assert "Class: schema-drift" in description
    assert "Confidence: 90%" in description


async def test_refused_create_is_dead_lettered_and_the_thread_says_so(
    store, tickets, jira, requested
):
    jira.required_fields["customfield_10042"] = "Team is required."
    incident_id = await open_incident(store)

    await sync(incident_id, store=store, tickets=tickets, requested=requested)
    await sync(incident_id, store=store, tickets=tickets, requested=requested)

    [letter] = await tickets.store.list_dead_letters()
    assert (letter.incident_id, letter.status) == (incident_id, 400)
    assert letter.operation == "create the issue"
    assert "Team is required." in letter.error
    note = (await store.get_events(incident_id))[-1]
    assert note.data[ORIGIN] == FROM_TICKET_SYNC
    assert "out of step" in note.text and "Team is required." in note.text
    assert requested.incident_ids == [incident_id]
    assert len(jira.calls_to("POST", "/issue")) == 1


async def test_retried_dead_letter_catches_the_ticket_up_without_the_note(
    store, tickets, jira, requested
):
    jira.required_fields["customfield_10042"] = "Team is required."
    incident_id = await open_incident(store)
    await sync(incident_id, store=store, tickets=tickets, requested=requested)
    jira.required_fields.clear()

    letter = await flows.retry_dead_letter(incident_id, store=tickets.store, request_sync=requested)
    await sync(incident_id, store=store, tickets=tickets, requested=requested)

    assert letter.incident_id == incident_id
    assert await tickets.store.list_dead_letters() == []
    [comment] = comment_texts(jira, "OPS-1")
    assert "Alert firing" in comment and "out of step" not in comment


async def test_events_that_came_from_jira_are_not_written_back(store, tickets, jira, requested):
    incident_id = await open_incident(store)
    await sync(incident_id, store=store, tickets=tickets, requested=requested)
    await add_note(store, incident_id, "Comment on OPS-1 in Jira: looking", **{ORIGIN: FROM_JIRA})

    await sync(incident_id, store=store, tickets=tickets, requested=requested)

    assert len(jira.comments_on("OPS-1")) == 1
    assert (await tickets.store.get_pointer(incident_id)).posted == 2


async def test_bot_account_is_learnt_before_the_first_write(store, tickets, jira, requested):
    incident_id = await open_incident(store)

    await sync(incident_id, store=store, tickets=tickets, requested=requested)

    assert await tickets.store.get_account() == {BOT_NAME}
    first_write = next(call for call in jira.calls if call.method != "GET")
    assert jira.calls.index(jira.calls_to("GET", "/myself")[0]) < jira.calls.index(first_write)


async def test_comments_on_one_issue_are_spaced_by_the_comment_interval(
    redis, store, jira, requested
):
    tickets = build_tickets(redis, jira, comment_interval_seconds=0.5)
    incident_id = await open_incident(store)
    await sync(incident_id, store=store, tickets=tickets, requested=requested)
    await add_note(store, incident_id, "right after")

    await sync(incident_id, store=store, tickets=tickets, requested=requested)

    first, second = jira.calls_to("POST", "/comment")
    assert second.received_at - first.received_at >= 0.5
