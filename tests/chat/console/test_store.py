import pytest

from bot.chat.console.adapter import ConsoleChat
from bot.chat.console.models import EventKind, MessageKind
from bot.chat.console.store import ThreadNotFound
from bot.chat.models import Button, Fact, Link, Message, Section, Tone
from bot.chat.port import ThreadRef

EVENT_WAIT_SECONDS = 2.0


def text(words: str) -> Message:
    return Message(text=words)


async def test_post_root_returns_a_console_thread_in_its_channel(chat):
    thread = await chat.post_root(channel="incidents", message=text("INC-1 opened"))

    assert thread == ThreadRef(platform="console", channel="incidents", root_id=thread.root_id)
    assert chat.platform == "console"


async def test_message_ids_count_up_across_roots_and_replies(chat):
    first = await chat.post_root(channel="incidents", message=text("one"))
    reply_id = await chat.post_reply(thread=first, message=text("two"))
    second = await chat.post_root(channel="incidents", message=text("three"))

    assert [int(first.root_id), int(reply_id), int(second.root_id)] == [1, 2, 3]


async def test_thread_list_shows_newest_first_with_reply_counts(chat):
    older = await chat.post_root(channel="incidents", message=text("older"))
    await chat.post_reply(thread=older, message=text("a reply"))
    newer = await chat.post_root(channel="incidents", message=text("newer"))

    summaries = await chat.store.list_threads()

    assert [summary.root.id for summary in summaries] == [newer.root_id, older.root_id]
    assert [summary.reply_count for summary in summaries] == [0, 1]


async def test_thread_list_of_one_channel_leaves_other_channels_out(chat):
    await chat.post_root(channel="incidents", message=text("here"))
    await chat.post_root(channel="elsewhere", message=text("there"))

    summaries = await chat.store.list_threads(channel="elsewhere")

    assert [summary.root.message.text for summary in summaries] == ["there"]


async def test_thread_list_is_empty_before_anything_is_posted(chat):
    assert await chat.store.list_threads() == []


async def test_replies_come_back_in_posting_order(chat):
    thread = await chat.post_root(channel="incidents", message=text("root"))
    for words in ["first", "second", "third"]:
        await chat.post_reply(thread=thread, message=text(words))

    view = await chat.store.get_thread(thread.root_id, viewer="dana")

    assert view.root.message.text == "root"
    assert [stored.message.text for stored in view.messages] == ["first", "second", "third"]
    assert {stored.kind for stored in view.messages} == {MessageKind.REPLY}


async def test_root_update_replaces_content_and_keeps_creation_time(chat):
    thread = await chat.post_root(channel="incidents", message=text("Triggered"))
    before = await chat.store.get_root(thread.root_id)

    await chat.update_root(thread=thread, message=text("Resolved"))

    after = await chat.store.get_root(thread.root_id)
    listed = await chat.store.list_threads()
    assert after.message.text == "Resolved"
    assert after.created_at == before.created_at
    assert after.updated_at is not None
    assert listed[0].root.message.text == "Resolved"


async def test_private_message_is_shown_only_to_its_user_in_order(chat):
    thread = await chat.post_root(channel="incidents", message=text("root"))
    await chat.post_reply(thread=thread, message=text("public one"))
    await chat.post_private(thread=thread, user="dana", message=text("only dana"))
    await chat.post_reply(thread=thread, message=text("public two"))

    for_dana = await chat.store.get_thread(thread.root_id, viewer="dana")
    for_lee = await chat.store.get_thread(thread.root_id, viewer="lee")

    assert [m.message.text for m in for_dana.messages] == ["public one", "only dana", "public two"]
    assert [m.message.text for m in for_lee.messages] == ["public one", "public two"]
    assert for_dana.messages[1].user == "dana"
    assert for_dana.messages[1].kind is MessageKind.PRIVATE


async def test_private_message_does_not_count_as_a_reply(chat):
    thread = await chat.post_root(channel="incidents", message=text("root"))
    await chat.post_private(thread=thread, user="dana", message=text("only dana"))

    summaries = await chat.store.list_threads()

    assert summaries[0].reply_count == 0


async def test_every_part_of_a_message_survives_the_round_trip(chat):
    message = Message(
        text="INC-3 Triggered",
        header="INC-3: orders_daily failed",
        tone=Tone.DANGER,
        facts=[Fact(label="State", value="Triggered")],
        sections=[Section(text="KeyError: 'id'", title="Log", preformatted=True)],
        links=[Link(title="Airflow log", url="https://airflow.example/log")],
        buttons=[Button(action="ack", label="Acknowledge", value="INC-3")],
        context=["fingerprint fp-1"],
        mentions=["dana"],
    )
    thread = await chat.post_root(channel="incidents", message=message)

    root = await chat.store.get_root(thread.root_id)

    assert root.message == message


@pytest.mark.parametrize("root_id", ["999", "not-a-number"])
async def test_reply_to_an_unknown_thread_raises_thread_not_found(chat, root_id):
    thread = ThreadRef(platform="console", channel="incidents", root_id=root_id)

    with pytest.raises(ThreadNotFound):
        await chat.post_reply(thread=thread, message=text("lost"))


async def test_a_reply_id_is_not_a_thread(chat):
    thread = await chat.post_root(channel="incidents", message=text("root"))
    reply_id = await chat.post_reply(thread=thread, message=text("reply"))

    with pytest.raises(ThreadNotFound):
        await chat.store.get_thread(reply_id, viewer="dana")


async def test_update_of_an_unknown_root_raises_thread_not_found(chat):
    thread = ThreadRef(platform="console", channel="incidents", root_id="42")

    with pytest.raises(ThreadNotFound):
        await chat.update_root(thread=thread, message=text("nothing to edit"))


async def test_a_thread_of_another_platform_is_refused(chat):
    slack_thread = ThreadRef(platform="slack", channel="C123", root_id="1712345.000100")

    with pytest.raises(ValueError, match="slack"):
        await chat.post_reply(thread=slack_thread, message=text("wrong adapter"))


async def post_root(chat, thread):
    await chat.post_root(channel="incidents", message=text("another root"))


async def post_reply(chat, thread):
    await chat.post_reply(thread=thread, message=text("reply"))


async def update_root(chat, thread):
    await chat.update_root(thread=thread, message=text("edited"))


async def post_private(chat, thread):
    await chat.post_private(thread=thread, user="dana", message=text("psst"))


@pytest.mark.parametrize(
    ("write", "kind", "user"),
    [
        (post_root, EventKind.ROOT, None),
        (post_reply, EventKind.REPLY, None),
        (update_root, EventKind.UPDATE, None),
        (post_private, EventKind.PRIVATE, "dana"),
    ],
)
async def test_every_write_publishes_an_event(chat, write, kind, user):
    thread = await chat.post_root(channel="incidents", message=text("root"))

    async with chat.store.subscribe() as subscription:
        await write(chat, thread)
        event = await subscription.get_event(wait_seconds=EVENT_WAIT_SECONDS)

    assert event is not None
    assert event.kind is kind
    assert event.channel == "incidents"
    assert event.user == user
    if kind is not EventKind.ROOT:
        assert event.root_id == thread.root_id


async def test_a_console_in_another_process_sees_the_same_threads(chat, redis_url):
    import redis.asyncio as aioredis

    thread = await chat.post_root(channel="incidents", message=text("from the worker"))
    other_client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        other = ConsoleChat(other_client, prefix=chat.store.prefix)
        view = await other.store.get_thread(thread.root_id, viewer="dana")
    finally:
        await other_client.aclose()

    assert view.root.message.text == "from the worker"


async def test_subscription_returns_none_when_nothing_happens(chat):
    async with chat.store.subscribe() as subscription:
        assert await subscription.get_event(wait_seconds=0.05) is None
