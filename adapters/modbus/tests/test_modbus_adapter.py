"""The adapter against our simulator: decoded values, units, quality, writes, identification."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from kit_modbus.plugin import ModbusAdapter, ModbusConfig

from kit.errors import AdapterError, ConfigError
from kit.testing import wait_for

TEST_PROFILE = Path(__file__).parent / "profiles" / "kit-test-device.yaml"


def _cfg(sim, **kw):
    return {"profile": str(TEST_PROFILE), "host": sim.host, "port": sim.port, **kw}


async def test_values_units_and_quality_match_the_simulator(test_profile, sim_factory, run_adapter):
    sim = await sim_factory(test_profile)
    pins = {
        "power_active_total_w": 12345.5,
        "x_float_cdab": -2.5,
        "x_float_badc": 100.25,
        "x_float_dcba": 7.0,
        "temperature_c": 23.4,
        "count_good": 3_000_000_001,
        "count_reject": 65537,
        "x_int64": -123456,
        "x_float64": 0.1,
        "machine_state_code": 3,
        "machine_running": True,
        "x_serial": "KTD-0042",
        "x_energy_kwh": 1234.56,
        "x_alarm": True,
        "x_door_open": False,
    }
    for k, v in pins.items():
        sim.set_value(k, v)
    r = await run_adapter(_cfg(sim))
    await wait_for(
        lambda: {"x_serial", "power_active_total_w"} <= set(r.latest()),
        message="fast and slow batches",
    )
    got = r.latest()
    for name, want in pins.items():
        p = got[name]
        assert p.quality == "good", (name, p)
        if isinstance(want, float):
            assert p.value == pytest.approx(want, rel=1e-6), name
        else:
            assert p.value == want, name
    assert got["power_active_total_w"].unit == "W"
    assert got["temperature_c"].unit == "°C"
    # Fast points come more often than slow ones, in separate batches.
    await wait_for(
        lambda: (
            sum(1 for b in r.batches if "power_active_total_w" in {p.name for p in b.points}) >= 8
        )
    )
    fast = sum(1 for b in r.batches if "power_active_total_w" in {p.name for p in b.points})
    slow = sum(1 for b in r.batches if "x_serial" in {p.name for p in b.points})
    assert fast > slow >= 1
    seqs = [b.seq for b in r.batches]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


async def test_registers_on_the_wire_are_the_documented_layout(test_profile, sim_factory):
    """The simulator's registers (independent struct reference) — guards against symmetric codec bugs."""
    sim = await sim_factory(test_profile)
    sim.set_value("x_float_cdab", 123456.0)
    sim.set_value("x_float_badc", 123456.0)
    sim.set_value("x_float_dcba", 123456.0)
    sim.set_value("power_active_total_w", 123456.0)
    hr = sim.store.tables["holding"]
    a, b, c, d = struct.pack(">f", 123456.0)
    assert hr[0:2] == [a << 8 | b, c << 8 | d]
    assert hr[2:4] == [c << 8 | d, a << 8 | b]
    assert hr[4:6] == [b << 8 | a, d << 8 | c]
    assert hr[6:8] == [d << 8 | c, b << 8 | a]


async def test_write_uses_the_codec_and_right_function_codes(
    test_profile, sim_factory, run_adapter
):
    sim = await sim_factory(test_profile)
    r = await run_adapter(_cfg(sim))
    await wait_for(lambda: r.batches, message="first batch")
    await r.adapter.write("machine_state_code", 7)
    await r.adapter.write("x_alarm", True)
    assert ("holding", 40, [7]) in sim.writes
    assert ("coil", 5, [1]) in sim.writes
    await wait_for(
        lambda: r.latest()["machine_state_code"].value == 7 and r.latest()["x_alarm"].value is True,
        message="written values read back",
    )
    with pytest.raises(ConfigError):
        await r.adapter.write("power_active_total_w", 1.0)  # read-only
    with pytest.raises(ConfigError):
        await r.adapter.write("machine_state_code", 70000)  # does not fit uint16
    with pytest.raises(ConfigError):
        await r.adapter.write("no_such_point", 1)


async def test_exception_on_some_addresses_marks_only_those_points(
    test_profile, sim_factory, run_adapter
):
    sim = await sim_factory(test_profile)
    sim.set_exception("input", [101], code=4)  # server device failure on the energy register
    r = await run_adapter(_cfg(sim))
    await wait_for(lambda: "x_energy_kwh" in r.latest() and "power_active_total_w" in r.latest())
    got = r.latest()
    assert (
        got["x_energy_kwh"].quality == "bad" and got["x_energy_kwh"].reason == "modbus_exception_4"
    )
    assert got["x_energy_kwh"].value is None
    assert got["power_active_total_w"].quality == "good"


async def test_test_connection_reports_identification_and_actionable_errors(
    test_profile, sim_factory
):
    sim = await sim_factory(test_profile)
    msg = await ModbusAdapter.test_connection(ModbusConfig(**_cfg(sim)))
    assert "KTD-1" in msg and "Fast-Track Kit" in msg
    sim.set_silent(True)
    with pytest.raises(AdapterError, match="unit id"):
        await ModbusAdapter.test_connection(ModbusConfig(**_cfg(sim, timeout_s=0.2)))
    port = sim.port
    await sim.stop()
    with pytest.raises(AdapterError, match="cannot connect"):
        await ModbusAdapter.test_connection(
            ModbusConfig(profile=str(TEST_PROFILE), host="127.0.0.1", port=port)
        )


async def test_multi_register_and_bit_writes(test_profile, sim_factory, run_adapter):
    sim = await sim_factory(test_profile)
    sim.freeze()
    r = await run_adapter(_cfg(sim))
    await wait_for(lambda: r.batches, message="first batch")
    await r.adapter.write("x_float_cdab", -12.5)
    a, b, c, d = struct.pack(">f", -12.5)
    assert ("holding", 2, [c << 8 | d, a << 8 | b]) in sim.writes  # FC16, low word first
    sim.store.tables["holding"][41] = 0b1010_0000_0000_0001  # other bits that must survive
    await r.adapter.write("machine_running", True)
    assert sim.store.tables["holding"][41] == 0b1010_0000_0000_1001
    await r.adapter.write("machine_running", False)
    assert sim.store.tables["holding"][41] == 0b1010_0000_0000_0001


@pytest.mark.parametrize("pipeline", [False, True])
async def test_poller_with_and_without_pipelining(test_profile, sim_factory, pipeline):
    from kit_modbus.device import DevicePoller, spec_from_profile_point
    from kit_modbus.line import Line, LineKey

    sim = await sim_factory(test_profile)
    sim.freeze()
    sim.set_illegal("holding", [41])
    line = Line(
        LineKey("tcp", f"{sim.host}:{sim.port}"), host=sim.host, port=sim.port, timeout_s=0.5
    )
    try:
        poller = DevicePoller(
            [spec_from_profile_point(p) for p in test_profile.points],
            line,
            1,
            max_gap=8,
            pipeline=pipeline,
        )
        for _ in range(2):
            assert await poller.poll()
        keys = poller.keys_for(poller.polls)
        quals = poller.qualities(keys) or [None] * len(keys)
        points = {
            poller.specs[k].name: {"value": poller.values[k], "reason": quals[i]}
            for i, k in enumerate(keys)
        }
        assert set(points) == {p.semantic for p in test_profile.points}
        for p in test_profile.points:
            if p.semantic == "machine_running":
                assert points[p.semantic] == {"value": None, "reason": "modbus_exception_2"}
            else:
                assert points[p.semantic]["value"] == pytest.approx(sim.expected(p.semantic)), (
                    p.semantic
                )
    finally:
        line.close()
