"""The opcua adapter in a real runtime against the kit's own OPC UA simulator."""

from __future__ import annotations

from datetime import UTC, datetime

from kit.testing import wait_for


async def test_values_quality_and_source_timestamps(start_adapter, sim_factory, collector, asset):
    sim = await sim_factory("siemens-s7-1500-db", update_interval_ms=100)
    rt, comp = await start_adapter(sim)
    # Power is random on the server; the adapter must deliver a series of distinct values.
    await wait_for(
        lambda: len({p.value for p in collector.good("power_active_total_w")}) >= 3,
        15,
        message="power changes",
    )
    powers = collector.good("power_active_total_w")
    assert all(12000 <= p.value <= 15000 for p in powers)  # the profile's simulation range
    assert all(p.unit == "W" for p in powers)
    assert collector.good("temperature_c")[0].unit == "°C"
    # Source timestamps come from the server and precede the gateway timestamp of their batch.
    for p, batch in collector.points("power_active_total_w"):
        assert p.ts is not None and p.ts <= batch.ts
        assert abs((p.ts - datetime.now(UTC)).total_seconds()) < 60
    counts = [p.value for p in collector.good("count_good")]
    assert counts == sorted(counts) and isinstance(counts[0], int)
    # The last value received equals what the server serves once changes stop.
    sim.freeze()
    await wait_for(
        lambda: (
            collector.good("power_active_total_w")
            and abs(
                collector.good("power_active_total_w")[-1].value
                - sim.values["power_active_total_w"]
            )
            < 1e-2
        ),
        10,
        message="last value equals the served value",
    )
    assert all(b.asset == asset for b in collector.batches)
    m = comp.metrics()
    assert m["monitored"] == 6 and m["polled"] == 0
    assert m["revised_publishing_interval_ms"] > 0
    # Revised sampling intervals are reported per point (asyncua revises to its own minimum).
    assert set(comp.revised) == {p.name for p in sim.profile.points}
    assert all(v["sampling_interval_ms"] >= 0 for v in comp.revised.values())


async def test_bad_status_published_as_bad_with_reason(
    start_adapter, sim_factory, collector, asset
):
    sim = await sim_factory("siemens-s7-1500-db", update_interval_ms=100)
    rt, comp = await start_adapter(sim)
    # count_reject has no deadband: asyncua's server drops status-only changes of deadband items.
    await wait_for(lambda: collector.good("count_reject"), 10, message="first count_reject")
    await sim.set_status("count_reject", "BadSensorFailure")
    bad = await wait_for(
        lambda: [p for p, _ in collector.points("count_reject") if p.quality.value == "bad"],
        10,
        message="bad count_reject",
    )
    assert bad[0].reason == "BadSensorFailure" and bad[0].value is None
    n_bad = len(collector.points("count_reject"))
    await sim.set_status("count_reject", "UncertainLastUsableValue")
    unc = await wait_for(
        lambda: [
            p for p, _ in collector.points("count_reject")[n_bad:] if p.quality.value == "uncertain"
        ],
        10,
        message="uncertain count_reject",
    )
    assert unc[0].reason == "UncertainLastUsableValue"
    await sim.set_status("count_reject", None)
    await wait_for(
        lambda: collector.points("count_reject")[-1][0].quality.value == "good",
        10,
        message="good again",
    )


async def test_read_polling_fallback_at_monitored_item_limit(
    start_adapter, sim_factory, collector, asset
):
    sim = await sim_factory("siemens-s7-1500-db", update_interval_ms=100)
    rt, comp = await start_adapter(sim, max_monitored_items=2, poll_interval_ms=200)
    assert comp.metrics()["monitored"] == 2 and comp.metrics()["polled"] == 4
    polled = [p.name for p in sim.profile.points][2:]
    await wait_for(
        lambda: all(collector.good(n) for n in polled) and comp.polls >= 2,
        10,
        message="polled points",
    )


async def test_unknown_node_reported_with_status_name(
    start_adapter, sim_factory, collector, asset, tmp_path, library
):
    # A profile pointing at a node the server does not have: bad with the server's status name.
    src = (
        library.files["siemens-s7-1500-db"]
        .read_text()
        .replace('"Kit_Machine"."Temperature"', '"Kit_Machine"."Missing"')
    )
    f = tmp_path / "s7.yaml"
    f.write_text(src)
    sim = await sim_factory("siemens-s7-1500-db")
    rt, comp = await start_adapter(sim, profile_file=str(f))
    bad = await wait_for(
        lambda: [p for p, _ in collector.points("temperature_c") if p.quality.value == "bad"],
        10,
        message="bad temperature",
    )
    assert bad[0].reason == "BadNodeIdUnknown"
    await wait_for(lambda: collector.good("count_good"), 10, message="other points still good")


async def test_absolute_deadband_filters_small_changes(start_adapter, sim_factory, collector):
    sim = await sim_factory("siemens-s7-1500-db", update_interval_ms=100)
    rt, comp = await start_adapter(sim)
    sim.freeze()
    deadband = sim.profile.point("temperature_c").deadband.value
    await sim.set_value("temperature_c", 40.0)
    await wait_for(
        lambda: any(abs(p.value - 40.0) < 1e-4 for p in collector.good("temperature_c")),
        10,
        message="40.0 reported",
    )
    await sim.set_value("temperature_c", 40.0 + deadband / 2)  # inside the deadband: not reported
    await sim.set_value("temperature_c", 45.0)  # outside: reported
    await wait_for(
        lambda: any(abs(p.value - 45.0) < 1e-4 for p in collector.good("temperature_c")),
        10,
        message="45.0 reported",
    )
    assert not any(
        abs(p.value - (40.0 + deadband / 2)) < 1e-4 for p in collector.good("temperature_c")
    )


async def test_server_monitored_item_limit_falls_back_to_reading(
    start_adapter, sim_factory, collector
):
    sim = await sim_factory("siemens-s7-1500-db", update_interval_ms=100, max_monitored_items=4)
    rt, comp = await start_adapter(sim, poll_interval_ms=200)
    assert comp.metrics()["monitored"] == 4 and comp.metrics()["polled"] == 2
    polled = [p.name for p in sim.profile.points][4:]
    await wait_for(
        lambda: all(collector.good(n) for n in polled) and comp.polls >= 2,
        10,
        message="polled points",
    )
    assert not any(p.quality.value == "bad" for n in polled for p, _ in collector.points(n))


async def test_server_without_subscriptions_is_read_by_polling(
    start_adapter, sim_factory, collector
):
    sim = await sim_factory("siemens-s7-1500-db", update_interval_ms=100, subscriptions=False)
    rt, comp = await start_adapter(sim, poll_interval_ms=200)
    assert comp.metrics()["monitored"] == 0 and comp.metrics()["polled"] == 6
    sim.freeze()
    await wait_for(
        lambda: (
            collector.good("count_good")
            and collector.good("count_good")[-1].value == sim.values["count_good"]
        ),
        10,
        message="polled value equals the served value",
    )


async def test_hung_server_detected_by_keepalive(start_adapter, sim_factory, collector):
    sim = await sim_factory("siemens-s7-1500-db", update_interval_ms=100)
    rt, comp = await start_adapter(
        sim,
        keepalive_s=0.3,
        timeout_s=1,
        reconnect_initial_s=0.2,
        reconnect_max_s=0.5,
        publishing_interval_ms=100,
    )
    await wait_for(lambda: collector.good("count_good"), 10, message="data")
    sim.set_silent(True)  # connection stays open, nothing answers
    await wait_for(
        lambda: any(p.reason == "comm_lost" for b in collector.batches for p in b.points),
        15,
        message="outage detected",
    )
    sim.set_silent(False)
    await wait_for(
        lambda: comp.connects >= 2 and comp.state == "connected", 20, message="reconnected"
    )


async def test_health_reports_revised_values_and_server(start_adapter, sim_factory, bus):
    from kit import codec

    healths = []

    async def on_health(h, _msg):
        healths.append(h)

    await bus.subscribe("kit.health.plc1", codec.decode_health, on_health)
    sim = await sim_factory("siemens-s7-1500-db")
    rt, comp = await start_adapter(sim, publishing_interval_ms=250)
    h = await wait_for(
        lambda: [x for x in healths if x.kind == "device" and x.status.value == "running"],
        15,
        message="device health",
    )
    m = h[0].metrics
    assert m["revised_publishing_interval_ms"] == comp.revised_publishing_interval_ms > 0
    assert m["revised_sampling_interval_ms"]["min"] >= 0 and m["monitored"] == 6
    assert "Siemens" in m["server"] and m["security"] == "Basic256Sha256/SignAndEncrypt"
    # `kit status` shows the same through the supervisor.
    summary = rt.supervisor.instances["plc1"].summary()
    assert (
        summary["metrics"]["revised_publishing_interval_ms"] == comp.revised_publishing_interval_ms
    )
