"""Compact storage encoding (kit.compact): round trips, size, schema rules, both decoders."""

from __future__ import annotations

import math
import random
import struct
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from kit import codec
from kit.codec import MalformedMessage
from kit.compact import (
    MAGIC,
    SCHEMA_EVERY,
    CompactEncoder,
    CompactError,
    SchemaCache,
    decode,
    is_compact,
)
from kit.fastpath import BatchEncoder

T0 = datetime(2026, 12, 6, 4, 0, tzinfo=UTC)


def _f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def _sig7(x: float) -> float:  # the Modbus adapter's rendering of a float32
    return round(x, 6 - math.floor(math.log10(abs(x))))


def _points(n: int) -> list[tuple[str, str | None]]:
    return [(f"p{i}", "W" if i % 3 else None) for i in range(n)]


def _values(rnd: random.Random, n: int) -> list[object]:
    out: list[object] = []
    for i in range(n):
        k = i % 5
        out.append(
            _f32(rnd.uniform(-3e4, 3e4))
            if k == 0
            else rnd.uniform(0, 1)  # float64 (not a float32)
            if k == 1 and i % 2
            else _sig7(_f32(rnd.uniform(-500, 500)))  # a float32 as the Modbus adapter shows it
            if k == 1
            else rnd.randrange(65536)
            if k == 2
            else rnd.randrange(-(2**40), 2**40)
            if k == 3
            else rnd.random() < 0.5
        )
    return out


def test_round_trip_equals_the_json_batch_for_every_value_type() -> None:
    rnd = random.Random(3)
    pts = _points(23)
    enc = CompactEncoder("s/a/l/m", "m1", 1733457600000, pts)
    js = BatchEncoder(pts)
    cache = SchemaCache()
    for k in range(5):
        vals = _values(rnd, len(pts))
        ts = T0 + timedelta(seconds=k, microseconds=17)
        data = enc.encode(ts, k, vals)
        assert data is not None and is_compact(data)
        want = orjson.loads(js.encode("s/a/l/m", ts, k, "m1", vals, epoch=1733457600000))
        got = decode(data, cache)
        assert got == want
        # Types survive: a bool stays a bool, an int an int.
        assert [type(p["value"]) for p in got["points"]] == [type(v) for v in vals]


def test_size_is_four_bytes_per_float32_point_plus_a_small_header() -> None:
    pts = _points(100)
    enc = CompactEncoder("s/a/l/m", "m1", 1, pts)
    vals = [_f32(i * 1.37) for i in range(100)]
    first = enc.encode(T0, 7, vals)
    second = enc.encode(T0, 8, vals)
    assert first is not None and second is not None
    # magic 4 + flags 1 + schema id 8 + time 8 + seq (1-byte varint) + 100 × float32
    assert len(second) == 4 + 1 + 8 + 8 + 1 + 400
    # Values the Modbus adapter rounded to 7 significant digits are float32s too.
    shown = [_sig7(_f32(1000 / (i + 1))) for i in range(100)]
    assert shown[2] == 333.3333 and _f32(shown[2]) != shown[2]
    enc.encode(T0, 9, shown)
    assert len(enc.encode(T0, 10, shown) or b"") == 4 + 1 + 8 + 8 + 1 + 400
    assert len(first) > len(second) + 100 * 3  # the first one carries the names once


def test_schema_travels_with_the_first_batch_and_every_schema_every_batches() -> None:
    enc = CompactEncoder("s/a/l/m", "m1", 1, _points(3))
    batches = [enc.encode(T0, k, [1.5, 2, True]) for k in range(SCHEMA_EVERY + 2)]
    with_schema = [k for k, b in enumerate(batches) if b is not None and b[4] & 1]
    assert with_schema == [0, SCHEMA_EVERY]
    # A reader that starts in the middle cannot decode until the schema comes again...
    late = SchemaCache()
    with pytest.raises(CompactError, match="not seen yet"):
        decode(batches[5], late)  # type: ignore[arg-type]
    assert decode(batches[SCHEMA_EVERY], late)["seq"] == SCHEMA_EVERY  # type: ignore[arg-type]
    assert decode(batches[5], late)["seq"] == 5  # type: ignore[arg-type]
    # ...and a saved cache decodes after a restart.
    again = SchemaCache()
    again.load(late.export())
    assert decode(batches[7], again)["seq"] == 7  # type: ignore[arg-type]


def test_a_wider_value_makes_a_new_schema_and_text_or_bad_values_need_json() -> None:
    enc = CompactEncoder("s/a/l/m", "m1", 1, _points(2))
    cache = SchemaCache()
    a = enc.encode(T0, 0, [1.5, 7])
    b = enc.encode(T0, 1, [0.1, 70000])  # float64 and beyond uint16: new schema, sent along
    assert a is not None and b is not None and a[5:13] != b[5:13] and b[4] & 1
    assert [p["value"] for p in decode(a, cache)["points"]] == [1.5, 7]
    assert [p["value"] for p in decode(b, cache)["points"]] == [0.1, 70000]
    assert enc.encode(T0, 2, ["text", 1]) is None
    assert enc.encode(T0, 3, [float("nan"), 1]) is None
    assert enc.encode(T0, 4, [None, 1]) is None


def test_a_subset_of_points_is_carried_with_a_bitmap() -> None:
    pts = _points(20)
    enc = CompactEncoder("s/a/l/m", "m1", 1, pts)
    cache = SchemaCache()
    decode(enc.encode(T0, 0, [float(i) for i in range(20)]), cache)  # type: ignore[arg-type]
    sub = [2, 3, 17]
    data = enc.encode(T0, 1, [20.5, 30.5, 170.5], sub)
    assert data is not None
    got = decode(data, cache)
    assert [(p["name"], p["value"]) for p in got["points"]] == [
        ("p2", 20.5),
        ("p3", 30.5),
        ("p17", 170.5),
    ]


def test_damaged_batches_and_forged_schemas_are_refused() -> None:
    enc = CompactEncoder("s/a/l/m", "m1", 1, _points(4))
    data = enc.encode(T0, 0, [1.0, 2.0, 3.0, 4.0])
    assert data is not None
    for broken in (data[:-1], data + b"\x00", MAGIC + b"\x01", b"{}"):
        with pytest.raises(CompactError):
            decode(broken, SchemaCache())
    # A schema document that does not hash to its id is not believed.
    cache = SchemaCache()
    with pytest.raises(CompactError, match="does not match"):
        cache.add(b"\x00" * 8, orjson.dumps({"names": ["x"], "units": [None], "types": ["d"]}))


def test_the_bus_decoder_accepts_both_forms() -> None:
    pts = [("power_w", "W"), ("running", None)]
    enc = CompactEncoder("s/a/l/m", "m1", 5, pts)
    data = enc.encode(T0, 3, [_f32(12.5), True])
    assert data is not None
    cache = SchemaCache()
    from_compact = codec.decode_batch(data, cache)
    from_json = codec.decode_batch(
        BatchEncoder(pts).encode("s/a/l/m", T0, 3, "m1", [12.5, True], epoch=5)
    )
    assert from_compact == from_json
    later = enc.encode(T0, 4, [_f32(13.5), False])
    assert later is not None
    assert codec.decode_batch(later, cache).points[0].value == 13.5
    with pytest.raises(MalformedMessage, match="not seen yet"):
        codec.decode_batch(later)  # no schema known to this reader
