"""Alarm flood detection (ISA-18.2): more than 10 alarms in 10 minutes starts a flood,
fewer than 5 in the trailing 10 minutes ends it. Pure and driven by sample timestamps.

The window holds the annunciation times of the last ``window_s`` seconds (a deque, so the
cost per alarm is constant). A window counts alarms with ``now - window_s < t <= now``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any


@dataclass
class FloodChange:
    """A flood started or ended."""

    started: bool
    ts: float
    count: int
    """Alarms in the window at that moment."""
    duration_s: float | None = None
    """Length of the flood (only when it ended)."""


@dataclass
class FloodDetector:
    """Sliding-window alarm rate with start/end hysteresis."""

    window_s: float = 600.0
    start_above: int = 10
    end_below: int = 5
    times: deque[float] = field(default_factory=deque)
    in_flood: bool = False
    started_at: float | None = None
    floods: int = 0
    time_in_flood_s: float = 0.0

    def _slide(self, now: float) -> None:
        edge = now - self.window_s
        t = self.times
        while t and t[0] <= edge:
            t.popleft()

    def record(self, ts: float) -> FloodChange | None:
        """An alarm was annunciated at ``ts``; returns a change if a flood starts."""
        self.times.append(ts)
        return self.advance(ts)

    def advance(self, now: float) -> FloodChange | None:
        """Move the window to ``now``; returns a change if a flood starts or ends."""
        self._slide(now)
        n = len(self.times)
        if not self.in_flood and n > self.start_above:
            self.in_flood, self.started_at = True, now
            self.floods += 1
            return FloodChange(True, now, n)
        if self.in_flood and n < self.end_below:
            duration = now - (self.started_at if self.started_at is not None else now)
            self.time_in_flood_s += duration
            self.in_flood, self.started_at = False, None
            return FloodChange(False, now, n, duration)
        return None

    @property
    def count(self) -> int:
        """Alarms in the current window (as of the last call)."""
        return len(self.times)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state."""
        return {
            "times": list(self.times),
            "in_flood": self.in_flood,
            "started_at": self.started_at,
            "floods": self.floods,
            "time_in_flood_s": self.time_in_flood_s,
        }

    def restore(self, d: dict[str, Any] | None) -> None:
        """Restore :meth:`to_dict` output."""
        if not d:
            return
        self.times = deque(float(t) for t in d.get("times", []))
        self.in_flood = bool(d.get("in_flood", False))
        self.started_at = d.get("started_at")
        self.floods = int(d.get("floods", 0))
        self.time_in_flood_s = float(d.get("time_in_flood_s", 0.0))
