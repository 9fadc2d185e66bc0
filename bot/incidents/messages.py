"""Every word the incident flows show people, as small functions returning a Message."""

from __future__ import annotations

from collections.abc import Sequence

from bot.alerts.models import Severity
from bot.chat.models import Button, ButtonStyle, Fact, Link, Message, Section, Tone
from bot.incidents.models import Event, EventKind, Incident
from bot.incidents.states import State

_STATE_LABELS = {
    State.TRIGGERED: "Triggered",
    State.ACKNOWLEDGED: "Acknowledged",
    State.DIAGNOSING: "Diagnosing",
    State.AWAITING_APPROVAL: "Awaiting approval",
    State.REMEDIATING: "Remediating",
    State.RESOLVED: "Resolved",
    State.ESCALATED: "Escalated",
}

_SEVERITY_TONES = {
    Severity.CRITICAL: Tone.DANGER,
    Severity.HIGH: Tone.DANGER,
    Severity.MEDIUM: Tone.WARNING,
    Severity.LOW: Tone.NEUTRAL,
    Severity.INFO: Tone.NEUTRAL,
}


# Events whose reply was rendered by their own domain and stored in `data["message"]`.
PRERENDERED_KINDS = frozenset(
    {EventKind.DIAGNOSIS, EventKind.APPROVAL, EventKind.ACTION, EventKind.ESCALATION}
)


def state_label(state: State) -> str:
    return _STATE_LABELS[state]


def _when(incident: Incident) -> str:
    return incident.opened_at.strftime("%Y-%m-%d %H:%M UTC")


def build_root(incident: Incident) -> Message:
    """The incident's root message, edited in place as the incident changes."""
    facts = [
        Fact(label="State", value=state_label(incident.state)),
        Fact(label="Severity", value=incident.severity.value),
        Fact(label="Source", value=incident.source),
        Fact(label="Opened", value=_when(incident)),
        Fact(label="Alerts", value=str(incident.alert_count)),
    ]
    if incident.service:
        facts.append(Fact(label="Service", value=incident.service))
    if incident.team:
        facts.append(Fact(label="Team", value=incident.team))
    if incident.acknowledged_by:
        facts.append(Fact(label="Acknowledged by", value=incident.acknowledged_by))
    if incident.resolved_by:
        facts.append(Fact(label="Resolved by", value=incident.resolved_by))
    tone = Tone.GOOD if incident.state is State.RESOLVED else _SEVERITY_TONES[incident.severity]
    return Message(
        text=f"{state_label(incident.state)} · {incident.severity.value} · from {incident.source}",
        header=f"{incident.id}: {incident.title}",
        tone=tone,
        facts=facts,
        buttons=_root_buttons(incident),
        context=[f"fingerprint {incident.fingerprint}"],
    )


def _root_buttons(incident: Incident) -> list[Button]:
    if incident.state is State.RESOLVED:
        return []
    buttons = [Button(action="resolve", label="Resolve", value=incident.id)]
    if incident.acknowledged_by is None:
        buttons.insert(
            0,
            Button(action="ack", label="Acknowledge", value=incident.id, style=ButtonStyle.PRIMARY),
        )
    return buttons


def build_events(events: Sequence[Event]) -> Message:
    """One reply for a batch of events: a single event, or a run of firing alerts."""
    if len(events) == 1:
        return build_event(events[0])
    lines = [
        f"{event.text} ({event.actor}, delivery {event.data.get('delivery_id')})"
        for event in events
    ]
    return Message(
        text=f"{len(events)} more alerts fired",
        tone=Tone.WARNING,
        sections=[Section(text="\n".join(lines), preformatted=True)],
    )


def build_event(event: Event) -> Message:
    """A reply in the incident's thread for one timeline event."""
    if event.kind is EventKind.ALERT:
        return _build_alert_event(event, "Alert firing", Tone.WARNING)
    if event.kind is EventKind.ALERT_RESOLVED:
        return _build_alert_event(event, "Alert recovered", Tone.GOOD)
    if event.kind is EventKind.STATE_CHANGED:
        target = State(event.data["to"])
        text = f"{state_label(State(event.data['from']))} → {state_label(target)} by {event.actor}"
        sections = [Section(text=event.text)] if event.text else []
        return Message(text=text, sections=sections, tone=_state_tone(target))
    if event.kind in PRERENDERED_KINDS and "message" in event.data:
        # Rendered once, when made, so every replay of the thread shows the same reply.
        return Message.model_validate(event.data["message"])
    return Message(text=event.text, context=[f"by {event.actor}"])


def _build_alert_event(event: Event, label: str, tone: Tone) -> Message:
    sections = []
    if message := event.data.get("message"):
        sections.append(Section(text=str(message), preformatted=True))
    links = [Link.model_validate(link) for link in event.data.get("links", [])]
    return Message(
        text=f"{label} ({event.actor}): {event.text}",
        tone=tone,
        sections=sections,
        links=links,
        context=[f"delivery {event.data.get('delivery_id', '?')}"],
    )


def _state_tone(state: State) -> Tone:
    if state is State.RESOLVED:
        return Tone.GOOD
    if state is State.ESCALATED:
        return Tone.DANGER
    return Tone.NEUTRAL


# Why a diagnosis moved the incident, shown under the state change in its thread.


def to_diagnosing() -> str:
    return "Gathering read-only evidence to find the cause."


def to_awaiting_approval(playbook_title: str, steps: int) -> str:
    return f"{playbook_title} proposes {steps} step(s); none runs before it is approved."


def to_nothing_to_propose(failure_class: str) -> str:
    return f"No playbook for {failure_class} has steps to propose; a person needs to act."


def to_no_failure_found() -> str:
    return (
        "The evidence shows no failure, so the bot proposes nothing and does not escalate. "
        "Resolve the incident if the alert was a false alarm."
    )


def build_incident_list(incidents: Sequence[Incident]) -> Message:
    if not incidents:
        return Message(text="No open incidents.", tone=Tone.GOOD)
    lines = [
        f"{incident.id} · {state_label(incident.state)} · {incident.severity.value} · "
        f"{incident.title}"
        for incident in incidents
    ]
    return Message(
        text=f"{len(incidents)} open incident(s)",
        header="Open incidents",
        sections=[Section(text="\n".join(lines))],
    )


def build_status(incident: Incident) -> Message:
    root = build_root(incident)
    return root.model_copy(update={"buttons": []})


def build_help() -> Message:
    usage = "\n".join(
        [
            "/incident list: the open incidents",
            "/incident status [INC-n]: one incident (in a thread, its own)",
            "/incident ack [INC-n]: acknowledge it",
            "/incident resolve [INC-n]: resolve it",
            "/incident help: this text",
        ]
    )
    return Message(
        text="incident-bot commands", header="incident-bot", sections=[Section(text=usage)]
    )


def build_unknown_command(word: str) -> Message:
    help_text = build_help()
    return help_text.model_copy(
        update={"text": f"Unknown command '{word}'. The commands are:", "tone": Tone.WARNING}
    )


def build_no_incident(reference: str | None) -> Message:
    if reference:
        return Message(
            text=f"There is no incident {reference}. `/incident list` shows the open ones.",
            tone=Tone.WARNING,
        )
    return Message(
        text="Name an incident (for example `INC-12`) or use the command in its thread.",
        tone=Tone.WARNING,
    )


def build_refused_transition(incident: Incident, target: State) -> Message:
    return Message(
        text=f"{incident.id} is {state_label(incident.state)}; it cannot be moved to "
        f"{state_label(target)}.",
        tone=Tone.WARNING,
    )


def build_done(incident: Incident, target: State) -> Message:
    if target is State.ACKNOWLEDGED and incident.state is not State.ACKNOWLEDGED:
        text = f"You acknowledged {incident.id}; it stays {state_label(incident.state)}."
        return Message(text=text, tone=Tone.GOOD)
    return Message(text=f"{incident.id} is now {state_label(target)}.", tone=Tone.GOOD)


def build_already(incident: Incident) -> Message:
    return Message(text=f"{incident.id} is already {state_label(incident.state)}.")
