"""Historian query and export speed, and the pilot statistics, on a day of 1 Hz data.

Run: ``uv run python bench/history_export.py`` (a day of 1 Hz × 4 points on 10 assets,
3.5 M rows; about a minute) or ``--quick`` (2 hours). Data are written straight through the
historian's storage API (no bus), one compacted file per asset and day, as the sink leaves
them. Measured:

* query: one asset, all four points, raw rows and 1-minute means;
* export: that asset's raw day to CSV and to Excel (``kit history export`` code path:
  pivot to one column per point, local time, resolution);
* stats: the pilot comparison (seeded bootstrap, 10,000 resamples) of 42 vs 42 shifts.

The baseline, measured in the same run, is writing the same wide frame as Parquet (polars,
no formatting): ratios are figure / baseline. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from kit_historian.export import export, wide
from kit_historian.query import query, units
from kit_historian.storage import SCHEMA, Store
from kit_pilot.stats import compare

T0 = datetime(2026, 11, 23, tzinfo=UTC)
POINTS = [("power", "W", 1), ("voltage", "V", 1), ("current", "A", 2), ("temp", "°C", 1)]


def write_day(root: Path, assets: int, seconds: int) -> int:
    """Write ``seconds`` of 1 Hz data for each asset; returns rows written."""
    store = Store(root, "data")
    rows, seq = 0, 0
    ts = pl.datetime_range(
        T0, T0 + timedelta(seconds=seconds - 1), "1s", eager=True, time_zone="UTC"
    )
    for a in range(assets):
        frames = []
        for name, unit, dec in POINTS:
            rnd = random.Random(hash((a, name)) & 0xFFFF)
            vals = [round(230 + rnd.gauss(0, 5), dec) for _ in range(seconds)]
            frames.append(
                pl.DataFrame(
                    {
                        "ts": ts,
                        "asset": f"plant.hall.line.m{a}",
                        "point": name,
                        "value": vals,
                        "text": None,
                        "unit": unit,
                        "quality": "good",
                        "window": None,
                        "source": "bench",
                        "stream_seq": pl.int_range(seq, seq + seconds, eager=True),
                    },
                    schema=SCHEMA,
                )
            )
        df = pl.concat(frames)
        store.write(df, seq + 1, seq + seconds)
        seq += seconds
        rows += df.height
    return rows


def timed(fn, *a, **kw):
    """(seconds, result) of one call."""
    t = time.perf_counter()
    out = fn(*a, **kw)
    return time.perf_counter() - t, out


def openpyxl_time(sheet: pl.DataFrame, path: Path) -> float | None:
    """Seconds for openpyxl's write-only mode on the same sheet (the alternative to
    XlsxWriter), or None when openpyxl is not installed
    (``uv run --with openpyxl python bench/history_export.py``)."""
    try:
        import openpyxl
    except ImportError:
        return None
    t = time.perf_counter()
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet("history")
    ws.append(sheet.columns)
    local = sheet.with_columns(pl.col(sheet.columns[0]).dt.replace_time_zone(None))
    for row in local.iter_rows():
        ws.append(row)
    wb.save(path)
    return round(time.perf_counter() - t, 3)


def main() -> None:
    """Run the benchmark and print figures, ratios and one JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 hours instead of a day")
    ap.add_argument("--assets", type=int, default=10)
    args = ap.parse_args()
    seconds = 7200 if args.quick else 86400
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        t_write, rows = timed(write_day, root, args.assets, seconds)
        asset, names = "plant/hall/line/m3", [p[0] for p in POINTS]
        end = T0 + timedelta(seconds=seconds)
        t_raw, raw = timed(query, root, asset, names, T0, end)
        t_agg, agg = timed(query, root, asset, names, T0, end, every="1m")
        u = units(root, asset, names, T0, end)
        sheet, _ = wide(raw, u, "Europe/London")
        t_base, _ = timed(sheet.write_parquet, root / "x.parquet")
        t_csv, n = timed(export, raw, u, "Europe/London", "csv", root / "x.csv")
        t_xlsx, _ = timed(export, raw, u, "Europe/London", "xlsx", root / "x.xlsx")
        rnd = random.Random(1)
        b = [rnd.gauss(0.6, 0.05) for _ in range(42)]
        p = [rnd.gauss(0.65, 0.05) for _ in range(42)]
        t_stats, _ = timed(compare, b, p)
        sizes = {k: (root / f"x.{k}").stat().st_size for k in ("csv", "xlsx", "parquet")}
        t_openpyxl = openpyxl_time(sheet, root / "o.xlsx")
    fig = {
        "seconds_of_data": seconds,
        "assets": args.assets,
        "rows_stored": rows,
        "write_s": round(t_write, 3),
        "query_raw_one_asset_s": round(t_raw, 3),
        "query_raw_rows": raw.height,
        "query_1m_mean_s": round(t_agg, 3),
        "query_1m_rows": agg.height,
        "export_rows": n,
        "baseline_parquet_s": round(t_base, 3),
        "export_csv_s": round(t_csv, 3),
        "export_xlsx_s": round(t_xlsx, 3),
        "csv_ratio": round(t_csv / t_base, 1),
        "xlsx_ratio": round(t_xlsx / t_base, 1),
        "stats_bootstrap_10k_s": round(t_stats, 3),
        "openpyxl_write_only_s": t_openpyxl,
        "xlsxwriter_vs_openpyxl": round(t_openpyxl / t_xlsx, 2) if t_openpyxl else None,
        "bytes": sizes,
    }
    for k, v in fig.items():
        print(f"{k:24} {v}")
    print(json.dumps(fig))


if __name__ == "__main__":
    main()
