"""What the console keeps in Redis: posted messages, threads as read back, live events."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from bot.chat.models import Message


class MessageKind(StrEnum):
    ROOT = "root"
    REPLY = "reply"
    PRIVATE = "private"


class EventKind(StrEnum):
    """What changed; the page re-reads the thread list or the thread it shows."""

    ROOT = "root"
    REPLY = "reply"
    UPDATE = "update"
    PRIVATE = "private"


class StoredMessage(BaseModel):
    """A message as posted, with where it lives; `user` is set on private messages only."""

    model_config = ConfigDict(frozen=True)

    id: str
    kind: MessageKind
    channel: str
    root_id: str
    message: Message
    created_at: datetime
    updated_at: datetime | None = None
    user: str | None = None


class ThreadSummary(BaseModel):
    """One line of the thread list: the current root and how many replies follow it."""

    model_config = ConfigDict(frozen=True)

    root: StoredMessage
    reply_count: int


class ThreadView(BaseModel):
    """A thread as one person sees it: the root, then replies and their private messages."""

    model_config = ConfigDict(frozen=True)

    root: StoredMessage
    messages: list[StoredMessage]


class ConsoleEvent(BaseModel):
    """The notification published on every write, small enough for one SSE line."""

    model_config = ConfigDict(frozen=True)

    kind: EventKind
    root_id: str
    channel: str
    message_id: str
    user: str | None = None
