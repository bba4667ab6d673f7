"""Recovery: the server restarts on the same port; data resumes without operator action and
the outage is visible as bad quality, never as stale values."""

from __future__ import annotations

from kit.testing import wait_for


async def test_server_restart_same_port_resumes_and_outage_is_bad(
    start_adapter, sim_factory, collector
):
    sim = await sim_factory("siemens-s7-1500-db", update_interval_ms=100)
    rt, comp = await start_adapter(
        sim,
        keepalive_s=0.3,
        reconnect_initial_s=0.2,
        reconnect_max_s=1.0,
        publishing_interval_ms=100,
    )
    await wait_for(lambda: collector.good("count_good"), 10, message="data before the restart")
    port = sim.port
    await sim.stop()
    # The outage: every point published as bad/comm_lost, with no value.
    outage = await wait_for(
        lambda: [
            b
            for b in collector.batches
            if b.points and all(p.reason == "comm_lost" for p in b.points)
        ],
        15,
        message="outage batch",
    )
    marked = outage[0]
    assert {p.name for p in marked.points} == {p.name for p in sim.profile.points}
    assert all(p.quality.value == "bad" and p.value is None for p in marked.points)
    # While the server is down nothing good is published (no stale values filling the gap).
    idx = collector.batches.index(marked)
    await wait_for(
        lambda: comp.metrics()["state"] in ("outage", "backoff") and comp.last_error,
        10,
        message="adapter in backoff",
    )
    assert all(p.quality.value != "good" for b in collector.batches[idx:] for p in b.points)
    n_before = len(collector.batches)
    await sim.start()  # same object, same port
    assert sim.port == port
    await wait_for(
        lambda: comp.state == "connected" and comp.connects >= 2, 20, message="reconnected"
    )
    # Fresh values after the restart: a count_good newer than the outage mark.
    await wait_for(
        lambda: [
            p
            for b in collector.batches[n_before:]
            for p in b.points
            if p.name == "count_good" and p.quality.value == "good"
        ],
        10,
        message="data resumed",
    )
    after = [p for b in collector.batches[n_before:] for p in b.points if p.quality.value == "good"]
    assert all(
        p.ts is not None and p.ts > marked.ts for p in after if p.name == "power_active_total_w"
    )
    assert comp.metrics()["monitored"] == len(sim.profile.points)  # every monitored item re-created
    assert comp.outages == 1


async def test_simulator_restart_fault_recreates_subscriptions(
    start_adapter, sim_factory, collector
):
    sim = await sim_factory("generic-machine-machinery", update_interval_ms=100)
    rt, comp = await start_adapter(
        sim,
        keepalive_s=0.3,
        reconnect_initial_s=0.2,
        reconnect_max_s=1.0,
        publishing_interval_ms=100,
    )
    await wait_for(lambda: collector.good("count_good"), 10, message="data before the restart")
    await sim.restart()
    await wait_for(
        lambda: comp.connects >= 2 and comp.state == "connected", 20, message="reconnected"
    )
    n = len(collector.batches)
    await wait_for(
        lambda: any(
            p.name == "x_power_on_duration_s" and p.quality.value == "good"
            for b in collector.batches[n:]
            for p in b.points
        ),
        10,
        message="data resumed",
    )
    assert any(p.reason == "comm_lost" for b in collector.batches for p in b.points)


async def test_dropped_connection_recovers(start_adapter, sim_factory, collector):
    sim = await sim_factory("siemens-s7-1500-db", update_interval_ms=100)
    rt, comp = await start_adapter(
        sim, keepalive_s=0.3, reconnect_initial_s=0.2, publishing_interval_ms=100
    )
    await wait_for(lambda: collector.good("count_good"), 10, message="data")
    sim.drop_connections()
    await wait_for(
        lambda: comp.connects >= 2 and comp.state == "connected", 20, message="reconnected"
    )
    assert comp.outages == 1
