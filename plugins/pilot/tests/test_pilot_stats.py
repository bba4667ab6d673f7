"""The statistics core against independently generated samples and Welch's t interval."""

from __future__ import annotations

import math
import random
import statistics

from kit_pilot.stats import MIN_SHIFTS, NO_CHANGE, bootstrap_interval, compare


def _welch_interval(a: list[float], b: list[float]) -> tuple[float, float]:
    """95 % Welch interval of mean(b) − mean(a), computed independently (normal quantile
    replaced by the t quantile via a table-free approximation is overkill here: with ≥ 40
    samples per side, t(0.975) ≈ 2.0)."""
    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    d = statistics.fmean(b) - statistics.fmean(a)
    half = 2.0 * math.sqrt(va + vb)
    return d - half, d + half


def test_known_shift_is_found_within_its_interval_and_matches_welch():
    rnd = random.Random(11)
    base = [rnd.gauss(0.60, 0.05) for _ in range(42)]  # 14 days × 3 shifts
    pilot = [rnd.gauss(0.66, 0.05) for _ in range(42)]  # +6 pp true shift
    c = compare(base, pilot)
    assert c.verdict == "increase" and not c.warnings
    assert c.ci_low < 0.06 < c.ci_high and c.ci_low > 0
    assert math.isclose(c.change, statistics.fmean(pilot) - statistics.fmean(base))
    w_lo, w_hi = _welch_interval(base, pilot)
    # Same question, two methods: the interval ends agree to within a tenth of the width.
    width = w_hi - w_lo
    assert abs(c.ci_low - w_lo) < width / 10 and abs(c.ci_high - w_hi) < width / 10


def test_decrease_and_no_change():
    rnd = random.Random(5)
    base = [rnd.gauss(2.0, 0.2) for _ in range(40)]
    lower = [rnd.gauss(1.84, 0.2) for _ in range(40)]  # −8 %
    assert compare(base, lower).verdict == "decrease"
    same = [rnd.gauss(2.0, 0.2) for _ in range(40)]
    c = compare(base, same)
    assert c.verdict == NO_CHANGE and c.ci_low <= 0 <= c.ci_high


def test_few_shifts_and_low_completeness_are_flagged():
    c = compare([0.5, 0.6, 0.55], [0.7] * 20, completeness=(1.0, 0.6))
    text = " ".join(c.warnings)
    assert f"only 3 shift(s) (fewer than {MIN_SHIFTS})" in text
    assert "pilot: data 60% complete (40% missing" in text
    assert compare([], [0.5]).verdict == "not enough data"


def test_bootstrap_is_seeded_and_states_its_resamples():
    a, b = [1.0, 2.0, 3.0, 4.0] * 5, [2.0, 3.0, 4.0, 5.0] * 5
    assert bootstrap_interval(a, b, seed=3) == bootstrap_interval(a, b, seed=3)
    c = compare(a, b, resamples=2000, seed=3)
    assert c.resamples == 2000 and c.seed == 3 and c.confidence == 0.95
    # Constant samples: every resample gives the same difference.
    assert bootstrap_interval([1.0] * 5, [3.0] * 5) == (2.0, 2.0)


def test_interval_covers_the_true_shift_about_95_percent_of_the_time():
    """Coverage over 200 independent experiments (+6 pp true shift, 30 vs 30 shifts)."""
    hits = 0
    for k in range(200):
        rnd = random.Random(1000 + k)
        base = [rnd.gauss(0.60, 0.05) for _ in range(30)]
        pilot = [rnd.gauss(0.66, 0.05) for _ in range(30)]
        lo, hi = bootstrap_interval(base, pilot, resamples=1000, seed=k)
        hits += lo < 0.06 < hi
    # Binomial(200, 0.95): 180…199 holds with > 99.9 % probability; a percentile bootstrap
    # runs slightly narrow with 30 samples, so the lower end allows 0.90.
    assert 180 <= hits <= 199
