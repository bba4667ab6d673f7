"""A simulated machine for the pilot tests: KPI rows written straight into the historian's
store as the OEE and energy plugins publish them (a running figure per shift window every
10 minutes, the final one at the shift's end, plus a rolling window) — no waiting.

Stops arrive at random (Poisson, ``rate`` per hour, each lasting an exponential time of mean
90 s); energy per part varies ±3 % from shift to shift around its true level. Shared by
``test_pilot_report.py`` and ``test_pilot_evidence.py`` (importable through conftest.py).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner
from kit_historian.storage import RowBuffer, Store

from kit.cli import cli
from kit.payloads import KpiValue

ASSET = "acme/hall3/line2/press7"
START = datetime(2026, 11, 15, 6, 0, tzinfo=UTC)
SHIFT = timedelta(hours=8)
MEAN_STOP_S = 90.0
DAYS = 14
NOW = START + timedelta(days=DAYS, hours=1)
"""The report time: the pilot period over, one hour into the next day."""


def simulate(
    root: Path,
    first: datetime,
    shifts: int,
    rate: float,
    kwh: float,
    *,
    seed: int,
    drop: float = 0.0,
) -> dict[str, list[float]]:
    """Write the machine's KPI rows; return each shift's final figures (the reference)."""
    rnd = random.Random(seed)
    store, buf = Store(root, "kpi"), RowBuffer()
    store.recover()  # the high-water mark: a second write must not reuse the part file names
    seq = store.hwm
    finals: dict[str, list[float]] = {"downtime_s": [], "energy_per_part_kwh": []}

    def put(kpi: str, v: float, unit: str | None, window: str, ts: datetime) -> None:
        nonlocal seq
        if drop and rnd.random() < drop:
            return
        seq += 1
        buf.add_kpi(
            KpiValue(kpi=kpi, asset=ASSET, value=v, unit=unit, window=window, ts=ts, source="sim"),
            seq,
        )

    for i in range(shifts):
        t0 = first + i * SHIFT
        window = f"shift:{t0:%Y-%m-%d-%H}"
        stops, t = [], rnd.expovariate(rate / 3600)
        while t < 8 * 3600:
            stops.append((t, rnd.expovariate(1 / MEAN_STOP_S)))
            t += rnd.expovariate(rate / 3600)
        e = kwh * (1 + rnd.gauss(0, 0.03))
        for k in range(1, 49):  # every 10 min; the 48th at the shift's end
            ts = t0 + timedelta(minutes=10 * k)
            down = sum(d for s, d in stops if s < k * 600)
            epp = e * (1 + rnd.gauss(0, 0.2) / k)  # running figure, settles as parts add up
            put("downtime_s", down, "s", window, ts)
            put("energy_per_part_kwh", epp, "kWh", window, ts)
            put("downtime_s", down * 0.5, "s", "rolling", ts)  # must not be mixed in
        finals["downtime_s"].append(sum(d for _, d in stops))
        finals["energy_per_part_kwh"].append(epp)
    store.write(buf.frame(), store.hwm + 1, seq)
    store.hwm = seq
    return finals


def kit(data: Path, *args: str) -> object:
    """Run the CLI on data directory ``data``."""
    return CliRunner().invoke(cli, list(args), env={"KIT_DATA_DIR": str(data)})


def start_pilot(data: Path, name: str) -> None:
    """Start pilot ``name`` on :data:`ASSET` (two goals, money rules, at :data:`START`)."""
    r = kit(
        data,
        "pilot",
        "start",
        name,
        "--asset",
        ASSET,
        "--kpi",
        "downtime_s:-25%",
        "--kpi",
        "energy_per_part_kwh:-5%",
        "--baseline",
        f"{DAYS}d",
        "--period",
        f"{DAYS}d",
        "--tz",
        "UTC",
        "--owner",
        "maria.k",
        "--product-mix",
        "A-200 only",
        "--tariff",
        "0.20",
        "--parts-per-shift",
        "4000",
        "--downtime-cost",
        "600",
        "--now",
        START.isoformat(),
    )
    assert r.exit_code == 0, r.output
