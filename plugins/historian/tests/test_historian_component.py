"""The historian on a real bus: durable consumer, restart without loss or duplicates, endpoint, CLI."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from click.testing import CliRunner

from kit import codec
from kit.cli import cli as kit_cli
from kit.components import ComponentContext
from kit.control import ControlClient
from kit.errors import KitError
from kit.payloads import Point, SampleBatch
from kit.settings import ComponentSpec
from kit.testing import wait_for

ASSET = "test/hall/l1/m1"
T0 = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def spec(directory) -> ComponentSpec:
    return ComponentSpec(
        name="hist",
        type="historian",
        config={
            "directory": str(directory),
            "flush_interval_s": 0.2,
            "flush_rows": 500,
            "fetch_batch": 200,
            "compact": False,
        },
    )


def rows_on_disk(directory) -> pl.DataFrame:
    files = list(directory.rglob("part-*.parquet"))
    return pl.read_parquet(files) if files else pl.DataFrame({"stream_seq": [], "point": []})


async def publish(ctx: ComponentContext, start: int, n: int) -> None:
    for k in range(start, start + n):
        await ctx.publish_samples(
            [Point(name="temp", value=float(k), unit="°C"), Point(name="power", value=k * 10.0)],
            ts=T0 + timedelta(seconds=k),
        )


async def test_restart_loses_nothing_and_writes_nothing_twice(
    bus, kit_settings, make_runtime, tmp_path
):
    directory = tmp_path / "hist"
    settings = kit_settings.model_copy(update={"components": [spec(directory)]})
    producer = ComponentContext("plc", bus, asset=ASSET)

    await publish(producer, 0, 300)
    rt1 = await make_runtime(settings)
    await wait_for(
        lambda: rows_on_disk(directory).height == 600, message="first 300 batches on disk"
    )
    await rt1.stop()

    await publish(producer, 300, 200)  # arrives while the historian is down
    rt2 = await make_runtime(settings)
    await wait_for(lambda: rows_on_disk(directory).height == 1000, message="all batches on disk")
    hist = rt2.supervisor.instances["hist"].component
    await wait_for(lambda: hist.metrics()["hwm"].get("data") == 500, message="all acknowledged")
    df = rows_on_disk(directory)
    assert df.select("stream_seq", "point").is_unique().all()
    assert sorted(df.filter(pl.col("point") == "temp")["value"].to_list()) == [
        float(k) for k in range(500)
    ]


async def test_lost_acks_are_redelivered_and_skipped_by_sequence(
    bus, kit_settings, make_runtime, tmp_path
):
    directory = tmp_path / "hist"
    settings = kit_settings.model_copy(update={"components": [spec(directory)]})
    producer = ComponentContext("plc", bus, asset=ASSET)
    await publish(producer, 0, 100)
    rt1 = await make_runtime(settings)
    await wait_for(lambda: rows_on_disk(directory).height == 200, message="written")
    await rt1.stop()
    # As if the acks never reached the server (crash right after the file write): the
    # consumer starts over from the first message.
    await bus.js.delete_consumer("KIT_DATA", "historian-hist-data")
    rt2 = await make_runtime(settings)
    hist = rt2.supervisor.instances["hist"]
    await wait_for(
        lambda: hist.component is not None and hist.component.counts["duplicates_skipped"] == 100,
        message="redelivered messages skipped",
    )
    assert rows_on_disk(directory).height == 200


async def test_kpis_endpoint_and_cli(bus, kit_settings, make_runtime, tmp_path):
    directory = tmp_path / "hist"
    rt = await make_runtime(kit_settings.model_copy(update={"components": [spec(directory)]}))
    producer = ComponentContext("plc", bus, asset=ASSET)
    await publish(producer, 0, 120)
    for k in range(3):
        await producer.publish_kpi(
            "oee", 0.5 + k / 10, window="rolling", ts=T0 + timedelta(minutes=k)
        )
    # The same batch published again outside JetStream's duplicate window (no msg id here).
    again = SampleBatch(
        asset=ASSET,
        ts=T0 + timedelta(seconds=119),
        seq=119,
        source="plc",
        points=[Point(name="temp", value=119.0, unit="°C"), Point(name="power", value=1190.0)],
    )
    await bus.nc.publish("kit.data.test.hall.l1.m1", codec.encode(again))
    await bus.nc.publish(
        "kit.data.test.hall.l1.m1", b"garbage"
    )  # core publish: captured by the stream
    hist = rt.supervisor.instances["hist"]
    await wait_for(
        lambda: (
            hist.component is not None
            and hist.component.counts["malformed"] == 1
            and hist.component.metrics()["hwm"] == {"data": 122, "kpi": 3}
        ),
        message="stored",
    )
    assert hist.component.counts["duplicate_batches"] == 1

    client = ControlClient(bus)
    res = await client.call(
        "history.query",
        {
            "asset": ASSET,
            "points": ["temp", "oee"],
            "from": T0.isoformat(),
            "to": (T0 + timedelta(minutes=2)).isoformat(),
            "every": "1m",
            "agg": "max",
        },
    )
    rows = {
        (r[res["columns"].index("point")], r[0][11:16]): r[res["columns"].index("value")]
        for r in res["rows"]
    }
    assert rows[("temp", "06:00")] == 59.0 and rows[("temp", "06:01")] == 119.0
    assert rows[("oee", "06:00")] == 0.5 and rows[("oee", "06:01")] == 0.6

    with pytest.raises(KitError) as missing:
        await client.call("history.query", {"asset": ASSET, "points": ["temp"], "from": "-1h"})
    assert [(p.field, p.message) for p in missing.value.problems] == [("to", "Field required")]
    assert missing.value.exit_code == 2
    with pytest.raises(KitError, match="4 parts"):
        await client.call(
            "history.query", {"asset": "nope", "points": ["temp"], "from": "-1h", "to": "now"}
        )

    runner = CliRunner()  # the CLI runs its own event loop: invoke it from a thread
    args = [
        "history",
        "query",
        "--asset",
        ASSET,
        "--points",
        "temp",
        "--from",
        T0.isoformat(),
        "--to",
        (T0 + timedelta(seconds=10)).isoformat(),
    ]
    out = await asyncio.to_thread(
        runner.invoke, kit_cli, [*args, "--format", "csv", "--url", bus.url]
    )
    assert out.exit_code == 0, out.output
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("ts,point,value") and len(lines) == 11
    direct = await asyncio.to_thread(
        runner.invoke, kit_cli, [*args, "--format", "csv", "--dir", str(directory)]
    )
    assert direct.exit_code == 0 and direct.stdout.strip().splitlines()[1:] == lines[1:]
    target = tmp_path / "out.parquet"
    pq = await asyncio.to_thread(
        runner.invoke,
        kit_cli,
        [*args, "--format", "parquet", "-o", str(target), "--dir", str(directory)],
    )
    assert pq.exit_code == 0 and pl.read_parquet(target)["value"].to_list() == [
        float(k) for k in range(10)
    ]
    bad = await asyncio.to_thread(
        runner.invoke, kit_cli, [*args[:-2], "--to", "soon", "--dir", str(directory)]
    )
    assert bad.exit_code != 0 and "ISO 8601" in bad.output
