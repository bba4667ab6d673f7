"""Acceptance-check evaluation on hand-made observations (no data is never a pass)."""

from __future__ import annotations

from datetime import UTC, datetime

from kit.payloads import Point, SampleBatch
from kit.recipes.checks import Observation, evaluate

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def obs(rows: list[tuple[float, list[Point]]]) -> Observation:
    o = Observation()
    for i, (t, points) in enumerate(rows):
        o.batches.append((t, SampleBatch(asset="s/a/l/m", ts=T0, seq=i, source="x", points=points)))
    return o


def chk(kind: str, **kw) -> dict:
    return {"check": kind, "asset": "m", "title": kind, **kw}


def test_range_counts_only_good_values_and_fails_on_nothing() -> None:
    values = [10.0, 20.0, 55.0]
    o = obs(
        [(i, [Point(name="p", value=v)]) for i, v in enumerate(values)]
        + [(9, [Point(name="p", quality="bad", reason="timeout")])]
    )
    r = evaluate(chk("range", point="p", min=0, max=50), o, 0, 10)
    assert not r["passed"] and r["result"] == "fail"
    assert r["values"] == {
        "samples": 3,
        "not_good": 1,
        "min": min(values),
        "max": max(values),
        "last": 55.0,
        "outside": sum(1 for v in values if v > 50),
    }
    assert evaluate(chk("range", point="p", min=0, max=60), o, 0, 10)["passed"]
    assert not evaluate(chk("range", point="q", min=0, max=60), o, 0, 10)["passed"]  # never seen


def test_updates_includes_the_gaps_at_both_ends_of_the_window() -> None:
    times = [1.0, 2.0, 3.5]
    o = obs([(t, [Point(name="p", value=1)]) for t in times])
    window = (0.0, 6.0)
    largest = max(b - a for a, b in zip([window[0], *times], [*times, window[1]]))  # 6.0 - 3.5
    r = evaluate(chk("updates", every_s=2.0), o, *window)
    assert r["values"]["largest_gap_s"] == round(largest, 3) and not r["passed"]
    assert evaluate(chk("updates", every_s=largest), o, *window)["passed"]


def test_increases_only_counts_while_the_condition_holds() -> None:
    rows = [
        (0, [Point(name="n", value=5), Point(name="run", value=False)]),
        (1, [Point(name="n", value=6), Point(name="run", value=False)]),
        (2, [Point(name="n", value=6), Point(name="run", value=True)]),
        (3, [Point(name="n", value=6), Point(name="run", value=True)]),
    ]
    r = evaluate(chk("increases", point="n", while_point="run"), obs(rows), 0, 4)
    assert not r["passed"] and r["values"]["samples"] == 2  # rose only while stopped
    assert evaluate(chk("increases", point="n"), obs(rows), 0, 4)["passed"]
    never = [(t, [Point(name="n", value=t), Point(name="run", value=False)]) for t in range(3)]
    r = evaluate(chk("increases", point="n", while_point="run"), obs(never), 0, 3)
    assert not r["passed"] and "run the machine" in r["detail"]


def test_quality_good_names_the_reasons() -> None:
    o = obs(
        [
            (0, [Point(name="a", value=1), Point(name="b", quality="uncertain", reason="stale")]),
            (1, [Point(name="a", value=2), Point(name="b", quality="bad", reason="timeout")]),
        ]
    )
    r = evaluate(chk("quality_good"), o, 0, 2)
    assert not r["passed"] and r["values"] == {
        "good": 2,
        "not_good": 2,
        "reasons": {"stale": 1, "timeout": 1},
    }
    assert evaluate(chk("quality_good", points=["a"]), o, 0, 2)["passed"]
    assert not evaluate(chk("quality_good"), obs([]), 0, 2)["passed"]


def test_kpi_check_needs_the_named_kpi_with_good_values_in_bounds() -> None:
    from kit.payloads import KpiValue

    o = Observation()
    for i, (name, v) in enumerate([("energy_kwh", 0.0), ("demand_kw", 0.0), ("energy_kwh", 0.5)]):
        o.kpis.append((float(i), KpiValue(asset="s/a/l/m", kpi=name, value=v, ts=T0, source="e")))
    r = evaluate(chk("kpi", kpi="energy_kwh", min=0, max=1), o, 0, 3)
    assert r["passed"] and r["values"]["kpis"] == 2 and r["values"]["max"] == 0.5
    assert not evaluate(chk("kpi", kpi="energy_kwh", max=0.4), o, 0, 3)["passed"]  # 0.5 > 0.4
    r = evaluate(chk("kpi", kpi="oee"), o, 0, 3)
    assert not r["passed"]
    assert r["detail"] == "expected KPI oee never arrived (seen: demand_kw, energy_kwh)"
    r = evaluate(chk("kpi", kpi="oee"), Observation(), 0, 3)
    assert r["detail"] == "expected KPI oee never arrived (no KPI of this asset at all)"
