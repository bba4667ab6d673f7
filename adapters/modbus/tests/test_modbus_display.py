"""Display precision on the bus (issue 12.9): the decoded value a batch carries has no binary
float artefacts — rounded at decode to its point's resolution (docs/bus.md)."""

from __future__ import annotations

from pathlib import Path

from kit.testing import wait_for

TEST_PROFILE = Path(__file__).parent / "profiles" / "kit-test-device.yaml"
FAST = {"poll_interval_s": 0.02, "slow_poll_interval_s": 0.1}


async def test_bus_values_carry_no_float_noise(test_profile, sim_factory, run_adapter):
    sim = await sim_factory(test_profile)
    # int16 × 0.1: 1001 × 0.1 is 100.10000000000001 in binary floating point.
    assert 1001 * 0.1 != 100.1
    sim.set_value("temperature_c", 100.1)
    # float32: 123.4 is 123.40000152587891 as a float32 widened to a double.
    sim.set_value("x_float_cdab", 123.4)
    # uint32 × 0.01 counter: 12345601 × 0.01 = 123456.01000000001.
    assert 12345601 * 0.01 != 123456.01
    sim.set_value("x_energy_kwh", 123456.01)
    r = await run_adapter(
        {"profile": str(TEST_PROFILE), "host": sim.host, "port": sim.port, **FAST}
    )
    await wait_for(lambda: "x_energy_kwh" in r.latest(), message="a slow batch")
    got = r.latest()
    assert repr(got["temperature_c"].value) == "100.1"
    assert repr(got["x_float_cdab"].value) == "123.4"
    assert repr(got["x_energy_kwh"].value) == "123456.01"


async def test_probe_text_keeps_every_significant_digit(test_profile, sim_factory):
    from kit_modbus.probe import probe_device, render

    sim = await sim_factory(test_profile)
    sim.set_value("x_energy_kwh", 123456.71)  # 6 significant digits would print 123457
    sim.set_value("temperature_c", 100.1)
    text = render(await probe_device(test_profile, sim.host, sim.port))
    line = next(t for t in text.splitlines() if t.startswith("x_energy_kwh"))
    assert "123456.71" in line and "123457 " not in line, line
    assert "100.1 " in next(t for t in text.splitlines() if t.startswith("temperature_c"))
