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
            and hist.component.metrics()["hwm"] == {"data": 122, "kpi": 3, "events": 0}
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
    assert res["units"] == {"temp": "°C", "oee": None}

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


async def test_history_by_default_keeps_kpis_and_events_and_yields_to_a_configured_one(
    bus, kit_settings, make_runtime, tmp_path
):
    from kit.payloads import Event

    on = kit_settings.model_copy(update={"history": True})
    rt = await make_runtime(on)
    inst = rt.supervisor.instances["history"]
    assert inst.type == "historian" and inst.config.streams == ["kpi", "events"]
    producer = ComponentContext("plc", bus, asset=ASSET)
    await producer.publish_kpi("oee", 0.61, window="shift", ts=T0)
    await bus.js.publish(
        "kit.event.alarm.test.hall.l1.m1",
        codec.encode(
            Event(
                kind="alarm",
                asset=ASSET,
                ts=T0,
                source="alarms",
                type="alarm_raised",
                severity="high",
                message="temp high",
            )
        ),
    )
    await wait_for(
        lambda: (
            inst.component is not None
            and inst.component.metrics()["hwm"].get("kpi", 0) >= 1
            and inst.component.metrics()["hwm"].get("events", 0) >= 1
        ),
        message="default historian stored a KPI and an event",
        timeout=60,  # the default flush interval is 10 s
    )
    root = on.data_dir / "history"
    from kit_historian.query import query

    df = query(root, ASSET, ["oee", "alarm_raised"], T0, T0 + timedelta(seconds=1))
    assert sorted(df["point"].to_list()) == ["alarm_raised", "oee"]
    assert not (root / "data").exists()  # raw samples only per recipe or explicit config
    await rt.stop()

    own = on.model_copy(update={"components": [spec(tmp_path / "h2")], "data_dir": tmp_path / "d2"})
    rt2 = await make_runtime(own)
    assert set(rt2.supervisor.instances) == {"hist"}


async def test_running_historian_enforces_the_size_limit_and_reports_it(
    bus, kit_settings, make_runtime, tmp_path
):
    from kit_historian.storage import RowBuffer, Store, tree_bytes

    directory = tmp_path / "hist"
    today = datetime.now(UTC).date()
    store = Store(directory, "data")
    for d in (3, 2, 1):  # three finished days of raw data, oldest first
        buf = RowBuffer()
        t = datetime.combine(today - timedelta(days=d), datetime.min.time(), tzinfo=UTC)
        for k in range(200):
            buf.add_batch(
                SampleBatch(
                    asset=ASSET,
                    ts=t + timedelta(seconds=k),
                    seq=k,
                    source="p",
                    points=[Point(name="temp", value=k * 1.37 + d, unit="°C")],
                ),
                store.hwm + k + 1,
            )
        store.write(buf.frame(), store.hwm + 1, store.hwm + 200)
        store.hwm += 200
    day = {d: tree_bytes(directory / "data" / f"date={d.isoformat()}") for d in store.days()}
    oldest, middle, newest = sorted(day)
    limit = day[newest] + day[middle] + 1  # room for two days: the oldest must go
    cfg = spec(directory)
    cfg.config["max_bytes"] = limit
    rt = await make_runtime(kit_settings.model_copy(update={"components": [cfg]}))
    inst = rt.supervisor.instances["hist"]
    await wait_for(
        lambda: inst.component is not None and inst.component.counts["retention_removed_days"],
        message="retention at start",
    )
    m = inst.component.metrics()
    assert store.days() == [middle, newest]
    assert m["retention_removed_days"] == 1 and m["retention_removed_bytes"] == day[oldest]
    assert m["bytes_on_disk"] == tree_bytes(directory) <= limit + 4096  # + the marks' files


async def test_own_asset_only_keeps_only_its_assets_events(bus, kit_settings, make_runtime):
    from kit.payloads import Event

    rec = ComponentSpec(
        name="rec",
        type="historian",
        asset=ASSET,
        config={"own_asset_only": True, "streams": ["events"], "flush_interval_s": 0.2},
    )
    rt = await make_runtime(kit_settings.model_copy(update={"components": [rec]}))
    inst = rt.supervisor.instances["rec"]
    for asset in ("test/hall/l1/other", ASSET):
        await bus.js.publish(
            f"kit.event.alarm.{asset.replace('/', '.')}",
            codec.encode(Event(kind="alarm", asset=asset, ts=T0, source="a", type="alarm_raised")),
        )
    await wait_for(
        lambda: inst.component is not None and inst.component.counts["flushes"] >= 1,
        message="own event stored",
    )
    root = inst.component.root
    assert inst.component.counts["rows"] == 1
    assert [p.name for p in (root / "events").glob("date=*/asset=*")] == [
        "asset=" + ASSET.replace("/", ".")
    ]
