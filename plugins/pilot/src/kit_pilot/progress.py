"""Progress of a pilot against its goal: baseline, current pilot value, change, target, verdict.

Shared by ``kit pilot status``, the report and the evidence pack: :func:`progress` returns
plain data, computed only from the pilot record and the historian's files, and
:func:`evaluate` does the same from per-shift samples already in hand (a pack's verifier).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from kit_pilot.goal import KpiGoal
from kit_pilot.samples import GRACE, WindowSamples, future_values, window_samples
from kit_pilot.stats import Comparison, compare
from kit_pilot.store import Pilot


@dataclass(frozen=True)
class KpiProgress:
    """One goal's progress."""

    goal: str
    """``oee:+5pp``"""
    unit: str | None
    target: float | None
    """KPI value that meets the goal."""
    progress: float | None
    """Share of the targeted change achieved so far (1.0 = goal met)."""
    status: str
    """``target reached``, ``moving toward target``, ``not on track`` or ``too early``."""
    comparison: Comparison
    completeness: tuple[float | None, float | None]
    windows_seen: list[str]
    baseline: WindowSamples | None = field(default=None, compare=False)
    """Samples of the baseline window (None for an imported baseline)."""
    pilot: WindowSamples | None = field(default=None, compare=False)

    @property
    def kpi(self) -> str:
        """The KPI name of the goal."""
        return self.goal.split(":", 1)[0]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the samples' rows are left out)."""
        d = {f.name: getattr(self, f.name) for f in fields(self)}
        d.pop("baseline")
        d.pop("pilot")
        d["completeness"] = list(self.completeness)
        d["comparison"] = self.comparison.as_dict()
        return d


def status_of(
    goal: KpiGoal, c: Comparison, unit: str | None
) -> tuple[float | None, float | None, str]:
    """``(target, progress, status)`` of ``goal`` given the comparison."""
    target = goal.target(c.baseline_mean, unit) if c.baseline_mean is not None else None
    prog, status = None, "too early"
    if c.change is not None and target is not None and target != c.baseline_mean:
        assert c.baseline_mean is not None  # target is only computed from a baseline mean
        prog = c.change / (target - c.baseline_mean)
        if c.verdict == "not enough data":
            status = "too early"
        elif prog >= 1:
            status = "target reached"
        elif prog > 0:
            status = "moving toward target"
        else:
            status = "not on track"
    return target, prog, status


def evaluate(
    pilot: Pilot,
    goal: KpiGoal,
    base_vals: list[float],
    base: WindowSamples | None,
    p: WindowSamples | None,
    **stats_kw: Any,
) -> KpiProgress:
    """One goal's comparison and status from its per-shift samples (pure)."""
    pilot_vals = p.values if p else []
    comp = (base.completeness if base else None, p.completeness if p else None)
    c = compare(base_vals, pilot_vals, completeness=comp, **stats_kw)
    unit = (p.unit if p else None) or (base.unit if base else None)
    seen = sorted(set(base.windows_seen if base else []) | set(p.windows_seen if p else []))
    chose = (p and p.method != "mean") or (base and base.method != "mean")
    if len(seen) > 1 and pilot.window is None and not chose:
        c.warnings.append(
            f"{goal.kpi} is published for several windows ({', '.join(seen)}): they are mixed; "
            "start the pilot with --window to pick one"
        )
    target, prog, status = status_of(goal, c, unit)
    return KpiProgress(goal.text(), unit, target, prog, status, c, comp, seen, base, p)


def progress(pilot: Pilot, history: Path, now: datetime, **stats_kw: Any) -> list[KpiProgress]:
    """Evaluate every goal of ``pilot`` from ``history`` up to ``now`` (or the planned end)."""
    out = []
    end = min(now, pilot.end)
    for g in pilot.goals:
        kw: dict[str, Any] = dict(shifts=pilot.context.shifts, tz=pilot.tz, window=pilot.window)
        base: WindowSamples | None = None
        if pilot.baseline.source == "import":
            rows = sorted(pilot.baseline.imported.get(g.kpi, []))
            base_vals = [v for _, v in rows]
        else:
            assert pilot.baseline.start and pilot.baseline.end
            base = window_samples(
                history,
                pilot.assets,
                g.kpi,
                pilot.baseline.start,
                pilot.baseline.end,
                read_until=min(pilot.baseline.end + GRACE, now),
                **kw,
            )
            base_vals = base.values
        p = (
            window_samples(
                history,
                pilot.assets,
                g.kpi,
                pilot.start,
                end,
                read_until=min(end + GRACE, now),
                **kw,
            )
            if end > pilot.start
            else None
        )
        if p is not None:
            p = _with_future(p, future_values(history, pilot.assets, g.kpi, now))
        out.append(evaluate(pilot, g, base_vals, base, p, **stats_kw))
    return out


def _with_future(s: WindowSamples, n: int) -> WindowSamples:
    return replace(s, future=n)
