"""Per-shift KPI samples and data completeness of a window, read from the historian.

A shift's sample is the mean of the good KPI values published during it (cut at the pilot's
local shift start times). Completeness is the share of the values one would expect in the
window that are present and good: the expected number comes from the KPI's own cadence (the
median spacing of its values), so a KPI published every 10 s and one published per minute
are judged alike, and a window with 40 % of its values missing shows 60 %.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
from kit_historian.query import query

from kit.errors import KitError


@dataclass(frozen=True)
class WindowSamples:
    """What one window of history gives for one KPI."""

    values: list[float]
    """One mean per shift with data, in time order."""
    shifts: list[datetime]
    """Start (local) of each shift in ``values``."""
    completeness: float | None
    """Good values present ÷ expected (None: too few values to know the cadence)."""
    unit: str | None
    windows_seen: list[str]


def _shift_keys(ts: pl.Expr, shifts: list[str], tz: str) -> pl.Expr:
    """Local start datetime of the shift each ``ts`` falls in."""
    bounds = sorted(_minutes(s) for s in shifts)
    local = ts.dt.convert_time_zone(tz)
    mins = local.dt.hour().cast(pl.Int32) * 60 + local.dt.minute().cast(pl.Int32)
    day = local.dt.truncate("1d")
    # The last boundary not after the time; before the first one: yesterday's last shift.
    expr = pl.lit(bounds[-1] - 1440)
    for b in bounds:
        expr = pl.when(mins >= b).then(pl.lit(b)).otherwise(expr)
    return (day + pl.duration(minutes=expr)).alias("shift")


def _minutes(hhmm: str) -> int:
    try:
        h, m = (int(x) for x in hhmm.split(":"))
        if not (0 <= h < 24 and 0 <= m < 60):
            raise ValueError
    except ValueError:
        raise KitError(f"shift start {hhmm!r}: use HH:MM, e.g. 06:00") from None
    return h * 60 + m


def window_samples(
    root: Path,
    assets: list[str],
    kpi: str,
    start: datetime,
    end: datetime,
    *,
    shifts: list[str],
    tz: str,
    window: str | None = None,
) -> WindowSamples:
    """Per-shift means of ``kpi`` over ``assets`` in ``[start, end)`` and the completeness."""
    frames = []
    for a in assets:
        df = query(root, a, [kpi], start, end, kinds=("kpi",))
        if df.height:
            frames.append(df.select("ts", "value", "quality", "unit", "window"))
    if not frames:
        return WindowSamples([], [], 0.0, None, [])
    df = pl.concat(frames)
    windows_seen = sorted(w for w in df["window"].unique().to_list() if w is not None)
    if window is not None:
        df = df.filter(pl.col("window") == window)
    unit = df["unit"].drop_nulls().last() if df.height else None
    good = df.filter((pl.col("quality") == "good") & pl.col("value").is_not_null())
    per_shift = (
        good.with_columns(_shift_keys(pl.col("ts"), shifts, tz))
        .group_by("shift")
        .agg(pl.col("value").mean())
        .sort("shift")
    )
    completeness = None
    ts = df.select(pl.col("ts").unique().sort())["ts"]
    if ts.len() >= 3:
        cadence = ts.diff().drop_nulls().median()
        if isinstance(cadence, timedelta) and cadence > timedelta(0):
            expected = (end - start) / cadence * max(1, len(assets))
            completeness = min(1.0, good.height / expected)
    return WindowSamples(
        per_shift["value"].to_list(),
        per_shift["shift"].to_list(),
        completeness,
        unit,  # type: ignore[arg-type]  # polars types Series.last() as any Python literal; a str column
        windows_seen,
    )
