"""The hot-path encoder decodes to exactly what the pydantic path produces."""

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from kit import codec
from kit.fastpath import BatchEncoder
from kit.payloads import Quality

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


@given(st.data())
def test_fast_encoding_equals_validated_batch(data):
    pts = data.draw(names)
    units = data.draw(
        st.lists(
            st.one_of(st.none(), st.sampled_from(["W", "°C", "m³/h", "%"])),
            min_size=len(pts),
            max_size=len(pts),
        )
    )
    values = data.draw(st.lists(value, min_size=len(pts), max_size=len(pts)))
    enc = BatchEncoder(list(zip(pts, units)))
    decoded = codec.decode_batch(enc.encode("s/a/l/m", TS, 42, "src-1", values))
    expected = enc.batch("s/a/l/m", TS, 42, "src-1", values)
    assert decoded == expected
    for p, v in zip(decoded.points, values):
        if isinstance(v, float) and v != v:  # NaN can never be good
            assert p.quality is Quality.bad and p.value is None


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
