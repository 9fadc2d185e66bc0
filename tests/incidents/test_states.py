import pytest

from bot.errors import IllegalTransition
from bot.incidents.states import OPEN_STATES, State, can_transition, check_transition


@pytest.mark.parametrize("state", sorted(OPEN_STATES))
def test_every_open_state_can_be_resolved(state):
    assert can_transition(state, State.RESOLVED)


@pytest.mark.parametrize("target", sorted(set(State) - {State.TRIGGERED}))
def test_resolved_incident_only_reopens_as_triggered(target):
    with pytest.raises(IllegalTransition, match="resolved"):
        check_transition(State.RESOLVED, target)


def test_resolved_incident_can_be_retriggered():
    check_transition(State.RESOLVED, State.TRIGGERED)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (State.TRIGGERED, State.TRIGGERED),
        (State.TRIGGERED, State.REMEDIATING),
        (State.DIAGNOSING, State.REMEDIATING),
        (State.REMEDIATING, State.DIAGNOSING),
    ],
)
def test_illegal_transitions_raise(current, target):
    assert not can_transition(current, target)
    with pytest.raises(IllegalTransition):
        check_transition(current, target)
