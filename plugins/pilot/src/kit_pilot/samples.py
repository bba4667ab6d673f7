"""Per-shift KPI samples and data completeness of a window, read from the historian.

A shift's sample comes from the good KPI values published during it:

* KPIs the plugin publishes **per shift window** (``window`` = ``shift:<id>``, as the OEE
  and energy plugins do: a running figure every minute, the final one at the shift's end)
  give the **last** value of each shift window — the shift's own figure. Averaging the
  running figures would weight the first minutes of a shift like its end. Other windows of
  the same KPI (``rolling``, ``hour:…``) are then not used. A shift window belongs to the
  comparison window its last value (minus a microsecond: the final figure is stamped at the
  boundary) falls in, so the shift spanning the baseline's end is not counted twice.
* Any other KPI (one value per reading, a rolling figure) gives the **mean** of its values
  between the pilot's local shift start times.

Several assets are pooled: the mean of their per-shift values.

Completeness is the share of the values one would expect in the window that are present
and good: the expected number comes from each asset's own cadence (the median spacing of
its values), so a KPI published every 10 s and one published per minute are judged alike,
and a window with 40 % of its values missing shows 60 %.

Clock checks: values time-stamped after "now" (a device or gateway clock running ahead)
and repeated time stamps of one asset's KPI window (a clock stepped back, or a replay) are
counted and reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
from kit_historian.query import query

from kit.errors import KitError

#: How long after a window's end its rows are still read: a shift's final figure is stamped
#: at the boundary itself (or a publish interval later), and belongs to the shift before.
GRACE = timedelta(minutes=15)
#: Columns of the KPI rows a window's samples are computed from (also what a pack stores).
ROW_COLUMNS = ("ts", "asset", "value", "quality", "unit", "window")


@dataclass(frozen=True)
class WindowSamples:
    """What one window of history gives for one KPI."""

    values: list[float]
    """One value per shift with data, in time order."""
    shifts: list[datetime]
    """Start (local) of each shift in ``values``."""
    completeness: float | None
    """Good values present ÷ expected (None: too few values to know the cadence)."""
    unit: str | None
    windows_seen: list[str]
    """Kinds of KPI window seen (``shift``, ``rolling``…)."""
    rows: pl.DataFrame | None = None
    """The KPI rows used (:data:`ROW_COLUMNS`): what an evidence pack includes."""
    duplicates: int = 0
    """Repeated time stamps of one asset's KPI window (clock stepped back or a replay)."""
    future: int = 0
    """Values time-stamped after the end of the window (set by the caller that knows "now")."""
    method: str = "mean"
    """``last of shift window`` or ``mean``."""
    notes: list[str] = field(default_factory=list)


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


def _kind(col: str = "window") -> pl.Expr:
    """``shift:2026-11-15-A`` → ``shift``; plain names stay."""
    return pl.col(col).fill_null("").str.split(":").list.first()


def empty_rows() -> pl.DataFrame:
    """A frame of :data:`ROW_COLUMNS` with no rows."""
    return pl.DataFrame(
        schema={
            "ts": pl.Datetime("us", "UTC"),
            "asset": pl.String,
            "value": pl.Float64,
            "quality": pl.String,
            "unit": pl.String,
            "window": pl.String,
        }
    )


def read_rows(
    root: Path, assets: list[str], kpi: str, start: datetime, end: datetime
) -> pl.DataFrame:
    """KPI rows of ``kpi`` for ``assets`` in ``[start, end)`` (:data:`ROW_COLUMNS`)."""
    frames = []
    for a in assets:
        df = query(root, a, [kpi], start, end, kinds=("kpi",))
        if df.height:
            frames.append(df.with_columns(pl.lit(a).alias("asset")).select(*ROW_COLUMNS))
    return pl.concat(frames) if frames else empty_rows()


def samples_from_rows(
    df: pl.DataFrame,
    start: datetime,
    end: datetime,
    *,
    n_assets: int,
    shifts: list[str],
    tz: str,
    window: str | None = None,
) -> WindowSamples:
    """Per-shift values and completeness of the KPI rows ``df`` of one window ``[start, end)``
    (``df`` may run up to :data:`GRACE` past ``end``: the final figure of its last shift).

    Pure (no I/O): an evidence pack's verifier runs this on the rows it carries.
    """
    if not df.height:
        return WindowSamples([], [], 0.0, None, [], empty_rows())
    df = df.select(*ROW_COLUMNS).with_columns(_kind().alias("kind"))
    windows_seen = sorted(k for k in df["kind"].unique().to_list() if k)
    has_shift_windows = df.filter(
        (pl.col("kind") == "shift") & pl.col("window").str.contains(":")
    ).height
    if window is not None:
        df = df.filter(pl.col("kind") == window)
    elif has_shift_windows:
        df = df.filter(pl.col("kind") == "shift")
    use_last = bool(has_shift_windows) and window in (None, "shift")
    unit = df["unit"].drop_nulls().last() if df.height else None
    good = df.filter((pl.col("quality") == "good") & pl.col("value").is_not_null()).sort("ts")
    inside = (pl.col("ts") >= start) & (pl.col("ts") < end)
    if use_last:
        # One figure per asset and shift window: its last value, placed in the pilot's shift
        # just before its last time stamp (the final report is stamped at the boundary).
        per_asset = (
            good.group_by("asset", "window", maintain_order=True)
            .agg(
                (pl.col("ts").last() - pl.duration(microseconds=1)).alias("at"),
                pl.col("value").last(),
            )
            .filter((pl.col("at") >= start) & (pl.col("at") < end))
        )
        per_shift = (
            per_asset.with_columns(_shift_keys(pl.col("at"), shifts, tz))
            .group_by("shift")
            .agg(pl.col("value").mean())
            .sort("shift")
        )
    else:
        per_shift = (
            good.filter(inside)
            .with_columns(_shift_keys(pl.col("ts"), shifts, tz))
            .group_by("shift", "asset")
            .agg(pl.col("value").mean())
            .group_by("shift")
            .agg(pl.col("value").mean())
            .sort("shift")
        )
    completeness = _completeness(df.filter(inside), good.filter(inside), start, end, n_assets)
    dup = df.height - df.select("asset", "window", "ts").unique().height
    return WindowSamples(
        per_shift["value"].to_list(),
        per_shift["shift"].to_list(),
        completeness,
        unit,  # type: ignore[arg-type]  # polars types Series.last() as any Python literal; a str column
        windows_seen,
        df.drop("kind"),
        duplicates=dup,
        method="last of shift window" if use_last else "mean",
    )


def _completeness(
    df: pl.DataFrame, good: pl.DataFrame, start: datetime, end: datetime, n_assets: int
) -> float | None:
    """Good values ÷ expected, the expected count from each asset's own cadence.

    An asset with no values at all expects as many as the median of the others (its
    absence counts as missing, not as "nothing expected").
    """
    expected: list[float] = []
    for (_asset,), part in df.group_by("asset"):
        ts = part.select(pl.col("ts").unique().sort())["ts"]
        if ts.len() < 3:
            continue
        cadence = ts.diff().drop_nulls().median()
        if isinstance(cadence, timedelta) and cadence > timedelta(0):
            expected.append((end - start) / cadence)
    if not expected:
        return None
    expected.sort()
    med = expected[len(expected) // 2]
    total = sum(expected) + med * max(0, n_assets - len(expected))
    return min(1.0, good.height / total)


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
    read_until: datetime | None = None,
) -> WindowSamples:
    """Per-shift values of ``kpi`` over ``assets`` in ``[start, end)`` and the completeness.

    Rows are read up to ``read_until`` (default ``end`` + :data:`GRACE`; pass "now" when
    the window ends now — nothing later is real yet)."""
    df = read_rows(root, assets, kpi, start, read_until or end + GRACE)
    return samples_from_rows(
        df, start, end, n_assets=len(assets), shifts=shifts, tz=tz, window=window
    )


def future_values(root: Path, assets: list[str], kpi: str, after: datetime) -> int:
    """Values of ``kpi`` time-stamped after ``after`` (up to a year on): a clock ahead."""
    return read_rows(root, assets, kpi, after, after + timedelta(days=366)).height
