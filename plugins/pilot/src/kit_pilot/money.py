"""Value in money of a pilot's measured change: simple, stated rules, no hidden guesses.

Each KPI the kit publishes has one rule turning a change per shift into money per shift;
the same factor applied to the interval's ends gives the money range, so the value carries
the uncertainty of the measurement. A rule whose input is missing (no tariff, no downtime
cost) leaves the KPI "not valued" and says what to give. The rules and every input are
listed in the report as assumptions.

Rules (Δ = pilot mean − baseline mean per shift; saving positive):

* ``energy_per_part_kwh`` / ``kwh_per_part``: −Δ × parts per shift × tariff
* ``energy_kwh`` (per shift window): −Δ × tariff
* ``idle_energy_kwh``: −Δ × tariff
* ``downtime_s``: −Δ ÷ 3600 × downtime cost per hour
* ``oee``, ``availability`` (ratios 0…1): Δ × shift hours × downtime cost per hour — more
  productive time, valued like avoided downtime (this overlaps ``downtime_s``; the report
  says so when both are goals)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from kit_pilot.stats import Comparison
from kit_pilot.store import Money

WORKING_DAYS = 250
_ENERGY_PER_PART = ("energy_per_part_kwh", "kwh_per_part")
_ENERGY = ("energy_kwh", "idle_energy_kwh")
_TIME_RATIOS = ("oee", "availability")


@dataclass(frozen=True)
class Value:
    """Money per shift and per year of one goal (None: not valued, ``reason`` says why)."""

    kpi: str
    per_shift: float | None
    per_shift_low: float | None
    per_shift_high: float | None
    per_year: float | None
    per_year_low: float | None
    per_year_high: float | None
    rule: str
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def shifts_per_year(money: Money, shifts_per_day: int) -> float:
    """The stated shifts per year, else shifts per day × :data:`WORKING_DAYS`."""
    return money.shifts_per_year or shifts_per_day * WORKING_DAYS


def factor(kpi: str, money: Money, shift_hours: float) -> tuple[float | None, str, str | None]:
    """``(money per unit of change per shift, rule text, reason when not valued)``."""
    cur = money.currency
    if kpi in _ENERGY_PER_PART:
        rule = f"saving = −change × parts per shift × tariff ({cur}/kWh)"
        if money.tariff_per_kwh is None or money.parts_per_shift is None:
            return None, rule, "give --tariff and --parts-per-shift"
        return -money.parts_per_shift * money.tariff_per_kwh, rule, None
    if kpi in _ENERGY:
        rule = f"saving = −change (kWh per shift) × tariff ({cur}/kWh)"
        if money.tariff_per_kwh is None:
            return None, rule, "give --tariff"
        return -money.tariff_per_kwh, rule, None
    if kpi == "downtime_s":
        rule = f"saving = −change (s per shift) ÷ 3600 × downtime cost ({cur}/h)"
        if money.downtime_cost_per_h is None:
            return None, rule, "give --downtime-cost"
        return -money.downtime_cost_per_h / 3600, rule, None
    if kpi in _TIME_RATIOS:
        rule = (
            f"gain = change × {shift_hours:g} h per shift × downtime cost ({cur}/h): "
            "more productive time valued like avoided downtime"
        )
        if money.downtime_cost_per_h is None:
            return None, rule, "give --downtime-cost"
        return shift_hours * money.downtime_cost_per_h, rule, None
    return None, "no rule", f"no money rule for {kpi}"


def value_of(
    kpi: str, c: Comparison, money: Money, *, shift_hours: float, shifts_per_day: int
) -> Value:
    """Money per shift and per year of comparison ``c`` of ``kpi`` (with its interval)."""
    f, rule, reason = factor(kpi, money, shift_hours)
    if f is None or c.change is None:
        return Value(kpi, None, None, None, None, None, None, rule, reason or "no change measured")
    n = shifts_per_year(money, shifts_per_day)
    ends = sorted(x * f for x in (c.ci_low, c.ci_high) if x is not None)
    lo, hi = (ends[0], ends[-1]) if len(ends) == 2 else (None, None)
    per = c.change * f
    return Value(
        kpi,
        per,
        lo,
        hi,
        per * n,
        None if lo is None else lo * n,
        None if hi is None else hi * n,
        rule,
    )


def assumptions(
    money: Money, *, shift_hours: float, shifts_per_day: int, kpis: list[str]
) -> list[str]:
    """The inputs and simplifications behind the money figures, in words."""
    out = [
        f"currency {money.currency}",
        f"energy tariff: {money.tariff_per_kwh if money.tariff_per_kwh is not None else 'not given'}"
        f"{' ' + money.currency + '/kWh' if money.tariff_per_kwh is not None else ''}",
        f"downtime cost: {money.downtime_cost_per_h if money.downtime_cost_per_h is not None else 'not given'}"
        f"{' ' + money.currency + '/h' if money.downtime_cost_per_h is not None else ''}",
        f"parts per shift: {money.parts_per_shift if money.parts_per_shift is not None else 'not given'}",
        f"{shifts_per_year(money, shifts_per_day):g} shifts per year"
        + ("" if money.shifts_per_year else f" ({shifts_per_day} per day × {WORKING_DAYS} days)"),
        f"{shift_hours:g} h per shift (24 h ÷ {shifts_per_day} shifts)",
        "the change per shift measured in the pilot holds for the whole year",
        "the money range applies the same rule to the ends of the 95 % interval",
    ]
    if any(k in _TIME_RATIOS for k in kpis) and "downtime_s" in kpis:
        out.append("OEE/availability and downtime value the same lost time: do not add them up")
    return out
