"""Space out chat calls to one channel, as Slack allows about one message a second each."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]


class ChannelPacer:
    """Hands out send slots per channel at least `interval` seconds apart.

    A caller reserves its slot before it awaits anything, so concurrent callers queue up in
    the order they asked, without a lock.
    """

    # Known limit: the slots live in this process; several worker processes each pace on
    # their own, so together they can post faster than one message a second to a channel.

    def __init__(
        self,
        interval: float = 1.0,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._sleep = sleep
        self._next_slot: dict[str, float] = {}

    async def wait_turn(self, channel: str) -> None:
        """Return when `channel` may receive the next message."""
        now = self._clock()
        slot = max(now, self._next_slot.get(channel, now))
        self._next_slot[channel] = slot + self.interval
        if slot > now:
            await self._sleep(slot - now)
