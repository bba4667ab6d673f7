"""Plausibility relations (kit/relations.py): values computed here from first principles
(phasors, P = V·I·cos φ), independently of any simulator; each relation is shown to hold on a
consistent system and to fire on the errors it exists for."""

from __future__ import annotations

import cmath
import math

import pytest

from kit.relations import RELATIONS, evaluate, score
from kit.vocabulary import lookup


def _system(unbalance: float = 0.0) -> dict[str, float]:
    """A 400 V / 230 V three-phase load; ``unbalance`` skews the phase voltages and currents."""
    v = [230.0 * (1 + unbalance), 230.0, 230.0 * (1 - unbalance)]
    i = [20.0 * (1 + 2 * unbalance), 18.0, 16.0]
    phi = [math.acos(0.85), math.acos(0.8), math.acos(0.9)]
    ph = [cmath.rect(v[k], -2 * math.pi * k / 3) for k in range(3)]
    out: dict[str, float] = {"frequency_hz": 49.98}
    for k, p in enumerate(("l1", "l2", "l3")):
        s = v[k] * i[k]
        out |= {
            f"voltage_{p}_n_v": v[k],
            f"current_{p}_a": i[k],
            f"power_apparent_{p}_va": s,
            f"power_active_{p}_w": s * math.cos(phi[k]),
            f"power_reactive_{p}_var": s * math.sin(phi[k]),
            f"power_factor_{p}": math.cos(phi[k]),
        }
    out["voltage_l1_l2_v"] = abs(ph[0] - ph[1])
    out["voltage_l2_l3_v"] = abs(ph[1] - ph[2])
    out["voltage_l3_l1_v"] = abs(ph[2] - ph[0])
    p_tot = sum(out[f"power_active_{p}_w"] for p in ("l1", "l2", "l3"))
    q_tot = sum(out[f"power_reactive_{p}_var"] for p in ("l1", "l2", "l3"))
    out["power_active_total_w"] = p_tot
    out["power_reactive_total_var"] = q_tot
    out["power_apparent_total_va"] = math.hypot(p_tot, q_tot)  # vector sum
    out["power_factor_total"] = p_tot / math.hypot(p_tot, q_tot)
    out["current_avg_a"] = sum(i) / 3
    out["current_sum_a"] = sum(i)
    out["voltage_ln_avg_v"] = sum(v) / 3
    out["voltage_ll_avg_v"] = sum(out[f"voltage_{x}_v"] for x in ("l1_l2", "l2_l3", "l3_l1")) / 3
    return out


def _by_id(checks):
    return {c.relation: c for c in checks}


def test_a_consistent_meter_satisfies_every_applicable_relation():
    checks = evaluate(_system())
    sat, vio = score(checks)
    assert vio == 0, [c for c in checks if c.status == "violated"]
    assert sat >= 27
    # OEE relations need OEE values: not applicable here, and they say why.
    oee = _by_id(checks)["oee_fraction"]
    assert oee.status == "not_applicable" and "oee" in oee.evidence


def test_real_unbalance_is_tolerated():
    # 5 % voltage unbalance: line voltages are no longer exactly √3 × the phase average.
    checks = _by_id(evaluate(_system(0.05)))
    assert checks["sqrt3_avg"].status == "satisfied"
    assert checks["sqrt3_l1_l2"].status == "satisfied"


def test_sum_of_phases_evidence_and_violation():
    vals = _system()
    ok = _by_id(evaluate(vals))["sum_active_power"]
    assert ok.status == "satisfied"
    assert ok.evidence.startswith("Σ phase P ≈ total P within")
    # The symptom: a total read one register off (6553.6 W) against ~10 kW of phases.
    vals["power_active_total_w"] = 6553.6
    bad = _by_id(evaluate(vals))["sum_active_power"]
    phases = sum(vals[f"power_active_{p}_w"] for p in ("l1", "l2", "l3"))
    assert bad.status == "violated"
    assert bad.error == pytest.approx(abs(phases - 6553.6) / phases)
    assert "tolerance 2 %" in bad.evidence


def test_neighbour_values_break_the_relations():
    """Every point showing its neighbour's value (address one register off on 16-bit values):
    ranges still pass, relations do not."""
    vals = _system()
    shifted = dict(vals)
    shifted["voltage_l1_n_v"], shifted["voltage_l2_n_v"], shifted["voltage_l3_n_v"] = (
        vals["voltage_l2_n_v"],
        vals["voltage_l3_n_v"],
        vals["voltage_l1_l2_v"],
    )
    shifted["power_active_l1_w"], shifted["power_active_l2_w"], shifted["power_active_l3_w"] = (
        vals["power_active_l2_w"],
        vals["power_active_l3_w"],
        vals["power_apparent_l1_va"],
    )
    _, vio = score(evaluate(shifted))
    assert vio >= 3


@pytest.mark.parametrize(
    ("name", "value", "relation"),
    [
        ("power_factor_l1", 1.2, "pf_bound_l1"),
        ("power_active_l2_w", 9000.0, "p_le_s_l2"),
        ("power_apparent_total_va", 20000.0, "s2_p2_q2_total"),
        ("power_factor_total", 0.5, "pf_ratio_total"),
        ("frequency_hz", 0.0, "frequency_nominal"),
        ("frequency_hz", 55.0, "frequency_nominal"),
        ("current_avg_a", 25.0, "mean_current"),
        ("voltage_l1_l2_v", 230.0, "sqrt3_l1_l2"),
    ],
)
def test_each_relation_fires_on_its_error(name, value, relation):
    vals = _system()
    vals[name] = value
    assert _by_id(evaluate(vals))[relation].status == "violated"


def test_sixty_hertz_supply_is_nominal():
    vals = _system() | {"frequency_hz": 59.9}
    assert _by_id(evaluate(vals))["frequency_nominal"].status == "satisfied"


def test_missing_or_non_finite_values_make_a_relation_not_applicable():
    vals = _system()
    vals["power_active_l3_w"] = float("nan")
    del vals["current_sum_a"]
    checks = _by_id(evaluate(vals))
    assert checks["sum_active_power"].status == "not_applicable"
    assert "power_active_l3_w" in checks["sum_active_power"].evidence
    assert checks["sum_current"].status == "not_applicable"


def test_counters_never_decrease_and_follow_the_integral_of_power():
    p = 12_000.0  # W, constant for one hour → 12 kWh
    before = {"energy_active_import_total_kwh": 1000.0, "power_active_total_w": p}
    after = {"energy_active_import_total_kwh": 1012.0, "power_active_total_w": p}
    checks = _by_id(evaluate(after, previous=before, elapsed_s=3600.0))
    assert checks["counter_rises:energy_active_import_total_kwh"].status == "satisfied"
    integral = checks["integral:energy_active_import_total_kwh"]
    assert integral.status == "satisfied" and integral.error == pytest.approx(0.0, abs=1e-12)
    # A counter that rose by 3 kWh while 12 kWh flowed: not the counter of this power.
    wrong = after | {"energy_active_import_total_kwh": 1003.0}
    checks = _by_id(evaluate(wrong, previous=before, elapsed_s=3600.0))
    assert checks["integral:energy_active_import_total_kwh"].status == "violated"
    # Decreasing counter.
    down = after | {"energy_active_import_total_kwh": 999.0}
    checks = _by_id(evaluate(down, previous=before))
    assert checks["counter_rises:energy_active_import_total_kwh"].status == "violated"
    # Too little energy to judge the integral (60 s at 12 kW = 0.2 kWh).
    checks = _by_id(evaluate(after, previous=before, elapsed_s=60.0))
    assert checks["integral:energy_active_import_total_kwh"].status == "not_applicable"


def test_oee_factors_and_parts():
    a, e, q = 0.9, 0.95, 0.98
    good = {"oee": a * e * q, "availability": a, "effectiveness": e, "quality": q}
    good |= {"produced": 100, "good": 98, "reject": 2}
    assert score(evaluate(good))[1] == 0
    over = good | {"effectiveness": 1.275, "oee": a * 1.275 * q}
    checks = _by_id(evaluate(over))
    assert checks["effectiveness_fraction"].status == "violated"
    assert checks["oee_product"].status == "satisfied"  # consistent, but over 100 %
    assert _by_id(evaluate(good | {"good": 99}))["parts_add_up"].status == "violated"


def test_relations_name_only_vocabulary_terms_or_oee_kpis():
    kpis = {"oee", "availability", "effectiveness", "quality", "produced", "good", "reject"}
    for r in RELATIONS:
        for n in r.names:
            assert n in kpis or lookup(n) is not None, (r.id, n)
    assert len({r.id for r in RELATIONS}) == len(RELATIONS)


def test_monitor_is_rate_limited_and_reports_changes_once():
    from kit.relations import Monitor

    m = Monitor(interval_s=10.0)
    vals = _system()
    assert m.observe(vals, now=100.0) == (set(), set())
    assert m.observe(vals, now=105.0) is None  # not due: nothing evaluated
    bad = vals | {"power_active_total_w": 1.0}
    new, gone = m.observe(bad, now=110.0)
    # A wrong total breaks every relation it is in (Σ phases, S² = P² + Q², PF = P/S).
    assert new == {"Σ phase P ≈ total P", "S² ≈ P² + Q² (total)", "|PF total| ≈ |P| / S"}
    assert gone == set()
    assert m.observe(bad, now=120.0) == (set(), set())  # still violated: not new again
    new, gone = m.observe(vals, now=130.0)
    assert new == set() and "Σ phase P ≈ total P" in gone
    s = m.summary()
    assert s["evaluations"] == 4 and s["violated_now"] == []
    assert s["by_relation"]["Σ phase P ≈ total P"] == 2
    assert s["violations"] == 6
    assert Monitor(interval_s=0).due(1e9) is False  # 0 = off
