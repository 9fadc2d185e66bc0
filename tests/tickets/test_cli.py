"""`incident-bot outbox` (its Typer app), run as a person would, against the test Redis."""

import pytest
from typer.testing import CliRunner

from bot.tickets.cli import outbox_app
from bot.tickets.models import DeadLetter
from bot.tickets.store import TicketStore
from tests.conftest import on_test_redis
from tests.tickets.conftest import get_queued_jobs

LETTER = DeadLetter(
    incident_id="INC-3",
    issue_key=None,
    operation="create the issue",
    status=400,
    error="Team is required.",
)


@pytest.fixture
def parked(redis_url, redis_env):
    on_test_redis(redis_url, lambda client: TicketStore(client).park(LETTER))
    return LETTER


def invoke(env, *args):
    return CliRunner().invoke(outbox_app, list(args), env=env)


def test_outbox_list_shows_each_dead_letter(redis_env, parked):
    result = invoke(redis_env, "list")

    assert result.exit_code == 0
    assert "INC-3" in result.output
    assert "create the issue" in result.output
    assert "Team is required." in result.output


def test_outbox_list_says_so_when_empty(redis_env):
    result = invoke(redis_env, "list")

    assert (result.exit_code, result.output.strip()) == (
        0,
        "No dead letters: every ticket is in step or catching up.",
    )


@pytest.mark.parametrize("reference", [[], ["INC-3"], ["3"]])
def test_outbox_retry_clears_the_dead_letter_and_queues_the_ticket_sync(
    redis_url, redis_env, parked, reference
):
    result = invoke(redis_env, "retry", *reference)

    assert result.exit_code == 0
    assert "Re-queued the ticket sync of INC-3." in result.output
    letters = on_test_redis(redis_url, lambda client: TicketStore(client).list_dead_letters())
    assert letters == []
    queued = on_test_redis(redis_url, get_queued_jobs)
    assert queued == [("sync_ticket", {"incident_id": "INC-3"}, 0)]


def test_outbox_retry_of_an_incident_without_dead_letter_fails(redis_env, parked):
    result = invoke(redis_env, "retry", "INC-9")

    assert result.exit_code == 1
    assert "No dead letter for INC-9." in result.output
