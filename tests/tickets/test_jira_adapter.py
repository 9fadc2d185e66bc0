import logging
import socket
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from pydantic import SecretStr

from bot.chaos.standins.jira import BOT_ACCOUNT_ID, BOT_NAME, serve_jira
from bot.chat.models import Message, Section
from bot.tickets.jira_adapter import JiraTracker
from bot.tickets.models import NewTicket, TicketComment
from bot.tickets.port import TicketRejected, TrackerUnavailable

MARKER = "incident-bot · INC-1 · events 1-2"


def new_ticket(incident_id="INC-1"):
    return NewTicket(
        incident_id=incident_id,
        project="OPS",
        issue_type="Incident",
        summary=f"{incident_id}: orders_daily failed",
        description=Message(
            text="It failed.", sections=[Section(text="exit 1", preformatted=True)]
        ),
        labels=("incident-bot", f"incident-bot-{incident_id}"),
        priority="High",
    )


def comment():
    return TicketComment(messages=(Message(text="one"), Message(text="two")), marker=MARKER)


def build_tracker(jira, *, email="", deployment="auto", timeout_seconds=5.0):
    return JiraTracker(
        url=jira.base_url,
        email=email,
        token=SecretStr("test-token"),
        deployment=deployment,
        timeout_seconds=timeout_seconds,
    )


@pytest.fixture
def jira():
    with serve_jira("Server") as stand_in:
        yield stand_in


@pytest.mark.parametrize(
    ("deployment", "email", "version", "scheme", "body_type", "identity"),
    [
        ("Cloud", "bot@example.com", "3", "Basic", dict, {BOT_ACCOUNT_ID}),
        ("Server", "", "2", "Bearer", str, {BOT_NAME}),
    ],
)
async def test_deployment_decides_api_version_auth_and_body_format(
    deployment, email, version, scheme, body_type, identity
):
    with serve_jira(deployment) as jira:
        tracker = build_tracker(jira, email=email)

        assert await tracker.get_identity() == identity
        ref = await tracker.create(new_ticket())
        await tracker.comment(ref.key, comment())

    [create] = jira.calls_to("POST", "/issue")
    [added] = jira.calls_to("POST", "/comment")
    assert (create.version, create.auth) == (version, scheme)
    assert isinstance(create.body["fields"]["description"], body_type)
    assert isinstance(added.body["body"], body_type)


@pytest.mark.parametrize(
    ("deployment", "stand_in", "server_info_versions"),
    [("auto", "Cloud", ["2", "3"]), ("cloud", "Cloud", ["3"]), ("server", "Server", ["2"])],
)
async def test_deployment_setting_or_server_info_picks_the_rest_version(
    deployment, stand_in, server_info_versions
):
    with serve_jira(stand_in) as jira:
        tracker = build_tracker(jira, email="bot@example.com", deployment=deployment)
        await tracker.get_identity()

    assert [call.version for call in jira.calls_to("GET", "/serverInfo")] == server_info_versions
    assert tracker.is_cloud is (stand_in == "Cloud")


async def test_find_by_incident_returns_the_oldest_labelled_issue(jira):
    jira.add_issue("OPS-1", labels=["incident-bot-INC-2"])
    jira.add_issue("OPS-2", labels=["incident-bot-INC-7"])
    jira.add_issue("OPS-3", labels=["incident-bot-INC-7"])
    tracker = build_tracker(jira)

    found = await tracker.find_by_incident("INC-7")

    assert found.key == "OPS-2"
    assert await tracker.find_by_incident("INC-9") is None
    first_search = jira.calls_to("GET", "/search")[0]
    assert first_search.params["jql"] == 'labels = "incident-bot-INC-7" ORDER BY created ASC'


async def test_create_tags_the_issue_with_the_incident_property(jira):
    tracker = build_tracker(jira)

    ref = await tracker.create(new_ticket("INC-4"))

    assert jira.issues[ref.key].properties["incident-bot"]["incident"] == "INC-4"


async def test_failed_property_write_leaves_the_created_issue_usable(jira, caplog):
    tracker = build_tracker(jira)
    jira.fail_next(status=500, only="/properties/")

    ref = await tracker.create(new_ticket())

    assert ref.key == "OPS-1"
    assert "has its label but not its property" in caplog.text


async def test_has_comment_finds_a_comment_by_its_marker(jira):
    tracker = build_tracker(jira)
    ref = await tracker.create(new_ticket())
    await tracker.comment(ref.key, comment())

    assert await tracker.has_comment(ref.key, MARKER)
    assert not await tracker.has_comment(ref.key, "incident-bot · INC-1 · events 3-4")


@pytest.mark.parametrize(
    ("name", "status"),
    [("Start work", "In Progress"), ("in progress", "In Progress"), ("Done", "Done")],
)
async def test_transition_is_chosen_by_its_name_or_the_status_it_leads_to(jira, name, status):
    tracker = build_tracker(jira)
    ref = await tracker.create(new_ticket())

    assert await tracker.transition(ref.key, name) == status
    assert jira.status_of(ref.key) == status


async def test_transition_not_offered_leaves_the_status_alone(jira):
    tracker = build_tracker(jira)
    ref = await tracker.create(new_ticket())

    assert await tracker.transition(ref.key, "To Do") is None
    assert jira.calls_to("POST", "/transitions") == []


async def test_update_replaces_the_description(jira):
    tracker = build_tracker(jira)
    ref = await tracker.create(new_ticket())

    await tracker.update(ref.key, description=Message(text="Diagnosed: schema drift."))

    assert jira.issues[ref.key].fields["description"] == "Diagnosed: schema drift."


@pytest.mark.parametrize(
    ("status", "error", "may_have_applied"),
    [
        (500, TrackerUnavailable, True),
        (502, TrackerUnavailable, True),
        (503, TrackerUnavailable, False),
        (429, TrackerUnavailable, False),
        (401, TrackerUnavailable, False),
        (403, TrackerUnavailable, False),
        (404, TrackerUnavailable, False),
        (409, TrackerUnavailable, False),
        (400, TicketRejected, None),
        (413, TicketRejected, None),
    ],
)
async def test_error_statuses_are_sorted_into_retry_later_and_refused(
    jira, status, error, may_have_applied
):
    tracker = build_tracker(jira)
    await tracker.get_identity()
    jira.fail_next(status=status, only="/comment")

    with pytest.raises(error) as raised:
        await tracker.comment("OPS-1", comment())

    assert raised.value.operation == "comment"
    assert getattr(raised.value, "may_have_applied", None) == may_have_applied


def in_two_minutes():
    return format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)


@pytest.mark.parametrize("to_retry_after", [lambda: "120", in_two_minutes])
async def test_retry_after_is_read_in_seconds_or_as_a_date(jira, to_retry_after):
    tracker = build_tracker(jira)
    await tracker.get_identity()
    jira.fail_next(status=429, retry_after=to_retry_after())

    with pytest.raises(TrackerUnavailable) as raised:
        await tracker.find_by_incident("INC-1")

    assert 110 < raised.value.retry_after <= 120


async def test_read_timeout_is_unavailable_and_may_have_applied(jira):
    tracker = build_tracker(jira, timeout_seconds=0.3)
    await tracker.get_identity()
    jira.hang_next(seconds=1.0, only="/comment")

    with pytest.raises(TrackerUnavailable) as raised:
        await tracker.comment("OPS-1", comment())

    assert raised.value.may_have_applied
    assert "ReadTimeout" in str(raised.value)


async def test_unreachable_jira_is_unavailable_and_nothing_was_applied():
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    tracker = JiraTracker(url=f"http://127.0.0.1:{port}", token=SecretStr("t"))

    with pytest.raises(TrackerUnavailable) as raised:
        await tracker.create(new_ticket())

    assert not raised.value.may_have_applied


async def test_each_jira_call_logs_one_info_line_with_key_outcome_and_duration(jira, caplog):
    tracker = build_tracker(jira)
    ref = await tracker.create(new_ticket())
    caplog.clear()

    with caplog.at_level(logging.INFO, logger="bot.tickets.jira_adapter"):
        await tracker.comment(ref.key, comment())

    [record] = caplog.records
    assert record.getMessage().startswith("jira add_comment OPS-1: ok in ")
    assert (record.issue_key, record.outcome) == ("OPS-1", "ok")
    assert record.duration_ms >= 0
    assert "test-token" not in caplog.text
