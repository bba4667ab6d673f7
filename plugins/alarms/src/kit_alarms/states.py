"""The ISA-18.2 / IEC 62682 alarm state machine of one alarm (pure, no I/O, no clock).

States (letters as in docs/plugins/alarms.md and the standards sheet):

====  ===========================  ====================================================
A     ``normal``                   condition clear, nothing to acknowledge
B     ``unacknowledged``           condition active, not acknowledged (annunciated)
C     ``acknowledged``             condition active, acknowledged
D     ``returned_unacknowledged``  condition cleared before anyone acknowledged it
F     ``shelved``                  temporarily removed from annunciation (timed)
G     ``suppressed``               suppressed by design (e.g. machine stopped)
H     ``out_of_service``           removed for maintenance
====  ===========================  ====================================================

State E (latched) is optional in ISA-18.2 and not implemented. Transitions:
A→B condition, B→C ack, B→D return, C→A return, D→A ack, D→B condition again,
any→F/G/H and back. Shelved, suppressed and out-of-service alarms keep evaluating their
condition (as OPC UA Part 9 requires); when one leaves F/G/H it re-enters B if the
condition is active at that moment (it is annunciated afresh) and A otherwise.
Precedence when several apply: H over G over F.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class State(StrEnum):
    """Alarm states (value = the name used on the bus and the control API)."""

    normal = "normal"
    unacknowledged = "unacknowledged"
    acknowledged = "acknowledged"
    returned_unacknowledged = "returned_unacknowledged"
    shelved = "shelved"
    suppressed = "suppressed"
    out_of_service = "out_of_service"


LETTER = {
    State.normal: "A",
    State.unacknowledged: "B",
    State.acknowledged: "C",
    State.returned_unacknowledged: "D",
    State.shelved: "F",
    State.suppressed: "G",
    State.out_of_service: "H",
}
"""ISA-18.2 state letters."""

HIDDEN = (State.shelved, State.suppressed, State.out_of_service)


class AlarmOperationError(ValueError):
    """An operator action that does not apply in the alarm's current state."""


@dataclass(slots=True)
class Transition:
    """A state change of one alarm (becomes an ``alarm`` event)."""

    alarm_id: str
    cause: str
    """``raised``, ``returned``, ``cleared``, ``acknowledged``, ``shelved``, ``unshelved``,
    ``shelve_expired``, ``suppressed``, ``unsuppressed``, ``out_of_service``, ``in_service``,
    and ``hidden_raised``/``hidden_cleared`` for condition changes while shelved, suppressed
    or out of service (recorded, not annunciated)."""
    from_state: State
    to_state: State
    ts: float
    who: str | None = None


@dataclass
class AlarmStatus:
    """Everything known about one alarm; :attr:`state` is derived from the flags."""

    id: str
    active: bool = False
    """The alarm condition (after on/off delays)."""
    acked: bool = True
    shelved_until: float | None = None
    shelved_by: str | None = None
    suppressed: bool = False
    out_of_service: bool = False
    raised_at: float | None = None
    returned_at: float | None = None
    acked_at: float | None = None
    acked_by: str | None = None
    shelved_at: float | None = None
    value: float | None = None
    """Value that last changed the condition."""
    occurrences: int = 0
    """How many times the alarm has been annunciated."""

    @property
    def state(self) -> State:
        """The ISA-18.2 state derived from the flags."""
        if self.out_of_service:
            return State.out_of_service
        if self.suppressed:
            return State.suppressed
        if self.shelved_until is not None:
            return State.shelved
        if self.active:
            return State.acknowledged if self.acked else State.unacknowledged
        return State.normal if self.acked else State.returned_unacknowledged

    @property
    def hidden(self) -> bool:
        """Shelved, suppressed or out of service (not annunciated)."""
        return self.out_of_service or self.suppressed or self.shelved_until is not None

    # -- transitions ------------------------------------------------------------------
    def _apply(
        self, cause: str, ts: float, who: str | None, change: Callable[[], None]
    ) -> Transition | None:
        before = self.state
        change()
        after = self.state
        if before == after:
            return None
        return Transition(self.id, cause, before, after, ts, who)

    def set_condition(
        self, active: bool, ts: float, value: float | None = None
    ) -> Transition | None:
        """The (delayed) alarm condition became ``active`` or cleared."""
        if active == self.active:
            return None
        self.value = value

        def change() -> None:
            self.active = active
            if active:
                self.raised_at = ts
                if not self.hidden:
                    self.acked = False
                    self.occurrences += 1
            else:
                self.returned_at = ts

        hidden = self.hidden
        tr = self._apply(
            "raised" if active else ("returned" if not self.acked else "cleared"), ts, None, change
        )
        if tr is None and hidden:
            # Condition changes inside F/G/H are not annunciated, but report them for the record.
            return Transition(
                self.id, "hidden_raised" if active else "hidden_cleared", self.state, self.state, ts
            )
        if tr is not None and tr.to_state is State.normal:
            tr.cause = "cleared"
        return tr

    def ack(self, ts: float, who: str) -> Transition:
        """Operator acknowledges (B→C, D→A).

        Raises:
            AlarmOperationError: the alarm is not unacknowledged.
        """
        if self.state not in (State.unacknowledged, State.returned_unacknowledged):
            raise AlarmOperationError(
                f"alarm {self.id} is {self.state.value}; only an unacknowledged alarm can be acknowledged"
            )

        def change() -> None:
            self.acked = True
            self.acked_at = ts
            self.acked_by = who

        tr = self._apply("acknowledged", ts, who, change)
        assert tr is not None
        return tr

    def _leave_hidden(self) -> None:
        # Back in annunciation: an active condition is annunciated afresh (B), else A.
        if not self.hidden:
            if self.active:
                self.acked = False
                self.occurrences += 1
            else:
                self.acked = True

    def shelve(self, ts: float, who: str, duration_s: float) -> Transition:
        """Timed shelving (→F) until ``ts + duration_s``.

        Raises:
            AlarmOperationError: out of service, or a non-positive duration.
        """
        if duration_s <= 0:
            raise AlarmOperationError("duration_s must be positive")
        if self.out_of_service:
            raise AlarmOperationError(f"alarm {self.id} is out of service; it cannot be shelved")

        def change() -> None:
            self.shelved_until = ts + duration_s
            self.shelved_by = who
            self.shelved_at = ts

        tr = self._apply("shelved", ts, who, change)
        return tr or Transition(self.id, "shelved", self.state, self.state, ts, who)

    def unshelve(self, ts: float, who: str | None, cause: str = "unshelved") -> Transition:
        """End shelving (by an operator, or ``cause="shelve_expired"``).

        Raises:
            AlarmOperationError: the alarm is not shelved.
        """
        if self.shelved_until is None:
            raise AlarmOperationError(f"alarm {self.id} is not shelved")

        def change() -> None:
            self.shelved_until = None
            self.shelved_by = None
            self._leave_hidden()

        tr = self._apply(cause, ts, who, change)
        return tr or Transition(self.id, cause, self.state, self.state, ts, who)

    def expire_shelve(self, ts: float) -> Transition | None:
        """Unshelve when the shelving time has run out at ``ts``."""
        if self.shelved_until is not None and ts >= self.shelved_until:
            return self.unshelve(ts, None, "shelve_expired")
        return None

    def set_suppressed(self, on: bool, ts: float) -> Transition | None:
        """Suppressed by design (→G) or released."""
        if on == self.suppressed:
            return None

        def change() -> None:
            self.suppressed = on
            if not on:
                self._leave_hidden()

        return self._apply("suppressed" if on else "unsuppressed", ts, None, change)

    def set_out_of_service(self, on: bool, ts: float, who: str | None) -> Transition | None:
        """Out of service (→H) or back in service."""
        if on == self.out_of_service:
            return None

        def change() -> None:
            self.out_of_service = on
            if not on:
                self._leave_hidden()

        return self._apply("out_of_service" if on else "in_service", ts, who, change)

    # -- persistence ----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (with the derived state for readers)."""
        d = asdict(self)
        d["state"] = self.state.value
        d["letter"] = LETTER[self.state]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AlarmStatus:
        """Rebuild from :meth:`to_dict` output (derived keys ignored)."""
        fields = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        return cls(**fields)
