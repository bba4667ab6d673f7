"""Throughput of the analytics plugins on one core, and the historian's write and query speed.

Run: ``uv run python bench/analytics.py`` (about a minute; ``--quick`` for a smoke run,
``--only oee,energy`` to pick plugins; the historian writes hours of 1 Hz × 1,000 points by
default (2 hours), ``--hours 24`` writes and queries the full day, about five minutes).
The condition, SPC and alarms benchmarks of ``bench/analytics_b.py`` run in the same pass.

For each plugin two figures are measured:

* **core** — the pure engine fed with already-decoded values (``kit_oee.engine`` …);
* **component** — the component's own path for encoded sample batches: JSON decode into
  ``SampleBatch``, de-duplication, quality filter, routing, engine, KPI publishing to a
  real (embedded) NATS server. The transport into the subscription is not included.

Rates are sample points per second, where a batch carries the bound points plus the other
points a real adapter batch has (the component must look at all of them). The baseline is
plain ``json.loads`` of the same encoded batches, measured in the same run; ratios are
plugin rate / baseline rate. The last line is one JSON object with every figure.

The structure is one ``bench_<plugin>(ctx)`` function per plugin registered in
:data:`BENCHES`; ``main`` runs every one whose plugin is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kit import codec
from kit.payloads import Point, SampleBatch

DAY0 = datetime(2026, 11, 23, tzinfo=UTC)
OTHER_POINTS = 17  # a typical adapter batch: the 3–4 bound points plus others


@dataclass
class BenchContext:
    """Shared settings and resources of one benchmark run."""

    quick: bool
    hours: float
    bus: Any = None
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="kit-bench-")))
    baseline_pts_s: float = 0.0
    machine: list[bytes] = field(default_factory=list)
    """Encoded adapter batches shared by the baseline and the OEE and energy benchmarks."""

    def n(self, full: int) -> int:
        """Sample count: ``full`` normally, a tenth with --quick."""
        return max(100, full // 10) if self.quick else full


def rate(points: int, seconds: float) -> float:
    """Points per second."""
    return points / seconds if seconds > 0 else float("inf")


def timed(fn: Callable[[], Any]) -> float:
    """Seconds one call of ``fn`` takes (process CPU time would hide GC; wall time on one core)."""
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


async def atimed(fn: Callable[[], Awaitable[Any]]) -> float:
    """Seconds one await of ``fn()`` takes."""
    t = time.perf_counter()
    await fn()
    return time.perf_counter() - t


def machine_batches(n: int, asset: str, source: str = "plc", step_s: float = 1.0) -> list[bytes]:
    """Encoded batches of a machine: state code, counters, power, plus other points."""
    out = []
    produced = 0
    for i in range(n):
        state = 1 if (i // 600) % 5 else 2  # down one tenth of the time, in 10-min blocks
        if state == 1 and i % 3 == 0:
            produced += 1
        pts = [
            Point(name="machine_state_code", value=state),
            Point(name="count_total", value=produced % 65536),
            Point(name="count_reject", value=(produced // 50) % 65536),
            Point(name="power_active_total_w", value=12000.0 if state == 1 else 2500.0, unit="W"),
            Point(name="machine_running", value=state == 1),
            Point(name="count_good", value=produced),
        ]
        pts += [Point(name=f"channel_{k}", value=float(k)) for k in range(OTHER_POINTS - 3)]
        out.append(
            codec.encode(
                SampleBatch(
                    asset=asset,
                    ts=DAY0 + timedelta(seconds=i * step_s),
                    seq=i,
                    source=source,
                    points=pts,
                )
            )
        )
    return out


def baseline(batches: list[bytes], points: int) -> float:
    """Points/s of plain ``json.loads`` over the same bytes."""
    t = timed(lambda: [json.loads(b) for b in batches])
    return rate(points, t)


def report(name: str, figures: dict[str, float], base: float) -> None:
    """Print one plugin's figures with ratios to the baseline."""
    for k, v in figures.items():
        if k.endswith("pts_s"):
            print(f"  {name:10s} {k:28s} {v:14,.0f} points/s   ×{v / base:5.2f} of json.loads")
        elif k.endswith("_s"):
            print(f"  {name:10s} {k:28s} {v:14.3f} s")
        else:
            print(f"  {name:10s} {k:28s} {v:14,.0f}")


async def component_rate(
    cls: type, config: dict, asset: str, batches: list[bytes], bus: Any
) -> float:
    """Seconds for a component instance to decode and handle ``batches`` (real bus for publishing)."""
    from kit.components import ComponentContext

    ctx = ComponentContext(f"bench-{cls.name}", bus, asset=asset)
    comp = cls(cls.Config.model_validate(config), ctx)

    async def go() -> None:
        for b in batches:
            await comp.handle(codec.decode_batch(b))
        await bus.flush()

    return await atimed(go)


# -- plugins -------------------------------------------------------------------------------------
async def bench_oee(bc: BenchContext) -> dict[str, float]:
    """OEE: engine alone, then the component path."""
    from kit_oee.engine import EngineParams, OeeEngine
    from kit_oee.plugin import OeeComponent

    batches = bc.machine
    n = len(batches)
    decoded = [codec.decode_batch(b) for b in batches]
    rows = [
        (
            b.ts.timestamp(),
            "run" if b.points[0].value == 1 else "down",
            b.points[1].value,
            b.points[2].value,
        )
        for b in decoded
    ]
    eng = OeeEngine(EngineParams(pru_s=2.0, count_mode="produced_reject", counter_max=65535))

    def core() -> None:
        for t, s, p, r in rows:
            eng.feed(t, state=s, produced=p, reject=r)

    core_s = timed(core)
    cfg = {
        "inputs": {
            "state_code": "machine_state_code",
            "produced": "count_total",
            "reject": "count_reject",
        },
        "ideal_cycle_s": 2.0,
        "counter_max": 65535,
    }
    comp_s = await component_rate(OeeComponent, cfg, "bench/a/l/m1", batches, bc.bus)
    pts = n * (OTHER_POINTS + 3)
    return {
        "core_bound_pts_s": rate(3 * n, core_s),
        "component_pts_s": rate(pts, comp_s),
        "samples": n,
    }


async def bench_energy(bc: BenchContext) -> dict[str, float]:
    """Energy: engine alone (power integration + state + parts), then the component path."""
    from kit_energy.engine import EnergyEngine, EnergyParams
    from kit_energy.plugin import EnergyComponent

    batches = bc.machine
    n = len(batches)
    decoded = [codec.decode_batch(b) for b in batches]
    rows = [
        (b.ts.timestamp(), b.points[3].value / 1000, bool(b.points[4].value), b.points[5].value)
        for b in decoded
    ]
    eng = EnergyEngine(EnergyParams(), has_state=True, has_count=True)

    def core() -> None:
        for t, kw, running, parts in rows:
            eng.feed_running(t, running)
            eng.feed_count(t, parts)
            eng.feed_power(t, kw)

    core_s = timed(core)
    cfg = {
        "inputs": {
            "power": "power_active_total_w",
            "running": "machine_running",
            "count": "count_good",
        }
    }
    comp_s = await component_rate(EnergyComponent, cfg, "bench/a/l/m1", batches, bc.bus)
    pts = n * (OTHER_POINTS + 3)
    return {
        "core_bound_pts_s": rate(3 * n, core_s),
        "component_pts_s": rate(pts, comp_s),
        "samples": n,
    }


async def bench_historian(bc: BenchContext) -> dict[str, float]:
    """Historian: write path for 1,000-point batches, then a day of 1 Hz × 1,000 points and queries."""
    import polars as pl
    from kit_historian.query import query
    from kit_historian.storage import RowBuffer, Store

    n_points = 1000
    names = [f"p{k:04d}" for k in range(n_points)]
    # 1) The sink's own path: JSON decode + checks → row buffer → Parquet commit every 50k rows.
    n_batches = bc.n(300)
    enc = [
        codec.encode(
            SampleBatch(
                asset="bench/a/l/m1",
                ts=DAY0 + timedelta(seconds=i),
                seq=i,
                source="plc",
                points=[Point(name=nm, value=float(i + k)) for k, nm in enumerate(names)],
            )
        )
        for i in range(n_batches)
    ]
    base = baseline(enc, n_batches * n_points)
    store = Store(bc.tmp / "write", "data")
    store.recover()

    def write_path() -> None:
        buf = RowBuffer()
        for seq, b in enumerate(enc, start=1):
            buf.add_raw(json.loads(b), seq)  # the sink's own decode path
            if len(buf) >= 50_000:
                store.write(buf.frame(), buf.first_seq, buf.last_seq)
                buf = RowBuffer()
        if len(buf):
            store.write(buf.frame(), buf.first_seq, buf.last_seq)

    write_s = timed(write_path)

    # 2) A day of 1 Hz on 1,000 points, committed an hour at a time through Store.write.
    day = Store(bc.tmp / "day", "data")
    day.recover()
    hours = bc.hours if not bc.quick else min(bc.hours, 1)
    secs = int(3600 * hours)
    seq = 0
    day_write_s = 0.0
    chunk = 3600 if secs >= 3600 else secs
    for h0 in range(0, secs, chunk):
        span = min(chunk, secs - h0)
        ts = pl.int_range(h0, h0 + span, eager=True).cast(pl.Int64) * 1_000_000 + int(
            DAY0.timestamp() * 1_000_000
        )
        df = (
            pl.DataFrame({"ts": ts})
            .join(pl.DataFrame({"point": names}), how="cross")
            .with_columns(
                pl.col("ts").cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
                pl.lit("bench.a.l.m1").alias("asset"),
                ((pl.col("ts") // 1_000_000) % 3600).cast(pl.Float64).alias("value"),
                pl.lit(None, pl.String).alias("text"),
                pl.lit(None, pl.String).alias("unit"),
                pl.lit("good").alias("quality"),
                pl.lit(None, pl.String).alias("window"),
                pl.lit("plc").alias("source"),
                (pl.int_range(0, pl.len()) // n_points + seq + 1)
                .cast(pl.Int64)
                .alias("stream_seq"),
            )
            .select(
                "ts",
                "asset",
                "point",
                "value",
                "text",
                "unit",
                "quality",
                "window",
                "source",
                "stream_seq",
            )
        )
        day_write_s += timed(lambda df=df, seq=seq, span=span: day.write(df, seq + 1, seq + span))
        seq += span
    rows_day = secs * n_points
    end = DAY0 + timedelta(seconds=secs)
    root = bc.tmp / "day"
    q_raw = timed(lambda: query(root, "bench/a/l/m1", ["p0500"], DAY0, end, kinds=("data",)))
    q_1m = timed(
        lambda: query(root, "bench/a/l/m1", ["p0500"], DAY0, end, every="1m", kinds=("data",))
    )
    q_10 = timed(
        lambda: query(
            root, "bench/a/l/m1", names[:10], DAY0, end, every="15m", agg="max", kinds=("data",)
        )
    )
    size = sum(f.stat().st_size for f in root.rglob("*.parquet"))
    return {
        "write_path_pts_s": rate(n_batches * n_points, write_s),
        "day_rows": rows_day,
        "day_hours": hours,
        "day_write_pts_s": rate(rows_day, day_write_s),
        "day_write_s": day_write_s,
        "query_1pt_raw_day_s": q_raw,
        "query_1pt_1m_mean_day_s": q_1m,
        "query_10pt_15m_max_day_s": q_10,
        "day_bytes_on_disk": size,
        "baseline_json_loads_pts_s": base,
    }


def _analytics_b(fn_name: str) -> Callable[[BenchContext], Awaitable[dict[str, float]]]:
    """Adapter running a ``bench/analytics_b.py`` benchmark (condition, SPC, alarms) in this run.

    Its ``points_per_s`` is the plugin core on decoded batches; ``with_decode_points_per_s``
    adds the kit's JSON decode — the closest to this file's "component" figure (KPI/event
    publishing excluded there). Its own json.loads baseline is reported alongside.
    """

    async def run(bc: BenchContext) -> dict[str, float]:
        spec = importlib.util.spec_from_file_location(
            "analytics_b", Path(__file__).with_name("analytics_b.py")
        )
        mod = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        spec.loader.exec_module(mod)  # type: ignore[union-attr]
        r = getattr(mod, fn_name)(0.1 if bc.quick else 0.5)
        return {
            "core_pts_s": r["points_per_s"],
            "component_pts_s": r["with_decode_points_per_s"],
            "baseline_json_loads_pts_s": r["json_points_per_s"],
            "points": r["points"],
        }

    return run


#: Plugins with a benchmark: name → (module that must be installed, benchmark).
BENCHES: dict[str, tuple[str, Callable[[BenchContext], Awaitable[dict[str, float]]]]] = {
    "oee": ("kit_oee", bench_oee),
    "energy": ("kit_energy", bench_energy),
    "historian": ("kit_historian", bench_historian),
    # Not conditional on the file existing: a missing or broken analytics_b.py must fail the
    # bench smoke run (.ci/run), not silently drop three plugins from the figures.
    **{
        name: (f"kit_{name}", _analytics_b(f"bench_{name}"))
        for name in ("condition", "spc", "alarms")
    },
}


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Start an embedded NATS, measure the baseline, run each selected benchmark."""
    from kit.bus import Bus
    from kit.natsserver import EmbeddedNats
    from kit.settings import NatsSettings, RetentionSettings

    bc = BenchContext(quick=args.quick, hours=args.hours)
    server = EmbeddedNats(NatsSettings(port=0), bc.tmp / "nats", server_name="kit-bench")
    await server.start()
    bc.bus = await Bus.connect(server.url, name="kit-bench")
    await bc.bus.provision(RetentionSettings())
    results: dict[str, Any] = {}
    try:
        n = bc.n(50_000)
        bc.machine = machine_batches(n, "bench/a/l/m1")
        bc.baseline_pts_s = baseline(bc.machine, n * (OTHER_POINTS + 3))
        print(f"baseline: json.loads of {n:,} adapter batches: {bc.baseline_pts_s:,.0f} points/s")
        results["baseline_json_loads_pts_s"] = bc.baseline_pts_s
        wanted = set(args.only.split(",")) if args.only else set(BENCHES)
        for name, (module, fn) in BENCHES.items():
            if name not in wanted:
                continue
            if importlib.util.find_spec(module) is None:  # a plugin not installed is skipped
                print(f"{name}: plugin {module} not installed, skipped")
                continue
            print(f"{name}:")
            figures = await fn(bc)
            base = figures.get("baseline_json_loads_pts_s", bc.baseline_pts_s)
            report(name, figures, base)
            results[name] = figures
            results[name]["ratio_component_to_baseline"] = (
                figures.get("component_pts_s", figures.get("write_path_pts_s", 0)) / base
            )
    finally:
        await bc.bus.close()
        await server.stop()
    return results


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run, print the figures and one JSON line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick", action="store_true", help="a tenth of the samples, one hour of history"
    )
    ap.add_argument("--only", help="comma-separated plugins: " + ",".join(BENCHES))
    ap.add_argument(
        "--hours",
        type=float,
        default=2.0,
        help="hours of 1 Hz × 1,000 points for the historian (24 = the full day, ~5 min)",
    )
    args = ap.parse_args(argv)
    t = time.perf_counter()
    results = asyncio.run(run(args))
    results["total_s"] = time.perf_counter() - t
    print(json.dumps(results, sort_keys=True), file=sys.stdout)


if __name__ == "__main__":
    main()
