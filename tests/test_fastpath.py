"""The hot-path encoder decodes to exactly what the pydantic path produces."""

import math
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kit import codec
from kit.fastpath import BatchEncoder
from kit.payloads import Point, Quality
from kit.testing import wait_for

TS = datetime(2026, 11, 22, 8, 30, 15, 123456, tzinfo=UTC)

names = st.lists(
    st.from_regex(r'[a-z%"\\ü][a-z0-9_%"]{0,12}', fullmatch=True),
    min_size=1,
    max_size=30,
    unique=True,
)
value = st.one_of(
    st.floats(allow_subnormal=True),
    st.integers(-(2**70), 2**70),
    st.booleans(),
    st.none(),
    st.text(max_size=8),
)


quality = st.one_of(
    st.none(),
    st.sampled_from(["timeout", "comm_lost", 'odd "reason" %s']),
    st.tuples(st.sampled_from(list(Quality)), st.sampled_from(["r", "modbus_exception_2"])),
    st.tuples(st.just(Quality.good), st.none()),
)
stamps = st.one_of(st.none(), st.datetimes(timezones=st.just(UTC)))


@given(st.data())
def test_fast_encoding_equals_validated_batch(data):
    """Every type/quality case: the one encoder decodes to exactly the pydantic model's batch."""
    pts = data.draw(names)
    n = len(pts)
    units = data.draw(
        st.lists(
            st.one_of(st.none(), st.sampled_from(["W", "°C", "m³/h", "%"])),
            min_size=n,
            max_size=n,
        )
    )
    values = data.draw(st.lists(value, min_size=n, max_size=n))
    quals = data.draw(st.one_of(st.none(), st.lists(quality, min_size=n, max_size=n)))
    pts_ts = data.draw(st.one_of(st.none(), st.lists(stamps, min_size=n, max_size=n)))
    epoch = data.draw(st.one_of(st.none(), st.integers(0, 2**53)))
    enc = BatchEncoder(list(zip(pts, units)))
    raw = enc.encode("s/a/l/m", TS, 42, "src-1", values, quals, epoch=epoch, point_ts=pts_ts)
    decoded = codec.decode_batch(raw)
    expected = enc.batch("s/a/l/m", TS, 42, "src-1", values, quals, epoch=epoch, point_ts=pts_ts)
    assert decoded == expected
    for p, v in zip(decoded.points, values):
        if isinstance(v, float) and not math.isfinite(v):  # NaN/inf can never be good
            assert p.quality is Quality.bad and p.value is None and p.reason
    last = enc.last_values(values, quals, TS.isoformat(), pts_ts)
    for p in decoded.points:  # KIT_LAST entries follow the same rules, without JSON
        entry = last[p.name]
        assert entry.get("value") == p.value and entry["quality"] == p.quality.value
        assert entry.get("reason") == p.reason


def test_non_finite_values_are_bad_with_reason_non_finite():
    enc = BatchEncoder([("a", "W"), ("b", None), ("c", None)])
    raw = enc.encode("s/a/l/m", TS, 0, "x", [float("nan"), float("inf"), -float("inf")])
    assert [(p.quality, p.reason, p.value) for p in codec.decode_batch(raw).points] == [
        (Quality.bad, "non_finite", None)
    ] * 3


async def test_publish_samples_marks_non_finite_bad_on_the_wire(bus):
    from kit.components import ComponentContext

    ctx = ComponentContext("p", bus, asset="s/a/l/m")
    got = []

    async def cb(msg):
        got.append(codec.decode_batch(msg.data))

    await bus.nc.subscribe("kit.data.>", cb=cb)
    await bus.sync_subscriptions()
    await ctx.publish_samples([Point(name="t", value=1.0), Point(name="u", value=2.0)])
    # A producer that bypasses the model's validation still cannot put NaN on the wire.
    await ctx.publish_samples(
        [
            Point.model_construct(name="t", value=float("nan"), quality=Quality.good),
            Point(name="u", value=2.0),
        ]
    )
    await wait_for(lambda: len(got) == 2, message="both batches")
    assert [(p.quality, p.reason) for p in got[1].points] == [
        (Quality.bad, "non_finite"),
        (Quality.good, None),
    ]
    assert got[1].epoch == ctx.epoch and got[1].seq == 1


def test_numbers_take_the_template_and_stay_exact():
    enc = BatchEncoder([("a", "W"), ("b", None)])
    values = [0.1 + 0.2, 2**63 - 1]
    raw = enc.encode("s/a/l/m", TS, 0, "x", values)
    assert b'"value":0.30000000000000004' in raw and b'"value":9223372036854775807' in raw
    assert [p.value for p in codec.decode_batch(raw).points] == values


def test_not_good_points_take_the_validated_path():
    enc = BatchEncoder([("a", "W"), ("b", None)])
    raw = enc.encode(
        "s/a/l/m", TS, 0, "x", [1.0, 5], qualities=[(Quality.good, None), (Quality.bad, "timeout")]
    )
    b = codec.decode_batch(raw)
    assert (
        b.points[1].quality is Quality.bad
        and b.points[1].value is None
        and b.points[1].reason == "timeout"
    )


@pytest.mark.parametrize("v", [-(2**63) - 1, 2**64, 2**70])
def test_integers_beyond_64_bits_are_the_same_float_in_every_path(v):
    """Found by the property above (−2⁶³−1): the JSON carried the int, KIT_LAST kept the int,
    the validated batch held a float. The contract (docs/bus.md) reads such a number as a float."""
    enc = BatchEncoder([("x", None)])
    decoded = codec.decode_batch(enc.encode("s/a/l/m", TS, 1, "src", [v], None))
    expected = enc.batch("s/a/l/m", TS, 1, "src", [v], None)
    last = enc.last_values([v], None, TS.isoformat())
    assert decoded == expected
    assert decoded.points[0].value == float(v) and isinstance(decoded.points[0].value, float)
    assert last["x"]["value"] == float(v) and isinstance(last["x"]["value"], float)
