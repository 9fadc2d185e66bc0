"""The chat port every platform adapter implements."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from bot.chat.models import Message


class ThreadRef(BaseModel):
    """Where an incident's thread lives: the platform, its channel and the root message."""

    model_config = ConfigDict(frozen=True)

    platform: str
    channel: str
    root_id: str


class ChatPort(Protocol):
    """Posts an incident's root message, replies in its thread and edits the root."""

    platform: str

    async def post_root(self, *, channel: str, message: Message) -> ThreadRef:
        """Post a new root message in `channel` and return the thread it starts."""
        ...

    async def post_reply(self, *, thread: ThreadRef, message: Message) -> str:
        """Reply in the thread; returns the reply's message id."""
        ...

    async def update_root(self, *, thread: ThreadRef, message: Message) -> None:
        """Replace the root message's content in place."""
        ...

    async def post_private(self, *, thread: ThreadRef, user: str, message: Message) -> None:
        """Show a message to one person only (a refused click, a command's answer)."""
        ...


class CommandRequest(BaseModel):
    """A chat command (`/incident status 12`, or a mention of the bot)."""

    model_config = ConfigDict(frozen=True)

    platform: str
    user: str
    channel: str
    text: str
    user_groups: tuple[str, ...] = ()
    thread: ThreadRef | None = None


class ButtonClick(BaseModel):
    """A click on a button; `value` is the opaque id the button carried."""

    model_config = ConfigDict(frozen=True)

    platform: str
    user: str
    action: str
    value: str
    user_groups: tuple[str, ...] = ()
    thread: ThreadRef | None = None


CommandHandler = Callable[[CommandRequest], Awaitable[Message]]
ClickHandler = Callable[[ButtonClick], Awaitable[Message | None]]
"""Answers a click; the message returned, if any, is shown only to the person who clicked."""
