"""`/incident` commands and the incident buttons (acknowledge, resolve), for every platform."""

from __future__ import annotations

import re

from bot.chat.models import Message
from bot.chat.port import ButtonClick, CommandRequest
from bot.errors import IllegalTransition
from bot.incidents import messages
from bot.incidents.flows import RequestSync
from bot.incidents.models import Incident
from bot.incidents.states import State
from bot.incidents.store import IncidentStore

_ID = re.compile(r"^(?:inc-?)?(\d+)$", re.IGNORECASE)
_TARGETS = {"ack": State.ACKNOWLEDGED, "resolve": State.RESOLVED}


def to_incident_id(reference: str) -> str | None:
    """`INC-12`, `inc12` and `12` all name incident INC-12."""
    found = _ID.match(reference.strip())
    return f"INC-{found.group(1)}" if found else None


class IncidentCommands:
    """Answers commands and incident buttons; the answer is shown to the asker only."""

    def __init__(self, *, store: IncidentStore, request_sync: RequestSync) -> None:
        self.store = store
        self.request_sync = request_sync

    async def handle_command(self, request: CommandRequest) -> Message:
        words = request.text.split()
        verb = words[0].lower() if words else "help"
        reference = words[1] if len(words) > 1 else None
        if verb == "help":
            return messages.build_help()
        if verb == "list":
            return messages.build_incident_list(await self.store.list_open())
        if verb not in ("status", *_TARGETS):
            return messages.build_unknown_command(verb)

        incident = await self._find(reference, request)
        if incident is None:
            return messages.build_no_incident(reference)
        if verb == "status":
            return messages.build_status(incident)
        return await self._move(incident, _TARGETS[verb], actor=request.user)

    async def handle_click(self, click: ButtonClick) -> Message | None:
        target = _TARGETS.get(click.action)
        incident = await self.store.get(click.value) if target else None
        if target is None or incident is None:
            return messages.build_no_incident(click.value)
        return await self._move(incident, target, actor=click.user)

    async def _find(self, reference: str | None, request: CommandRequest) -> Incident | None:
        if reference is not None:
            incident_id = to_incident_id(reference)
            return await self.store.get(incident_id) if incident_id else None
        if request.thread is None:
            return None
        return await self.store.find_by_thread(request.thread)

    async def _move(self, incident: Incident, target: State, *, actor: str) -> Message:
        try:
            if target is State.ACKNOWLEDGED:
                moved = await self.store.acknowledge(incident.id, actor=actor)
            else:
                moved = await self.store.transition(incident.id, target, actor=actor)
        except IllegalTransition:
            return messages.build_refused_transition(incident, target)
        if moved is None:
            return messages.build_already(incident)
        await self.request_sync(incident.id)
        return messages.build_done(moved, target)
