"""End to end: KPIs published on the bus → the site historian → ``kit pilot status``."""

from __future__ import annotations

import json
import random
import statistics
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner

from kit.cli import cli
from kit.components import ComponentContext
from kit.settings import ComponentSpec
from kit.testing import wait_for

ASSET = "test/hall/l1/m1"
START = datetime(2026, 11, 15, 6, 0, tzinfo=UTC)


async def test_kpis_from_the_bus_reach_pilot_status(bus, kit_settings, make_runtime):
    hist = kit_settings.data_dir / "history"
    spec = ComponentSpec(
        name="history",
        type="historian",
        config={"streams": ["kpi"], "flush_interval_s": 0.2, "directory": str(hist)},
    )
    rt = await make_runtime(kit_settings.model_copy(update={"components": [spec]}))
    producer = ComponentContext("oee-m1", bus, asset=ASSET)
    rnd = random.Random(3)
    per_shift = {"base": [], "pilot": []}
    # 12 baseline shifts at OEE ≈ 0.55, 12 pilot shifts at ≈ 0.65; 4 values per shift.
    for i in range(24):
        t0 = START + timedelta(hours=8 * (i - 12))
        level = (0.55 if i < 12 else 0.65) + rnd.gauss(0, 0.02)
        vals = [level + rnd.gauss(0, 0.005) for _ in range(4)]
        per_shift["base" if i < 12 else "pilot"].append(statistics.fmean(vals))
        for k, v in enumerate(vals):
            await producer.publish_kpi("oee", v, window="shift", ts=t0 + timedelta(hours=2 * k))
    inst = rt.supervisor.instances["history"]
    await wait_for(
        lambda: inst.component is not None and inst.component.metrics()["hwm"]["kpi"] >= 96,
        message="96 KPI values stored",
    )
    env = {"KIT_DATA_DIR": str(kit_settings.data_dir)}
    r = CliRunner().invoke(
        cli,
        [
            "pilot",
            "start",
            "m1",
            "--asset",
            ASSET,
            "--kpi",
            "oee:+5pp",
            "--baseline",
            "4d",
            "--tz",
            "UTC",
            "--now",
            START.isoformat(),
        ],
        env=env,
    )
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(
        cli,
        [
            "pilot",
            "status",
            "m1",
            "--json",
            "--history",
            str(hist),
            "--now",
            (START + timedelta(days=4)).isoformat(),
        ],
        env=env,
    )
    assert r.exit_code == 0, r.output
    g = json.loads(r.output)["goals"][0]
    c = g["comparison"]
    assert (c["n_baseline"], c["n_pilot"]) == (12, 12)
    assert abs(c["baseline_mean"] - statistics.fmean(per_shift["base"])) < 1e-9
    assert abs(c["pilot_mean"] - statistics.fmean(per_shift["pilot"])) < 1e-9
    assert c["verdict"] == "increase" and g["status"] == "target reached"
