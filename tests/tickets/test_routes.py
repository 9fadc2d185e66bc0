import hashlib
import hmac
import json

import httpx
import pytest

from bot.app import create_app
from bot.incidents import flows as incident_flows
from bot.tickets import flows
from bot.tickets.models import FROM_JIRA, ORIGIN
from tests.tickets.conftest import WEBHOOK_SECRET, open_incident, open_test_runtime

PERSON = {"accountId": "557058:alice", "displayName": "Alice Example"}
ADF_QUESTION = {
    "type": "doc",
    "version": 1,
    "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Can we rerun it?"}]}],
}


def comment_payload(*, comment_id="30001", body="Can we rerun it?", author=PERSON, **issue):
    return {
        "timestamp": 1700000000000,
        "webhookEvent": "comment_created",
        "comment": {"id": comment_id, "body": body, "author": author, "updateAuthor": author},
        "issue": to_issue(**issue),
    }


def status_payload(*, user=PERSON, to_status="Done", **issue):
    return {
        "timestamp": 1700000000000,
        "webhookEvent": "jira:issue_updated",
        "issue_event_type_name": "issue_generic",
        "user": user,
        "issue": to_issue(**issue),
        "changelog": {
            "id": "40001",
            "items": [
                {"field": "assignee", "fromString": None, "toString": "Alice Example"},
                {"field": "status", "fromString": "To Do", "toString": to_status},
            ],
        },
    }


def to_issue(key="OPS-1", issue_id="10001", labels=()):
    return {"id": issue_id, "key": key, "fields": {"summary": "s", "labels": list(labels)}}


async def post(client, payload, *, params=None, headers=None):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    params = {"secret": WEBHOOK_SECRET} if params is None else params
    return await client.post("/webhooks/jira", params=params, headers=headers, content=body)


@pytest.fixture
async def runtime(redis, redis_url, jira):
    async with open_test_runtime(redis_url, jira) as runtime:
        yield runtime


@pytest.fixture
async def client(runtime):
    transport = httpx.ASGITransport(app=create_app(runtime))
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
        yield client


@pytest.fixture
async def incident_id(runtime):
    """An incident whose issue OPS-1 exists, written by the bot."""
    incident_id = await open_incident(runtime.store)
    await flows.sync_ticket(
        incident_id,
        store=runtime.store,
        tickets=runtime.tickets,
        request_sync=runtime.jobs.request_sync,
    )
    return incident_id


async def get_thread_texts(runtime, incident_id):
    await incident_flows.sync_thread(
        incident_id, store=runtime.store, chat=runtime.console, redis=runtime.redis
    )
    incident = await runtime.store.get(incident_id)
    thread = await runtime.console.store.get_thread(incident.thread.root_id, viewer="anyone")
    return [stored.message.text for stored in thread.messages]


@pytest.mark.parametrize("body", ["Can we rerun it?", ADF_QUESTION])
async def test_comment_written_in_jira_appears_in_the_incident_thread(
    client, runtime, incident_id, body
):
    response = await post(client, comment_payload(body=body))

    assert response.status_code == 202
    event = (await runtime.store.get_events(incident_id))[-1]
    assert (event.data[ORIGIN], event.actor) == (FROM_JIRA, "Alice Example (Jira)")
    assert "Comment on OPS-1 in Jira:\nCan we rerun it?" in await get_thread_texts(
        runtime, incident_id
    )


async def test_status_change_made_in_jira_appears_in_the_incident_thread(
    client, runtime, incident_id
):
    response = await post(client, status_payload(to_status="In Progress"))

    assert response.status_code == 202
    assert [change["kind"] for change in response.json()["changes"]] == ["status"]
    assert "OPS-1 moved from To Do to In Progress in Jira." in await get_thread_texts(
        runtime, incident_id
    )


async def test_the_bots_own_comment_does_not_echo(client, runtime, jira, incident_id):
    [own] = jira.comments_on("OPS-1")
    before = await runtime.store.get_events(incident_id)

    response = await post(
        client, comment_payload(comment_id=own["id"], body=own["body"], author=own["author"])
    )

    assert response.status_code == 200
    assert response.json()["changes"][0]["status"] == "own change"
    assert await runtime.store.get_events(incident_id) == before


async def test_bot_comment_is_recognised_by_its_marker_before_the_account_is_known(
    client, runtime, jira, incident_id
):
    [own] = jira.comments_on("OPS-1")
    await runtime.redis.delete("ib:tickets:account")

    response = await post(client, comment_payload(body=own["body"], author={"name": "x"}))

    assert response.json()["changes"][0]["status"] == "own change"


async def test_the_bots_own_transition_does_not_echo(client, runtime, incident_id):
    bot = {"name": "incident-bot", "key": "incident-bot", "displayName": "incident-bot"}

    response = await post(client, status_payload(user=bot))

    assert response.status_code == 200
    assert response.json()["changes"][0]["status"] == "own change"


async def test_redelivered_comment_is_added_once(client, runtime, incident_id):
    first = await post(client, comment_payload())
    again = await post(client, comment_payload())

    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["changes"][0]["status"] == "duplicate"
    texts = [event.text for event in await runtime.store.get_events(incident_id)]
    assert sum("Can we rerun it?" in text for text in texts) == 1


async def test_issue_unknown_by_key_is_found_by_its_incident_label(client, runtime, incident_id):
    payload = comment_payload(key="MOVED-9", issue_id="99", labels=[f"incident-bot-{incident_id}"])

    response = await post(client, payload)

    assert response.json()["changes"][0]["incident_id"] == incident_id


async def test_comment_on_an_issue_of_no_incident_is_ignored(client, runtime, incident_id):
    response = await post(client, comment_payload(key="OTHER-1", issue_id="555"))

    assert response.status_code == 200
    assert response.json()["changes"][0]["status"] == "not an incident's issue"


async def test_other_webhook_events_are_accepted_and_ignored(client):
    response = await post(client, {"webhookEvent": "jira:issue_created", "issue": to_issue()})

    assert response.status_code == 200
    assert response.json() == {"status": "ignored", "changes": []}


def sign(body):
    digest = hmac.new(WEBHOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature": f"sha256={digest}"}


@pytest.mark.parametrize(
    ("params", "headers", "status"),
    [
        ({}, {}, 401),
        ({"secret": "wrong"}, {}, 401),
        ({"secret": WEBHOOK_SECRET}, {}, 202),
        ({}, {"X-Incident-Bot-Secret": WEBHOOK_SECRET}, 202),
        ({}, {"X-Incident-Bot-Secret": "wrong"}, 401),
        ({}, sign, 202),
        ({"secret": WEBHOOK_SECRET}, {"X-Hub-Signature": "sha256=" + "0" * 64}, 401),
    ],
)
async def test_webhook_needs_the_shared_secret_or_a_valid_signature(
    client, incident_id, params, headers, status
):
    body = json.dumps(comment_payload()).encode()
    headers = headers(body) if callable(headers) else headers

    response = await post(client, body, params=params, headers=headers)

    assert response.status_code == status
    if status == 401:
        assert response.json()["error"]


async def test_webhook_refuses_everything_while_no_secret_is_set(redis, redis_url, jira):
    async with open_test_runtime(redis_url, jira, jira_webhook_secret="") as runtime:
        transport = httpx.ASGITransport(app=create_app(runtime))
        async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
            response = await post(client, comment_payload(), params={"secret": ""})

    assert response.status_code == 403
    assert "JIRA_WEBHOOK_SECRET" in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"not json", "The body is not valid JSON."),
        (b"[]", "The body must be a JSON object."),
        (b'{"timestamp": 1}', "Missing field webhookEvent."),
        (b'{"webhookEvent": "comment_created", "issue": {}}', "needs a comment"),
        (b'{"webhookEvent": "comment_created", "comment": {"id": 1}}', "needs an issue"),
        (b'{"webhookEvent": "comment_created", "comment": {"body": "x"}}', "comment.id"),
        (b'{"webhookEvent": "jira:issue_updated"}', "needs an issue"),
    ],
)
async def test_malformed_body_is_refused_naming_the_problem(client, body, problem):
    response = await post(client, body)

    assert response.status_code == 422
    assert problem in response.json()["error"]
