import asyncio
import json
import time

import httpx
import pytest

from bot.chat.console.security import COOKIE_NAME, PAGE_HEADER, TOKEN_HEADER
from bot.chat.models import Message
from bot.chat.port import ThreadRef
from tests.browser import SHUTDOWN_TIMEOUT_SECONDS, serve_in_loop
from tests.chat.console.conftest import TOKEN, build_app, build_root, build_settings

PAGE = {PAGE_HEADER: "1"}
BASE_URL = "http://127.0.0.1:8000"
STREAM_TIMEOUT_SECONDS = 5.0


@pytest.fixture
async def client(handlers, loopback_settings):
    transport = httpx.ASGITransport(app=build_app(handlers, loopback_settings))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


@pytest.fixture
async def exposed_client(handlers, exposed_settings):
    transport = httpx.ASGITransport(app=build_app(handlers, exposed_settings))
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        yield http


@pytest.fixture
async def served_client(console_url):
    """A client of a real server, for the event stream."""
    async with httpx.AsyncClient(base_url=console_url) as http:
        yield http


async def read_stream_line(lines, prefix):
    """The next line of an SSE stream that starts with `prefix`."""
    async with asyncio.timeout(STREAM_TIMEOUT_SECONDS):
        async for line in lines:
            if line.startswith(prefix):
                return line
    raise AssertionError(f"the stream ended before a line starting with {prefix!r}")


# Page and files


async def test_page_lists_one_button_per_sample_alert(client):
    response = await client.get("/console")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    for label in [
        "Send a Datadog monitor alert",
        "Send a CloudWatch alarm",
        "Send an Airflow task failure",
    ]:
        assert label in response.text
    assert 'src="/console/static/console.js"' in response.text


async def test_page_allows_scripts_from_its_own_server_only(client):
    response = await client.get("/console")

    policy = response.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy


@pytest.mark.parametrize(
    ("name", "media_type"),
    [("console.js", "text/javascript"), ("console.css", "text/css")],
)
async def test_page_files_are_served_with_their_media_type(client, name, media_type):
    response = await client.get(f"/console/static/{name}")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith(media_type)


@pytest.mark.parametrize("name", ["index.html", "..%2Fstore.py", "missing.js"])
async def test_any_other_file_name_is_not_found(client, name):
    response = await client.get(f"/console/static/{name}")

    assert response.status_code == 404


# Token, origin and host rules


@pytest.mark.parametrize(
    "path", ["/console", "/console/threads", "/console/events", "/console/static/console.js"]
)
async def test_exposed_console_without_token_answers_401_naming_the_setting(exposed_client, path):
    response = await exposed_client.get(path)

    assert response.status_code == 401
    assert "CONSOLE_TOKEN" in response.json()["detail"]


@pytest.mark.parametrize(
    ("where", "request_options"),
    [
        ("header", {"headers": {TOKEN_HEADER: "guess"}}),
        ("query", {"params": {"token": "guess"}}),
        ("cookie", {"headers": {"Cookie": f"{COOKIE_NAME}=guess"}}),
    ],
)
async def test_exposed_console_with_wrong_token_answers_401(exposed_client, where, request_options):
    response = await exposed_client.get("/console/threads", **request_options)

    assert response.status_code == 401
    assert "wrong" in response.json()["detail"]


async def test_token_in_the_address_moves_into_a_strict_http_only_cookie(exposed_client):
    response = await exposed_client.get("/console", params={"token": TOKEN})

    cookie = response.headers["set-cookie"]
    assert response.status_code == 303
    assert response.headers["location"] == "/console"
    assert cookie.startswith(f"{COOKIE_NAME}={TOKEN};")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/console" in cookie


async def test_cookie_from_the_token_address_opens_the_page(exposed_client):
    await exposed_client.get("/console", params={"token": TOKEN})

    response = await exposed_client.get("/console")

    assert response.status_code == 200
    assert "incident-bot" in response.text


async def test_token_header_opens_the_thread_list(exposed_client):
    response = await exposed_client.get("/console/threads", headers={TOKEN_HEADER: TOKEN})

    assert response.status_code == 200


async def test_loopback_console_needs_no_token(client):
    response = await client.get("/console/threads")

    assert response.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {**PAGE, "Origin": "https://evil.example"},
        {**PAGE, "Origin": "null"},
        {**PAGE, "Sec-Fetch-Site": "cross-site"},
        {**PAGE, "Sec-Fetch-Site": "same-site"},
    ],
    ids=["no-page-header", "foreign-origin", "null-origin", "cross-site", "same-site"],
)
async def test_post_from_another_site_is_refused_before_the_handler(client, handlers, headers):
    response = await client.post(
        "/console/click", json={"action": "ack", "value": "INC-1"}, headers=headers
    )

    assert response.status_code == 403
    assert "did not come from the console page" in response.json()["detail"]
    assert handlers.clicks == []


async def test_post_from_the_page_with_its_own_origin_is_accepted(client):
    headers = {**PAGE, "Origin": BASE_URL, "Sec-Fetch-Site": "same-origin"}

    response = await client.post(
        "/console/click", json={"action": "ack", "value": "INC-1"}, headers=headers
    )

    assert response.status_code == 200


async def test_loopback_console_refuses_a_foreign_host_name(client):
    # What a DNS-rebinding page would send: our address, its own host name.
    response = await client.get("/console/threads", headers={"Host": "evil.example"})

    assert response.status_code == 403
    assert "evil.example" in response.json()["detail"]


async def test_loopback_console_answers_for_its_public_url_host(handlers):
    settings = build_settings(host="127.0.0.1", public_url="https://bot.example.org")
    transport = httpx.ASGITransport(app=build_app(handlers, settings))

    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as http:
        response = await http.get("/console/threads", headers={"Host": "bot.example.org"})

    assert response.status_code == 200


# Threads


async def test_thread_list_shows_title_tone_and_reply_count(client, chat):
    thread = await chat.post_root(channel="data-incidents", message=build_root(1))
    await chat.post_reply(thread=thread, message=Message(text="first reply"))

    response = await client.get("/console/threads")

    assert response.json()["threads"] == [
        {
            "root_id": thread.root_id,
            "channel": "data-incidents",
            "title": "INC-1: orders_daily failed",
            "tone": "danger",
            "reply_count": 1,
            "created_at": response.json()["threads"][0]["created_at"],
        }
    ]


async def test_thread_answers_escaped_html_of_root_and_replies(client, chat):
    thread = await chat.post_root(channel="incidents", message=Message(text="<b>root</b>"))
    await chat.post_reply(thread=thread, message=Message(text="a reply"))

    response = await client.get(f"/console/threads/{thread.root_id}")

    body = response.json()
    assert body["root_id"] == thread.root_id
    assert "&lt;b&gt;root&lt;/b&gt;" in body["html"]
    assert "a reply" in body["html"]


async def test_unknown_thread_answers_404_with_a_message(client):
    response = await client.get("/console/threads/404")

    assert response.status_code == 404
    assert "no console thread 404" in response.json()["detail"]


# Clicks, commands and samples


async def test_click_reaches_the_handler_as_the_console_user_in_its_thread(client, chat, handlers):
    thread = await chat.post_root(channel="data-incidents", message=build_root(1))

    response = await client.post(
        "/console/click",
        json={"action": "ack", "value": "INC-1", "root_id": thread.root_id},
        headers=PAGE,
    )

    [click] = handlers.clicks
    assert click.platform == "console"
    assert click.user == "dana"
    assert (click.action, click.value) == ("ack", "INC-1")
    assert click.thread == thread
    assert response.json()["stored"] is True
    assert "INC-1 acknowledged by dana." in response.json()["html"]


async def test_click_answer_is_kept_as_a_private_message_for_the_console_user(client, chat):
    thread = await chat.post_root(channel="incidents", message=build_root(1))

    await client.post(
        "/console/click",
        json={"action": "ack", "value": "INC-1", "root_id": thread.root_id},
        headers=PAGE,
    )

    view = await chat.store.get_thread(thread.root_id, viewer="dana")
    assert [stored.message.text for stored in view.messages] == ["INC-1 acknowledged by dana."]
    assert view.messages[0].user == "dana"


async def test_click_without_an_answer_stores_nothing(client, chat):
    thread = await chat.post_root(channel="incidents", message=build_root(1))

    response = await client.post(
        "/console/click",
        json={"action": "resolve", "value": "INC-1", "root_id": thread.root_id},
        headers=PAGE,
    )

    view = await chat.store.get_thread(thread.root_id, viewer="dana")
    assert response.json() == {"html": None, "stored": False}
    assert view.messages == []


async def test_click_refused_by_the_handler_answers_its_status_and_words(client):
    response = await client.post(
        "/console/click", json={"action": "approve", "value": "A-1"}, headers=PAGE
    )

    assert response.status_code == 403
    assert response.json()["detail"] == "Only the data-platform team may approve this."


async def test_click_in_an_unknown_thread_answers_404(client, handlers):
    response = await client.post(
        "/console/click",
        json={"action": "ack", "value": "INC-1", "root_id": "77"},
        headers=PAGE,
    )

    assert response.status_code == 404
    assert handlers.clicks == []


@pytest.mark.parametrize(
    ("typed", "passed"),
    [
        ("/incident status INC-2", "status INC-2"),
        ("  list  ", "list"),
        ("/incident", ""),
        ("/incidents list", "/incidents list"),
    ],
)
async def test_command_reaches_the_handler_without_the_command_name(
    client, handlers, loopback_settings, typed, passed
):
    response = await client.post("/console/command", json={"text": typed}, headers=PAGE)

    [command] = handlers.commands
    assert command.text == passed
    assert command.platform == "console"
    assert command.user == "dana"
    assert command.channel == loopback_settings.default_channel
    assert command.thread is None
    assert f"You asked for &#x27;{passed}&#x27;." in response.json()["html"]


async def test_command_in_a_thread_carries_the_thread(client, chat, handlers):
    thread = await chat.post_root(channel="data-incidents", message=build_root(1))

    await client.post(
        "/console/command", json={"text": "status", "root_id": thread.root_id}, headers=PAGE
    )

    [command] = handlers.commands
    assert command.thread == ThreadRef(
        platform="console", channel="data-incidents", root_id=thread.root_id
    )
    assert command.channel == "data-incidents"


async def test_sample_alert_answers_the_status_of_send_sample(client, handlers, chat):
    response = await client.post("/console/sample", json={"kind": "airflow"}, headers=PAGE)

    assert response.json() == {"status": "Sent a sample airflow alert."}
    assert handlers.samples == ["airflow"]
    assert len(await chat.store.list_threads()) == 1


async def test_unknown_sample_kind_answers_422_naming_the_choices(client, handlers):
    response = await client.post("/console/sample", json={"kind": "nagios"}, headers=PAGE)

    assert response.status_code == 422
    assert "datadog, cloudwatch, airflow" in response.json()["detail"]
    assert handlers.samples == []


# Live events


async def test_event_stream_delivers_a_notification_after_a_post(served_client, chat):
    async with served_client.stream("GET", "/console/events") as response:
        lines = response.aiter_lines()
        await read_stream_line(lines, "retry:")
        thread = await chat.post_root(channel="incidents", message=build_root(1))
        data = await read_stream_line(lines, "data:")

    assert response.headers["content-type"].startswith("text/event-stream")
    assert json.loads(data.removeprefix("data: ")) == {
        "kind": "root",
        "root_id": thread.root_id,
        "channel": "incidents",
        "message_id": thread.root_id,
        "user": None,
    }


async def test_event_stream_sends_a_keep_alive_comment_when_quiet(handlers, loopback_settings):
    app = build_app(handlers, loopback_settings, keepalive_seconds=0.05)

    async with serve_in_loop(app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        async with http.stream("GET", "/console/events") as response:
            lines = response.aiter_lines()
            await read_stream_line(lines, "retry:")
            comment = await read_stream_line(lines, ":")
        handlers.chat.close()

    assert comment == ": keep-alive"


async def test_closing_the_console_ends_open_streams_so_the_server_can_stop(
    handlers, loopback_settings
):
    app = build_app(handlers, loopback_settings)
    started = time.monotonic()

    async with serve_in_loop(app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        async with http.stream("GET", "/console/events") as response:
            lines = response.aiter_lines()
            await read_stream_line(lines, "retry:")
            handlers.chat.close()
            remaining = [line async for line in lines]

    assert [line for line in remaining if line.startswith("data:")] == []
    assert time.monotonic() - started < STREAM_TIMEOUT_SECONDS


async def test_client_going_away_ends_its_stream_and_redis_subscription(
    handlers, loopback_settings, redis
):
    app = build_app(handlers, loopback_settings)

    async with serve_in_loop(app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        async with http.stream("GET", "/console/events") as response:
            # Keep the line iterator referenced: once it is collected it closes the stream.
            lines = response.aiter_lines()
            await read_stream_line(lines, "retry:")
            assert await count_subscribers(redis, handlers.chat) == 1
        # Leaving serve_in_loop waits for every request to finish, and the console is not
        # closed here: only the client's disconnect can end the stream in time.
        stopping = time.monotonic()

    assert time.monotonic() - stopping < SHUTDOWN_TIMEOUT_SECONDS
    # Redis drops a subscription when it notices the closed connection, a moment later.
    assert await wait_for_subscribers(redis, handlers.chat, 0)


async def wait_for_subscribers(redis, chat, count, limit=5.0):
    deadline = time.monotonic() + limit
    while await count_subscribers(redis, chat) != count:
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def count_subscribers(redis, chat):
    [(_, count)] = await redis.pubsub_numsub(chat.store.events_channel)
    return count
