"""Report by exception: publish a point only when it changed beyond its deadband.

An energy meter polled every second repeats most of its values; storing each one costs disk
and SD-card wear for nothing (issue 20, docs/sizing.md). With ``report`` set on a component
(``components[].report`` in the site config) its sample batches carry only the points whose
value moved by more than the point's deadband since it was last sent, whose quality (or
reason) changed, or that were never sent. Every ``max_interval_s`` a full batch is sent
anyway: a heartbeat that keeps consumers' "last seen" fresh and proves the device is alive.
A cycle in which nothing changed publishes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

_UNSENT = object()


class ReportByException:
    """Decides, per batch, which of a fixed list of points is reported."""

    def __init__(
        self,
        names: Sequence[str],
        deadband: float = 0.0,
        deadbands: dict[str, float] | None = None,
        max_interval_s: float = 60.0,
    ) -> None:
        per_point = deadbands or {}
        self.deadbands = [float(per_point.get(n, deadband)) for n in names]
        self.max_interval_s = max_interval_s
        self._values: list[Any] = [_UNSENT] * len(names)
        self._quals: list[Any] = [None] * len(names)
        self._last_full: float | None = None
        self.suppressed = 0
        """Point values not published since start (they were within their deadband)."""

    def select(
        self, values: Sequence[Any], qualities: Sequence[Any] | None, now: float
    ) -> list[int] | None:
        """Indices of the points to publish now; ``None`` means all (first batch, heartbeat).

        Args:
            values: this cycle's value per point.
            qualities: this cycle's quality spec per point (``None``: all good).
            now: monotonic seconds (the heartbeat schedule).
        """
        n = len(values)
        if self._last_full is None or now - self._last_full >= self.max_interval_s:
            self._last_full = now
            self._values = list(values)
            self._quals = list(qualities) if qualities is not None else [None] * n
            return None
        out = []
        last_v, last_q, bands = self._values, self._quals, self.deadbands
        for i in range(n):
            v = values[i]
            q = qualities[i] if qualities is not None else None
            old = last_v[i]
            if q != last_q[i] or old is _UNSENT or _moved(v, old, bands[i]):
                out.append(i)
                last_v[i] = v
                last_q[i] = q
        self.suppressed += n - len(out)
        return out


def _moved(v: Any, old: Any, band: float) -> bool:
    if v.__class__ in (int, float) and old.__class__ in (int, float):
        if v != v or old != old:  # NaN: report it (its quality is derived downstream)
            return not (v != v and old != old)
        return bool(abs(v - old) > band) if band > 0 else bool(v != old)
    return bool(v != old)
