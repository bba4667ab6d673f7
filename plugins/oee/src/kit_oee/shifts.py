"""Shift calendar: which shift a moment belongs to and how much of it is planned busy time.

ISO 22400-2 terms: the planned operation time (POT) of a shift is its length minus breaks;
the planned busy time (PBT) is POT minus planned downtime (e.g. a daily cleaning slot or a
dated maintenance stop). Time-of-day values are local to the calendar's ``timezone`` so a
06:00 shift stays at 06:00 across daylight-saving changes; internally everything is epoch
seconds (floats), which keeps the per-sample path cheap.

The resolver caches the shift instance (or the gap) it last returned, so looking up the
shift of consecutive samples is O(1) and independent of history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator, model_validator

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class TimeRange(BaseModel):
    """A time-of-day range inside a shift; ``end`` before ``start`` means it crosses midnight."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    start: time
    """Local time of day, e.g. ``"10:00"``."""
    end: time
    """Local time of day, e.g. ``"10:30"``."""
    reason: str = ""
    """What it is (shown in reports), e.g. ``lunch`` or ``cleaning``."""


class ShiftDef(BaseModel):
    """One recurring shift, e.g. ``early`` 06:00–14:00 Monday to Friday."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_-]+$")
    """Short id used in window labels (``shift:2026-11-22/early``)."""
    start: time
    end: time
    """End time; equal to or before ``start`` means the shift ends the next day."""
    weekdays: list[Weekday] = Field(default_factory=lambda: list(WEEKDAYS[:5]))
    """Days on which the shift *starts* (default Monday–Friday)."""
    breaks: list[TimeRange] = Field(default_factory=list)
    """Breaks: not planned operation time (not counted against availability)."""
    planned_downtime: list[TimeRange] = Field(default_factory=list)
    """Recurring planned downtime (cleaning, planned maintenance): removed from planned busy time."""


class PlannedStop(BaseModel):
    """A dated planned stop (e.g. a maintenance day), removed from planned busy time."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    start: AwareDatetime
    end: AwareDatetime
    reason: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> PlannedStop:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class ShiftCalendar(BaseModel):
    """The shift calendar of an asset: recurring shifts plus dated planned stops."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    timezone: str = "UTC"
    """IANA time zone of the plant, e.g. ``Europe/Berlin``."""
    shifts: list[ShiftDef] = Field(
        default_factory=lambda: [
            ShiftDef(name="day", start=time(0), end=time(0), weekdays=list(WEEKDAYS))
        ]
    )
    """Shifts; the default is one 24-hour ``day`` shift every day."""
    planned_stops: list[PlannedStop] = Field(default_factory=list)

    @field_validator("timezone")
    @classmethod
    def _tz_exists(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except Exception:
            raise ValueError(
                f"unknown time zone {v!r} (use an IANA name such as Europe/Berlin)"
            ) from None
        return v

    @field_validator("shifts")
    @classmethod
    def _unique_names(cls, v: list[ShiftDef]) -> list[ShiftDef]:
        names = [s.name for s in v]
        dup = {n for n in names if names.count(n) > 1}
        if dup:
            raise ValueError(f"shift names must be unique; repeated: {', '.join(sorted(dup))}")
        return v


@dataclass
class ShiftInstance:
    """One occurrence of a shift, in epoch seconds."""

    id: str
    """``<local start date>/<shift name>``, e.g. ``2026-11-22/early``."""
    name: str
    start: float
    end: float
    breaks: list[tuple[float, float]] = field(default_factory=list)
    planned_down: list[tuple[float, float]] = field(default_factory=list)
    """Planned downtime and planned stops, merged, not overlapping breaks twice."""

    def pot_s(self, t0: float, t1: float) -> float:
        """Planned operation time inside ``[t0, t1)``: shift time minus breaks."""
        a, b = max(t0, self.start), min(t1, self.end)
        if b <= a:
            return 0.0
        return (b - a) - _covered(self.breaks, a, b)

    def pbt_s(self, t0: float, t1: float) -> float:
        """Planned busy time inside ``[t0, t1)``: POT minus planned downtime."""
        a, b = max(t0, self.start), min(t1, self.end)
        if b <= a:
            return 0.0
        return (b - a) - _covered(self.planned_down, a, b)

    def planned_at(self, t: float) -> bool:
        """True when ``t`` lies in planned busy time."""
        if not (self.start <= t < self.end):
            return False
        return not any(s <= t < e for s, e in self.planned_down)


def _covered(intervals: list[tuple[float, float]], a: float, b: float) -> float:
    """Seconds of ``[a, b)`` covered by sorted, non-overlapping ``intervals``."""
    total = 0.0
    for s, e in intervals:
        if e <= a:
            continue
        if s >= b:
            break
        total += min(e, b) - max(s, a)
    return total


def _merge(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for s, e in sorted(intervals):
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


class ShiftResolver:
    """Answers "which shift is ``t`` in?" for a calendar, with an O(1) cache for the common case."""

    def __init__(self, calendar: ShiftCalendar) -> None:
        self.calendar = calendar
        self.tz = ZoneInfo(calendar.timezone)
        self._cached: ShiftInstance | None = None
        self._gap: tuple[float, float] | None = None  # a known shift-free interval
        self._stops = _merge(
            [(p.start.timestamp(), p.end.timestamp()) for p in calendar.planned_stops]
        )

    def _at(self, d: date, tod: time) -> float:
        return datetime.combine(d, tod, self.tz).timestamp()

    def _instance(self, sd: ShiftDef, d: date) -> ShiftInstance:
        start = self._at(d, sd.start)
        end_day = d if sd.end > sd.start else d + timedelta(days=1)
        end = self._at(end_day, sd.end)

        def place(r: TimeRange) -> tuple[float, float]:
            # A break belongs to the shift it falls in: on the start day if not before the
            # shift start, else on the next day (night shifts).
            day = d if r.start >= sd.start else d + timedelta(days=1)
            s = self._at(day, r.start)
            e = self._at(day if r.end > r.start else day + timedelta(days=1), r.end)
            return max(s, start), min(e, end)

        breaks = _merge([p for p in map(place, sd.breaks) if p[1] > p[0]])
        planned = [p for p in map(place, sd.planned_downtime) if p[1] > p[0]]
        planned += [(max(s, start), min(e, end)) for s, e in self._stops if e > start and s < end]
        # Breaks are already outside POT; planned downtime removes PBT on top of that, so
        # breaks are part of the "not busy" set too (merged so nothing is subtracted twice).
        return ShiftInstance(
            id=f"{d.isoformat()}/{sd.name}",
            name=sd.name,
            start=start,
            end=end,
            breaks=breaks,
            planned_down=_merge(planned + breaks),
        )

    def _candidates(self, t: float, days_back: int = 1, days_fwd: int = 0) -> list[ShiftInstance]:
        local = datetime.fromtimestamp(t, self.tz).date()
        out: list[ShiftInstance] = []
        for k in range(-days_back, days_fwd + 1):
            d = local + timedelta(days=k)
            wd = WEEKDAYS[d.weekday()]
            out.extend(self._instance(sd, d) for sd in self.calendar.shifts if wd in sd.weekdays)
        return out

    def shift_at(self, t: float) -> ShiftInstance | None:
        """The shift instance containing ``t``, or None outside every shift."""
        c = self._cached
        if c is not None and c.start <= t < c.end:
            return c
        g = self._gap
        if g is not None and g[0] <= t < g[1]:
            return None
        for inst in self._candidates(t):
            if inst.start <= t < inst.end:
                self._cached = inst
                return inst
        nxt = self.next_start(t)
        self._gap = (t, nxt)
        return None

    def next_start(self, t: float) -> float:
        """Start of the first shift beginning after ``t`` (within 8 days, else ``t`` + 1 day)."""
        starts = [i.start for i in self._candidates(t, days_back=0, days_fwd=8) if i.start > t]
        return min(starts) if starts else t + 86400.0

    def boundary_after(self, t: float) -> float:
        """The next moment after ``t`` at which the shift (or no-shift) changes."""
        inst = self.shift_at(t)
        if inst is not None:
            return inst.end
        return self._gap[1] if self._gap is not None else self.next_start(t)
