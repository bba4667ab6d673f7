"""Shewhart control charts: individuals/moving range (I-MR) and X̄-R, with phase I.

One :class:`ControlChart` takes individual measurements in time order. With
``subgroup_size`` 1 every value is a chart point (I chart, moving range on the MR chart);
with 2–10 consecutive values form a subgroup whose mean is the X̄ point and whose range is
the R point.

Limits (standards sheet §6):
I chart  CL = x̄, UCL/LCL = x̄ ± 2.66·M̄R;  MR chart UCL = 3.267·M̄R, LCL = 0.
X̄ chart  CL = X̿, UCL/LCL = X̿ ± A₂R̄;        R chart UCL = D₄R̄, LCL = D₃R̄.

Phase I: limits are learned from the first ``phase1_points`` chart points (or given in the
params, then there is no phase I). When phase I completes, its points are replayed through
the run rules against the new limits, so an out-of-control start is reported too.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from kit_spc.capability import RollingCapability
from kit_spc.constants import E2, constants
from kit_spc.rules import RuleState, Violation


@dataclass
class Limits:
    """Centre line and control limits of the location chart and the spread chart."""

    cl: float
    ucl: float
    lcl: float
    r_cl: float
    r_ucl: float
    r_lcl: float

    def z(self, x: float) -> float:
        """Zone score: distance from CL in σ units (σ from the limit on x's side)."""
        d = x - self.cl
        half = (self.ucl - self.cl) if d >= 0 else (self.cl - self.lcl)
        if half <= 0:
            return 0.0 if d == 0 else math.copysign(math.inf, d)
        return 3.0 * d / half


def limits_from_data(subgroup_size: int, centre: float, spread_mean: float) -> Limits:
    """Limits from X̿ (or x̄) and R̄ (or M̄R) with the constants table."""
    if subgroup_size == 1:
        c = constants(2)
        return Limits(
            centre,
            centre + E2 * spread_mean,
            centre - E2 * spread_mean,
            spread_mean,
            c.D4 * spread_mean,
            c.D3 * spread_mean,
        )
    c = constants(subgroup_size)
    return Limits(
        centre,
        centre + c.A2 * spread_mean,
        centre - c.A2 * spread_mean,
        spread_mean,
        c.D4 * spread_mean,
        c.D3 * spread_mean,
    )


def limits_given(subgroup_size: int, cl: float, ucl: float, lcl: float) -> Limits:
    """Limits given in the params; the spread chart is derived from the location limits
    (R̄ = (UCL − CL)/A₂, or M̄R = (UCL − CL)/2.66)."""
    factor = E2 if subgroup_size == 1 else constants(subgroup_size).A2
    spread = (ucl - cl) / factor
    full = limits_from_data(subgroup_size, cl, spread)
    full.ucl, full.lcl = ucl, lcl
    return full


@dataclass(slots=True)
class ChartPoint:
    """One point of the location chart (I or X̄) and its spread (MR or R)."""

    index: int
    ts: float
    value: float
    spread: float | None
    limits: Limits
    z: float
    phase: int
    """1 for the phase-I points (replayed once limits exist), 2 afterwards."""
    violations: list[tuple[str, Violation]] = field(default_factory=list)
    """(chart, violation): chart ``x`` (location) or ``r`` (range / moving range)."""


class ControlChart:
    """I-MR or X̄-R chart with phase I, run rules and rolling capability (see module doc)."""

    def __init__(
        self,
        subgroup_size: int = 1,
        phase1_points: int = 25,
        limits: Limits | None = None,
        rules: tuple[str, ...] = (),
        lsl: float | None = None,
        usl: float | None = None,
        capability_window: int = 125,
    ) -> None:
        if not (subgroup_size == 1 or 2 <= subgroup_size <= 10):
            raise ValueError("subgroup_size must be 1 (individuals) or 2..10")
        self.n = subgroup_size
        self.phase1_points = phase1_points
        self.limits = limits
        self.rules = RuleState(rules=tuple(rules))
        self.spread_rule = next((r for r in ("nelson1", "we1") if r in rules), None)
        self.capability = RollingCapability(capability_window, subgroup_size, lsl, usl)
        self.pending: list[float] = []
        """Values of the subgroup being filled."""
        self.prev: float | None = None
        """Previous individual value (moving range)."""
        self.phase1: list[list[Any]] = []
        """[ts, value, spread] of chart points waiting for phase-I limits."""
        self.count = 0

    def add(self, ts: float, x: float) -> list[ChartPoint]:
        """Add one measurement; returns the chart points it completes (several when phase I ends)."""
        if self.n == 1:
            spread = None if self.prev is None else abs(x - self.prev)
            self.prev = x
            self.capability.add([x], spread)
            return self._point(ts, x, spread)
        self.pending.append(x)
        if len(self.pending) < self.n:
            return []
        group, self.pending = self.pending, []
        r = max(group) - min(group)
        self.capability.add(group, r)
        return self._point(ts, sum(group) / self.n, r)

    def _point(self, ts: float, value: float, spread: float | None) -> list[ChartPoint]:
        if self.limits is not None:
            return [self._score(ts, value, spread, 2)]
        self.phase1.append([ts, value, spread])
        if len(self.phase1) < self.phase1_points:
            return []
        values = [p[1] for p in self.phase1]
        spreads = [p[2] for p in self.phase1 if p[2] is not None]
        self.limits = limits_from_data(
            self.n, sum(values) / len(values), sum(spreads) / len(spreads) if spreads else 0.0
        )
        replay, self.phase1 = self.phase1, []
        return [self._score(t, v, s, 1) for t, v, s in replay]

    def _score(self, ts: float, value: float, spread: float | None, phase: int) -> ChartPoint:
        lim = self.limits
        assert lim is not None
        z = lim.z(value)
        self.count += 1
        cp = ChartPoint(self.rules.index + 1, ts, value, spread, lim, z, phase)
        cp.violations = [("x", v) for v in self.rules.add(ts, value, z)]
        if (
            self.spread_rule
            and spread is not None
            and (spread > lim.r_ucl or (lim.r_lcl > 0 and spread < lim.r_lcl))
        ):
            cp.violations.append(
                ("r", Violation(self.spread_rule, cp.index, [(cp.index, ts, spread)]))
            )
        return cp

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state (limits, phase-I buffer, rule state, capability window)."""
        return {
            "limits": asdict(self.limits) if self.limits else None,
            "pending": self.pending,
            "prev": self.prev,
            "phase1": self.phase1,
            "count": self.count,
            "rules": self.rules.to_dict(),
            "capability": self.capability.to_dict(),
        }

    def restore(self, d: dict[str, Any] | None, keep_given_limits: bool = False) -> None:
        """Restore :meth:`to_dict` output. Limits given in the params win over saved ones."""
        if not d:
            return
        if d.get("limits") and not keep_given_limits:
            self.limits = Limits(**d["limits"])
        self.pending = [float(v) for v in d.get("pending", [])]
        self.prev = d.get("prev")
        self.phase1 = d.get("phase1", [])
        self.count = int(d.get("count", 0))
        self.rules.restore(d.get("rules"))
        self.capability.restore(d.get("capability"))
