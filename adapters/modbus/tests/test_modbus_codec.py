"""Codec: the 123456.0 vector in all four orders, and encode ∘ decode = identity (hypothesis)."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kit_modbus.codec import (
    BYTE_ORDERS,
    NUMERIC,
    BlockDecoder,
    CodecError,
    Invalid,
    PointCodec,
    all_orders,
    decode,
    encode,
)

# 123456.0f = 0x47F12000 (computed here from struct, not typed in from a table).
_RAW = struct.pack(">f", 123456.0)
A, B, C, D = (_RAW[0], _RAW[1], _RAW[2], _RAW[3])
VECTOR = {
    "ABCD": [A << 8 | B, C << 8 | D],
    "CDAB": [C << 8 | D, A << 8 | B],
    "BADC": [B << 8 | A, D << 8 | C],
    "DCBA": [D << 8 | C, B << 8 | A],
}


def test_vector_bytes_are_the_documented_ones():
    assert _RAW.hex() == "47f12000"


@pytest.mark.parametrize("order", BYTE_ORDERS)
def test_123456_vector_decodes_in_each_order(order):
    assert decode(VECTOR[order], "float32", order) == 123456.0
    assert encode(123456.0, "float32", order) == VECTOR[order]


def test_wrong_order_gives_garbage_and_all_orders_finds_it():
    got = all_orders(VECTOR["CDAB"], "float32")
    assert got["CDAB"] == 123456.0
    assert all(v != 123456.0 for o, v in got.items() if o != "CDAB")


def _words(data: bytes) -> list[int]:
    return [data[i] << 8 | data[i + 1] for i in range(0, len(data), 2)]


@pytest.mark.parametrize("type_", ["int32", "uint32", "int64", "uint64", "float64"])
def test_wide_types_against_struct_reference(type_):
    n, code = NUMERIC[type_]
    value = {
        "int32": -123456789,
        "uint32": 4000000000,
        "int64": -(1 << 60) + 7,
        "uint64": (1 << 63) + 5,
        "float64": -1234.5678,
    }[type_]
    big = _words(struct.pack(">" + code, value))  # ABCD: most significant word first
    assert decode(big, type_, "ABCD") == value
    assert decode(list(reversed(big)), type_, "CDAB") == value
    swapped = [((w & 0xFF) << 8) | (w >> 8) for w in big]
    assert decode(swapped, type_, "BADC") == value
    assert decode(list(reversed(swapped)), type_, "DCBA") == value


def test_sixteen_bit_scale_offset_bits_strings():
    assert decode([0xFFFF], "int16") == -1
    assert decode([0xFFFF], "uint16") == 65535
    assert decode([0x0102], "uint16", "BADC") == 0x0201
    assert decode([2305], "int16", scale=0.1, offset=-10) == pytest.approx(2305 * 0.1 - 10)
    assert decode([0b1000_0000_0000_0100], "bit", bit=2) is True
    assert decode([0b1000_0000_0000_0100], "bit", bit=3) is False
    assert decode([0b1000_0000_0000_0100], "bit", bit=15) is True
    assert decode([0], "bool") is False and decode([7], "bool") is True
    regs = _words(b"SDM630\x00\x00")
    assert decode(regs, "string") == "SDM630"
    assert encode("SDM630", "string", count=4) == regs
    assert encode(True, "bit", bit=3, current=0b0001) == [0b1001]
    assert encode(False, "bit", bit=0, current=0b1001) == [0b1000]


def test_encode_rejects_out_of_range_and_wrong_types():
    with pytest.raises(CodecError):
        encode(70000, "uint16")
    with pytest.raises(CodecError):
        encode(-1, "uint32")
    with pytest.raises(CodecError):
        encode("x", "float32")
    with pytest.raises(CodecError):
        encode(1e39, "float32")
    with pytest.raises(CodecError):
        encode("too long", "string", count=2)
    with pytest.raises(CodecError):
        PointCodec("float32", "XYZW")


registers = st.integers(0, 0xFFFF)


@given(data=st.data(), type_=st.sampled_from(sorted(NUMERIC)), order=st.sampled_from(BYTE_ORDERS))
def test_encode_is_inverse_of_decode_on_raw_registers(data, type_, order):
    n = NUMERIC[type_][0]
    regs = data.draw(st.lists(registers, min_size=n, max_size=n))
    pc = PointCodec(type_, order, rounding=False)  # the exact binary value, for this property
    value = pc.decode(regs)
    if isinstance(value, float) and math.isnan(value):
        # NaN payloads are not unique; the decoded value is still NaN after a round trip.
        assert math.isnan(pc.decode(pc.encode(value)))
        return
    assert pc.encode(value) == regs


@given(
    value=st.floats(allow_nan=False, allow_infinity=False, width=32),
    order=st.sampled_from(BYTE_ORDERS),
)
def test_float32_values_round_trip(value, order):
    pc = PointCodec("float32", order, rounding=False)
    assert pc.decode(pc.encode(value)) == value


@given(
    value=st.integers(-(1 << 31), (1 << 31) - 1),
    order=st.sampled_from(BYTE_ORDERS),
    scale=st.sampled_from([1, 0.1, 0.01, 10]),
)
def test_scaled_int32_round_trip_is_stable(value, order, scale):
    pc = PointCodec("int32", order, scale=scale, offset=5)
    eng = pc.decode(encode(value, "int32", order))
    assert pc.encode(eng) == encode(value, "int32", order)


@given(
    text=st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=16),
    order=st.sampled_from(BYTE_ORDERS),
)
def test_strings_round_trip(text, order):
    pc = PointCodec("string", order, count=8)
    assert pc.decode(pc.encode(text)) == text


# -- rounding at decode (display precision, docs/bus.md) ------------------------------------


def test_scaled_integers_decode_to_the_decimals_of_their_scale():
    # 2301 × 0.1 is 230.10000000000002 in binary floating point; the bus must carry 230.1.
    assert 2301 * 0.1 != 230.1
    assert PointCodec("uint16", scale=0.1).decode([2301]) == 230.1
    assert repr(PointCodec("uint16", scale=0.1).decode([2301])) == "230.1"
    assert PointCodec("uint16", scale=0.001).decode([1916]) == 1.916
    assert PointCodec("int16", scale=0.01, offset=-40).decode([6543]) == 25.43
    # A declared resolution wins over the scale.
    assert PointCodec("uint32", scale=0.001, resolution=0.01).decode([0, 12345]) == 12.35


def test_float32_decodes_to_its_significant_digits():
    regs = encode(123456.7, "float32")
    assert PointCodec("float32", rounding=False).decode(regs) == 123456.703125
    assert PointCodec("float32").decode(regs) == 123456.7
    noisy = encode(231.6549530029297, "float32")
    assert PointCodec("float32").decode(noisy) == 231.655
    # kW in a float register published in W: the scaled value is rounded, not the raw one.
    assert PointCodec("float32", scale=1000).decode(encode(0.1, "float32")) == 100.0


@given(
    value=st.floats(-1e30, 1e30, allow_nan=False, allow_subnormal=False, width=64).map(
        lambda x: struct.unpack("f", struct.pack("f", x))[0]
    ),
    order=st.sampled_from(BYTE_ORDERS),
)
def test_rounded_float32_stays_within_its_precision(value, order):
    got = PointCodec("float32", order).decode(encode(value, "float32", order))
    assert got == value or abs(got - value) <= 5e-7 * abs(value)


def test_block_decoder_rounds_like_point_codec_and_reports_sentinels():
    members = [
        (0, PointCodec("uint16", scale=0.1)),
        (1, PointCodec("float32")),
        (3, PointCodec("int32", invalid={0x7FFFFFFF: "overrange"})),
        (5, PointCodec("float32")),
    ]
    regs = [2301, *encode(123456.7, "float32"), 0x7FFF, 0xFFFF, *encode(math.nan, "float32")]
    dec = BlockDecoder.build(7, members)
    assert dec is not None
    values, bad = dec.decode(regs)
    assert values == [230.1, 123456.7, None, None]
    assert bad == [(2, "overrange"), (3, "not_a_number")]
    single = members[2][1]
    assert single.decode([0x7FFF, 0xFFFF]) == Invalid("overrange")
    assert single.decode([0, 5]) == 5
