"""Every shipped profile round-trips: `kit sim` serves it, the adapter polls it over Modbus TCP,
and every point comes back good and inside the profile's expected range."""

from __future__ import annotations

import pytest
from kit_modbus.profile import ModbusProfile

from kit.plugins import get_plugin_manager
from kit.profiles import ProfileLibrary
from kit.testing import wait_for

_LIB = ProfileLibrary(get_plugin_manager()).load()
MODBUS_IDS = sorted(pid for pid, p in _LIB.profiles.items() if isinstance(p, ModbusProfile))


def test_the_library_loads_cleanly_and_is_big_enough():
    assert _LIB.problems == []
    assert len(MODBUS_IDS) >= 14


def _params(prof: ModbusProfile) -> dict[str, int]:
    return {k: (p.default if p.default is not None else p.min) for k, p in prof.parameters.items()}


@pytest.mark.parametrize("profile_id", MODBUS_IDS)
async def test_profile_round_trips_through_sim_and_adapter(profile_id, sim_factory, run_adapter):
    prof = _LIB.get(profile_id)
    params = _params(prof)
    resolved = prof.resolve(params) if prof.is_parameterised else prof
    sim = await sim_factory(resolved)
    r = await run_adapter(
        {
            "profile": profile_id,
            "profile_params": params,
            "host": sim.host,
            "port": sim.port,
            "transport": "tcp",
            "unit_id": resolved.connection.unit_id,
            "poll_interval_s": 0.05,
            "slow_poll_interval_s": 0.1,
        }
    )
    names = {p.semantic for p in resolved.points}
    await wait_for(
        lambda: names <= set(r.latest()), timeout=20, message=f"all points of {profile_id}"
    )
    got = r.latest()
    for p in resolved.points:
        point = got[p.semantic]
        assert point.quality == "good", (profile_id, point)
        assert point.unit == p.unit, (profile_id, p.semantic)
        if p.range is not None:
            lo, hi = p.range
            # Half a count of the register's resolution: the sim rounds to what the type holds.
            slack = (
                abs(p.scale) / 2
                if p.type not in ("float32", "float64")
                else 1e-3 * max(1.0, abs(hi))
            )
            assert lo - slack <= float(point.value) <= hi + slack, (
                profile_id,
                p.semantic,
                point.value,
                p.range,
            )
