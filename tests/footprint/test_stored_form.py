"""What KIT_DATA keeps vs what the bus shows live (kit.stored): compact, sampled, none, and the
historian reading the compact form across a restart. Real nats-server; batches read back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import nats.js.api as js_api
import polars as pl

from kit.bus import Bus
from kit.compact import SchemaCache, decode, is_compact
from kit.components import Clock, ComponentContext
from kit.payloads import Point
from kit.settings import ComponentSpec, RetentionSettings
from kit.testing import wait_for

POINTS = [("power_w", "W"), ("voltage_v", "V"), ("running", None)]
T0 = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)


class StepClock(Clock):
    """Real wall clock, monotonic time moved by the test (the sampling schedule)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def monotonic(self) -> float:
        return self.t


async def _stored(bus: Bus) -> list[bytes]:
    info = await bus.js.stream_info("KIT_DATA")
    return [
        (await bus.js.get_msg("KIT_DATA", seq)).data
        for seq in range(info.state.first_seq, info.state.last_seq + 1)
        if info.state.messages
    ]


async def _run(nats_server, retention: RetentionSettings, cycles: int):
    bus = await Bus.connect(nats_server.url)
    live: list[dict] = []

    async def on_msg(msg) -> None:
        live.append(json.loads(msg.data))

    await bus.provision(retention)
    await bus.js.purge_stream("KIT_DATA")  # each run of a test counts only its own batches
    await bus.nc.subscribe("kit.data.>", cb=on_msg)
    await bus.sync_subscriptions()
    clock = StepClock()
    ctx = ComponentContext("m1", bus, asset="s/a/l/m", clock=clock, storage=retention)
    w = ctx.sample_writer(POINTS)
    for k in range(cycles):
        clock.t += 1.0
        q = [None, "timeout", None] if k == 3 else None  # one batch with a bad point
        await w.publish([100.0 + k, 230.25, k % 2 == 0], q, ts=T0 + timedelta(seconds=k))
    await bus.flush()
    await wait_for(lambda: len(live) == cycles, message="live batches")
    return bus, live, await _stored(bus), w


async def test_compact_is_stored_and_the_live_bus_keeps_json(nats_server) -> None:
    bus, live, stored, w = await _run(nats_server, RetentionSettings(data_encoding="compact"), 6)
    try:
        info = await bus.js.stream_info("KIT_DATA")
        assert info.config.subjects == ["kit.store.data.>"]
        assert len(stored) == 6 and w.stored.compact_batches == 5
        # The batch with a bad point is stored as JSON; the others compact.
        assert [is_compact(d) for d in stored] == [True, True, True, False, True, True]
        cache = SchemaCache()
        for d, j in zip(stored, live, strict=True):
            got = decode(d, cache) if is_compact(d) else json.loads(d)
            assert got == j
        assert sum(map(len, stored[1:3])) < sum(len(json.dumps(j)) for j in live[1:3]) / 2
    finally:
        await bus.close()


async def test_sampled_keeps_one_batch_per_interval_and_none_keeps_nothing(nats_server) -> None:
    sampled = RetentionSettings(data_persistence="sampled", data_sample_s=10)
    bus, live, stored, _ = await _run(nats_server, sampled, 25)
    try:
        assert len(live) == 25  # analytics see every batch
        # Stored: the first, then one per 10 s of the producer's clock (t = 1, 11, 21).
        assert [json.loads(d)["seq"] for d in stored] == [live[0]["seq"] + k for k in (0, 10, 20)]
    finally:
        await bus.close()
    bus, live, stored, _ = await _run(nats_server, RetentionSettings(data_persistence="none"), 4)
    try:
        assert len(live) == 4 and stored == []
    finally:
        await bus.close()
    bus = await Bus.connect(nats_server.url)
    try:  # "historian": raw data only in the historian, KIT_DATA a RAM ring it reads from
        await bus.provision(RetentionSettings(data_persistence="historian"))
        info = await bus.js.stream_info("KIT_DATA")
        assert info.config.storage == js_api.StorageType.MEMORY
        assert info.config.subjects == ["kit.data.>"]
    finally:
        await bus.close()


async def test_historian_reads_the_compact_form_across_a_restart(
    nats_server, kit_settings, make_runtime, tmp_path
) -> None:
    directory = tmp_path / "hist"
    retention = RetentionSettings(data_encoding="compact")
    hist = ComponentSpec(
        name="hist",
        type="historian",
        config={"directory": str(directory), "flush_interval_s": 0.2, "fetch_pause_s": 0},
    )
    settings = kit_settings.model_copy(update={"components": [hist], "retention": retention})
    json_site = kit_settings.model_copy(update={"components": [hist]})
    bus = await Bus.connect(nats_server.url)
    producer = ComponentContext("plc", bus, asset="test/hall/l1/m1", storage=retention)
    json_producer = ComponentContext("plc0", bus, asset="test/hall/l1/m1")

    async def publish(start: int, n: int, ctx: ComponentContext = producer) -> None:
        for k in range(start, start + n):
            await ctx.publish_samples(
                [Point(name="temp", value=k + 0.5, unit="°C"), Point(name="n", value=k)],
                ts=T0 + timedelta(seconds=k + 5),
            )
        await bus.flush()

    def rows() -> pl.DataFrame:
        files = list(directory.rglob("part-*.parquet"))
        return pl.read_parquet(files) if files else pl.DataFrame({"point": []})

    try:
        # A site that stored JSON so far (the historian's durable consumer exists)...
        rt = await make_runtime(json_site)
        await publish(-5, 5, json_producer)
        await wait_for(lambda: rows().height == 10, message="JSON batches on disk")
        await rt.stop()
        # ...switches to the compact form: the stream and the consumer follow.
        rt = await make_runtime(settings)
        await publish(0, 20)  # the first batch carries the schema
        await wait_for(lambda: rows().height == 50, message="first 20 compact batches on disk")
        await rt.stop()
        await publish(20, 10)  # no schema in these: the historian saved it
        rt = await make_runtime(settings)
        await wait_for(lambda: rows().height == 70, message="all batches on disk")
        df = rows().sort("stream_seq")
        want = list(range(-5, 30))
        assert df.filter(pl.col("point") == "temp")["value"].to_list() == [k + 0.5 for k in want]
        assert df.filter(pl.col("point") == "n")["value"].to_list() == [float(k) for k in want]
        assert rt.supervisor.instances["hist"].component.counts["malformed"] == 0
    finally:
        await bus.close()


def test_a_component_may_store_only_its_own_asset() -> None:
    from kit.trust.busauth import component_permissions, narrow_publishes, streams_of

    pubs = narrow_publishes(["kit.data.>", "kit.kpi.>"], "s/a/l/m1")
    allow = component_permissions("m1", pubs, [])["publish"]["allow"]
    assert "kit.store.data.s.a.l.m1" in allow
    assert not [p for p in allow if p.startswith("kit.store.") and p != "kit.store.data.s.a.l.m1"]
    assert streams_of("kit.store.data.>") == {"KIT_DATA"}
