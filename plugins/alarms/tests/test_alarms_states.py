"""ISA-18.2 transition table (states A–D, F–H) of the alarm state machine, and shelving expiry."""

from __future__ import annotations

import pytest
from kit_alarms.states import LETTER, AlarmOperationError, AlarmStatus, State

# (start letter, action, expected letter) — the table of docs/plugins/alarms.md, written out
# by hand from the standards sheet: A→B condition, B→C ack, B→D return, C→A return,
# D→A ack, D→B condition again, any→F/G/H, and F/G/H back to B (condition active) or A.
TABLE = [
    ("A", "condition", "B"),
    ("B", "ack", "C"),
    ("B", "return", "D"),
    ("C", "return", "A"),
    ("D", "ack", "A"),
    ("D", "condition", "B"),
    ("A", "shelve", "F"),
    ("B", "shelve", "F"),
    ("C", "shelve", "F"),
    ("D", "shelve", "F"),
    ("A", "suppress", "G"),
    ("B", "suppress", "G"),
    ("C", "suppress", "G"),
    ("D", "suppress", "G"),
    ("A", "oos", "H"),
    ("B", "oos", "H"),
    ("C", "oos", "H"),
    ("D", "oos", "H"),
    ("F", "oos", "H"),
    ("G", "oos", "H"),
]


def make(letter: str) -> AlarmStatus:
    """An alarm brought into state ``letter`` through legal transitions only."""
    a = AlarmStatus(id="c/r")
    t = 0.0
    if letter in ("B", "C", "D"):
        a.set_condition(True, t)
    if letter == "C":
        a.ack(t, "op")
    if letter == "D":
        a.set_condition(False, t)
    if letter == "F":
        a.shelve(t, "op", 60)
    if letter == "G":
        a.set_suppressed(True, t)
    return a


def act(a: AlarmStatus, action: str):
    t = 1.0
    return {
        "condition": lambda: a.set_condition(True, t),
        "return": lambda: a.set_condition(False, t),
        "ack": lambda: a.ack(t, "op"),
        "shelve": lambda: a.shelve(t, "op", 60),
        "suppress": lambda: a.set_suppressed(True, t),
        "oos": lambda: a.set_out_of_service(True, t, "tech"),
    }[action]()


@pytest.mark.parametrize("start,action,end", TABLE)
def test_transition_table(start: str, action: str, end: str) -> None:
    a = make(start)
    assert LETTER[a.state] == start
    tr = act(a, action)
    assert LETTER[a.state] == end
    assert tr is not None and LETTER[tr.from_state] == start and LETTER[tr.to_state] == end


@pytest.mark.parametrize("start", ["A", "C", "F", "G"])
def test_ack_only_from_unacknowledged(start: str) -> None:
    a = make(start)
    with pytest.raises(AlarmOperationError):
        a.ack(2.0, "op")
    assert LETTER[a.state] == start


def test_ack_records_who_and_when() -> None:
    a = make("B")
    a.ack(42.0, "maria")
    assert (a.acked_by, a.acked_at) == ("maria", 42.0)


def test_hidden_alarm_keeps_evaluating_and_reannunciates() -> None:
    a = make("F")  # shelved while normal
    tr = a.set_condition(True, 5.0)
    assert (
        a.state is State.shelved and a.active and tr.from_state == tr.to_state
    )  # recorded, not annunciated
    assert tr.cause == "hidden_raised"
    occ = a.occurrences
    a.unshelve(6.0, "op")
    assert a.state is State.unacknowledged and a.occurrences == occ + 1


def test_leaving_hidden_state_with_condition_clear_goes_normal() -> None:
    for letter, leave in (
        ("G", lambda a: a.set_suppressed(False, 9.0)),
        ("F", lambda a: a.unshelve(9.0, "op")),
    ):
        a = make("B")
        (a.set_suppressed(True, 1.0) if letter == "G" else a.shelve(1.0, "op", 60))
        a.set_condition(False, 2.0)
        leave(a)
        assert a.state is State.normal


def test_out_of_service_wins_over_shelved_and_suppressed() -> None:
    a = make("F")
    a.set_suppressed(True, 1.0)
    a.set_out_of_service(True, 1.0, "tech")
    assert a.state is State.out_of_service
    a.set_out_of_service(False, 2.0, "tech")
    assert a.state is State.suppressed
    a.set_out_of_service(True, 3.0, "tech")
    with pytest.raises(AlarmOperationError):
        a.shelve(3.0, "op", 10)


def test_shelve_expires_at_duration() -> None:
    a = make("B")
    a.shelve(100.0, "op", 30.0)
    assert a.expire_shelve(129.999) is None and a.state is State.shelved
    tr = a.expire_shelve(130.0)
    assert tr is not None and tr.cause == "shelve_expired"
    assert a.state is State.unacknowledged  # condition still active: annunciated again


def test_unshelve_when_not_shelved_is_refused() -> None:
    with pytest.raises(AlarmOperationError):
        make("A").unshelve(1.0, "op")


def test_shelve_needs_positive_duration() -> None:
    with pytest.raises(AlarmOperationError):
        make("B").shelve(1.0, "op", 0)


def test_roundtrip_dict() -> None:
    a = make("C")
    b = AlarmStatus.from_dict(a.to_dict())
    assert b == a and b.state is State.acknowledged
