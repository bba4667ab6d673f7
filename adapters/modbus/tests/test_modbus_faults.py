"""Fault behaviour against our simulator: a device that dies and returns, a dead device beside a
live one on the same gateway, and exception-02 holes learned. Counts, never wall-clock limits."""

from __future__ import annotations

import logging
from pathlib import Path

from kit.testing import wait_for

TEST_PROFILE = Path(__file__).parent / "profiles" / "kit-test-device.yaml"
FAST = {"poll_interval_s": 0.02, "slow_poll_interval_s": 0.1}


def _cfg(sim, **kw):
    return {"profile": str(TEST_PROFILE), "host": sim.host, "port": sim.port, **FAST, **kw}


def _all_bad(batch) -> bool:
    return all(p.quality == "bad" and p.value is None and p.reason for p in batch.points)


def _all_good(batch) -> bool:
    return all(p.quality == "good" for p in batch.points)


async def test_device_dies_and_returns_without_reconnect_storm(
    test_profile, sim_factory, run_adapter, caplog
):
    caplog.set_level(logging.WARNING)
    sim = await sim_factory(test_profile)
    r = await run_adapter(_cfg(sim, timeout_s=0.2, backoff_initial_s=0.1, backoff_max_s=0.8))
    await wait_for(lambda: r.batches and _all_good(r.batches[-1]), message="good data")
    poller = r.adapter.poller
    line = r.adapter.line
    await sim.stop()
    await wait_for(lambda: poller.breaker_open, message="breaker open")
    down_at = len(r.batches)
    attempts_before = line.connect_attempts
    skipped_before = poller.stats.skipped_cycles
    probes_before = len(poller.probe_times)
    await wait_for(
        lambda: len(poller.probe_times) >= probes_before + 4, timeout=20, message="four probes"
    )
    down_batches = r.batches[down_at:]
    # While down: every point bad with a reason, never the stale value as good.
    assert down_batches and all(_all_bad(b) for b in down_batches)
    assert {p.reason for b in down_batches for p in b.points} <= {"comm_lost", "timeout"}
    # No storm: one connection attempt per probe, while many more poll cycles went by untouched.
    attempts = line.connect_attempts - attempts_before
    probes = len(poller.probe_times) - probes_before
    skipped = poller.stats.skipped_cycles - skipped_before
    assert attempts <= probes + 1
    assert skipped > 2 * attempts
    # Probes back off: spacing grows (doubling with at most 25 % jitter) until the cap.
    gaps = [b - a for a, b in zip(poller.probe_times, poller.probe_times[1:])]
    assert gaps[1] > gaps[0] and gaps[2] > gaps[0]
    # The device returns on the same port: data resumes by itself.
    await sim.start()
    back_at = len(r.batches)
    await wait_for(
        lambda: any(_all_good(b) for b in r.batches[back_at:]), timeout=20, message="data resumes"
    )
    assert not poller.down
    down_lines = [rec for rec in caplog.records if "device down" in rec.getMessage()]
    up_lines = [rec for rec in caplog.records if "device recovered" in rec.getMessage()]
    assert len(down_lines) == 1 and len(up_lines) == 1
    # Health said so too.
    await wait_for(
        lambda: any(h.get("kind") == "device" and not h["metrics"]["connected"] for h in r.health)
    )
    await wait_for(
        lambda: r.health and r.health[-1]["metrics"]["connected"], message="health connected again"
    )
    assert r.health[-1]["metrics"]["last_good_read"] is not None


async def test_dead_device_on_a_gateway_does_not_slow_the_live_one(
    test_profile, sim_factory, run_adapter
):
    gateway = await sim_factory(test_profile, unit_ids=[1, 2])
    control = await sim_factory(test_profile)  # the same live device alone on its own line
    gateway.set_silent(True, unit_id=2)
    cfg = dict(
        timeout_s=0.1, backoff_initial_s=1.0, backoff_max_s=5.0, points=["power_active_total_w"]
    )
    live = await run_adapter(_cfg(gateway, unit_id=1, **cfg), name="live", asset="test/a/l/live")
    dead = await run_adapter(_cfg(gateway, unit_id=2, **cfg), name="dead", asset="test/a/l/dead")
    alone = await run_adapter(_cfg(control, unit_id=1, **cfg), name="alone", asset="test/a/l/alone")
    await wait_for(
        lambda: all(x.adapter.line is not None for x in (live, dead, alone)), message="lines"
    )
    assert live.adapter.line is dead.adapter.line and live.adapter.line is not alone.adapter.line
    await wait_for(
        lambda: dead.adapter.poller is not None and dead.adapter.poller.breaker_open,
        message="breaker",
    )
    n_live, n_alone = len(live.batches), len(alone.batches)
    await wait_for(
        lambda: len(alone.batches) >= n_alone + 60, timeout=30, message="60 batches of the control"
    )
    d_live, d_alone = len(live.batches) - n_live, len(alone.batches) - n_alone
    assert d_live >= 0.75 * d_alone, (d_live, d_alone)
    assert all(_all_good(b) for b in live.batches[n_live:]), [
        p for b in live.batches[n_live:] for p in b.points if p.quality != "good"
    ]
    assert dead.batches and all(_all_bad(b) for b in dead.batches)
    assert {p.reason for b in dead.batches for p in b.points} == {"timeout"}


async def test_exception_02_holes_are_learned(test_profile, sim_factory, run_adapter):
    sim = await sim_factory(test_profile)
    sim.set_illegal(
        "holding", [9]
    )  # a hole in the gap between x_float_dcba (6-7) and temperature_c (10)
    sim.set_illegal("holding", [41])  # machine_running's own register is not there
    r = await run_adapter(_cfg(sim))
    await wait_for(lambda: len(r.batches) >= 5 and "x_serial" in r.latest(), message="batches")
    poller = r.adapter.poller
    got = r.latest()
    assert (
        got["machine_running"].quality == "bad"
        and got["machine_running"].reason == "modbus_exception_2"
    )
    assert all(p.quality == "good" for n, p in got.items() if n != "machine_running"), got
    assert ("holding", 10) in poller.planner.cuts
    assert poller.health()["illegal_points"] == ["machine_running"]
    # Learned once: later cycles cause no more exceptions and keep the point bad.
    errors, cycles = dict(poller.stats.errors), poller.stats.cycles
    await wait_for(lambda: poller.stats.cycles >= cycles + 10, message="ten more cycles")
    assert poller.stats.errors == errors
    assert all(
        p.reason == "modbus_exception_2"
        for b in r.batches[-5:]
        for p in b.points
        if p.name == "machine_running"
    )


async def test_rtu_over_tcp_line_has_one_request_in_flight(test_profile, sim_factory, run_adapter):
    """Two RS-485 devices behind a transparent serial server: RTU framing, requests never overlap."""
    line = await sim_factory(test_profile, unit_ids=[1, 2], framer="rtu")
    line.set_delay(0.01)  # a slow line makes overlapping requests visible if they happen
    cfg = dict(transport="rtu_over_tcp", timeout_s=0.5, max_tcp_connections=4)
    a = await run_adapter(_cfg(line, unit_id=1, **cfg), name="rtu1", asset="test/a/l/rtu1")
    b = await run_adapter(_cfg(line, unit_id=2, **cfg), name="rtu2", asset="test/a/l/rtu2")
    await wait_for(
        lambda: len(a.batches) >= 10 and len(b.batches) >= 10, timeout=30, message="both polled"
    )
    assert a.adapter.line is b.adapter.line and len(a.adapter.line.conns) == 1
    assert line.max_in_flight == 1
    assert all(_all_good(x) for x in a.batches + b.batches)
    assert line.connections == 1


async def test_dropped_connection_reconnects_once_and_data_resumes(
    test_profile, sim_factory, run_adapter
):
    sim = await sim_factory(test_profile)
    r = await run_adapter(_cfg(sim, timeout_s=0.3, backoff_initial_s=0.1))
    await wait_for(lambda: len(r.batches) >= 3 and _all_good(r.batches[-1]), message="good data")
    assert sim.connections == 1
    assert sim.drop_connections() == 1
    n = len(r.batches)
    await wait_for(
        lambda: len(r.batches) > n + 5 and _all_good(r.batches[-1]), timeout=20, message="resumed"
    )
    assert sim.connections == 2  # one reconnect, not a storm
    # Whatever happened in between was either good data or bad with a reason — never stale.
    for b in r.batches[n:]:
        for p in b.points:
            assert (p.quality == "good" and p.value is not None) or (
                p.quality == "bad" and p.reason and p.value is None
            )


async def test_slow_device_times_out_then_recovers(test_profile, sim_factory, run_adapter):
    sim = await sim_factory(test_profile)
    r = await run_adapter(_cfg(sim, timeout_s=0.1, backoff_initial_s=0.1, backoff_max_s=0.2))
    await wait_for(lambda: r.batches and _all_good(r.batches[-1]), message="good data")
    sim.set_delay(0.5)
    await wait_for(lambda: r.adapter.poller.down, message="device down")
    n = len(r.batches)
    await wait_for(lambda: len(r.batches) > n, message="a bad batch")
    assert all(p.reason == "timeout" for p in r.batches[-1].points)
    sim.set_delay(0)
    await wait_for(
        lambda: not r.adapter.poller.down and _all_good(r.batches[-1]),
        timeout=20,
        message="recovered",
    )
