"""Constants table, I-MR and X̄-R limits (phase I and given), Cp/Cpk against a plain-Python reference."""

from __future__ import annotations

import math
import statistics

import pytest
from kit_spc.capability import RollingCapability
from kit_spc.charts import ControlChart, limits_given
from kit_spc.constants import E2, constants


@pytest.mark.parametrize("n", range(2, 11))
def test_constants_follow_from_d2_d3(n: int) -> None:
    c = constants(n)
    assert c.A2 == pytest.approx(3 / (c.d2 * math.sqrt(n)), abs=0.002)
    assert c.D3 == pytest.approx(max(0.0, 1 - 3 * c.d3 / c.d2), abs=0.002)
    assert c.D4 == pytest.approx(1 + 3 * c.d3 / c.d2, abs=0.002)


def test_constants_table_values_and_range() -> None:
    # Spot values copied from the standards sheet table.
    assert (constants(2).A2, constants(2).D4, constants(2).d2) == (1.880, 3.267, 1.128)
    assert (constants(5).A2, constants(5).D3, constants(5).d2) == (0.577, 0.0, 2.326)
    assert (constants(10).A2, constants(10).D3, constants(10).D4) == (0.308, 0.223, 1.777)
    assert E2 == pytest.approx(2.66, abs=0.001)
    for bad in (0, 1, 11):
        with pytest.raises(ValueError):
            constants(bad)


DATA = [
    10.2,
    9.8,
    10.1,
    10.4,
    9.9,
    10.0,
    10.3,
    9.7,
    10.1,
    10.0,
    10.2,
    9.9,
    10.5,
    9.8,
    10.0,
    10.1,
    9.9,
    10.2,
    10.0,
    10.3,
]


def test_imr_phase1_limits_and_replay() -> None:
    ch = ControlChart(subgroup_size=1, phase1_points=20, rules=("nelson1",))
    out = []
    for i, x in enumerate(DATA):
        out += ch.add(float(i), x)
    assert len(out) == 20 and all(p.phase == 1 for p in out)
    xbar = sum(DATA) / len(DATA)
    mrbar = sum(abs(b - a) for a, b in zip(DATA, DATA[1:])) / (len(DATA) - 1)
    lim = ch.limits
    assert lim.cl == pytest.approx(xbar)
    assert lim.ucl == pytest.approx(xbar + 3 * mrbar / 1.128)
    assert lim.lcl == pytest.approx(xbar - 3 * mrbar / 1.128)
    assert (lim.r_cl, lim.r_ucl, lim.r_lcl) == pytest.approx((mrbar, 3.267 * mrbar, 0.0))
    # Phase II: a point far above UCL is a nelson1 violation on the x chart.
    p = ch.add(20.0, xbar + 5 * mrbar)[0]
    assert p.phase == 2 and [(c, v.rule) for c, v in p.violations] == [
        ("x", "nelson1"),
        ("r", "nelson1"),
    ]


def test_xbar_r_phase1_limits() -> None:
    n = 4
    ch = ControlChart(subgroup_size=n, phase1_points=5)
    pts = []
    for i, x in enumerate(DATA):
        pts += ch.add(float(i), x)
    groups = [DATA[i : i + n] for i in range(0, 20, n)]
    xbarbar = sum(sum(g) / n for g in groups) / 5
    rbar = sum(max(g) - min(g) for g in groups) / 5
    assert [p.value for p in pts] == pytest.approx([sum(g) / n for g in groups])
    assert [p.ts for p in pts] == [3.0, 7.0, 11.0, 15.0, 19.0]
    lim = ch.limits
    assert (lim.cl, lim.ucl, lim.lcl) == pytest.approx(
        (xbarbar, xbarbar + 0.729 * rbar, xbarbar - 0.729 * rbar)
    )
    assert (lim.r_ucl, lim.r_lcl) == pytest.approx((2.282 * rbar, 0.0))


def test_given_limits_skip_phase1_and_derive_spread_chart() -> None:
    lim = limits_given(5, 50.0, 53.0, 47.0)
    assert lim.r_cl == pytest.approx(3.0 / 0.577)
    ch = ControlChart(subgroup_size=1, limits=limits_given(1, 50.0, 53.0, 47.0), rules=("nelson1",))
    p = ch.add(0.0, 53.5)
    assert (
        p
        and p[0].phase == 2
        and p[0].z == pytest.approx(3.5)
        and p[0].violations[0][1].rule == "nelson1"
    )


def test_asymmetric_given_limits_use_the_side_of_the_point() -> None:
    lim = limits_given(1, 10.0, 16.0, 7.0)
    assert lim.z(14.0) == pytest.approx(2.0) and lim.z(8.0) == pytest.approx(-2.0)


def ref_capability(values, lsl, usl):
    """Plain-Python Cp/Cpk (σ̂ = M̄R/1.128) and Pp/Ppk (overall s)."""
    mean = sum(values) / len(values)
    mrs = [abs(b - a) for a, b in zip(values, values[1:])]
    sigma = (sum(mrs) / len(mrs)) / 1.128
    s = statistics.stdev(values)
    cp = (usl - lsl) / (6 * sigma)
    cpk = min(usl - mean, mean - lsl) / (3 * sigma)
    return cp, cpk, (usl - lsl) / (6 * s), min(usl - mean, mean - lsl) / (3 * s)


def test_rolling_cp_cpk_individuals() -> None:
    cap = RollingCapability(window=10, subgroup_size=1, lsl=9.0, usl=11.5)
    prev = None
    for x in DATA:
        cap.add([x], None if prev is None else abs(x - prev))
        prev = x
    r = cap.result()
    window = DATA[-10:]
    # The spread window holds the 9 moving ranges inside the last 10 values.
    cp, cpk, pp, ppk = ref_capability(window, 9.0, 11.5)
    assert (r.cp, r.cpk, r.pp, r.ppk) == pytest.approx((cp, cpk, pp, ppk))
    assert r.n == 10


def test_rolling_cp_cpk_subgroups_and_one_sided() -> None:
    n = 5
    cap = RollingCapability(window=3, subgroup_size=n, lsl=None, usl=10.6)
    for i in range(0, 20, n):
        g = DATA[i : i + n]
        cap.add(g, max(g) - min(g))
    r = cap.result()
    groups = [DATA[i : i + n] for i in range(5, 20, n)]
    flat = [v for g in groups for v in g]
    mean = sum(flat) / len(flat)
    sigma = sum(max(g) - min(g) for g in groups) / 3 / 2.326
    assert r.cp is None
    assert r.cpk == pytest.approx((10.6 - mean) / (3 * sigma))
    assert r.ppk == pytest.approx((10.6 - mean) / (3 * statistics.stdev(flat)))


def test_capability_sums_survive_long_runs() -> None:
    cap = RollingCapability(window=50, subgroup_size=1, lsl=1e6 - 3, usl=1e6 + 3)
    vals = [1e6 + ((i * 7919) % 13) / 10 for i in range(5000)]
    prev = None
    for v in vals:
        cap.add([v], None if prev is None else abs(v - prev))
        prev = v
    r = cap.result()
    assert r.sigma_overall == pytest.approx(statistics.stdev(vals[-50:]), rel=1e-6)


def test_chart_state_roundtrip_equals_uninterrupted() -> None:
    def feed(ch, part, start):
        return [
            (p.index, round(p.value, 9), [(c, v.rule) for c, v in p.violations])
            for i, x in enumerate(part)
            for p in ch.add(float(start + i), x)
        ]

    series = DATA * 3 + [11.5, 11.6, 11.7]
    kw = dict(subgroup_size=2, phase1_points=8, rules=("nelson1", "nelson2", "nelson5"))
    full = feed(ControlChart(**kw), series, 0)
    a = ControlChart(**kw)
    first = feed(a, series[:23], 0)
    b = ControlChart(**kw)
    b.restore(__import__("json").loads(__import__("json").dumps(a.to_dict())))
    assert first + feed(b, series[23:], 23) == full
