"""Pure-engine tests of OEE: hand-worked shift, flags, rollover, restart, bad inputs."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import oee_scenario as sc
import pytest
from kit_oee.calc import CounterTracker, oee_factors
from kit_oee.engine import Downtime, EngineParams, OeeEngine, Report
from kit_oee.shifts import ShiftCalendar, ShiftResolver


def params(**kw) -> EngineParams:
    base = dict(
        pru_s=sc.PRU,
        count_mode="produced_reject",
        calendar=ShiftCalendar.model_validate(sc.CALENDAR),
        publish_interval_s=3600,
        max_gap_s=120,
    )
    base.update(kw)
    return EngineParams(**base)


def run(engine: OeeEngine, rows) -> list:
    out = []
    for t, state, produced, reject in rows:
        out.extend(engine.feed(t, state=state, produced=produced, reject=reject))
    return out


def final_shift(outputs) -> Report:
    finals = [o for o in outputs if isinstance(o, Report) and o.final]
    assert len(finals) == 1, finals
    return finals[0]


def assert_matches(r: Report, exp: dict) -> None:
    assert r.window == "shift:2026-11-23/early"
    assert r.totals["pot_s"] == pytest.approx(exp["pot_s"])
    assert r.totals["pbt_s"] == pytest.approx(exp["pbt_s"])
    assert r.totals["apt_s"] == pytest.approx(exp["apt_s"])
    assert (r.produced, r.good, r.reject) == (exp["produced"], exp["good"], exp["reject"])
    assert r.factors.availability == pytest.approx(exp["availability"])
    assert r.factors.effectiveness == pytest.approx(exp["effectiveness"])
    assert r.factors.quality == pytest.approx(exp["quality"])
    assert r.factors.oee == pytest.approx(exp["oee"])
    assert r.mtbf_s == pytest.approx(exp["mtbf_s"])
    assert r.mttr_s == pytest.approx(exp["mttr_s"])


def test_hand_worked_shift_gives_exact_factors():
    out = run(OeeEngine(params()), sc.samples())
    r = final_shift(out)
    exp = sc.expected()
    assert_matches(r, exp)
    assert r.factors.effectiveness_over_100 is False
    # Product of factors equals the reduced form PRU × GQ / PBT.
    f = r.factors
    assert f.availability * f.effectiveness * f.quality == pytest.approx(
        sc.PRU * exp["good"] / exp["pbt_s"]
    )


def test_downtime_events_have_start_end_duration():
    out = run(OeeEngine(params()), sc.samples())
    downs = [o for o in out if isinstance(o, Downtime)]
    assert [(d.start, d.end, d.state) for d in downs] == [
        (sc.DOWN[0], sc.DOWN[1], "down"),
        (sc.IDLE[0], sc.IDLE[1], "idle"),
    ]
    assert [d.duration_s for d in downs] == [sc.DOWN[1] - sc.DOWN[0], sc.IDLE[1] - sc.IDLE[0]]


def test_effectiveness_over_100_is_flagged():
    # Planned cycle 40 s, yet 700 parts in 22 500 s of production: faster than plan.
    out = run(OeeEngine(params(pru_s=40.0)), sc.samples())
    r = final_shift(out)
    assert r.factors.effectiveness == pytest.approx(40.0 * sc.PRODUCED / sc.expected()["apt_s"])
    assert r.factors.effectiveness > 1
    assert r.factors.effectiveness_over_100 is True


def test_counter_rollover_gives_same_result():
    # An 8-bit counter wraps twice on the way to 700.
    engine = OeeEngine(params(counter_max=255))
    r = final_shift(run(engine, sc.samples(counter_max=255)))
    assert_matches(r, sc.expected())
    assert engine.counters["produced"].rollovers == sc.PRODUCED // 256


def test_counter_reset_counts_from_zero():
    c = CounterTracker(max_value=65535)
    assert [c.update(v) for v in (100, 110, 3, 8)] == [0, 10, 3, 5]  # PLC restarted at 0 → +3
    assert c.resets == 1 and c.rollovers == 0
    w = CounterTracker(max_value=65535)
    assert [w.update(v) for v in (65530, 65535, 4)] == [0, 5, 5]  # 65535 → 0..4 is 5 parts
    assert w.rollovers == 1


def test_restart_mid_shift_equals_uninterrupted_run():
    rows = sc.samples(counter_max=255)
    whole = final_shift(run(OeeEngine(params(counter_max=255)), rows))
    first = OeeEngine(params(counter_max=255))
    cut = len(rows) // 2 + 7
    out = run(first, rows[:cut])
    saved = json.loads(json.dumps(first.to_state()))  # exactly what KV holds
    second = OeeEngine(params(counter_max=255), saved)
    out += run(second, rows[cut:])
    resumed = final_shift(out)
    assert resumed.totals == whole.totals
    assert resumed.factors == whole.factors
    assert_matches(resumed, sc.expected())


def test_missing_samples_are_tolerated_within_max_gap():
    rows = [r for i, r in enumerate(sc.samples()) if i % 3 != 1]  # a third of the samples lost
    r = final_shift(run(OeeEngine(params()), rows))
    exp = sc.expected()
    # State changes happen on 30-s sample points; losing samples can shift an edge by at
    # most one step, so APT is within ±2 steps and counts are exact (cumulative counters).
    assert abs(r.totals["apt_s"] - exp["apt_s"]) <= 2 * sc.STEP
    assert (r.produced, r.reject) == (exp["produced"], exp["reject"])


def test_long_gap_is_no_data_not_running():
    eng = OeeEngine(params(max_gap_s=60))
    t0 = sc.T0
    eng.feed(t0, state="run", produced=0, reject=0)
    eng.feed(t0 + 600, state="run", produced=10, reject=0)  # 10 minutes silent
    r = eng.current_reports(t0 + 600)[0]
    assert r.totals["apt_s"] == pytest.approx(60)
    assert r.totals["no_data_s"] == pytest.approx(540)


def test_oee_factors_edge_cases():
    f = oee_factors(pbt_s=0, apt_s=0, pru_s=1, produced=0, good=0)
    assert (f.availability, f.effectiveness, f.quality, f.oee) == (None, None, None, None)
    f = oee_factors(pbt_s=100, apt_s=0, pru_s=1, produced=0, good=0)
    assert f.availability == 0 and f.oee == 0 and f.effectiveness is None


def test_night_shift_and_breaks_across_midnight():
    cal = ShiftCalendar.model_validate(
        {
            "timezone": "Europe/Berlin",
            "shifts": [
                {
                    "name": "night",
                    "start": "22:00",
                    "end": "06:00",
                    "weekdays": ["sun"],
                    "breaks": [
                        {"start": "23:30", "end": "00:15"},
                        {"start": "03:00", "end": "03:15"},
                    ],
                }
            ],
        }
    )
    res = ShiftResolver(cal)
    # Sunday 2026-11-22 23:00 Berlin = 22:00 UTC.
    t = datetime(2026, 11, 22, 22, 0, tzinfo=UTC).timestamp()
    inst = res.shift_at(t)
    assert inst is not None and inst.id == "2026-11-22/night"
    assert inst.end - inst.start == 8 * 3600
    assert inst.pot_s(inst.start, inst.end) == 8 * 3600 - 45 * 60 - 15 * 60
    assert res.shift_at(inst.end) is None  # Monday night has no shift
    assert res.boundary_after(inst.end) == inst.start + 7 * 86400


def test_rolling_window_forgets_old_buckets():
    eng = OeeEngine(params(rolling_window_s=600, rolling_bucket_s=60, publish_interval_s=60))
    t = sc.T0
    for i in range(41):  # 20 minutes: 10 down then 10 running
        eng.feed(t + 30 * i, state="down" if i < 20 else "run", produced=0, reject=0)
    rolling = [r for r in eng.current_reports(t + 1200) if r.window == "rolling"][0]
    # Only the last 10 minutes (all running) remain in the window.
    assert rolling.totals["down_s"] == pytest.approx(0, abs=1e-6)
    assert rolling.totals["apt_s"] == pytest.approx(600, abs=60)
    assert math.isclose(rolling.factors.availability, 1.0, rel_tol=0.11)


def test_config_errors_name_the_problem():
    from kit_oee.config import OeeConfig
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="exactly one of 'running' or 'state_code'"):
        OeeConfig.model_validate(
            {"inputs": {"running": "r", "state_code": "s", "good": "g"}, "ideal_cycle_s": 1}
        )
    with pytest.raises(ValidationError, match="mapped to both"):
        OeeConfig.model_validate(
            {
                "inputs": {"running": "r", "good": "g"},
                "ideal_cycle_s": 1,
                "state_codes": {"run": [1], "down": [1]},
            }
        )
    with pytest.raises(ValidationError, match="unknown time zone"):
        OeeConfig.model_validate(
            {
                "inputs": {"running": "r", "good": "g"},
                "ideal_cycle_s": 1,
                "calendar": {"timezone": "Mars/Olympus"},
            }
        )
    with pytest.raises(ValidationError, match="ideal_cycle_s"):
        OeeConfig.model_validate({"inputs": {"running": "r", "good": "g"}, "ideal_cycle_s": 0})


def test_planned_stop_and_unknown_states():
    eng = OeeEngine(params(max_gap_s=3600))  # states change on sparse samples here
    t = sc.T0 + 3600  # 07:00, planned time
    eng.feed(t, state="run", produced=0, reject=0)
    eng.feed(t + 600, state="planned_stop")  # 10 min run
    eng.feed(t + 1200, state="unknown")  # 10 min planned stop signalled by the machine
    eng.feed(t + 1500, state="down")  # 5 min no information
    eng.feed(t + 1800, state="run")  # 5 min failure
    r = eng.current_reports(t + 1800)[0]
    assert r.totals["apt_s"] == 600 and r.totals["planned_stop_s"] == 600
    assert r.totals["no_data_s"] == 300 and r.totals["down_s"] == 300
    assert r.totals["pbt_s"] == 1800 - 600  # the planned stop is not planned busy time
    assert [d.duration_s for d in eng.downtime_list()] == [300]  # only the failure is a downtime


def test_a_counter_already_counting_starts_at_its_first_increment():
    """The demo's first minute: counting begins mid-cycle, so the first part completed was
    mostly made before the engine saw anything. Counting it over the few seconds seen gave
    effectiveness above 100 %; a fresh engine starts at that part's completion instead."""
    # Ideal 30 s; the machine really cycles in exactly 30 s. The engine starts at 06:00:20,
    # 25 s into a cycle (counter at 41): parts complete at 06:00:25, 06:00:55, … and the
    # first report (06:01:00) sees 40 s of running — the old count, 2 parts, read 150 %.
    t0 = sc.T0 + 20
    rows = [(t0 + i * 5.0, "run", 41 + (i + 5) // 6, 0) for i in range(0, 121)]
    engine = OeeEngine(params(publish_interval_s=60))
    reports = [o for o in run(engine, rows) if isinstance(o, Report)]
    assert reports, "no periodic report"
    for r in reports:
        assert r.factors.effectiveness is not None and r.factors.effectiveness <= 1.0, r
    # Independently: parts completed strictly after the first one, as the engine counts them.
    last_counter = rows[-1][2]
    assert engine.shift_totals[engine_field("produced_in")] == last_counter - 41 - 1
    # A counter at zero (reset at the start) counts its first part; a restored engine counts
    # every increment after its saved reading.
    zero = OeeEngine(params())
    run(zero, [(t0, "run", 0, 0), (t0 + 30, "run", 1, 0)])
    assert zero.shift_totals[engine_field("produced_in")] == 1
    restored = OeeEngine(params(), json.loads(json.dumps(engine.to_state())))
    run(restored, [(rows[-1][0] + 30, "run", last_counter + 1, 0)])
    assert restored.shift_totals[engine_field("produced_in")] == last_counter - 41


def engine_field(name: str) -> int:
    from kit_oee.engine import FIELD_INDEX

    return FIELD_INDEX[name]
