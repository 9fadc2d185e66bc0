"""The console's implementation of the chat port: threads kept in Redis, shown at /console."""

from __future__ import annotations

import logging

from redis.asyncio import Redis

from bot.chat.console.store import ConsoleStore
from bot.chat.models import Message
from bot.chat.port import ThreadRef

logger = logging.getLogger(__name__)

PLATFORM = "console"


class ConsoleChat:
    """A ChatPort whose messages live in Redis, so worker processes can post to it too.

    chat = ConsoleChat(redis)
    thread = await chat.post_root(channel="incidents", message=message)
    await chat.post_reply(thread=thread, message=reply)
    """

    platform = PLATFORM

    def __init__(self, redis: Redis, *, prefix: str = "console") -> None:
        self.store = ConsoleStore(redis, prefix=prefix)

    async def post_root(self, *, channel: str, message: Message) -> ThreadRef:
        root = await self.store.create_root(channel=channel, message=message)
        logger.debug("console root %s posted in %s", root.id, channel)
        return ThreadRef(platform=PLATFORM, channel=channel, root_id=root.id)

    async def post_reply(self, *, thread: ThreadRef, message: Message) -> str:
        """Raises ThreadNotFound when the thread's root is not in this console."""
        reply = await self.store.create_reply(root_id=_to_root_id(thread), message=message)
        return reply.id

    async def update_root(self, *, thread: ThreadRef, message: Message) -> None:
        """Raises ThreadNotFound when the thread's root is not in this console."""
        await self.store.update_root(root_id=_to_root_id(thread), message=message)

    async def post_private(self, *, thread: ThreadRef, user: str, message: Message) -> None:
        """Raises ThreadNotFound when the thread's root is not in this console."""
        await self.store.create_reply(root_id=_to_root_id(thread), message=message, user=user)

    def close(self) -> None:
        """End every live event stream, so the web server can shut down without waiting."""
        self.store.close()


def _to_root_id(thread: ThreadRef) -> str:
    if thread.platform != PLATFORM:
        raise ValueError(f"a {thread.platform} thread cannot be posted to the console")
    return thread.root_id
