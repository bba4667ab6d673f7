"""Progress of a pilot against its goal: baseline, current pilot value, change, target, verdict.

Shared by ``kit pilot status`` and (later) the report and evidence pack: :func:`progress`
returns plain data, computed only from the pilot record and the historian's files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from kit_pilot.samples import window_samples
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

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        d = asdict(self)
        d["comparison"] = self.comparison.as_dict()
        return d


def progress(pilot: Pilot, history: Path, now: datetime, **stats_kw: Any) -> list[KpiProgress]:
    """Evaluate every goal of ``pilot`` from ``history`` up to ``now`` (or the planned end)."""
    out = []
    end = min(now, pilot.end)
    for g in pilot.goals:
        kw: dict[str, Any] = dict(shifts=pilot.context.shifts, tz=pilot.tz, window=pilot.window)
        if pilot.baseline.source == "import":
            rows = sorted(pilot.baseline.imported.get(g.kpi, []))
            base_vals, base_comp, unit0, seen0 = [v for _, v in rows], None, None, []
        else:
            assert pilot.baseline.start and pilot.baseline.end
            b = window_samples(
                history, pilot.assets, g.kpi, pilot.baseline.start, pilot.baseline.end, **kw
            )
            base_vals, base_comp, unit0, seen0 = b.values, b.completeness, b.unit, b.windows_seen
        p = (
            window_samples(history, pilot.assets, g.kpi, pilot.start, end, **kw)
            if end > pilot.start
            else None
        )
        pilot_vals = p.values if p else []
        comp = (base_comp, p.completeness if p else None)
        c = compare(base_vals, pilot_vals, completeness=comp, **stats_kw)
        unit = (p.unit if p else None) or unit0
        seen = sorted(set(seen0) | set(p.windows_seen if p else []))
        if len(seen) > 1 and pilot.window is None:
            c.warnings.append(
                f"{g.kpi} is published for several windows ({', '.join(seen)}): they are mixed; "
                "start the pilot with --window to pick one"
            )
        target = g.target(c.baseline_mean, unit) if c.baseline_mean is not None else None
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
        out.append(KpiProgress(g.text(), unit, target, prog, status, c, comp, seen))
    return out
