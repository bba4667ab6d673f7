"""Baseline learning: robust statistics (median, MAD) of a signal over a learning period.

While learning, good values are kept in a bounded buffer. When the buffer is full it is
thinned to every second value and only every second later value is kept (the stride
doubles), so memory stays bounded and the sample remains spread evenly over the whole
period — deterministic, unlike reservoir sampling, so a test and a restart see the same
model. At the end, median and MAD are computed with polars (one aggregation over at most
``max_samples`` values, once per learning period — never on the per-sample path).

Robust σ is ``1.4826 · MAD`` (consistent with the standard deviation for normal data),
floored at ``min_scale`` and at ``min_scale_rel · |median|`` so a perfectly constant
baseline does not turn every tiny change into an infinite z-score.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

MAD_TO_SIGMA = 1.4826


@dataclass
class SignalModel:
    """The learned baseline of one signal."""

    median: float
    mad: float
    scale: float
    """Robust σ used for z-scores (1.4826·MAD with floors)."""
    n: int
    """Values the model was learned from (after thinning)."""
    seen: int
    """Good values seen during learning."""
    start: float
    end: float
    """Learning period (sample timestamps, epoch seconds)."""

    def z(self, value: float) -> float:
        """Robust z-score of ``value``."""
        return (value - self.median) / self.scale

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form."""
        return asdict(self)


def robust_stats(values: list[float]) -> tuple[float, float]:
    """(median, MAD) of ``values`` (non-empty), computed with polars."""
    import polars as pl  # deferred: polars costs ~0.2 s to import and is needed once per model

    s = pl.Series("v", values, dtype=pl.Float64)
    # A Float64 series' median is a float (polars types it as any Python literal).
    med = float(s.median())  # type: ignore[arg-type]
    mad = float((s - med).abs().median())  # type: ignore[arg-type]
    return med, mad


@dataclass
class Learner:
    """Collects one signal's good values over the learning period (see module docstring)."""

    max_samples: int = 5000
    values: list[float] = field(default_factory=list)
    stride: int = 1
    seen: int = 0
    start: float | None = None
    end: float | None = None

    def add(self, ts: float, value: float) -> None:
        """One good value."""
        if self.start is None:
            self.start = ts
        self.end = ts
        k = self.seen
        self.seen += 1
        # Keep value number k when k is a multiple of the stride: thinning with [::2] then
        # keeps exactly the multiples of the doubled stride, so spacing stays uniform.
        if k % self.stride:
            return
        self.values.append(value)
        if len(self.values) >= self.max_samples:
            self.values = self.values[::2]
            self.stride *= 2

    def model(self, min_scale: float, min_scale_rel: float) -> SignalModel:
        """The robust model of what was collected (needs at least one value)."""
        med, mad = robust_stats(self.values)
        scale = max(MAD_TO_SIGMA * mad, min_scale, min_scale_rel * abs(med))
        return SignalModel(
            med, mad, scale, len(self.values), self.seen, self.start or 0.0, self.end or 0.0
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state (the buffer included, so a restart does not restart learning)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], max_samples: int) -> Learner:
        """Rebuild; a smaller ``max_samples`` than before thins the restored buffer."""
        lr = cls(
            max_samples=max_samples,
            **{k: v for k, v in d.items() if k in cls.__dataclass_fields__ and k != "max_samples"},
        )
        while len(lr.values) >= max_samples:
            lr.values = lr.values[::2]
            lr.stride *= 2
        return lr
