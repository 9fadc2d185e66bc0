"""The incident state machine: which state may follow which."""

from __future__ import annotations

from enum import StrEnum

from bot.errors import IllegalTransition


class State(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    DIAGNOSING = "diagnosing"
    AWAITING_APPROVAL = "awaiting_approval"
    REMEDIATING = "remediating"
    RESOLVED = "resolved"
    ESCALATED = "escalated"


# Acknowledging only moves a TRIGGERED incident; later on it just records who took it on,
# so the work in progress keeps its state. Only a re-trigger leaves RESOLVED.
TRANSITIONS: dict[State, frozenset[State]] = {
    State.TRIGGERED: frozenset(
        {State.ACKNOWLEDGED, State.DIAGNOSING, State.ESCALATED, State.RESOLVED}
    ),
    State.ACKNOWLEDGED: frozenset(
        {State.DIAGNOSING, State.AWAITING_APPROVAL, State.ESCALATED, State.RESOLVED}
    ),
    State.DIAGNOSING: frozenset({State.AWAITING_APPROVAL, State.ESCALATED, State.RESOLVED}),
    State.AWAITING_APPROVAL: frozenset({State.REMEDIATING, State.ESCALATED, State.RESOLVED}),
    State.REMEDIATING: frozenset({State.AWAITING_APPROVAL, State.ESCALATED, State.RESOLVED}),
    State.ESCALATED: frozenset(
        {State.DIAGNOSING, State.AWAITING_APPROVAL, State.REMEDIATING, State.RESOLVED}
    ),
    State.RESOLVED: frozenset({State.TRIGGERED}),
}

OPEN_STATES = frozenset(State) - {State.RESOLVED}


def can_transition(current: State, target: State) -> bool:
    return target in TRANSITIONS[current]


def check_transition(current: State, target: State) -> None:
    """Raise IllegalTransition unless `target` may follow `current`."""
    if not can_transition(current, target):
        raise IllegalTransition(f"an incident cannot go from {current} to {target}")
