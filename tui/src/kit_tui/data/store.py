"""In-memory live view of the bus: last value and short history of every point, KPIs,
component health and recent events.

The link feeds raw JSON dicts in (``apply_*``); screens read. Every change bumps
:attr:`LiveStore.version`, so the app redraws at most a few times per second however many
messages arrive (coalescing happens by comparing versions, not by queueing redraws).

Decoding is tolerant on purpose: this is a viewer, so an unexpected extra field is ignored
and a message that is not a dict of the expected kind is counted in :attr:`malformed` and
skipped, like every other bus consumer does.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

#: Points kept per sparkline.
HISTORY = 40
#: A point is stale when it has not been refreshed for this many of its asset's intervals …
STALE_INTERVALS = 3.0
#: … but never before this many seconds (a 1 s poller is not stale after 3.1 s of jitter).
STALE_MIN_S = 5.0
#: A point seen once has no interval of its own yet: it may belong to a slower poll group
#: than the rest of its asset (a meter's energy counters every 30 s, its power every second),
#: so it is not called stale before this many seconds.
STALE_FIRST_S = 120.0
#: Events kept for the alarm and event views.
EVENTS_KEPT = 500
_BASE_KEYS = frozenset(("name", "value", "unit", "quality", "reason", "ts", "gw_ts"))


#: Window kinds in display order (``shift:…`` before ``day:…`` …); others sort after them.
WINDOW_ORDER = ("shift", "rolling", "day", "hour", "demand", "")


def window_kind(k: dict[str, Any]) -> str:
    """Kind of a KPI's window: its label's prefix (``day:2026-11-22`` → ``day``), ``""`` if none.

    An analytics plugin publishes the same KPI for several windows at once (the energy
    plugin's ``energy_kwh`` for the hour, the day and the shift); they are kept apart.
    """
    w = k.get("window")
    return w.split(":", 1)[0] if isinstance(w, str) else ""


def _window_rank(kind: str) -> tuple[int, str]:
    return (WINDOW_ORDER.index(kind) if kind in WINDOW_ORDER else len(WINDOW_ORDER), kind)


def parse_ts(text: Any) -> float | None:
    """ISO-8601 text → POSIX seconds, or None when absent or unreadable."""
    if not isinstance(text, str):
        return None
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()


@dataclass
class PointState:
    """Last known state of one point of one asset."""

    name: str
    value: Any = None
    unit: str | None = None
    quality: str = "good"
    reason: str | None = None
    ts: float | None = None
    """Gateway timestamp of the batch that carried the value (POSIX seconds)."""
    device_ts: str | None = None
    """The device's own timestamp (OPC UA SourceTimestamp) as sent."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Protocol details the adapter chose to send (``raw``, ``modbus``, ``opcua`` …)."""
    history: deque = field(default_factory=lambda: deque(maxlen=HISTORY))
    interval_s: float | None = None
    """How often this point updates (smoothed): points of one asset may be polled at
    different rates, so staleness is judged per point."""


@dataclass
class AssetState:
    """One asset: its points, when it last reported and how often it reports."""

    path: str
    points: dict[str, PointState] = field(default_factory=dict)
    last_ts: float | None = None
    interval_s: float | None = None
    """Smoothed interval between batches, used to decide staleness."""
    source: str | None = None
    batches: int = 0

    @property
    def parts(self) -> tuple[str, str, str, str]:
        """(site, area, line, asset) — padded so odd paths still display."""
        p = (self.path.split("/") + ["?"] * 4)[:4]
        return p[0], p[1], p[2], p[3]


@dataclass
class LiveStore:
    """Everything the screens show that arrives on the bus (not through the control API)."""

    clock: Callable[[], float] = time.time
    assets: dict[str, AssetState] = field(default_factory=dict)
    #: Latest value of each KPI per window kind: ``(asset, kpi, window kind)`` → ``kit.kpi/1`` dict.
    kpis: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    kpi_history: dict[tuple[str, str, str], deque] = field(default_factory=dict)
    health: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: deque = field(default_factory=lambda: deque(maxlen=EVENTS_KEPT))
    malformed: int = 0
    version: int = 0
    messages: int = 0
    points_received: int = 0

    # -- feeding ---------------------------------------------------------------------
    def apply_batch(self, b: Any) -> None:
        """Merge one sample batch (``kit.samples/1`` dict)."""
        try:
            path = b["asset"]
            pts = b["points"]
            ts = parse_ts(b.get("ts"))
        except (TypeError, KeyError):
            self.malformed += 1
            return
        a = self.assets.get(path)
        if a is None:
            a = self.assets[path] = AssetState(path)
        if ts is not None and a.last_ts is not None and ts > a.last_ts:
            gap = ts - a.last_ts
            a.interval_s = gap if a.interval_s is None else 0.8 * a.interval_s + 0.2 * gap
        if ts is not None and (a.last_ts is None or ts >= a.last_ts):
            a.last_ts = ts
        a.source = b.get("source", a.source)
        a.batches += 1
        for p in pts:
            try:
                name = p["name"]
            except (TypeError, KeyError):
                self.malformed += 1
                continue
            st = a.points.get(name)
            if st is None:
                st = a.points[name] = PointState(name)
            self._merge_point(st, p, ts)
        self.points_received += len(pts)
        self.messages += 1
        self.version += 1

    @staticmethod
    def _merge_point(st: PointState, p: dict[str, Any], ts: float | None) -> None:
        quality = p.get("quality", "good")
        value = p.get("value")
        # Never keep a bad value as if it were usable (the contract strips it; be sure).
        st.value = None if quality == "bad" else value
        st.unit = p.get("unit", st.unit)
        st.quality = quality
        st.reason = p.get("reason")
        gw = p.get("gw_ts")
        new_ts = (parse_ts(gw) or ts) if gw else ts
        if new_ts is not None and st.ts is not None and new_ts > st.ts:
            gap = new_ts - st.ts
            st.interval_s = gap if st.interval_s is None else 0.8 * st.interval_s + 0.2 * gap
        st.ts = new_ts
        st.device_ts = p.get("ts")
        # Hot path at 10k points/s: build the extras dict only when there are extras.
        if not _BASE_KEYS.issuperset(p):
            st.extra = {k: v for k, v in p.items() if k not in _BASE_KEYS}
        if quality == "good" and isinstance(value, (int, float)):
            st.history.append(float(value))

    def load_last(self, key: str, points: Any) -> None:
        """Seed an asset from its ``KIT_LAST`` entry (key = dotted asset tokens)."""
        if not isinstance(points, dict):
            self.malformed += 1
            return
        path = key.replace(".", "/")
        a = self.assets.get(path)
        if a is None:
            a = self.assets[path] = AssetState(path)
        newest = a.last_ts
        for name, p in points.items():
            if not isinstance(p, dict) or name in a.points:
                continue  # live data already arrived: it is newer than the KV snapshot
            st = a.points[name] = PointState(name)
            self._merge_point(st, {"name": name, **p}, None)
            if st.ts is not None:
                newest = max(newest or st.ts, st.ts)
        a.last_ts = newest
        self.version += 1

    def apply_kpi(self, k: Any) -> None:
        """Store one KPI value (``kit.kpi/1`` dict)."""
        try:
            key = (k["asset"], k["kpi"], window_kind(k))
        except (TypeError, KeyError, AttributeError):
            self.malformed += 1
            return
        self.kpis[key] = k
        if isinstance(k.get("value"), (int, float)):
            self.kpi_history.setdefault(key, deque(maxlen=HISTORY * 3)).append(
                (k.get("ts"), float(k["value"]), k)
            )
        self.messages += 1
        self.version += 1

    def apply_health(self, h: Any) -> None:
        """Store a health message (``kit.health/1`` dict)."""
        try:
            self.health[h["component"]] = h
        except (TypeError, KeyError):
            self.malformed += 1
            return
        self.messages += 1
        self.version += 1

    def apply_event(self, e: Any) -> None:
        """Keep an event (``kit.event/1`` dict) in the recent list."""
        if not isinstance(e, dict) or "kind" not in e:
            self.malformed += 1
            return
        self.events.append(e)
        self.messages += 1
        self.version += 1

    # -- reading ---------------------------------------------------------------------
    def age(self, ts: float | None) -> float | None:
        """Seconds since ``ts`` (None when unknown)."""
        return None if ts is None else max(0.0, self.clock() - ts)

    def is_stale(self, asset: AssetState) -> bool:
        """True when the asset stopped updating (its points: :meth:`point_is_stale`)."""
        age = self.age(asset.last_ts)
        if age is None:
            return True
        limit = max(STALE_MIN_S, STALE_INTERVALS * (asset.interval_s or 0.0))
        return age > limit

    def point_is_stale(self, asset: AssetState, p: PointState) -> bool:
        """True when the point stopped updating, judged by its own update interval (the
        asset's while it has none yet, and never within :data:`STALE_FIRST_S` then)."""
        age = self.age(p.ts)
        if age is None:
            return True
        if p.interval_s is None:  # seen once: maybe a slower poll group than the asset's
            limit = max(STALE_FIRST_S, STALE_INTERVALS * (asset.interval_s or 0.0))
        else:
            limit = max(STALE_MIN_S, STALE_INTERVALS * p.interval_s)
        return age > limit

    def quality_summary(self, asset: AssetState) -> dict[str, int]:
        """Counts of good, uncertain, bad and stale points of ``asset``."""
        out = {"good": 0, "uncertain": 0, "bad": 0, "stale": 0}
        for p in asset.points.values():
            if p.quality in ("bad", "uncertain"):
                out[p.quality] += 1
            elif self.point_is_stale(asset, p):
                out["stale"] += 1
            else:
                out["good"] += 1
        return out

    def kpi(self, asset: str, *names: str, windows: tuple[str, ...]) -> dict[str, Any] | None:
        """The first of ``names`` that this asset has a KPI for, of the first of ``windows``
        (window kinds; ``""``: no window) it has one for. There is deliberately no "any
        window": a headline wants the day's energy, not whichever window came last.
        """
        for n in names:
            for w in windows:
                if (asset, n, w) in self.kpis:
                    return self.kpis[(asset, n, w)]
        return None

    def kpi_windows(self, asset: str, *names: str) -> list[str]:
        """Window kinds this asset has any of ``names`` for, in display order."""
        return sorted({w for (a, n, w) in self.kpis if a == asset and n in names}, key=_window_rank)

    def kpis_of(self, asset: str | None = None) -> list[dict[str, Any]]:
        """All KPI values (one per window kind), optionally of one asset, sorted by asset,
        window kind, then name."""
        keys = sorted(
            (k for k in self.kpis if asset is None or k[0] == asset),
            key=lambda k: (k[0], _window_rank(k[2]), k[1]),
        )
        return [self.kpis[k] for k in keys]
