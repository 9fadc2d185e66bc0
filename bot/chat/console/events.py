"""The console's live updates as Server-Sent Events, fed by the store's Redis channel.

Format: https://html.spec.whatwg.org/multipage/server-sent-events.html
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from bot.chat.console.store import ConsoleStore

# How long the browser waits before it reconnects a dropped stream.
RETRY_MILLISECONDS = 2_000
# How often a stream looks at the store's closed flag while no event arrives.
CLOSED_CHECK_SECONDS = 1.0


async def stream_events(store: ConsoleStore, *, keepalive_seconds: float) -> AsyncIterator[str]:
    """Yield one SSE `data:` line per console event until the store is closed.

    A comment line goes out after `keepalive_seconds` of quiet, so proxies keep the
    connection open and a client that went away is noticed at the next write.
    """
    wait_seconds = min(CLOSED_CHECK_SECONDS, keepalive_seconds)
    async with store.subscribe() as subscription:
        # Sent once subscribed: a client that reads this line will not miss an event.
        yield f"retry: {RETRY_MILLISECONDS}\n\n"
        last_write = time.monotonic()
        while not store.is_closed:
            event = await subscription.get_event(wait_seconds=wait_seconds)
            now = time.monotonic()
            if event is not None:
                yield f"data: {event.model_dump_json()}\n\n"
                last_write = now
            elif now - last_write >= keepalive_seconds:
                yield ": keep-alive\n\n"
                last_write = now
