"""Vibration severity zones A–D (ISO 10816-1 / ISO 20816-1 general machine classes).

Boundaries are broadband velocity, mm/s RMS (10–1000 Hz), measured on non-rotating parts.
They are the machine-class table of ISO 10816-1:1995 Annex B (informative), which ISO
20816-1:2016 carried over as its general example; we took them from widely reproduced
secondary tables (e.g. Vibromera's ISO 10816 calculator), **not** from the licensed text,
so treat them as a starting point and verify against your copy of the standard.
Machine-specific parts (ISO 20816-3 groups 1/2, rigid/flexible) use other boundaries: give
those as ``custom`` boundaries in the component config.

=====  ===========================================  ======  ======  ======
class  machines                                     A/B     B/C     C/D
=====  ===========================================  ======  ======  ======
I      small machines, up to 15 kW                  0.71    1.8     4.5
II     medium, 15–75 kW (≤300 kW on special fdn.)   1.12    2.8     7.1
III    large, rigid foundations                     1.8     4.5     11.2
IV     large, soft foundations                      2.8     7.1     18.0
=====  ===========================================  ======  ======  ======

Zone meanings: A newly commissioned; B acceptable for unrestricted long-term operation;
C unsatisfactory for long-term operation, plan maintenance; D severe enough to cause damage.
"""

from __future__ import annotations

BOUNDARIES: dict[str, tuple[float, float, float]] = {
    "I": (0.71, 1.8, 4.5),
    "II": (1.12, 2.8, 7.1),
    "III": (1.8, 4.5, 11.2),
    "IV": (2.8, 7.1, 18.0),
}
"""Machine class → (A/B, B/C, C/D) in mm/s RMS."""

ZONES = "ABCD"
MEANING = {
    "A": "newly commissioned",
    "B": "acceptable long-term",
    "C": "unsatisfactory: plan maintenance",
    "D": "severe: risk of damage",
}


def zone(
    value: float,
    bounds: tuple[float, float, float],
    current: str | None = None,
    hysteresis: float = 0.05,
) -> str:
    """The zone of ``value`` (mm/s RMS) for ``bounds``.

    A value exactly on a boundary belongs to the upper zone. With ``current`` given, moving
    *down* a zone needs the value to fall ``hysteresis`` (relative) below the boundary, so a
    reading hovering on a boundary does not chatter between zones.
    """
    z = 0
    for b in bounds:
        if value >= b:
            z += 1
    if current is not None:
        cur = ZONES.index(current)
        if z < cur and value >= bounds[cur - 1] * (1 - hysteresis):
            return current
    return ZONES[z]
