"""Pilot report and evidence pack on 30 days of 1 Hz data from 10 assets (issue 15).

Generates 1 Hz machine data per asset (state and power, a stop probability that drops when
the pilot starts), derives the per-minute KPIs the OEE and energy plugins publish per shift
window (``downtime_s``, ``energy_per_part_kwh``: running figures, the final one at the shift
end) and writes them into a historian store — no waiting, synthetic time stamps. Then times:

* ``kit pilot report`` work: reading history, per-shift samples, bootstrap (10,000
  resamples per goal), money, HTML and SVG files;
* building and signing the evidence pack, and its size;
* ``kit evidence verify``: integrity, signature and recomputing every statistic;

against a **baseline** measured in the same run: a plain polars read of the same KPI files
with the per-shift last value and mean (the least any report must do).

Run: ``uv run python bench/pilot_report.py [--quick] [--days N] [--assets N]``. Ends with one
JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl

START = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


def derive_kpis(
    asset: str, first: datetime, days: int, pilot_from: datetime, seed: int
) -> pl.DataFrame:
    """1 Hz state and power of one asset → per-minute KPI rows (historian schema)."""
    n = days * 86_400
    raw = pl.DataFrame({"i": pl.int_range(0, n, eager=True)}).with_columns(
        ts=pl.lit(first) + pl.duration(seconds=pl.col("i")),
        u=(pl.col("i").hash(seed) % 1_000_000) / 1_000_000,
        v=(pl.col("i").hash(seed + 1) % 1_000_000) / 1_000_000,
    )
    # Stops come in minutes: a minute is down with probability 6 % (baseline) or 4 % (pilot).
    minute_u = (pl.col("i") // 60).hash(seed + 2) % 1_000_000 / 1_000_000
    p_down = pl.when(pl.col("ts") < pilot_from).then(0.06).otherwise(0.04)
    raw = raw.with_columns(running=minute_u >= p_down).with_columns(
        # The pilot also trims running power by 1 kW (≈ −7 % energy per part).
        kw=pl.when(pl.col("running"))
        .then(pl.when(pl.col("ts") < pilot_from).then(12.0).otherwise(11.0) + 3 * pl.col("u"))
        .otherwise(0.4),
        part=pl.col("running") & (pl.col("v") < 0.5),  # one part per ~2 s while running
    )
    if raw["ts"].dtype != pl.Datetime("us", "UTC"):
        raw = raw.with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))
    per_min = (
        raw.group_by_dynamic("ts", every="1m")
        .agg(
            down=(~pl.col("running")).sum().cast(pl.Float64),
            kwh=pl.col("kw").sum() / 3600,
            parts=pl.col("part").sum().cast(pl.Float64),
        )
        # Shifts start at 06:00, 14:00 and 22:00 UTC: 8 h buckets from epoch, moved by 6 h.
        .with_columns(
            shift=(pl.col("ts") - pl.duration(hours=6)).dt.truncate("8h") + pl.duration(hours=6)
        )
        .with_columns(
            window=pl.lit("shift:") + pl.col("shift").dt.strftime("%Y-%m-%dT%H"),
            downtime_s=pl.col("down").cum_sum().over("shift"),
            epp=(pl.col("kwh").cum_sum() / pl.col("parts").cum_sum()).over("shift"),
            ts=pl.col("ts") + pl.duration(minutes=1),  # a minute's figure is published at its end
        )
    )
    tokens = asset.replace("/", ".")
    rows = []
    for kpi, col, unit in (
        ("downtime_s", "downtime_s", "s"),
        ("energy_per_part_kwh", "epp", "kWh"),
    ):
        rows.append(
            per_min.select(
                "ts",
                pl.lit(tokens).alias("asset"),
                pl.lit(kpi).alias("point"),
                pl.col(col).cast(pl.Float64).alias("value"),
                pl.lit(None, pl.String).alias("text"),
                pl.lit(unit).alias("unit"),
                pl.lit("good").alias("quality"),
                "window",
                pl.lit("bench").alias("source"),
            )
        )
    return pl.concat(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="4 days, 2 assets (CI smoke)")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--assets", type=int, default=10)
    a = ap.parse_args()
    days, n_assets = (4, 2) if a.quick else (a.days, a.assets)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from kit_historian.storage import SCHEMA, Store
    from kit_pilot.goal import Baseline, parse_goal
    from kit_pilot.html import write_outputs
    from kit_pilot.pack import build_pack, make_report
    from kit_pilot.store import Context, Money, Pilot
    from kit_pilot.verify import verify_pack

    from kit.trust.signing import load_private_key, new_keypair
    from kit.trust.truststore import trust_key

    half = timedelta(days=days // 2)
    pilot_from = START + half
    assets = [f"bench/hall/line1/m{i:02d}" for i in range(n_assets)]
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        hist = tmp / "data" / "history"
        t0 = time.perf_counter()
        store = Store(hist, "kpi")
        store.recover()
        seq = 0
        kpi_rows = 0
        for i, asset in enumerate(assets):
            df = derive_kpis(asset, START, days, pilot_from, seed=100 + i)
            df = df.with_columns(pl.int_range(seq + 1, seq + 1 + df.height).alias("stream_seq"))
            df = df.select(*(pl.col(k).cast(t) for k, t in SCHEMA.items()))
            store.write(df, seq + 1, seq + df.height)
            seq += df.height
            kpi_rows += df.height
        gen_s = time.perf_counter() - t0
        raw_samples = days * 86_400 * n_assets

        pilot = Pilot(
            name="bench",
            owner="bench",
            assets=assets,
            goals=[parse_goal("downtime_s:-20%"), parse_goal("energy_per_part_kwh:-5%")],
            start=pilot_from,
            end=START + timedelta(days=days),
            baseline=Baseline(source="history", start=START, end=pilot_from),
            context=Context(shifts=["06:00", "14:00", "22:00"]),
            tz="UTC",
            created=pilot_from,
            money=Money(tariff_per_kwh=0.2, downtime_cost_per_h=600, parts_per_shift=10_000),
        )
        now = START + timedelta(days=days, hours=1)

        # Baseline: a plain polars read of the same KPI files, last value per shift window.
        t0 = time.perf_counter()
        files = sorted((hist / "kpi").rglob("*.parquet"))
        base = (
            pl.scan_parquet(files)
            .filter(pl.col("point").is_in(["downtime_s", "energy_per_part_kwh"]))
            .group_by("point", "asset", "window")
            .agg(pl.col("value").sort_by("ts").last(), pl.col("ts").max())
            .with_columns(pilot=pl.col("ts") > pilot_from)
            .group_by("point", "pilot")
            .agg(pl.col("value").mean(), pl.len())
            .collect()
        )
        baseline_s = time.perf_counter() - t0
        assert base.height == 4

        t0 = time.perf_counter()
        report = make_report(pilot, hist, now)
        write_outputs(report, tmp / "report")
        report_s = time.perf_counter() - t0

        new_keypair(tmp / "keys", "site")
        key = load_private_key(tmp / "keys" / "site.key")
        t0 = time.perf_counter()
        pack, _ = build_pack(pilot, hist, now, key)
        pack_s = time.perf_counter() - t0

        site_b = tmp / "b"
        trust_key(site_b, tmp / "keys" / "site.pub", "vendor")
        t0 = time.perf_counter()
        v = verify_pack(pack, site_b)
        verify_s = time.perf_counter() - t0
        assert v.ok, v.checks
        html_bytes = (tmp / "report" / "report.html").stat().st_size
        store_bytes = sum(f.stat().st_size for f in files)

    goals = {
        g["goal"]: f"{g['comparison']['change']:+.4g} [{g['comparison']['ci_low']:+.4g} … "
        f"{g['comparison']['ci_high']:+.4g}] {g['comparison']['verdict']}"
        for g in report["goals"]
    }
    print(
        f"data: {days} days × {n_assets} assets at 1 Hz = {raw_samples:,} samples → "
        f"{kpi_rows:,} KPI rows ({store_bytes / 1e6:.1f} MB Parquet), generated in {gen_s:.1f} s"
    )
    for g, t in goals.items():
        print(f"  {g}: {t}")
    print(f"baseline (plain polars read + per-shift last/mean): {baseline_s:.2f} s")
    print(
        f"report (history → statistics → HTML/SVG):            {report_s:.2f} s "
        f"({report_s / baseline_s:.1f}× baseline); report.html {html_bytes / 1e3:.0f} kB"
    )
    print(
        f"evidence pack (report + rows + sign):                 {pack_s:.2f} s, "
        f"{len(pack) / 1e6:.2f} MB ({len(pack) / store_bytes:.1f}× the Parquet history)"
    )
    print(
        f"verify at a second site (recompute everything):       {verify_s:.2f} s "
        f"({verify_s / baseline_s:.1f}× baseline)"
    )
    print(
        json.dumps(
            {
                "days": days,
                "assets": n_assets,
                "raw_samples": raw_samples,
                "kpi_rows": kpi_rows,
                "baseline_s": round(baseline_s, 3),
                "report_s": round(report_s, 3),
                "report_ratio": round(report_s / baseline_s, 2),
                "pack_s": round(pack_s, 3),
                "pack_bytes": len(pack),
                "history_parquet_bytes": store_bytes,
                "verify_s": round(verify_s, 3),
                "verify_ratio": round(verify_s / baseline_s, 2),
                "html_bytes": html_bytes,
            }
        )
    )


if __name__ == "__main__":
    main()
