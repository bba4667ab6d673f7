"""Fuzzing the pure Modbus decode functions with what a misbehaving device answers.

A reply with a short byte count or a stray function code becomes a register list of the
wrong length, and a buggy gateway or client library can hand over values outside 0..65535.
``kit_modbus.codec`` (point decoders and the block decoder of the poll hot path) must turn
every such input into a value or a :class:`kit_modbus.codec.CodecError` — the adapter maps
that to bad quality with a reason — never a ``struct.error``, ``IndexError`` or anything
else that would crash the poller (issue 19 item 6; the poller's own handling is the
Modbus adapter's, this suite covers the codec it calls).
"""

from __future__ import annotations

import math

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from kit_modbus import codec
from kit_modbus.codec import BYTE_ORDERS, NUMERIC, TYPES, BlockDecoder, CodecError, PointCodec

FUZZ = settings(
    max_examples=400,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
#: Register values a device or library could hand over: mostly valid, some not.
odd_register = st.integers(min_value=0, max_value=0xFFFF) | st.sampled_from(
    [-1, 0x10000, 2**31, -(2**63)]
)
registers = st.lists(odd_register, max_size=10)
valid_registers = st.lists(st.integers(min_value=0, max_value=0xFFFF), max_size=10)
scales = st.sampled_from([1.0, 0.1, -2.0, 1e-300, 1e300, math.inf, math.nan])
COUNTS = {"decoded": 0, "refused": 0}


def _codec(type_: str, order: str, scale: float, bit: int, count: int) -> PointCodec:
    return PointCodec(
        type_,
        order,
        scale=scale,
        offset=0.5 if scale != 1.0 else 0.0,
        bit=bit if type_ == "bit" else None,
        count=count if type_ in ("string", "version") else None,
        # One byte of a register (uint8/int8) must say which one (profiles: ``byte:``).
        byte=("high" if bit % 2 else "low") if type_ in ("uint8", "int8") else None,
    )


@FUZZ
@example(type_="float32", order="ABCD", scale=1.0, regs=[1], bit=0, count=1)
@example(type_="uint16", order="ABCD", scale=1.0, regs=[0x10000], bit=0, count=1)
@example(type_="int64", order="CDAB", scale=1.0, regs=[-1, 0, 0, 0], bit=0, count=1)
@given(
    type_=st.sampled_from(TYPES),
    order=st.sampled_from(BYTE_ORDERS),
    scale=scales,
    regs=registers,
    bit=st.integers(min_value=0, max_value=15),
    count=st.integers(min_value=1, max_value=4),
)
def test_point_decode_gives_a_value_or_codec_error(type_, order, scale, regs, bit, count):
    """Any register list (short, long, out-of-range values) → a value or CodecError."""
    pc = _codec(type_, order, scale, bit, count)
    try:
        pc.decode(regs)
        COUNTS["decoded"] += 1
    except CodecError:
        COUNTS["refused"] += 1
        # Refused only for a reason the adapter can name: too few registers or bad values.
        assert len(regs) < pc.count or any(not 0 <= r <= 0xFFFF for r in regs[: pc.count])


@FUZZ
@given(
    type_=st.sampled_from(TYPES),
    order=st.sampled_from(BYTE_ORDERS),
    regs=valid_registers,
    bit=st.integers(min_value=0, max_value=15),
    count=st.integers(min_value=1, max_value=4),
)
def test_enough_valid_registers_always_decode(type_, order, regs, bit, count):
    """The other side: valid registers, enough of them, always give a value."""
    pc = _codec(type_, order, 1.0, bit, count)
    if len(regs) >= pc.count:
        value = pc.decode(regs)
        if type_ in NUMERIC and not type_.startswith("float"):
            assert isinstance(value, int)


@FUZZ
@given(regs=registers, type_=st.sampled_from(sorted(NUMERIC)), order=st.sampled_from(BYTE_ORDERS))
def test_module_decode_and_all_orders(regs, type_, order):
    """The convenience wrappers ``decode`` and ``all_orders`` (used by ``kit probe``)."""
    for fn in (lambda: codec.decode(regs, type_, order), lambda: codec.all_orders(regs, type_)):
        try:
            fn()
        except CodecError:
            pass


layouts = st.lists(
    st.tuples(st.integers(min_value=0, max_value=3), st.sampled_from(sorted(NUMERIC)), scales),
    min_size=1,
    max_size=6,
)


@FUZZ
@example(layout=[(0, "float32", 1.0)], order="ABCD", regs=[1])
@example(layout=[(0, "uint16", 1.0)], order="ABCD", regs=[0x10000])
@given(layout=layouts, order=st.sampled_from(BYTE_ORDERS), regs=registers)
def test_block_decode_gives_values_or_codec_error(layout, order, regs):
    """The poll hot path: a planned read's block decoder fed a reply of any length/values."""
    members, pos = [], 0
    for gap, type_, scale in layout:
        pc = PointCodec(type_, order, scale=scale)
        members.append((pos + gap, pc))
        pos += gap + pc.count
    block = BlockDecoder.build(pos, members)
    if block is None:  # mixed orders/prefixes: the adapter decodes point by point
        return
    try:
        values, bad = block.decode(regs)
    except CodecError:
        COUNTS["refused"] += 1
        assert len(regs) < pos or any(not 0 <= r <= 0xFFFF for r in regs)
        return
    COUNTS["decoded"] += 1
    assert len(values) == len(members)
    assert all(0 <= i < len(values) for i in bad)


def test_counts():
    """Both outcomes were exercised by the runs above (printed with ``-s``)."""
    print(f"\nModbus codec fuzz: {COUNTS}")
    assert COUNTS["decoded"] > 0 and COUNTS["refused"] > 0
