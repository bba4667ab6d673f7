"""Which anomaly detector for condition signals: measured, in one run.

Run (the two library candidates are not kit dependencies; uv adds them for this run only)::

    uv run --with scikit-learn==1.7.2 --with river==0.22.0 python bench/models.py [--quick]

Without them installed the bench still runs our detectors and marks the others missing.

Data: a simulated motor (1 value per signal every 2 s): load steps every 2–10 minutes with
rare short overloads; current and vibration follow load, winding temperature follows it
with a 15-minute lag. A healthy training day, a healthy test day (false alerts), then a
day with a bearing defect from a known onset (+2 h): vibration grows with the square of the
time since onset (3 mm/s after 8 h). Every detector sees the same 60 s window means and
gets the same alert rule (threshold = the 99.9 % training score, 3 windows in a row).

Candidates:

* ``robust_mahalanobis`` — kit_models.detector (pure Python): robust centre/scale + covariance;
* ``robust_z_max`` — baseline: the largest per-signal robust z (no relation between signals);
* ``isolation_forest`` — scikit-learn IsolationForest (100 trees), scored one window at a time
  as the live stream would;
* ``half_space_trees`` — river HalfSpaceTrees (its defaults: 10 trees, height 8, window 250), features min–max scaled
  to the training range, learning only on the training data;
* ``iso_rule`` — the reference: vibration ≥ 2.8 mm/s (ISO class II zone C) for 10 s.

Figures per detector: detection delay after the onset (h) and lead over the ISO rule (h),
false alerts on the healthy day, training time (s), scoring CPU µs per window, model memory
(tracemalloc peak while fitting, KiB, and pickled size, KiB). Ratios are to
``robust_mahalanobis`` measured in the same run. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import random
import statistics
import time
import tracemalloc
from typing import Any

from kit_models.detector import AlertState, RobustMahalanobis, quantile, windows_from_rows

SIGNALS = ["vib", "current", "temp"]
T0 = 1_790_000_000.0
DAY = 86400.0
RAMP_S = 8 * 3600
ZONE_C = 2.8
MARGIN = 1.0
"""Threshold multiplier for every candidate (the component's default for ours is 1.5)."""


def simulate(start: float, duration_s: float, seed: int, onset: float | None = None) -> list:
    """``(ts, signal, value)`` rows of the motor (see the module docstring)."""
    rng = random.Random(seed)
    rows, load, until, temp, t, step = [], 0.6, start, 53.0, start, 2.0
    while t < start + duration_s:
        if t >= until:
            if rng.random() < 0.08:
                load, until = rng.uniform(1.15, 1.25), t + rng.uniform(60, 150)
            else:
                load, until = rng.uniform(0.3, 1.0), t + rng.uniform(120, 600)
        temp += (35 + 30 * load - temp) * (1 - math.exp(-step / 900))
        fault = 0.0 if onset is None or t < onset else 3.0 * ((t - onset) / RAMP_S) ** 2
        rows.append((t, "current", 4 + 18 * load + rng.gauss(0, 0.25)))
        rows.append((t, "temp", temp + rng.gauss(0, 0.15)))
        rows.append((t, "vib", 0.7 + 1.7 * load + rng.gauss(0, 0.06) + fault))
        t += step
    return rows


def rule_alerts(rows: list) -> list[float]:
    """Times the ISO zone rule raises (≥ zone C held 10 s)."""
    out, since, active = [], None, False
    for t, s, v in rows:
        if s != "vib":
            continue
        if v >= ZONE_C:
            since = t if since is None else since
            if not active and t - since >= 10:
                active = True
                out.append(t)
        else:
            since, active = None, False
    return out


class ZMax:
    """Baseline: max |robust z| over the signals."""

    def fit(self, x: list[list[float]]) -> ZMax:
        cols = list(zip(*x))
        self.c = [statistics.median(c) for c in cols]
        self.s = [
            max(statistics.median(abs(v - m) for v in c) * 1.4826, 1e-9)
            for c, m in zip(cols, self.c)
        ]
        return self

    def score(self, v: list[float]) -> float:
        return max(abs(a - c) / s for a, c, s in zip(v, self.c, self.s))


class Mahalanobis:
    """kit_models.detector.RobustMahalanobis behind the common interface."""

    def fit(self, x: list[list[float]]) -> Mahalanobis:
        self.m = RobustMahalanobis.fit(SIGNALS, x)
        return self

    def score(self, v: list[float]) -> float:
        return self.m.score(v)


class IForest:
    """scikit-learn IsolationForest; score = −score_samples (higher = more anomalous)."""

    def fit(self, x: list[list[float]]) -> IForest:
        from sklearn.ensemble import IsolationForest

        self.m = IsolationForest(n_estimators=100, random_state=0).fit(x)
        return self

    def score(self, v: list[float]) -> float:
        return float(-self.m.score_samples([v])[0])


class HST:
    """river HalfSpaceTrees on min–max scaled features (learned on training data only)."""

    def fit(self, x: list[list[float]]) -> HST:
        from river.anomaly import HalfSpaceTrees

        cols = list(zip(*x))
        self.lo = [min(c) for c in cols]
        self.hi = [max(c) for c in cols]
        self.m = HalfSpaceTrees(n_trees=10, height=8, window_size=250, seed=0)  # river defaults
        for v in x:
            self.m.learn_one(self._x(v))
        return self

    def _x(self, v: list[float]) -> dict[str, float]:
        return {
            s: (a - lo) / ((hi - lo) or 1.0) for s, a, lo, hi in zip(SIGNALS, v, self.lo, self.hi)
        }

    def score(self, v: list[float]) -> float:
        return float(self.m.score_one(self._x(v)))


CANDIDATES = {
    "robust_mahalanobis": Mahalanobis,
    "robust_z_max": ZMax,
    "isolation_forest": IForest,
    "half_space_trees": HST,
}


def alerts(det: Any, wins: list, thr: float) -> list[float]:
    st, out = AlertState(3, 3), []
    for start, v in wins:
        if st.update(det.score(v) > thr) == "raised":
            out.append(start + 60.0)
    return out


def measure(name: str, cls: type, data: dict[str, Any]) -> dict[str, Any]:
    """Fit, time, size and evaluate one candidate."""
    x = [v for _t, v in data["train"]]
    cls().fit(x[: 10 * (len(SIGNALS) + 1)])  # imports and first-call set-up, not timed
    t = time.perf_counter()
    det = cls().fit(x)
    train_s = time.perf_counter() - t
    # Memory in a second fit: tracing slows allocation-heavy code, so it is not timed.
    tracemalloc.start()
    cls().fit(x)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    scores = [det.score(v) for v in x]
    # The same false-alert budget for every detector: the 99.9 % training score (score
    # scales differ, so a multiplier would favour one kind of score over another).
    thr = quantile(scores, 0.999) * MARGIN
    sample = [v for _t, v in data["healthy"][:200]]
    t = time.process_time()
    for v in sample:
        det.score(v)
    us = (time.process_time() - t) / len(sample) * 1e6
    onset = data["onset"]
    hits = alerts(det, data["faulty"], thr)
    after = [h for h in hits if h >= onset]
    rule = data["rule_first"]
    first = after[0] if after else None
    return {
        "detector": name,
        "delay_h": None if first is None else (first - onset) / 3600,
        "lead_over_rule_h": None if first is None or rule is None else (rule - first) / 3600,
        "alerts_before_onset": len([h for h in hits if h < onset]),
        "false_alerts_healthy_day": len(alerts(det, data["healthy"], thr)),
        "train_s": train_s,
        "score_us_per_window": us,
        "fit_peak_kib": peak / 1024,
        "model_kib": len(pickle.dumps(det)) / 1024,
    }


def main() -> None:
    """Run every available candidate on the same data and print a table plus one JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="half-day training and test periods")
    args = ap.parse_args()
    span = DAY / 2 if args.quick else DAY
    onset = T0 + 2 * DAY + 2 * 3600
    faulty_rows = simulate(T0 + 2 * DAY, DAY, 3, onset)
    healthy_rows = simulate(T0 + DAY, span, 2)
    rule_hits = [t for t in rule_alerts(faulty_rows) if t >= onset]
    data = {
        "train": windows_from_rows(simulate(T0 + DAY - span, span, 1), SIGNALS, 60),
        "healthy": windows_from_rows(healthy_rows, SIGNALS, 60),
        "faulty": windows_from_rows(faulty_rows, SIGNALS, 60),
        "onset": onset,
        "rule_first": rule_hits[0] if rule_hits else None,
    }
    results, missing = [], []
    for name, cls in CANDIDATES.items():
        try:
            results.append(measure(name, cls, data))
        except ImportError as exc:
            missing.append(f"{name} ({exc.name} not installed)")
    rule = {
        "detector": "iso_rule",
        "delay_h": None if data["rule_first"] is None else (data["rule_first"] - onset) / 3600,
        "false_alerts_healthy_day": len(rule_alerts(healthy_rows)),
    }
    base = results[0]
    print(
        f"training windows {len(data['train'])}, healthy {len(data['healthy'])}, "
        f"faulty {len(data['faulty'])} (60 s); onset +2 h, ISO rule fires at +{rule['delay_h']:.2f} h "
        f"with {rule['false_alerts_healthy_day']} false alert(s) on the healthy period"
    )
    head = f"{'detector':20} {'delay h':>8} {'lead h':>7} {'false':>5} {'train s':>8} {'µs/win':>8} {'×base':>6} {'fit KiB':>8} {'model KiB':>9}"
    print(head)
    for r in results:
        fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
        r["score_ratio_to_base"] = r["score_us_per_window"] / base["score_us_per_window"]
        print(
            f"{r['detector']:20} {fmt(r['delay_h'], '8.2f')} {fmt(r['lead_over_rule_h'], '7.2f')} "
            f"{r['false_alerts_healthy_day']:5d} {r['train_s']:8.3f} {r['score_us_per_window']:8.1f} "
            f"{r['score_ratio_to_base']:6.1f} {r['fit_peak_kib']:8.0f} {r['model_kib']:9.1f}"
        )
    for m in missing:
        print(f"skipped: {m}")
    print(
        json.dumps(
            {
                "bench": "models",
                "quick": args.quick,
                "rule": rule,
                "results": results,
                "missing": missing,
            }
        )
    )


if __name__ == "__main__":
    main()
