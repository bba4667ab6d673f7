"""A simulated motor with a developing bearing fault of known onset.

Used by ``kit model train --simulate`` / ``kit model backtest --simulate`` (try the model
layer without a machine) and by the tests. Load changes in steps every 2–10 minutes
(production orders), with rare short overloads. Motor current and vibration follow load;
temperature follows it with a 15-minute lag. From ``onset`` a bearing defect adds vibration
growing with the square of the time since onset (a typical developing defect: slow at first,
then faster). Overloads push healthy vibration over the ISO class II zone C boundary
(2.8 mm/s) for a minute or two: an absolute limit cannot tell load from damage.
"""

from __future__ import annotations

import math
import random

VIB, CUR, TEMP = "vibration_velocity_rms_mm_s", "current_a", "winding_temperature_c"
POINTS = {"vib": VIB, "current": CUR, "temp": TEMP}
"""Signal name → semantic point of the simulated motor."""


def fault_mm_s(t: float, onset: float | None, ramp_s: float) -> float:
    """Vibration added by the defect at time ``t`` (3 mm/s after ``ramp_s``)."""
    if onset is None or t < onset:
        return 0.0
    return 3.0 * ((t - onset) / ramp_s) ** 2


def simulate(
    start: float,
    duration_s: float,
    *,
    seed: int,
    step_s: float = 2.0,
    onset: float | None = None,
    ramp_s: float = 8 * 3600,
    temp_offset: float = 0.0,
) -> list[tuple[float, str, float]]:
    """``(ts, signal, value)`` rows, time-ordered, one value per signal every ``step_s``."""
    rng = random.Random(seed)
    rows: list[tuple[float, str, float]] = []
    load, until, temp = 0.6, start, 35 + 30 * 0.6
    t = start
    while t < start + duration_s:
        if t >= until:
            if rng.random() < 0.08:
                load, until = rng.uniform(1.15, 1.25), t + rng.uniform(60, 150)
            else:
                load, until = rng.uniform(0.3, 1.0), t + rng.uniform(120, 600)
        temp += (35 + 30 * load - temp) * (1 - math.exp(-step_s / 900))
        rows.append((t, "current", 4 + 18 * load + rng.gauss(0, 0.25)))
        rows.append((t, "temp", temp + temp_offset + rng.gauss(0, 0.15)))
        rows.append(
            (t, "vib", 0.7 + 1.7 * load + rng.gauss(0, 0.06) + fault_mm_s(t, onset, ramp_s))
        )
        t += step_s
    return rows
