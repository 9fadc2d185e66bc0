"""The ticket tracker port the sync talks to, and the errors it may raise."""

from __future__ import annotations

from typing import Protocol

from bot.chat.models import Message
from bot.errors import BotError
from bot.tickets.models import NewTicket, TicketComment, TicketRef


class TrackerError(BotError):
    """A tracker call failed; `operation` says what was being done, in words."""

    def __init__(self, operation: str, message: str) -> None:
        super().__init__(f"{operation}: {message}")
        self.operation = operation
        self.message = message


class TrackerUnavailable(TrackerError):
    """Worth trying again later: timeouts, 5xx, 429, and 401/403/404/409 (fixed by config).

    `retry_after` is the wait the tracker asked for, in seconds, when it named one.
    `may_have_applied` is True when the call may have taken effect all the same (a read
    timeout, a 500), False when it surely did not (connection refused, 503, 429).
    """

    def __init__(
        self,
        operation: str,
        message: str,
        *,
        retry_after: float | None = None,
        may_have_applied: bool = True,
    ) -> None:
        super().__init__(operation, message)
        self.retry_after = retry_after
        self.may_have_applied = may_have_applied


class TicketRejected(TrackerError):
    """Refused for good as sent (a 4xx such as a field the project requires)."""

    def __init__(self, operation: str, message: str, *, status: int | None = None) -> None:
        super().__init__(operation, message)
        self.status = status


class TicketTracker(Protocol):
    """Creates an incident's issue, comments on it, moves it and edits it.

    Every method raises TrackerUnavailable or TicketRejected.
    """

    async def get_identity(self) -> frozenset[str]:
        """The ids of the account the bot writes as (account id, user name, user key)."""
        ...

    async def find_by_incident(self, incident_id: str) -> TicketRef | None:
        """The incident's issue, found by its label, or None when there is none yet."""
        ...

    async def create(self, ticket: NewTicket) -> TicketRef:
        """Create the issue, labelled and tagged with the incident id."""
        ...

    async def comment(self, key: str, comment: TicketComment) -> str:
        """Add a comment and return its id."""
        ...

    async def has_comment(self, key: str, marker: str) -> bool:
        """Whether a comment on the issue carries `marker`."""
        ...

    async def transition(self, key: str, name: str) -> str | None:
        """Apply the transition called `name` (or leading to the status `name`).

        Returns the new status, or None when the issue offers no such transition.
        """
        ...

    async def update(
        self, key: str, *, summary: str | None = None, description: Message | None = None
    ) -> None:
        """Replace the summary and/or the description."""
        ...
