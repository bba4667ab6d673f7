"""A hand-worked 8-hour shift used by the OEE tests (reference figures computed here, by hand rules).

Shift ``early`` 06:00–14:00 on Monday 2026-11-23 (UTC), break 10:00–10:30, planned cleaning
13:45–14:00. The machine is down 07:00–07:20 (a failure), idle 11:00–11:40, running
otherwise (also through the break and the cleaning slot, which does not count as production
time). It makes 700 parts, 14 rejects. Ideal cycle (PRU) 30 s.
"""

from __future__ import annotations

from datetime import UTC, datetime

DAY = datetime(2026, 11, 23, tzinfo=UTC)
T0 = DAY.replace(hour=6).timestamp()
T_END = DAY.replace(hour=14).timestamp()
STEP = 30.0
PRU = 30.0
PRODUCED, REJECT = 700, 14
DOWN = (DAY.replace(hour=7).timestamp(), DAY.replace(hour=7, minute=20).timestamp())
IDLE = (DAY.replace(hour=11).timestamp(), DAY.replace(hour=11, minute=40).timestamp())

CALENDAR = {
    "timezone": "UTC",
    "shifts": [
        {
            "name": "early",
            "start": "06:00",
            "end": "14:00",
            "weekdays": ["mon", "tue", "wed", "thu", "fri"],
            "breaks": [{"start": "10:00", "end": "10:30", "reason": "lunch"}],
            "planned_downtime": [{"start": "13:45", "end": "14:00", "reason": "cleaning"}],
        }
    ],
}


def state_at(t: float) -> str:
    """Machine state at ``t``."""
    if DOWN[0] <= t < DOWN[1]:
        return "down"
    if IDLE[0] <= t < IDLE[1]:
        return "idle"
    return "run"


def samples(counter_max: int | None = None) -> list[tuple[float, str, int, int]]:
    """(ts, state, produced counter, reject counter) every STEP s from 06:00 to 14:00 inclusive.

    Counters rise linearly so they reach 700/14 at the last in-shift sample (13:59:30); with
    ``counter_max`` they wrap like a PLC counter of that range.
    """
    n_last = int((T_END - T0) / STEP) - 1
    out = []
    for i in range(n_last + 2):
        t = T0 + i * STEP
        k = min(i, n_last)
        produced = PRODUCED * k // n_last
        reject = REJECT * k // n_last
        if counter_max is not None:
            produced %= counter_max + 1
            reject %= counter_max + 1
        out.append((t, state_at(t), produced, reject))
    return out


def expected() -> dict[str, float]:
    """Reference figures, worked from the scenario's definition."""
    shift_s = 8 * 3600
    pot = shift_s - 30 * 60  # minus the break
    pbt = pot - 15 * 60  # minus planned cleaning
    down = DOWN[1] - DOWN[0]
    idle = IDLE[1] - IDLE[0]
    apt = pbt - down - idle  # stops fall inside planned busy time
    good = PRODUCED - REJECT
    return {
        "pot_s": pot,
        "pbt_s": pbt,
        "apt_s": apt,
        "availability": apt / pbt,
        "effectiveness": PRU * PRODUCED / apt,
        "quality": good / PRODUCED,
        "oee": (apt / pbt) * (PRU * PRODUCED / apt) * (good / PRODUCED),
        "produced": PRODUCED,
        "good": good,
        "reject": REJECT,
        # Operating time (run + setup, any time of the shift) per failure; one failure (the down period).
        "mtbf_s": (shift_s - down - idle) / 1,
        "mttr_s": down / 1,
    }
