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

    A counter that goes down is a *rollover* (it wrapped past ``max_value``; the increment
    is what it counted up to the maximum plus what it counted after 0), a *reset* (the PLC
    restarted or someone zeroed it; the increment is the new value, since it counted from 0)
    or a *correction* (parts re-booked, e.g. a good part turned into a reject: the counter
    went down by a few and goes on from there; the increment is negative). A decrease of
    more than half the range is a rollover: a wrap always shows as a big drop. Otherwise the
    new value decides: a reset is possible only if the counter could have counted up to it
    from 0 since the last reading (``fresh_max``, else half the last reading); above that,
    the counter did not restart, and reading it as a reset would count its whole value —
    thousands of parts in a second.
    """

    __slots__ = ("max_value", "last", "rollovers", "resets", "corrections", "last_ts")

    def __init__(
        self,
        max_value: float | None = None,
        last: float | None = None,
        rollovers: int = 0,
        resets: int = 0,
        corrections: int = 0,
        last_ts: float | None = None,
    ) -> None:
        self.max_value = max_value
        self.last = last
        self.rollovers = rollovers
        self.resets = resets
        self.corrections = corrections
        self.last_ts = last_ts
        """Time of the last reading (the engine sets it: it bounds what a reset can count)."""

    def update(self, value: float, fresh_max: float | None = None) -> float:
        """Feed the next reading; returns the increment since the previous one (0 for the first).

        Args:
            value: the counter's reading.
            fresh_max: the most a counter restarted from 0 since the previous reading can
                read now (None: half the previous reading).
        """
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
        # Without a time bound (no ideal cycle known, e.g. energy per part): a counter just
        # restarted from 0 reads low, so a drop that keeps more than half the value is a
        # correction (a meter's float register ticking back by its last digit is one too).
        bound = fresh_max if fresh_max is not None else last / 2
        if value > bound:
            self.corrections += 1
            return delta
        self.resets += 1
        return value

    def to_state(self) -> list[Any]:
        """JSON-able state."""
        return [self.last, self.rollovers, self.resets, self.corrections, self.last_ts]

    @classmethod
    def from_state(cls, max_value: float | None, state: list[Any] | None) -> CounterTracker:
        """Rebuild from :meth:`to_state` output."""
        if not state:
            return cls(max_value)
        return cls(max_value, *state)
