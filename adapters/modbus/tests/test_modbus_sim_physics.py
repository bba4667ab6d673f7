"""Every shipped simulator is physically consistent (issue 12.9, "a demo a technician would
believe"): each Modbus profile with a ``simulation`` section is served by ``kit sim``, polled
over Modbus TCP at a series of simulated instants, and the polled values are checked against
relations implemented here, independently of the kit (vocabulary relations live on another
branch): phases sum to totals, V_LL = √3·V_LN, I_avg = mean of phases, S² = P² + Q², |PF| ≤ 1,
counters that integrate the polled power, machines no faster than their ideal cycle.
Zero violations allowed.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from kit_modbus.line import Line, LineKey
from kit_modbus.plugin import ModbusAdapter, ModbusConfig
from kit_modbus.profile import ModbusProfile

from kit.plugins import get_plugin_manager
from kit.profiles import ProfileLibrary

_LIB = ProfileLibrary(get_plugin_manager()).load()
SIMULATED = sorted(
    pid
    for pid, p in _LIB.profiles.items()
    if isinstance(p, ModbusProfile) and "simulation" in p.model_fields_set
)
PH = ("l1", "l2", "l3")


def _close(a: float, b: float, rel: float, abs_: float = 0.0) -> bool:
    return abs(a - b) <= max(rel * max(abs(a), abs(b)), abs_)


def relation_violations(v: dict[str, Any]) -> list[str]:
    """Relations of one instant's values (only those whose quantities the profile has)."""
    out: list[str] = []

    def has(*names: str) -> bool:
        return all(isinstance(v.get(n), (int, float)) for n in names)

    def check(ok: bool, what: str) -> None:
        if not ok:
            out.append(what)

    for kind, unit in (("active", "w"), ("reactive", "var")):
        names = [f"power_{kind}_{p}_{unit}" for p in PH]
        total = f"power_{kind}_total_{unit}"
        if has(*names, total):
            s = sum(v[n] for n in names)
            check(_close(s, v[total], 0.01, 2.0), f"Σ {kind} phases {s:.1f} ≠ total {v[total]}")
    for p in ("l1", "l2", "l3", "total"):
        pw, qw, sw = f"power_active_{p}_w", f"power_reactive_{p}_var", f"power_apparent_{p}_va"
        if has(pw, qw, sw):
            check(
                _close(v[sw] ** 2, v[pw] ** 2 + v[qw] ** 2, 0.02, 4.0),
                f"S² ≠ P² + Q² on {p}: {v[sw]}, {v[pw]}, {v[qw]}",
            )
        if has(pw, sw):
            check(abs(v[pw]) <= v[sw] * 1.001 + 1, f"|P| > S on {p}: {v[pw]} > {v[sw]}")
        pf = f"power_factor_{p}"
        if has(pf):
            check(abs(v[pf]) <= 1.0, f"|{pf}| = {v[pf]} > 1")
            if has(pw, sw) and v[sw] > 0:
                check(
                    _close(abs(v[pf]), abs(v[pw]) / v[sw], 0.02, 0.01),
                    f"{pf} {v[pf]} ≠ P/S {v[pw] / v[sw]:.3f}",
                )
    for a, b in (("l1", "l2"), ("l2", "l3"), ("l3", "l1")):
        ll, va, vb = f"voltage_{a}_{b}_v", f"voltage_{a}_n_v", f"voltage_{b}_n_v"
        if has(ll, va, vb):
            ref = math.sqrt(3) * (v[va] + v[vb]) / 2
            check(_close(v[ll], ref, 0.01), f"{ll} {v[ll]} ≠ √3·V_LN {ref:.1f}")
    phases_i = [f"current_{p}_a" for p in PH]
    if has(*phases_i, "current_avg_a"):
        m = sum(v[n] for n in phases_i) / 3
        check(_close(v["current_avg_a"], m, 0.01, 0.05), f"I_avg {v['current_avg_a']} ≠ {m:.2f}")
    if has(*phases_i, "current_sum_a"):
        s = sum(v[n] for n in phases_i)
        check(_close(v["current_sum_a"], s, 0.01, 0.05), f"I_sum {v['current_sum_a']} ≠ {s:.2f}")
    phases_v = [f"voltage_{p}_n_v" for p in PH]
    if has(*phases_v, "voltage_ln_avg_v"):
        m = sum(v[n] for n in phases_v) / 3
        check(_close(v["voltage_ln_avg_v"], m, 0.005), f"V_avg {v['voltage_ln_avg_v']} ≠ {m:.1f}")
    for p in PH:
        vv, ii, pw, sw = f"voltage_{p}_n_v", f"current_{p}_a", f"power_active_{p}_w", None
        sw = f"power_apparent_{p}_va"
        if has(vv, ii, sw):
            check(_close(v[vv] * v[ii], v[sw], 0.02, 2.0), f"V·I ≠ S on {p}")
        if has(vv, ii, pw):
            check(abs(v[pw]) <= v[vv] * v[ii] * 1.02 + 2, f"P > V·I on {p}")
    if has("frequency_hz"):
        check(45 <= v["frequency_hz"] <= 65, f"frequency {v['frequency_hz']}")
    if has("energy_active_total_kwh", "energy_active_import_total_kwh"):
        exp = v.get("energy_active_export_total_kwh") or 0.0
        check(
            _close(v["energy_active_total_kwh"], v["energy_active_import_total_kwh"] + exp, 1e-5),
            "energy total ≠ import + export",
        )
    if has("cycle_time_s", "machine_running") and v["machine_running"]:
        check(v["cycle_time_s"] > 0, "cycle time ≤ 0 while running")
    return out


async def _snapshots(prof: ModbusProfile, times: list[float], sim_factory) -> list[dict]:
    sim = await sim_factory(prof)
    line = Line(LineKey("tcp", f"{sim.host}:{sim.port}"), host=sim.host, port=sim.port)
    cfg = ModbusConfig.model_validate(
        {"profile": prof.id, "host": sim.host, "port": sim.port, "transport": "tcp"}
    )
    poller = ModbusAdapter.build_poller(cfg, prof, line)
    out = []
    try:
        for t in times:
            sim.freeze_at(t)
            assert await poller.poll(), f"{prof.id}: no answer at t={t}"
            bad = {s.name: r for s, r in zip(poller.specs, poller.reasons) if r is not None}
            assert not bad, (prof.id, t, bad)
            out.append({s.name: val for s, val in zip(poller.specs, poller.values)})
    finally:
        line.close()
    return out


def _integral(times: list[float], values: list[float]) -> float:
    return sum(
        (times[k + 1] - times[k]) * (values[k] + values[k + 1]) / 2 for k in range(len(times) - 1)
    )


def test_every_meter_and_machine_profile_is_simulated():
    meters = {"eastron-sdm630", "eastron-sdm120", "janitza-umg96rm", "siemens-pac3200"}
    assert meters | {"siemens-s7-mb-server"} <= set(SIMULATED)


@pytest.mark.parametrize("profile_id", SIMULATED)
async def test_simulator_values_obey_physics(profile_id, sim_factory):
    prof = _LIB.get(profile_id)
    if prof.is_parameterised:
        prof = prof.resolve()
    t0, step, n = 1000.0, 10.0, 91  # 15 simulated minutes, a value every 10 s
    times = [t0 + k * step for k in range(n)]
    snaps = await _snapshots(prof, times, sim_factory)
    violations = [f"t={t:g}: {msg}" for t, s in zip(times, snaps) for msg in relation_violations(s)]
    names = set(snaps[0])
    # Counters never decrease, and an energy counter rises by ∫P dt of the polled power.
    for name in sorted(names):
        if name.startswith(("energy_", "count_")):
            seq = [s[name] for s in snaps]
            drops = [(a, b) for a, b in zip(seq, seq[1:]) if b < a]
            if drops:
                violations.append(f"{name} decreases: {drops[:3]}")
    pairs = [("energy_active_import_total_kwh", "power_active_total_w")]
    pairs += [(f"energy_active_import_{p}_kwh", f"power_active_{p}_w") for p in PH]
    for energy, power in pairs:
        if energy in names and power in names:
            rise = snaps[-1][energy] - snaps[0][energy]
            ref = _integral(times, [s[power] for s in snaps]) / 3.6e6
            # float32 counters near 10⁵ kWh resolve ~0.008 kWh, integer ones their scale:
            # two readings, two roundings.
            p = prof.point(energy)
            res = abs(p.scale) if p.type not in ("float32", "float64") else 0.01
            if not _close(rise, ref, 0.02, 2 * res):
                violations.append(f"{energy} rose {rise:.4f} kWh, ∫{power} dt = {ref:.4f} kWh")
    machine = prof.simulation.machine
    if machine is None and {"count_good", "machine_running"} <= names:
        violations.append("part counters without a machine model ignore the running signal")
    if machine is not None and {"count_good", "count_reject", "machine_running"} <= names:
        parts = [s["count_good"] + s["count_reject"] for s in snaps]
        run = [float(s["machine_running"]) for s in snaps]
        # Running time measured from the polled signal (rectangles), plus one sample of slack.
        running_s = sum(step * r for r in run[:-1]) + step
        made = parts[-1] - parts[0]
        best = running_s / machine.ideal_cycle_s + 1
        if made > best:
            violations.append(f"{made} parts in {running_s} s running: faster than ideal cycle")
        if made <= 0:
            violations.append("the machine made no parts in 15 minutes")
        cycles = [s["cycle_time_s"] for s in snaps if "cycle_time_s" in s]
        if cycles and min(cycles) < machine.ideal_cycle_s:
            violations.append(f"cycle time {min(cycles)} below ideal {machine.ideal_cycle_s}")
    assert violations == [], f"{profile_id}: {len(violations)} violation(s): {violations[:8]}"


def test_energy_counter_integrates_power_over_a_long_jump_and_restarts_with_time():
    from kit_modbus.sim_models import ElectricalModel, MachineModel

    names = {"power_active_total_w": None, "energy_active_import_total_kwh": None}
    m = ElectricalModel(current_a=[20.0], energy_import_kwh=100.0)
    s = m.samplers(names)
    p, e = s["power_active_total_w"], s["energy_active_import_total_kwh"]
    assert e(0.0) == 100.0
    # A day at once (coarser steps) against the mean of the power sampled every minute.
    day = 86400.0
    mean_w = sum(p(t) for t in range(30, int(day), 60)) / len(range(30, int(day), 60))
    rise = e(day) - 100.0
    assert abs(rise - mean_w * day / 3.6e6) <= 0.01 * rise
    # Time going backwards (a restarted simulation) starts the counter again, same path.
    fresh = ElectricalModel(current_a=[20.0], energy_import_kwh=100.0).samplers(names)
    assert e(600.0) == fresh["energy_active_import_total_kwh"](600.0)
    with pytest.raises(ValueError, match="never cycles faster"):
        MachineModel(slowdown=(0.9, 1.2))


def test_machine_part_counters_never_go_down_between_polls():
    """A part once counted good stays good: the demo's simulated PLC used to turn a counted
    good part into a reject for a fraction of a second (good 10033 → 10032), which the OEE
    engine must read as a reset or correction — and once read as a reset, OEE showed 23 450 %.
    Sampled every 0.1 s (the physics test above polls every 10 s and misses such a blip)."""
    model = _LIB.get("siemens-s7-mb-server").simulation.machine  # the demo's machine
    assert model is not None and model.reject_ratio > 0
    s = model.samplers()
    drops = []
    for name in ("count_good", "count_reject", "count_total"):
        seq = [(k / 10, s[name](k / 10)) for k in range(0, 6000)]
        drops += [(name, a, b) for a, b in zip(seq, seq[1:]) if b[1] < a[1]]
    assert drops == [], drops[:3]
    # Rejects are still made, at the declared ratio of whole parts.
    made = s["count_good"](600.0) + s["count_reject"](600.0) - model.good_start - model.reject_start
    assert s["count_reject"](600.0) - model.reject_start == int(made * model.reject_ratio) > 0
