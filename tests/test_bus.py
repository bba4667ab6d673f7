"""Bus provisioning and malformed-message handling against a real nats-server."""

from kit import codec
from kit.bus import KV_DEPLOYMENTS, KV_LAST, KV_STATE, Bus
from kit.payloads import Point, SampleBatch, utcnow
from kit.settings import RetentionSettings
from kit.testing import wait_for


async def test_provisioning_is_idempotent(nats_server):
    bus = await Bus.connect(nats_server.url)
    try:
        r = RetentionSettings(data_max_age_hours=1, data_max_bytes=10_000_000)
        await bus.provision(r)
        await bus.publish("kit.data.s.a.l.m", b"x")
        await bus.flush()
        await bus.provision(r)  # second time: no error, data kept
        info = await bus.js.stream_info("KIT_DATA")
        assert info.state.messages == 1
        assert info.config.max_age == 3600
        # Changed retention is applied in place, data kept.
        await bus.provision(RetentionSettings(data_max_age_hours=2, data_max_bytes=10_000_000))
        info = await bus.js.stream_info("KIT_DATA")
        assert info.config.max_age == 7200 and info.state.messages == 1
        for bucket in (KV_DEPLOYMENTS, KV_LAST, KV_STATE):
            kv = await bus.kv(bucket)
            await kv.put("k", b"v")
        names = {s.config.name for s in await bus.js.streams_info()}
        assert {"KIT_DATA", "KIT_KPI", "KIT_EVENTS"} <= names
    finally:
        await bus.close()


async def test_malformed_messages_are_counted_and_skipped(bus):
    got: list[SampleBatch] = []

    async def handler(batch, _msg):
        got.append(batch)

    await bus.subscribe("kit.data.>", codec.decode_batch, handler)
    good = SampleBatch(
        asset="s/a/l/m", ts=utcnow(), seq=0, source="t", points=[Point(name="p", value=1)]
    )
    await bus.nc.publish("kit.data.s.a.l.m", b"garbage")
    await bus.nc.publish("kit.data.s.a.l.m", b'{"schema":"kit.samples/1"}')
    await bus.nc.publish("kit.data.s.a.l.x", b"\xff\xfe")
    await bus.nc.publish("kit.data.s.a.l.m", codec.encode(good))
    await wait_for(lambda: len(got) == 1, message="the valid batch")
    assert got[0] == good
    assert bus.malformed.counts == {"kit.data.s.a.l.m": 2, "kit.data.s.a.l.x": 1}
    assert bus.malformed.total == 3


async def test_publish_is_acknowledged_by_stream(bus):
    for i in range(500):
        await bus.publish("kit.kpi.s.a.l.m.oee", str(i).encode(), msg_id=f"m{i}")
    await bus.flush()
    info = await bus.js.stream_info("KIT_KPI")
    assert info.state.messages == 500
    assert bus.publish_failures == 0
    # Same msg ids again are de-duplicated by the stream (safe retries after reconnect).
    for i in range(10):
        await bus.publish("kit.kpi.s.a.l.m.oee", b"again", msg_id=f"m{i}")
    await bus.flush()
    assert (await bus.js.stream_info("KIT_KPI")).state.messages == 500
