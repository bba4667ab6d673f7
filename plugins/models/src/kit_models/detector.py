"""The anomaly detector: window features, a robust Mahalanobis model, alert hysteresis, PSI drift.

Pure Python on purpose (no numpy): a model has a handful of features (one per condition
signal), so a d×d matrix product per window costs a few microseconds, and the kit stays
installable on a Raspberry Pi without a 20–60 MB numeric stack. ``bench/models.py``
measured this against scikit-learn's IsolationForest and river's HalfSpaceTrees
(docs/models.md, "Why this detector").

* **Features**: per signal, the mean of its good values over tumbling windows of
  ``window_s`` seconds of sample time (:class:`WindowFeatures`).
* **Model** (:class:`RobustMahalanobis`): each feature is centred on its training median and
  scaled by its MAD (×1.4826, a robust σ); the covariance of the clipped, scaled training
  vectors captures how signals move together (vibration follows load, as does current), so
  a rise that load does not explain scores high long before an absolute limit is crossed.
  Score = √(d²/k), the Mahalanobis distance per feature (≈1 on healthy data).
* **Alerts** (:class:`AlertState`): score above the threshold for ``on_windows`` windows in a
  row raises, below for ``off_windows`` windows clears.
* **Drift** (:func:`psi`): Population Stability Index of each feature's conditional
  residual (what the other signals do not explain) over the recent windows, against the
  deciles of the training residuals.
"""

from __future__ import annotations

import hashlib
import math
import statistics
import struct
from collections import deque
from dataclasses import dataclass, field
from typing import Any

MAD_TO_SIGMA = 1.4826
"""MAD of a normal distribution × 1.4826 = its σ."""
CLIP = 8.0
"""Scaled training values are clipped to ±CLIP robust σ before the covariance (outliers in
the training window must not widen the model)."""
RIDGE = 1e-4
"""Added to the covariance diagonal: keeps it invertible when two signals are collinear."""
PSI_BINS = 10
PSI_FLOOR = 1e-4
"""Empty bins count as this fraction (PSI is undefined for a zero share)."""


# -- features ------------------------------------------------------------------------------
class WindowFeatures:
    """Tumbling windows of ``window_s`` seconds: the mean of each signal's good values.

    A window closes when a value arrives at or beyond its end; it yields a feature vector
    only if every signal had at least one value in it (a gap is not a zero).
    """

    def __init__(self, signals: list[str], window_s: float) -> None:
        self.signals = list(signals)
        self.window_s = window_s
        self.start: float | None = None
        self._sum = dict.fromkeys(self.signals, 0.0)
        self._n = dict.fromkeys(self.signals, 0)

    def add(self, signal: str, ts: float, value: float) -> list[tuple[float, list[float] | None]]:
        """Add one value; return the windows this closed as ``(window_start, vector or None)``."""
        out: list[tuple[float, list[float] | None]] = []
        if self.start is None:
            self.start = math.floor(ts / self.window_s) * self.window_s
        while ts >= self.start + self.window_s:
            out.append((self.start, self._close()))
            self.start += self.window_s
            if ts >= self.start + self.window_s:
                # A long gap: jump to the window holding ts instead of emitting empty ones.
                self.start = math.floor(ts / self.window_s) * self.window_s
        if ts >= self.start and signal in self._sum:
            self._sum[signal] += value
            self._n[signal] += 1
        return out

    def _close(self) -> list[float] | None:
        vec = (
            [self._sum[s] / self._n[s] for s in self.signals]
            if all(self._n[s] for s in self.signals)
            else None
        )
        self._sum = dict.fromkeys(self.signals, 0.0)
        self._n = dict.fromkeys(self.signals, 0)
        return vec


def windows_from_rows(
    rows: list[tuple[float, str, float]], signals: list[str], window_s: float
) -> list[tuple[float, list[float]]]:
    """Feature vectors from ``(ts, signal, value)`` rows sorted by time (training input)."""
    wf = WindowFeatures(signals, window_s)
    out: list[tuple[float, list[float]]] = []
    for ts, s, v in rows:
        out += [(t, vec) for t, vec in wf.add(s, ts, v) if vec is not None]
    # The last, partial window is dropped: it would be scored on fewer values than the others.
    return out


def data_hash(vectors: list[list[float]]) -> str:
    """SHA-256 of the training feature matrix (float64, row-major): what the model saw."""
    h = hashlib.sha256()
    for v in vectors:
        h.update(struct.pack(f"<{len(v)}d", *v))
    return h.hexdigest()


# -- linear algebra (small d) ----------------------------------------------------------------
def invert(m: list[list[float]]) -> list[list[float]]:
    """Inverse of a small square matrix (Gauss–Jordan with partial pivoting).

    Raises:
        ValueError: the matrix is singular.
    """
    n = len(m)
    a = [row[:] + [1.0 if i == j else 0.0 for j in range(n)] for i, row in enumerate(m)]
    for c in range(n):
        p = max(range(c, n), key=lambda r: abs(a[r][c]))
        if abs(a[p][c]) < 1e-12:
            raise ValueError("singular covariance")
        a[c], a[p] = a[p], a[c]
        piv = a[c][c]
        a[c] = [x / piv for x in a[c]]
        for r in range(n):
            if r != c and a[r][c] != 0.0:
                f = a[r][c]
                a[r] = [x - f * y for x, y in zip(a[r], a[c])]
    return [row[n:] for row in a]


def quantile(values: list[float], q: float) -> float:
    """Linear-interpolation quantile (numpy's default) of a non-empty list."""
    s = sorted(values)
    pos = q * (len(s) - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


# -- the model -------------------------------------------------------------------------------
@dataclass
class RobustMahalanobis:
    """A fitted model: centre, scale, inverse covariance, threshold and drift bin edges."""

    signals: list[str]
    center: list[float]
    scale: list[float]
    inv_cov: list[list[float]]
    threshold: float
    bin_edges: list[list[float]] = field(default_factory=list)
    """Per feature, the 9 inner decile edges of the training residuals (PSI bins)."""
    expected: list[list[float]] = field(default_factory=list)
    """Per feature, the share of training residuals in each of the 10 bins."""

    @classmethod
    def fit(
        cls,
        signals: list[str],
        vectors: list[list[float]],
        *,
        quantile_q: float = 0.999,
        margin: float = 1.5,
        min_scale_rel: float = 0.01,
    ) -> RobustMahalanobis:
        """Fit on healthy feature vectors; threshold = ``margin`` × the ``quantile_q`` training score.

        Raises:
            ValueError: fewer than 10 × (features + 1) vectors (too little to estimate a covariance).
        """
        k = len(signals)
        if len(vectors) < 10 * (k + 1):
            raise ValueError(
                f"{len(vectors)} windows are too few to train {k} features; need at least {10 * (k + 1)}"
            )
        cols = list(zip(*vectors))
        center = [statistics.median(c) for c in cols]
        scale = []
        for c, med in zip(cols, center):
            mad = statistics.median(abs(x - med) for x in c) * MAD_TO_SIGMA
            # A dead-flat signal must not make every tiny wobble infinite.
            scale.append(max(mad, abs(med) * min_scale_rel, 1e-9))
        z = [
            [max(-CLIP, min(CLIP, (x - m) / s)) for x, m, s in zip(v, center, scale)]
            for v in vectors
        ]
        means = [sum(c) / len(c) for c in zip(*z)]
        n = len(z)
        cov = [
            [
                sum((r[i] - means[i]) * (r[j] - means[j]) for r in z) / (n - 1)
                + (RIDGE if i == j else 0.0)
                for j in range(k)
            ]
            for i in range(k)
        ]
        model = cls(list(signals), center, scale, invert(cov), threshold=math.inf)
        scores = [model.score(v) for v in vectors]
        model.threshold = quantile(scores, quantile_q) * margin
        res = list(zip(*(model.residuals(v) for v in vectors)))
        model.bin_edges = [
            [quantile(list(c), q / PSI_BINS) for q in range(1, PSI_BINS)] for c in res
        ]
        model.expected = [histogram(list(c), edges) for c, edges in zip(res, model.bin_edges)]
        return model

    def residuals(self, vec: list[float]) -> list[float]:
        """Per signal, its scaled value minus what the other signals predict for it.

        With the precision matrix P (inverse covariance), that conditional residual is
        (P·z)ᵢ / Pᵢᵢ. Drift is measured on these, not on the raw values: a change of product
        mix moves load, current and vibration together (residuals unchanged), a sensor that
        drifts moves only its own residual.
        """
        z = [(x - m) / s for x, m, s in zip(vec, self.center, self.scale)]
        k = len(z)
        p = self.inv_cov
        return [sum(p[i][j] * z[j] for j in range(k)) / p[i][i] for i in range(k)]

    def score(self, vec: list[float]) -> float:
        """√(d²/k): Mahalanobis distance of ``vec`` per feature (≈1 on healthy data)."""
        z = [(x - m) / s for x, m, s in zip(vec, self.center, self.scale)]
        k = len(z)
        d2 = 0.0
        for i in range(k):
            row = self.inv_cov[i]
            d2 += z[i] * sum(row[j] * z[j] for j in range(k))
        return math.sqrt(max(d2, 0.0) / k)

    def contributions(self, vec: list[float]) -> dict[str, float]:
        """Robust z per signal (the evidence shown with an alert: which signal moved)."""
        return {s: (x - m) / sc for s, x, m, sc in zip(self.signals, vec, self.center, self.scale)}

    def to_dict(self) -> dict[str, Any]:
        """JSON-able parameters (stored in the model file)."""
        return {
            "signals": self.signals,
            "center": self.center,
            "scale": self.scale,
            "inv_cov": self.inv_cov,
            "threshold": self.threshold,
            "bin_edges": self.bin_edges,
            "expected": self.expected,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RobustMahalanobis:
        """Inverse of :meth:`to_dict`."""
        return cls(**{k: d[k] for k in cls.__dataclass_fields__})


# -- alerts and drift ------------------------------------------------------------------------
@dataclass
class AlertState:
    """Hysteresis: raise after ``on_windows`` high windows in a row, clear after ``off_windows`` low."""

    on_windows: int = 3
    off_windows: int = 3
    active: bool = False
    run: int = 0

    def update(self, high: bool) -> str | None:
        """Feed one window; return ``"raised"``, ``"cleared"`` or None."""
        if high != self.active:
            self.run += 1
            need = self.on_windows if high else self.off_windows
            if self.run >= need:
                self.active, self.run = high, 0
                return "raised" if high else "cleared"
        else:
            self.run = 0
        return None


def histogram(values: list[float], edges: list[float]) -> list[float]:
    """Share of ``values`` in each bin (bins: below edge 0, …, at or above the last edge)."""
    counts = [0] * (len(edges) + 1)
    for v in values:
        i = 0
        while i < len(edges) and v >= edges[i]:
            i += 1
        counts[i] += 1
    n = max(len(values), 1)
    return [c / n for c in counts]


def psi(expected: list[float], actual: list[float]) -> float:
    """Population Stability Index Σ (a − e)·ln(a / e), empty shares floored at :data:`PSI_FLOOR`."""
    total = 0.0
    for e, a in zip(expected, actual):
        e, a = max(e, PSI_FLOOR), max(a, PSI_FLOOR)
        total += (a - e) * math.log(a / e)
    return total


class DriftWatch:
    """PSI per feature's conditional residual over the last ``size`` windows (once full)."""

    def __init__(self, model: RobustMahalanobis, size: int) -> None:
        self.model = model
        self.recent: deque[list[float]] = deque(maxlen=size)

    def add(self, vec: list[float]) -> dict[str, float] | None:
        """Add one window; return PSI per signal when at least ``size`` windows are known."""
        self.recent.append(self.model.residuals(vec))
        if len(self.recent) < (self.recent.maxlen or 0):
            return None
        cols = list(zip(*self.recent))
        return {
            s: psi(exp, histogram(list(c), edges))
            for s, c, edges, exp in zip(
                self.model.signals, cols, self.model.bin_edges, self.model.expected
            )
        }
