"""Alarm engine: deadband, on/off delays, rate, deviation, stale, bad quality, flood, restore."""

from __future__ import annotations

import pytest
from kit_alarms.engine import AlarmEngine
from kit_alarms.flood import FloodDetector
from kit_alarms.rules import AlarmRule
from kit_alarms.states import State
from pydantic import TypeAdapter, ValidationError

from kit.payloads import Quality

G, B, U = Quality.good, Quality.bad, Quality.uncertain
RULE = TypeAdapter(AlarmRule)


def engine(*rules: dict, **kw) -> AlarmEngine:
    return AlarmEngine("al", [RULE.validate_python(r) for r in rules], **kw)


def feed(e: AlarmEngine, rule_id: str, series, quality=G) -> list[State]:
    """Feed (ts, value) pairs; return the state after each."""
    out = []
    for ts, v in series:
        e.on_reading(rule_id, ts, v, quality)
        e.advance(ts)
        out.append(e.status[rule_id].state)
    return out


def test_rule_model_is_discriminated_and_strict() -> None:
    r = RULE.validate_python({"type": "hi", "input": "temperature_c", "limit": 80})
    assert r.rule_id == "hi_temperature_c" and r.priority == "medium"
    with pytest.raises(ValidationError, match="type must be one of"):
        RULE.validate_python({"type": "hot", "input": "t", "limit": 1})
    with pytest.raises(ValidationError, match="extra"):
        RULE.validate_python({"type": "hi", "input": "t", "limit": 1, "colour": "red"})
    with pytest.raises(ValidationError):
        RULE.validate_python(
            {"type": "deviation", "input": "t", "setpoint": 5, "limit": 1, "deadband": 2}
        )


def test_duplicate_rule_ids_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        engine({"type": "hi", "input": "t", "limit": 1}, {"type": "hi", "input": "t", "limit": 2})


def test_hi_deadband_clears_only_below_limit_minus_deadband() -> None:
    limit, db = 80.0, 2.0
    e = engine({"type": "hi", "input": "t", "limit": limit, "deadband": db})
    values = [79.0, 80.0, 80.5, 79.0, 78.5, 78.0, 77.9, 80.1, 81.0]
    actives = []
    for ts, v in enumerate(values):
        e.on_reading("hi_t", float(ts), v, G)
        actives.append(e.status["hi_t"].active)
    # Independent reference: raise when v > limit; once raised, clear only when v <= limit - db.
    active, expected = False, []
    for v in values:
        active = v > limit - db if active else v > limit
        expected.append(active)
    assert actives == expected == [False, False, True, True, True, False, False, True, True]
    assert e.status["hi_t"].occurrences == 2


def test_lo_and_lolo() -> None:
    e = engine(
        {"type": "lo", "input": "p", "limit": 2.0, "deadband": 0.5},
        {"type": "lolo", "input": "p", "limit": 1.0, "priority": "critical"},
    )
    for ts, v in enumerate([3.0, 1.5, 0.9, 2.2, 2.6]):
        for rid in ("lo_p", "lolo_p"):
            e.on_reading(rid, ts, v, G)
        e.advance(ts)
        if v == 0.9:
            assert e.status["lolo_p"].active and e.status["lo_p"].active
        if v == 2.2:
            assert e.status["lo_p"].active and not e.status["lolo_p"].active  # inside the deadband
    assert not e.status["lo_p"].active


def test_on_delay_requires_persistence() -> None:
    e = engine({"type": "hi", "input": "t", "limit": 10, "on_delay_s": 5})
    # above at 0..3, dips at 4 (delay restarts), above again from 5: raises at 5+5=10.
    series = [
        (0, 11),
        (1, 11),
        (2, 11),
        (3, 11),
        (4, 9),
        (5, 11),
        (7, 11),
        (9, 11),
        (10, 11),
        (11, 11),
    ]
    states = feed(e, "hi_t", series)
    first = next(ts for (ts, _), s in zip(series, states) if s is State.unacknowledged)
    assert first == 10


def test_off_delay_requires_return_to_persist() -> None:
    e = engine({"type": "hi", "input": "t", "limit": 10, "off_delay_s": 3})
    series = [(0, 11), (1, 9), (2, 11), (3, 9), (4, 9), (5, 9), (6, 9)]
    states = feed(e, "hi_t", series)
    cleared_at = next(
        ts for (ts, _), s in zip(series, states) if s is State.returned_unacknowledged
    )
    assert cleared_at == 3 + 3


def test_delay_completes_when_time_advances_without_samples() -> None:
    e = engine({"type": "hi", "input": "t", "limit": 10, "on_delay_s": 5})
    e.on_reading("hi_t", 0.0, 12.0, G)
    e.advance(4.9)
    assert not e.status["hi_t"].active
    e.advance(5.0)
    assert e.status["hi_t"].active


def test_rate_of_change() -> None:
    e = engine({"type": "rate", "input": "t", "limit_per_s": 2.0, "direction": "up"})
    series = [(0, 0.0), (1, 1.0), (2, 4.0), (4, 5.0), (5, 2.0)]
    states = feed(e, "rate_t", series)
    rates = [None] + [
        (series[i][1] - series[i - 1][1]) / (series[i][0] - series[i - 1][0])
        for i in range(1, len(series))
    ]
    expected = [r is not None and r > 2.0 for r in rates]
    assert [s is State.unacknowledged for s in states] == expected


def test_deviation_with_bound_setpoint() -> None:
    e = engine({"type": "deviation", "input": "t", "setpoint": "t_sp", "limit": 5})
    assert set(e.bindings()) == {"deviation_t", "deviation_t.setpoint"}
    e.on_reading("deviation_t", 0, 100.0, G)  # no setpoint yet: nothing to compare
    assert not e.status["deviation_t"].active
    e.on_reading("deviation_t.setpoint", 1, 90.0, G)
    e.on_reading("deviation_t", 2, 96.0, G)
    assert e.status["deviation_t"].active
    e.on_reading("deviation_t.setpoint", 3, 95.0, G)
    e.on_reading("deviation_t", 4, 96.0, G)
    assert not e.status["deviation_t"].active


def test_stale_data() -> None:
    e = engine({"type": "stale", "input": "t", "timeout_s": 30})
    e.on_reading("stale_t", 100.0, 1.0, G)
    e.on_reading("stale_t", 110.0, None, B)  # bad values do not refresh
    e.advance(130.0)
    assert not e.status["stale_t"].active
    e.advance(130.5)
    assert e.status["stale_t"].active
    e.on_reading("stale_t", 131.0, 2.0, G)
    assert not e.status["stale_t"].active


def test_bad_quality_rule_and_bad_values_do_not_clear_limits() -> None:
    e = engine({"type": "bad_quality", "input": "t"}, {"type": "hi", "input": "t", "limit": 5})
    e.on_reading("hi_t", 0, 9.0, G)
    e.on_reading("bad_quality_t", 0, 9.0, G)
    e.on_reading("hi_t", 1, None, B)
    e.on_reading("bad_quality_t", 1, None, B)
    assert e.status["bad_quality_t"].active and e.status["hi_t"].active
    e.on_reading("bad_quality_t", 2, None, U)
    assert not e.status["bad_quality_t"].active  # uncertain is not bad unless asked


def test_suppress_when() -> None:
    e = engine({"type": "lo", "input": "flow", "limit": 1, "suppress_when": "machine_stopped"})
    e.on_reading("lo_flow.suppress", 0, 1.0, G)
    e.on_reading("lo_flow", 0, 0.0, G)
    assert e.status["lo_flow"].state is State.suppressed and e.status["lo_flow"].active
    e.on_reading("lo_flow.suppress", 1, 0.0, G)
    assert e.status["lo_flow"].state is State.unacknowledged


def test_flood_starts_above_10_and_ends_below_5_per_10_minutes() -> None:
    rules = [{"type": "hi", "input": f"p{i}", "limit": 0} for i in range(12)]
    e = engine(*rules)
    floods = []
    # One new alarm every 30 s: the 11th within 600 s starts the flood.
    for i in range(12):
        e.on_reading(f"hi_p{i}", i * 30.0, 1.0, G)
        e.advance(i * 30.0)
        floods += [n.flood for n in e.drain() if n.flood]
    assert (
        len(floods) == 1
        and floods[0].started
        and floods[0].ts == 10 * 30.0
        and floods[0].count == 11
    )
    # The window empties as time passes: alarm times 0..330; fewer than 5 remain when
    # t - 600 >= time of the 8th alarm (index 7, 210 s) → at t = 810 four remain.
    e.advance(809.0)
    assert not [n for n in e.drain() if n.flood]
    e.advance(810.0)
    ended = [n.flood for n in e.drain() if n.flood]
    assert len(ended) == 1 and not ended[0].started and ended[0].count == 4
    assert ended[0].duration_s == 810.0 - 300.0


def test_flood_detector_exactly_ten_is_not_a_flood() -> None:
    f = FloodDetector()
    assert all(f.record(float(i)) is None for i in range(10))
    assert f.record(10.0).started


def test_restore_roundtrip_continues_identically() -> None:
    spec = [
        {"type": "hi", "input": "t", "limit": 10, "on_delay_s": 3},
        {"type": "rate", "input": "t", "limit_per_s": 5},
    ]
    series = [(float(i), v) for i, v in enumerate([1, 11, 12, 13, 30, 14, 2, 1, 12, 12, 12, 12])]

    def run(e, part):
        for ts, v in part:
            for rid in ("hi_t", "rate_t"):
                e.on_reading(rid, ts, v, G)
            e.advance(ts)
        return [
            (n.transition.alarm_id, n.transition.cause, n.transition.ts)
            for n in e.drain()
            if n.transition
        ]

    full = run(engine(*spec), series)
    a = engine(*spec)
    first = run(a, series[:5])
    a.ack("al/hi_t", "op", 4.5)
    acked_first = first + [
        (t.transition.alarm_id, t.transition.cause, t.transition.ts) for t in a.drain()
    ]
    b = engine(*spec)
    b.restore(__import__("json").loads(__import__("json").dumps(a.to_dict())))
    rest = run(b, series[5:])
    assert b.status["hi_t"].acked_by == "op"
    # Same transitions as an uninterrupted run, apart from the ack done in between.
    ref = engine(*spec)
    run(ref, series[:5])
    ref.ack("al/hi_t", "op", 4.5)
    ref.drain()
    assert rest == run(ref, series[5:])
    assert full[: len(first)] == first and acked_first[-1][1] == "acknowledged"
