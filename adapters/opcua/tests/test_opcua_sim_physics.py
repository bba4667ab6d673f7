"""The OPC UA machine simulators make parts like a machine (issue 12.9): only while it runs and
never faster than an ideal cycle of 2 s, so OEE performance of a recipe with that ideal cycle
stays ≤ 100 %. Pure: the simulator's value model stepped at its own update interval."""

from __future__ import annotations

import pytest
from kit_opcua.profile import OpcuaProfile
from kit_opcua.simulator import SimPoint

from kit.plugins import get_plugin_manager
from kit.profiles import ProfileLibrary

_LIB = ProfileLibrary(get_plugin_manager()).load()
MACHINES = sorted(
    pid
    for pid, p in _LIB.profiles.items()
    if isinstance(p, OpcuaProfile) and {"count_good"} <= {q.name for q in p.points}
)
IDEAL_CYCLE_S = 2.0


def test_there_are_opcua_machine_profiles():
    assert len(MACHINES) >= 4


@pytest.mark.parametrize("profile_id", MACHINES)
def test_parts_follow_running_and_the_ideal_cycle(profile_id):
    prof = _LIB.get(profile_id)
    points = [
        SimPoint(p, prof.simulation.points.get(p.name), 7 + i) for i, p in enumerate(prof.points)
    ]
    dt = prof.simulation.update_interval_ms / 1000
    values: dict = {}
    names = {p.name for p in prof.points}
    has_running = "machine_running" in names
    running_s, parts0, made_while_stopped = 0.0, None, 0
    steps = int(1800 / dt)  # half an hour of simulated updates
    for k in range(steps):
        t = k * dt
        before = (values.get("count_good", 0) or 0) + (values.get("count_reject", 0) or 0)
        was_running = bool(values.get("machine_running")) if has_running else True
        for sp in points:
            values[sp.point.name] = sp.step(t, values)
        after = (values.get("count_good", 0) or 0) + (values.get("count_reject", 0) or 0)
        if parts0 is None:
            parts0 = after
            continue
        running_now = bool(values.get("machine_running")) if has_running else True
        running_s += dt if (was_running or running_now) else 0.0
        if after > before and not (was_running or running_now):
            made_while_stopped += after - before
    made = after - parts0
    assert made_while_stopped == 0, f"{profile_id}: parts counted while stopped"
    assert 0 < made <= running_s / IDEAL_CYCLE_S + 1, (profile_id, made, running_s)
