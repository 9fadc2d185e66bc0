"""The console's messages in Redis, shared by the web process and any worker process.

Keys, under a prefix (`console` by default):

    {prefix}:next-id                    INCR counter for message ids
    {prefix}:message:{id}               one StoredMessage as JSON
    {prefix}:threads                    sorted set of root ids, scored by id (newest last)
    {prefix}:channel:{channel}          the same, for one channel
    {prefix}:replies:{root_id}          list of reply ids, in order
    {prefix}:private:{root_id}:{user}   list of ids of messages only `user` sees

Every write publishes a ConsoleEvent on `{prefix}:events`, in the same transaction.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import cast

import anyio
from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from bot.chat.console import messages
from bot.chat.console.models import (
    ConsoleEvent,
    EventKind,
    MessageKind,
    StoredMessage,
    ThreadSummary,
    ThreadView,
)
from bot.chat.models import Message
from bot.errors import ExpectedError


class ThreadNotFound(ExpectedError):
    status_code = 404


class ConsoleStore:
    """Writes and reads console messages; see the module docstring for the keys."""

    def __init__(self, redis: Redis, *, prefix: str = "console") -> None:
        self.redis = redis
        self.prefix = prefix
        self.events_channel = f"{prefix}:events"
        self._closed = False

    async def create_root(self, *, channel: str, message: Message) -> StoredMessage:
        message_id = str(await self.redis.incr(self._key("next-id")))
        root = StoredMessage(
            id=message_id,
            kind=MessageKind.ROOT,
            channel=channel,
            root_id=message_id,
            message=message,
            created_at=datetime.now(UTC),
        )
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._message_key(message_id), root.model_dump_json())
            pipe.zadd(self._key("threads"), {message_id: int(message_id)})
            pipe.zadd(self._key("channel", channel), {message_id: int(message_id)})
            pipe.publish(self.events_channel, self._to_event(EventKind.ROOT, root))
            await pipe.execute()
        return root

    async def create_reply(
        self, *, root_id: str, message: Message, user: str | None = None
    ) -> StoredMessage:
        """Append a reply, or with `user` a private message, to a thread.

        Raises ThreadNotFound when the root does not exist.
        """
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self._message_key(root_id))
            pipe.incr(self._key("next-id"))
            raw_root, next_id = await pipe.execute()
        root = self._to_root(root_id, raw_root)
        kind = MessageKind.REPLY if user is None else MessageKind.PRIVATE
        reply = StoredMessage(
            id=str(next_id),
            kind=kind,
            channel=root.channel,
            root_id=root_id,
            message=message,
            created_at=datetime.now(UTC),
            user=user,
        )
        if user is None:
            list_key, event_kind = self._key("replies", root_id), EventKind.REPLY
        else:
            list_key, event_kind = self._key("private", root_id, user), EventKind.PRIVATE

        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._message_key(reply.id), reply.model_dump_json())
            pipe.rpush(list_key, reply.id)
            pipe.publish(self.events_channel, self._to_event(event_kind, reply))
            await pipe.execute()
        return reply

    async def update_root(self, *, root_id: str, message: Message) -> StoredMessage:
        """Replace a root's content, keeping its id and creation time.

        Raises ThreadNotFound when the root does not exist.
        """
        root = self._to_root(root_id, await self.redis.get(self._message_key(root_id)))
        updated = root.model_copy(update={"message": message, "updated_at": datetime.now(UTC)})
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self._message_key(root_id), updated.model_dump_json())
            pipe.publish(self.events_channel, self._to_event(EventKind.UPDATE, updated))
            await pipe.execute()
        return updated

    async def list_threads(
        self, *, channel: str | None = None, limit: int = 100
    ) -> list[ThreadSummary]:
        """The newest threads first, each with its current root."""
        index = self._key("threads") if channel is None else self._key("channel", channel)
        raw_ids = cast("list[bytes | str]", await self.redis.zrevrange(index, 0, limit - 1))
        root_ids = [_to_str(raw) for raw in raw_ids]
        if not root_ids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.mget([self._message_key(root_id) for root_id in root_ids])
            for root_id in root_ids:
                pipe.llen(self._key("replies", root_id))
            raw_roots, *reply_counts = await pipe.execute()
        return [
            ThreadSummary(root=StoredMessage.model_validate_json(raw), reply_count=count)
            for raw, count in zip(raw_roots, reply_counts, strict=True)
            if raw is not None
        ]

    async def get_thread(self, root_id: str, *, viewer: str) -> ThreadView:
        """The root, then its replies and `viewer`'s private messages in posting order.

        Raises ThreadNotFound when the root does not exist.
        """
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(self._message_key(root_id))
            pipe.lrange(self._key("replies", root_id), 0, -1)
            pipe.lrange(self._key("private", root_id, viewer), 0, -1)
            raw_root, reply_ids, private_ids = await pipe.execute()
        root = self._to_root(root_id, raw_root)
        message_ids = sorted({_to_str(raw) for raw in [*reply_ids, *private_ids]}, key=int)
        return ThreadView(root=root, messages=await self._get_messages(message_ids))

    async def get_root(self, root_id: str) -> StoredMessage:
        """Raises ThreadNotFound when the root does not exist."""
        return self._to_root(root_id, await self.redis.get(self._message_key(root_id)))

    @asynccontextmanager
    async def subscribe(self) -> AsyncIterator[EventSubscription]:
        """Listen to the events of every write; subscribed once the block is entered."""
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(self.events_channel)
        try:
            # SUBSCRIBE is only in force once Redis confirms it; until then a write's event
            # could be missed, so wait for the confirmation before handing the stream out.
            await _wait_for_confirmation(pubsub)
            yield EventSubscription(pubsub)
        finally:
            # The web server cancels a stream when its client goes away; the
            # connection must still go back to the pool.
            with anyio.CancelScope(shield=True):
                await pubsub.aclose()

    def close(self) -> None:
        """Ask every open event stream to end; safe to call from a signal handler."""
        self._closed = True

    @property
    def is_closed(self) -> bool:
        return self._closed

    async def _get_messages(self, message_ids: Sequence[str]) -> list[StoredMessage]:
        if not message_ids:
            return []
        raws = await self.redis.mget([self._message_key(message_id) for message_id in message_ids])
        return [StoredMessage.model_validate_json(raw) for raw in raws if raw is not None]

    def _to_root(self, root_id: str, raw: bytes | str | None) -> StoredMessage:
        if raw is None:
            raise ThreadNotFound(messages.to_thread_not_found(root_id))
        root = StoredMessage.model_validate_json(raw)
        if root.kind is not MessageKind.ROOT:
            raise ThreadNotFound(messages.to_thread_not_found(root_id))
        return root

    def _to_event(self, kind: EventKind, stored: StoredMessage) -> str:
        event = ConsoleEvent(
            kind=kind,
            root_id=stored.root_id,
            channel=stored.channel,
            message_id=stored.id,
            user=stored.user,
        )
        return event.model_dump_json()

    def _message_key(self, message_id: str) -> str:
        return self._key("message", message_id)

    def _key(self, *parts: str) -> str:
        return ":".join([self.prefix, *parts])


class EventSubscription:
    """An open subscription to the console's events."""

    def __init__(self, pubsub: PubSub) -> None:
        self._pubsub = pubsub

    async def get_event(self, *, wait_seconds: float) -> ConsoleEvent | None:
        """The next event, or None when none arrived within `wait_seconds`."""
        deadline = time.monotonic() + wait_seconds
        while (remaining := deadline - time.monotonic()) > 0:
            # An ignored subscribe confirmation also comes back as None, before the time is up.
            note = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=remaining)
            if note is not None and note.get("type") == "message":
                return ConsoleEvent.model_validate_json(note["data"])
        return None


def _to_str(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


async def _wait_for_confirmation(pubsub: PubSub, limit: float = 5.0) -> None:
    async with asyncio.timeout(limit):
        while True:
            message = await pubsub.get_message(timeout=limit)
            if message is not None and message.get("type") == "subscribe":
                return
