"""Intake: duplicates, out-of-order batches, source restarts, quality and non-numeric values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from kit.bindings import Binding
from kit.intake import Intake
from kit.payloads import Point, Quality, SampleBatch

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def batch(seq: int, dt: float, points, source="plc", asset="s/a/l/m") -> SampleBatch:
    return SampleBatch(
        asset=asset, ts=T0 + timedelta(seconds=dt), seq=seq, source=source, points=points
    )


def test_dedup_by_source_and_seq() -> None:
    it = Intake({"t": Binding(point="t")}, "s/a/l/m")
    p = [Point(name="t", value=1.0)]
    outcomes = [
        it.accept(b)
        for b in (
            batch(0, 0, p),
            batch(1, 1, p),
            batch(1, 1, p),  # duplicate
            batch(0, 0, p),  # old batch replayed
            batch(2, 0.5, p),  # newer seq, older time
            batch(0, 5, p),  # source restarted (seq 0, newer time)
            batch(0, 1, p, source="other"),
        )
    ]  # another source is independent
    assert outcomes == [True, True, False, False, False, True, True]
    c = it.counters
    assert (c.batches, c.duplicates, c.out_of_order, c.source_restarts) == (4, 1, 2, 1)


def test_readings_quality_and_other_assets() -> None:
    it = Intake(
        {
            "a": Binding(point="t"),
            "b": Binding(point="t"),
            "p": Binding(point="p", asset="s/a/l/other"),
        },
        "s/a/l/m",
    )
    assert it.subjects() == ["kit.data.s.a.l.m", "kit.data.s.a.l.other"]
    b = batch(
        0,
        0,
        [
            Point(name="t", value=2),
            Point(name="x", value=1.0),
            Point(name="t", quality="bad", reason="timeout"),
            Point(name="t", value=0.5, quality="uncertain", reason="r"),
            Point(name="t", value="text"),
        ],
    )
    got = list(it.filter([b]))
    assert [(r.inputs, r.value, r.quality) for r in got] == [
        (("a", "b"), 2.0, Quality.good),
        (("a", "b"), None, Quality.bad),
        (("a", "b"), None, Quality.uncertain),
        (("a", "b"), None, Quality.good),
    ]
    c = it.counters
    assert (c.points, c.excluded_bad, c.excluded_uncertain, c.non_numeric) == (4, 1, 1, 1)
    other = list(
        it.filter([batch(0, 0, [Point(name="p", value=3)], asset="s/a/l/other", source="x")])
    )
    assert [(r.inputs, r.value) for r in other] == [(("p",), 3.0)]


def test_state_roundtrip() -> None:
    it = Intake({"t": Binding(point="t")}, "s/a/l/m")
    it.accept(batch(5, 5, []))
    it2 = Intake({"t": Binding(point="t")}, "s/a/l/m")
    it2.restore(it.state())
    assert (
        not it2.accept(batch(5, 5, []))
        and it2.counters.duplicates == 1
        and it2.counters.batches == 1
    )
