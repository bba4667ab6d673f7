"""Pure OEE arithmetic (ISO 22400-2) and counter handling. No I/O, no clocks.

Formulas (docs/plugins/oee.md):

* availability  = APT / PBT
* effectiveness = PRU × PQ / APT   (may exceed 1 when the real cycle beats the plan: flagged)
* quality ratio = GQ / PQ
* OEE index     = availability × effectiveness × quality = PRU × GQ / PBT
* MTBF = operating time / failure events, MTTR = time in failure / failure events
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Factors:
    """The OEE factors of one window; ``None`` where the denominator is zero."""

    availability: float | None
    effectiveness: float | None
    quality: float | None
    oee: float | None
    effectiveness_over_100: bool


def oee_factors(pbt_s: float, apt_s: float, pru_s: float, produced: float, good: float) -> Factors:
    """ISO 22400-2 factors from planned busy time, actual production time and counts.

    Args:
        pbt_s: planned busy time PBT in seconds.
        apt_s: actual production time APT in seconds.
        pru_s: planned run time per unit PRU (ideal cycle time) in seconds.
        produced: produced quantity PQ.
        good: good quantity GQ.
    """
    availability = apt_s / pbt_s if pbt_s > 0 else None
    effectiveness = pru_s * produced / apt_s if apt_s > 0 else None
    quality = good / produced if produced > 0 else None
    # OEE = PRU × GQ / PBT is the reduced form; it equals the product of the three factors
    # whenever they are defined and stays defined (0) when nothing ran during planned time.
    oee = pru_s * good / pbt_s if pbt_s > 0 else None
    over = effectiveness is not None and effectiveness > 1.0 + 1e-9
    return Factors(availability, effectiveness, quality, oee, over)


def reliability(
    operating_s: float, failure_s: float, failures: int
) -> tuple[float | None, float | None]:
    """(MTBF, MTTR) in seconds; ``None`` while no failure has happened."""
    if failures <= 0:
        return None, None
    return operating_s / failures, failure_s / failures


class CounterTracker:
    """Turns a cumulative counter into increments, handling rollover and resets.

    A counter that goes down is either a *rollover* (it wrapped past ``max_value``; the
    increment is what it counted up to the maximum plus what it counted after 0) or a
    *reset* (the PLC restarted or someone zeroed it; the increment is the new value, since
    it counted from 0). A decrease of more than half the range is read as a rollover,
    anything smaller as a reset: a reset from near the top of the range is rare, whereas a
    wrap always shows as a big drop.
    """

    __slots__ = ("max_value", "last", "rollovers", "resets")

    def __init__(
        self,
        max_value: float | None = None,
        last: float | None = None,
        rollovers: int = 0,
        resets: int = 0,
    ) -> None:
        self.max_value = max_value
        self.last = last
        self.rollovers = rollovers
        self.resets = resets

    def update(self, value: float) -> float:
        """Feed the next reading; returns the increment since the previous one (0 for the first)."""
        last = self.last
        self.last = value
        if last is None:
            return 0.0
        delta = value - last
        if delta >= 0:
            return delta
        m = self.max_value
        if m is not None and last - value > (m + 1) / 2:
            self.rollovers += 1
            return (m + 1 - last) + value
        self.resets += 1
        return value

    def to_state(self) -> list[Any]:
        """JSON-able state."""
        return [self.last, self.rollovers, self.resets]

    @classmethod
    def from_state(cls, max_value: float | None, state: list[Any] | None) -> CounterTracker:
        """Rebuild from :meth:`to_state` output."""
        if not state:
            return cls(max_value)
        return cls(max_value, *state)
