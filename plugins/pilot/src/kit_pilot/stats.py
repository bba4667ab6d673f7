"""Statistics of a pilot: baseline vs pilot per-shift KPI samples. Pure functions, no I/O.

The change is the difference of the mean per-shift KPI (pilot − baseline) with a
**percentile bootstrap** confidence interval: each window's shift values are resampled with
replacement ``resamples`` times (seeded: the same data always gives the same interval, so a
second site recomputing it gets the same figures), and the interval is the middle
``confidence`` share of the resampled differences. Why not Welch's t-test: per-shift KPIs are
bounded (OEE in 0…1) and often skewed (a few bad shifts with long stops), and the bootstrap
makes no normality assumption; with the few dozen shifts of a pilot both give similar
intervals when the data *are* normal (a test checks this), and the bootstrap is easier to
explain: "we re-drew the shifts 10,000 times; 95 % of the differences fell between A and B".

It does not fix what the data do not show: shifts are treated as independent (a drifting
process makes the interval too narrow), and a change in product mix or staffing between
windows is a confounder the numbers cannot detect — :mod:`kit_pilot.store` records the
context to hold fixed and the report lists it.
"""

from __future__ import annotations

import math
import random
from dataclasses import asdict, dataclass, field
from typing import Any

#: Fewer shifts than this in either window: the comparison is reported but flagged.
MIN_SHIFTS = 10
#: Windows with less of their expected data than this are flagged (40 % missing → flagged).
MIN_COMPLETENESS = 0.8
DEFAULT_RESAMPLES = 10_000
DEFAULT_SEED = 20261206
NO_CHANGE = "no significant change"


@dataclass(frozen=True)
class Comparison:
    """Baseline vs pilot for one KPI (all values in the KPI's unit)."""

    baseline_mean: float | None
    pilot_mean: float | None
    change: float | None
    """pilot_mean − baseline_mean."""
    ci_low: float | None
    ci_high: float | None
    confidence: float
    resamples: int
    seed: int
    n_baseline: int
    n_pilot: int
    verdict: str
    """``increase``, ``decrease``, ``no significant change`` or ``not enough data``."""
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Plain dict (JSON-ready) for stores, reports and evidence packs."""
        return asdict(self)


def mean(xs: list[float]) -> float:
    """Arithmetic mean (exactly rounded sum)."""
    return math.fsum(xs) / len(xs)


def bootstrap_interval(
    baseline: list[float],
    pilot: list[float],
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = 0.95,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``mean(pilot) − mean(baseline)``.

    Raises:
        ValueError: an empty sample or a confidence outside (0, 1).
    """
    if not baseline or not pilot:
        raise ValueError("both samples need at least one value")
    if not 0 < confidence < 1:
        raise ValueError("confidence must be between 0 and 1")
    rnd = random.Random(seed)
    nb, npl = len(baseline), len(pilot)
    diffs = sorted(
        math.fsum(rnd.choices(pilot, k=npl)) / npl - math.fsum(rnd.choices(baseline, k=nb)) / nb
        for _ in range(resamples)
    )
    tail = (1 - confidence) / 2
    lo = diffs[max(0, math.floor(tail * resamples))]
    hi = diffs[min(resamples - 1, math.ceil((1 - tail) * resamples) - 1)]
    return lo, hi


def compare(
    baseline: list[float],
    pilot: list[float],
    *,
    completeness: tuple[float | None, float | None] = (None, None),
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = 0.95,
    min_shifts: int = MIN_SHIFTS,
) -> Comparison:
    """Compare per-shift samples; ``completeness`` = share of expected data in each window.

    The verdict is ``no significant change`` when the interval contains 0. Warnings (never
    silent): fewer than ``min_shifts`` shifts in a window, a window less than
    :data:`MIN_COMPLETENESS` complete, or no data at all.
    """
    warnings: list[str] = []
    for name, xs, comp in (
        ("baseline", baseline, completeness[0]),
        ("pilot", pilot, completeness[1]),
    ):
        if len(xs) < min_shifts:
            warnings.append(
                f"{name}: only {len(xs)} shift(s) (fewer than {min_shifts}): the interval is wide "
                "and may be wrong; wait for more shifts"
            )
        if comp is not None and comp < MIN_COMPLETENESS:
            warnings.append(
                f"{name}: data {comp:.0%} complete ({1 - comp:.0%} missing; below "
                f"{MIN_COMPLETENESS:.0%}): gaps may hide stops or bias the mean"
            )
    common: dict[str, Any] = dict(confidence=confidence, resamples=resamples, seed=seed)
    if not baseline or not pilot:
        return Comparison(
            mean(baseline) if baseline else None,
            mean(pilot) if pilot else None,
            None,
            None,
            None,
            n_baseline=len(baseline),
            n_pilot=len(pilot),
            verdict="not enough data",
            warnings=warnings,
            **common,
        )
    mb, mp = mean(baseline), mean(pilot)
    lo, hi = bootstrap_interval(baseline, pilot, **common)
    verdict = NO_CHANGE if lo <= 0 <= hi else ("increase" if lo > 0 else "decrease")
    return Comparison(
        mb,
        mp,
        mp - mb,
        lo,
        hi,
        n_baseline=len(baseline),
        n_pilot=len(pilot),
        verdict=verdict,
        warnings=warnings,
        **common,
    )
