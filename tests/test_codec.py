"""Payload encode/decode (pure, no sockets)."""

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kit import codec
from kit.payloads import Event, Health, HealthStatus, KpiValue, Point, Quality, SampleBatch

TS = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**53), 2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)


@given(
    st.lists(
        st.tuples(st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True), values), max_size=20
    ),
    st.integers(0, 2**40),
)
def test_batch_round_trip(points, seq):
    batch = SampleBatch(
        asset="s/a/l/m",
        ts=TS,
        seq=seq,
        source="src",
        points=[Point(name=n, value=v, unit="W") for n, v in points],
    )
    back = codec.decode_batch(codec.encode(batch))
    assert back == batch


def test_wire_form_is_documented_json():
    batch = SampleBatch(
        asset="s/a/l/m",
        ts=TS,
        seq=7,
        source="press-1",
        points=[
            Point(name="power_active_total_w", value=1500.5, unit="W"),
            Point(name="temperature_c", quality=Quality.bad, reason="timeout"),
        ],
    )
    import json

    obj = json.loads(codec.encode(batch))
    assert obj["schema"] == "kit.samples/1"
    assert obj["ts"].startswith("2026-11-22T08:00:00")
    assert obj["points"][0] == {
        "name": "power_active_total_w",
        "value": 1500.5,
        "unit": "W",
        "quality": "good",
    }
    assert obj["points"][1] == {"name": "temperature_c", "quality": "bad", "reason": "timeout"}


def test_bad_point_never_carries_a_value():
    p = Point(name="x", value=42.0, quality=Quality.bad, reason="comm_lost")
    assert p.value is None


def test_not_good_needs_reason():
    with pytest.raises(ValueError, match="needs a reason"):
        Point(name="x", value=1, quality=Quality.uncertain)


@pytest.mark.parametrize(
    "data,fragment",
    [
        (b"not json", "SampleBatch"),
        (b'{"schema":"kit.samples/1"}', "asset"),
        (
            b'{"schema":"kit.samples/2","asset":"a","ts":"2026-01-01T00:00:00Z","seq":0,"source":"s","points":[]}',
            "schema",
        ),
        (
            b'{"asset":"a","ts":"2026-01-01T00:00:00","seq":0,"source":"s","points":[]}',
            "ts",
        ),  # naive time
        (b'{"asset":"a","ts":"2026-01-01T00:00:00Z","seq":-1,"source":"s","points":[]}', "seq"),
    ],
)
def test_malformed_batches_raise(data, fragment):
    with pytest.raises(codec.MalformedMessage, match=fragment):
        codec.decode_batch(data)


def test_kpi_event_health_round_trip():
    k = KpiValue(asset="s/a/l/m", kpi="oee", value=0.71, ts=TS, source="oee-1", window="rolling")
    e = Event(
        kind="alarm",
        type="alarm_raised",
        asset="s/a/l/m",
        ts=TS,
        source="alarms-1",
        severity="high",
    )
    h = Health(component="press-1", status=HealthStatus.backoff, ts=TS, restarts=2)
    assert codec.decode_kpi(codec.encode(k)) == k
    assert codec.decode_event(codec.encode(e)) == e
    assert codec.decode_health(codec.encode(h)) == h


def test_newer_producer_fields_are_ignored():
    data = (
        b'{"schema":"kit.samples/1","asset":"a/b/c/d","ts":"2026-01-01T00:00:00Z","seq":1,"source":"s",'
        b'"points":[{"name":"p","value":1,"future_field":true}],"also_new":1}'
    )
    assert codec.decode_batch(data).points[0].value == 1
