"""The pilot report: baseline vs pilot per goal, as plain JSON-ready data.

:func:`build_report` turns the per-goal results (:mod:`kit_pilot.progress`) into the
report every output is drawn from — the HTML page and SVG charts (:mod:`kit_pilot.html`),
``kit pilot report --json`` and the evidence pack, whose verifier rebuilds it from the
included KPI rows and compares (:func:`stated`). It adds what the bare comparison lacks:

* per-shift distributions (all shifts, and per shift of the day: early/late/night differ);
* warnings about confounders: too few shifts, missing data, clock problems (values from the
  future, repeated time stamps), a product mix that changed, windows mixed;
* data completeness per window;
* the value in money with its assumptions (:mod:`kit_pilot.money`);
* whether the evidence meets the goal (the gate to a lighthouse bundle).
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from kit_pilot.money import assumptions, value_of
from kit_pilot.progress import KpiProgress
from kit_pilot.samples import WindowSamples
from kit_pilot.stats import DEFAULT_RESAMPLES, DEFAULT_SEED, MIN_SHIFTS, NO_CHANGE
from kit_pilot.store import Pilot

SCHEMA = "kit.pilot-report/1"


def quantile(xs: list[float], q: float) -> float:
    """Quantile ``q`` of ``xs`` with linear interpolation (NumPy's default, type 7)."""
    s = sorted(xs)
    pos = (len(s) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def describe(xs: list[float]) -> dict[str, Any]:
    """``n``, mean, min, 10th/25th/50th/75th/90th percentiles and max of ``xs``."""
    if not xs:
        return {"n": 0}
    return {
        "n": len(xs),
        "mean": math.fsum(xs) / len(xs),
        "min": min(xs),
        "p10": quantile(xs, 0.10),
        "p25": quantile(xs, 0.25),
        "median": quantile(xs, 0.5),
        "p75": quantile(xs, 0.75),
        "p90": quantile(xs, 0.90),
        "max": max(xs),
    }


def _series(s: WindowSamples | None) -> list[list[Any]]:
    """``[[shift start ISO, value], …]`` of a window's samples."""
    if s is None:
        return []
    return [[t.isoformat(), v] for t, v in zip(s.shifts, s.values)]


def _by_shift(pilot: Pilot, base: list[list[Any]], pil: list[list[Any]]) -> list[dict[str, Any]]:
    """Distributions per shift of the day (the local start time, ``06:00`` …)."""
    out = []
    for name in sorted(pilot.context.shifts):

        def pick(rows: list[list[Any]], name: str = name) -> list[float]:
            return [v for t, v in rows if datetime.fromisoformat(t).strftime("%H:%M") == name]

        out.append({"shift": name, "baseline": describe(pick(base)), "pilot": describe(pick(pil))})
    return out


def _clock_warnings(r: KpiProgress) -> list[str]:
    out = []
    for name, s in (("baseline", r.baseline), ("pilot", r.pilot)):
        if s is not None and s.duplicates:
            out.append(
                f"{name}: {s.duplicates} repeated time stamp(s) — a clock was set back or data "
                "were replayed; check the device/gateway clocks"
            )
    if r.pilot is not None and r.pilot.future:
        out.append(
            f"{r.pilot.future} value(s) time-stamped after the report time — a clock runs "
            "ahead; they are not counted"
        )
    return out


def _method(r: KpiProgress) -> str:
    s = r.pilot or r.baseline
    return s.method if s is not None else "imported"


def goal_met(r: KpiProgress) -> bool:
    """The target is reached and the change is significant in the goal's direction."""
    c = r.comparison
    want = (
        "increase"
        if r.target is not None and c.baseline_mean is not None and r.target > c.baseline_mean
        else "decrease"
    )
    return r.status == "target reached" and c.verdict == want


def build_report(
    pilot: Pilot,
    results: list[KpiProgress],
    now: datetime,
    *,
    product_mix: str | None = None,
) -> dict[str, Any]:
    """The report of ``pilot`` (see module docstring); ``product_mix``: what ran in the pilot."""
    shifts_per_day = len(pilot.context.shifts)
    shift_hours = 24 / shifts_per_day
    warnings: list[str] = []
    if product_mix is not None and pilot.context.product_mix is not None:
        if product_mix.strip().casefold() != pilot.context.product_mix.strip().casefold():
            warnings.append(
                f"confounder: product mix changed — baseline {pilot.context.product_mix!r}, "
                f"pilot {product_mix!r}; the change may come from the products, not the process"
            )
    elif product_mix is not None or pilot.context.product_mix is not None:
        warnings.append(
            "product mix given for only one window: the report cannot say it was held fixed"
        )
    goals: list[dict[str, Any]] = []
    for r in results:
        c = r.comparison
        base: list[list[Any]] = (
            [[t.isoformat(), v] for t, v in sorted(pilot.baseline.imported.get(r.kpi, []))]
            if pilot.baseline.source == "import"
            else _series(r.baseline)
        )
        pil = _series(r.pilot)
        value = value_of(
            r.kpi, c, pilot.money, shift_hours=shift_hours, shifts_per_day=shifts_per_day
        )
        goals.append(
            {
                "goal": r.goal,
                "kpi": r.kpi,
                "unit": r.unit,
                "target": r.target,
                "progress": r.progress,
                "status": r.status,
                "goal_met": goal_met(r),
                "comparison": c.as_dict(),
                "warnings": [*c.warnings, *_clock_warnings(r)],
                "completeness": {"baseline": r.completeness[0], "pilot": r.completeness[1]},
                "windows_seen": r.windows_seen,
                "clock": {
                    "future": r.pilot.future if r.pilot else 0,
                    "duplicates_baseline": r.baseline.duplicates if r.baseline else 0,
                    "duplicates_pilot": r.pilot.duplicates if r.pilot else 0,
                },
                "sample_method": _method(r),
                "series": {"baseline": base, "pilot": pil},
                "distributions": {
                    "baseline": describe([v for _, v in base]),
                    "pilot": describe([v for _, v in pil]),
                    "by_shift": _by_shift(pilot, base, pil),
                },
                "value": value.as_dict(),
            }
        )
    valued = [g["value"] for g in goals if g["value"]["per_year"] is not None]
    kpis = [g["kpi"] for g in goals]
    first = results[0].comparison if results else None
    return {
        "schema": SCHEMA,
        "pilot": pilot.model_dump(mode="json", by_alias=True),
        "generated": now.isoformat(),
        "product_mix_pilot": product_mix,
        "windows": {
            "baseline": "imported"
            if pilot.baseline.source == "import"
            else [
                pilot.baseline.start.isoformat() if pilot.baseline.start else None,
                pilot.baseline.end.isoformat() if pilot.baseline.end else None,
            ],
            "pilot": [pilot.start.isoformat(), min(now, pilot.end).isoformat()],
        },
        "method": {
            "statistic": "difference of the mean per-shift KPI (pilot − baseline)",
            "interval": "percentile bootstrap, shifts re-drawn with replacement",
            "resamples": first.resamples if first else DEFAULT_RESAMPLES,
            "seed": first.seed if first else DEFAULT_SEED,
            "confidence": first.confidence if first else 0.95,
            "min_shifts": MIN_SHIFTS,
            "no_change": NO_CHANGE,
        },
        "goals": goals,
        "warnings": warnings,
        "money": {
            "currency": pilot.money.currency,
            "per_year": math.fsum(v["per_year"] for v in valued) if valued else None,
            "assumptions": assumptions(
                pilot.money, shift_hours=shift_hours, shifts_per_day=shifts_per_day, kpis=kpis
            ),
        },
        "goal_met": bool(goals) and all(g["goal_met"] for g in goals),
    }


def stated(report: dict[str, Any]) -> dict[str, Any]:
    """The figures a report states (what an evidence pack's verifier must reproduce)."""
    return {
        "goal_met": report["goal_met"],
        "money_per_year": report["money"]["per_year"],
        "goals": [
            {
                "goal": g["goal"],
                "status": g["status"],
                "goal_met": g["goal_met"],
                "target": g["target"],
                "comparison": {k: v for k, v in g["comparison"].items() if k != "warnings"},
                "completeness": g["completeness"],
                "clock": g["clock"],
                "warnings": g["warnings"],
                "series": g["series"],
                "value": g["value"],
            }
            for g in report["goals"]
        ],
    }


def summary(report: dict[str, Any]) -> dict[str, Any]:
    """A few lines' worth for a pack's manifest and ``kit bundle show``."""
    return {
        "pilot": report["pilot"]["name"],
        "goal_met": report["goal_met"],
        "windows": report["windows"],
        "currency": report["money"]["currency"],
        "money_per_year": report["money"]["per_year"],
        "goals": [
            {
                "goal": g["goal"],
                "unit": g["unit"],
                "baseline_mean": g["comparison"]["baseline_mean"],
                "pilot_mean": g["comparison"]["pilot_mean"],
                "change": g["comparison"]["change"],
                "ci_low": g["comparison"]["ci_low"],
                "ci_high": g["comparison"]["ci_high"],
                "n_baseline": g["comparison"]["n_baseline"],
                "n_pilot": g["comparison"]["n_pilot"],
                "verdict": g["comparison"]["verdict"],
                "status": g["status"],
                "goal_met": g["goal_met"],
                "warnings": len(g["warnings"]),
            }
            for g in report["goals"]
        ],
        "warnings": len(report["warnings"]) + sum(len(g["warnings"]) for g in report["goals"]),
    }
