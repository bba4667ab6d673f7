"""Queries over the historian's Parquet tree (polars, lazy: only the files and columns needed).

Only the day partitions between ``start`` and ``end`` of the one asset are opened; the
point and time filters are pushed into the Parquet scan. Aggregation (``every`` + ``agg``)
uses good-quality values only, so a bad or uncertain reading never shapes a trend.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import polars as pl

from kit import subjects
from kit.errors import KitError

Agg = Literal["mean", "min", "max", "last"]
AGGS: tuple[str, ...] = ("mean", "min", "max", "last")
_DURATION = re.compile(r"^(\d+)(ms|s|m|h|d)$")
_UNIT_S = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_every(text: str) -> str:
    """Validate an interval such as ``1m``, ``15m``, ``1h``; returns the polars duration string.

    Raises:
        KitError: not a number followed by ms, s, m, h or d.
    """
    m = _DURATION.match(text.strip())
    if not m or int(m.group(1)) == 0:
        raise KitError(f"--every {text!r}: use a number and a unit, e.g. 10s, 1m, 15m, 1h, 1d")
    n, unit = m.groups()
    return f"{n}{unit}"  # polars 2 reads m as minutes, like our syntax


def parse_time(text: str, now: datetime | None = None) -> datetime:
    """``now``, relative ``-2h``/``-30m``/``-1d``, or ISO 8601 (naive = UTC) → aware UTC datetime.

    Raises:
        KitError: unreadable time.
    """
    now = now or datetime.now(UTC)
    t = text.strip()
    if t == "now":
        return now
    m = _DURATION.match(t[1:]) if t.startswith("-") else None
    if m:
        return now - timedelta(seconds=int(m.group(1)) * _UNIT_S[m.group(2)])
    try:
        dt = datetime.fromisoformat(t.replace("Z", "+00:00"))
    except ValueError:
        raise KitError(
            f"time {text!r}: use ISO 8601 (2026-11-23T06:00), 'now' or relative (-2h)"
        ) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def partition_files(
    root: Path, kind: str, asset_tokens: str, start: datetime, end: datetime
) -> list[Path]:
    """Parquet files of ``asset_tokens`` in day partitions touching ``[start, end]``."""
    files: list[Path] = []
    day = start.astimezone(UTC).date()
    last = end.astimezone(UTC).date()
    while day <= last:
        files += sorted(
            (Path(root) / kind / f"date={day.isoformat()}" / f"asset={asset_tokens}").glob(
                "part-*.parquet"
            )
        )
        day += timedelta(days=1)
    return files


def query(
    root: Path,
    asset: str,
    points: list[str],
    start: datetime,
    end: datetime,
    *,
    every: str | None = None,
    agg: Agg = "mean",
    kinds: tuple[str, ...] = ("data", "kpi", "events"),
    window: str | None = None,
) -> pl.DataFrame:
    """History of ``points`` of ``asset`` in ``[start, end)``.

    Without ``every``: raw rows ``ts, point, value, text, unit, quality`` (KPI rows also
    carry ``window``). With ``every``: one row per point and interval, ``ts`` (interval
    start), ``point``, ``value`` (the aggregate of good values), ``samples`` (good values
    used) and ``excluded`` (bad/uncertain readings skipped). ``window`` keeps only KPI rows
    of that KPI window (``shift``, ``rolling``; for events: the event kind).

    Raises:
        KitError: bad asset path, aggregation or interval.
    """
    if agg not in AGGS:
        raise KitError(f"--agg {agg!r}: choose one of {', '.join(AGGS)}")
    if end <= start:
        raise KitError("--to must be after --from")
    interval = parse_every(every) if every else None
    try:
        tokens = subjects.AssetPath.parse(asset).tokens
    except ValueError as exc:
        raise KitError(str(exc)) from None
    files = [f for k in kinds for f in partition_files(root, k, tokens, start, end)]
    cols = ["ts", "point", "value", "text", "unit", "quality", "window"]
    if not files:
        empty = pl.DataFrame(
            schema={"ts": pl.Datetime("us", "UTC"), "point": pl.String, "value": pl.Float64}
        )
        return (
            empty
            if every
            else empty.with_columns(*(pl.lit(None, pl.String).alias(c) for c in cols[3:]))
        )
    lf = (
        pl.scan_parquet(files)
        .select(cols)
        .filter(pl.col("point").is_in(points) & (pl.col("ts") >= start) & (pl.col("ts") < end))
    )
    if window is not None:
        # A full label (``shift:2026-12-06/early``) or its class (``shift``: every shift):
        # the plugins' labels carry the window's id after the colon.
        lf = lf.filter(
            (pl.col("window") == window) | pl.col("window").str.starts_with(f"{window}:")
        )
    if not every or interval is None:  # interval is None exactly when every is empty
        return lf.sort("point", "ts").collect()
    good = pl.col("quality") == "good"
    value = pl.col("value").filter(good)
    agg_expr = {"mean": value.mean(), "min": value.min(), "max": value.max(), "last": value.last()}[
        agg
    ]
    return (
        lf.sort("ts")
        .group_by_dynamic("ts", every=interval, group_by="point", start_by="window")
        .agg(agg_expr.alias("value"), good.sum().alias("samples"), (~good).sum().alias("excluded"))
        .select("ts", "point", "value", "samples", "excluded")
        .sort("point", "ts")
        .collect()
    )


def to_json(df: pl.DataFrame, limit: int | None = None) -> dict[str, Any]:
    """A result frame as ``{"columns": [...], "rows": [[...]], "truncated": bool}`` (ISO times)."""
    truncated = limit is not None and df.height > limit
    if truncated and limit is not None:  # (repeated for the type checker)
        df = df.head(limit)
    out = df.with_columns(pl.col(pl.Datetime).dt.to_string("%Y-%m-%dT%H:%M:%S%.6f%:z"))
    return {"columns": out.columns, "rows": out.rows(), "truncated": truncated}


def from_json(result: dict[str, Any]) -> pl.DataFrame:
    """Inverse of :func:`to_json` (used by the CLI to format a control API answer)."""
    df = pl.DataFrame(result["rows"], schema=result["columns"], orient="row")
    if "ts" in df.columns and df.height:
        df = df.with_columns(pl.col("ts").str.to_datetime(time_zone="UTC"))
    return df


def units(
    root: Path,
    asset: str,
    points: list[str],
    start: datetime,
    end: datetime,
    kinds: tuple[str, ...] = ("data", "kpi"),
) -> dict[str, str | None]:
    """The unit of each of ``points`` in ``[start, end)`` (the last one stated; None if none)."""
    try:
        tokens = subjects.AssetPath.parse(asset).tokens
    except ValueError as exc:
        raise KitError(str(exc)) from None
    files = [f for k in kinds for f in partition_files(root, k, tokens, start, end)]
    out: dict[str, str | None] = dict.fromkeys(points)
    if not files:
        return out
    found = (
        pl.scan_parquet(files)
        .select("ts", "point", "unit")
        .filter(pl.col("point").is_in(points) & (pl.col("ts") >= start) & (pl.col("ts") < end))
        .group_by("point")
        .agg(pl.col("unit").drop_nulls().last())
        .collect()
    )
    out.update({p: u for p, u in found.iter_rows() if u is not None})
    return out
