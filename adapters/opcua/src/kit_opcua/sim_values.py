"""Value models of simulated OPC UA points: counters, ramps, sines, toggles, cycles.

Pure functions of simulated time (and a seeded random generator), so tests can compute what
the simulator serves without running a server (``tests/test_opcua_sim_physics.py``).
"""

from __future__ import annotations

import math
import random
from typing import Any

from kit_opcua.profile import OpcuaPoint, SimValue

__all__ = ["INTS", "SimPoint"]

INTS = {"SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64"}


class SimPoint:
    """The value model of one simulated point (pure: ``value_at(t)``)."""

    def __init__(self, point: OpcuaPoint, sim: SimValue | None, seed: int) -> None:
        self.point = point
        self.type = point.type or "Double"
        self.sim = sim or SimValue(
            kind="toggle" if self.type == "Boolean" else "counter" if self.type in INTS else "sine"
        )
        self.rng = random.Random(seed)
        self.acc: float = float(self.sim.value) if isinstance(self.sim.value, (int, float)) else 0.0
        self.last_inc: float | None = None

    def step(self, t: float, current: dict[str, Any] | None = None) -> Any:
        """The value at simulated time ``t`` seconds (counters/ramps advance once per call).

        ``current``: the other points' values of this update (``while_point`` reads it).
        """
        s = self.sim
        moving = s.while_point is None or bool((current or {}).get(s.while_point))
        if s.kind == "constant":
            v: Any = s.value
        elif s.kind == "counter":
            due = (
                s.min_interval_s is None
                or self.last_inc is None
                or t - self.last_inc >= s.min_interval_s
            )
            if moving and due and self.rng.random() < s.rate:
                self.acc += s.step
                self.last_inc = t
            v = self.acc
        elif s.kind == "ramp":
            if moving:
                self.acc += s.step
            v = self.acc
        elif s.kind == "random":
            v = self.rng.uniform(s.min, s.max)
        elif s.kind == "toggle":
            v = int(t / (s.period_s / 2)) % 2 == 0
        elif s.kind == "cycle":
            vals = s.values or [0]
            v = vals[int(t / (s.period_s / len(vals))) % len(vals)]
        else:  # sine
            v = s.min + (s.max - s.min) * (0.5 + 0.5 * math.sin(2 * math.pi * t / s.period_s))
        return self.coerce(v)

    def coerce(self, v: Any) -> Any:
        """Convert to the point's OPC UA type."""
        if self.type == "Boolean":
            return bool(v)
        if self.type in INTS:
            return int(round(float(v or 0)))
        if self.type in ("Float", "Double"):
            return float(v or 0.0)
        if self.type == "String":
            return str(v)
        return v
