"""Pure Modbus value codec: registers/bits ⇄ engineering values (no I/O).

Word and byte orders use the letters of the 32-bit example 123456.0f = 0x47F12000
(A=47 B=F1 C=20 D=00, see docs/profiles.md):

========  ==================  ============================================
order     reg[n], reg[n+1]     also called
========  ==================  ============================================
ABCD      47F1, 2000           big-endian, high word first (Modbus default)
CDAB      2000, 47F1           word-swapped, low word first ("Modicon")
BADC      F147, 0020           bytes swapped inside each word
DCBA      0020, F147           fully little-endian
========  ==================  ============================================

For 64-bit values the same letters generalise: CDAB reverses the word order, BADC swaps the
bytes inside each word, DCBA does both. For 16-bit values only the byte part matters
(BADC/DCBA swap the two bytes). Strings are packed two characters per register, high byte
first (ABCD/CDAB) or low byte first (BADC/DCBA).

Why two buffers: a block of registers packed big-endian (``>H``) and little-endian (``<H``)
turns every order into ONE ``struct.unpack_from`` with a precompiled format:

* ABCD: big-endian buffer, ``>`` format      * DCBA: big-endian buffer, ``<`` format
* BADC: little-endian buffer, ``>`` format   * CDAB: little-endian buffer, ``<`` format

That is the hot path of the adapter (thousands of points per poll), so a point is compiled
once into a :class:`PointCodec` and decoding is a bound-method call per point.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from typing import Any, Literal

ByteOrder = Literal["ABCD", "CDAB", "BADC", "DCBA"]
BYTE_ORDERS: tuple[ByteOrder, ...] = ("ABCD", "CDAB", "BADC", "DCBA")

#: data type → (registers, struct code); bool/bit/string handled separately.
NUMERIC: dict[str, tuple[int, str]] = {
    "int16": (1, "h"),
    "uint16": (1, "H"),
    "int32": (2, "i"),
    "uint32": (2, "I"),
    "int64": (4, "q"),
    "uint64": (4, "Q"),
    "float32": (2, "f"),
    "float64": (4, "d"),
}
TYPES = (*NUMERIC, "bool", "bit", "string")

# (use the little-endian register buffer?, struct prefix) per order, see module docstring.
_PLAN: dict[str, tuple[bool, str]] = {
    "ABCD": (False, ">"),
    "DCBA": (False, "<"),
    "BADC": (True, ">"),
    "CDAB": (True, "<"),
}
# 16-bit values: only the byte swap counts.
_PLAN16: dict[str, tuple[bool, str]] = {
    "ABCD": (False, ">"),
    "CDAB": (False, ">"),
    "BADC": (True, ">"),
    "DCBA": (True, ">"),
}


class CodecError(ValueError):
    """A value cannot be encoded for (or decoded from) the given type."""


def register_count(type_: str, count: int | None = None) -> int:
    """Registers (or bits) a value of ``type_`` occupies; strings take ``count`` registers."""
    if type_ in NUMERIC:
        return NUMERIC[type_][0]
    if type_ == "string":
        if not count or count < 1:
            raise CodecError("a string needs count >= 1 registers")
        return count
    return 1


def buffers(registers: Sequence[int]) -> tuple[bytes, bytes]:
    """The registers packed big-endian and little-endian (one pack per read, not per point)."""
    n = len(registers)
    try:
        return struct.pack(f">{n}H", *registers), struct.pack(f"<{n}H", *registers)
    except struct.error:  # a value outside 0..65535 (or not an int) from a broken reply
        raise CodecError(f"register values must be 0..65535, got {list(registers)[:8]}") from None


def _check_order(byte_order: str) -> None:
    if byte_order not in _PLAN:
        raise CodecError(f"unknown byte order {byte_order!r}; use one of {', '.join(BYTE_ORDERS)}")


class PointCodec:
    """One point compiled for decoding from a read block and encoding for a write.

    Args:
        type_: one of :data:`TYPES`.
        byte_order: ABCD, CDAB, BADC or DCBA.
        scale, offset: engineering value = raw * scale + offset.
        bit: bit index 0–15 for ``bit`` points (bit inside a register).
        count: registers of a ``string`` point.
    """

    __slots__ = (
        "type",
        "byte_order",
        "scale",
        "offset",
        "bit",
        "count",
        "_le",
        "_struct",
        "_linear",
        "_integral",
        "decode_at",
    )

    def __init__(
        self,
        type_: str,
        byte_order: str = "ABCD",
        *,
        scale: float = 1.0,
        offset: float = 0.0,
        bit: int | None = None,
        count: int | None = None,
    ) -> None:
        if type_ not in TYPES:
            raise CodecError(f"unknown data type {type_!r}; use one of {', '.join(TYPES)}")
        _check_order(byte_order)
        if type_ == "bit" and (bit is None or not 0 <= bit <= 15):
            raise CodecError("a bit point needs bit 0..15")
        if scale == 0:
            raise CodecError("scale must not be 0 (encode would divide by it)")
        self.type, self.byte_order, self.scale, self.offset, self.bit = (
            type_,
            byte_order,
            scale,
            offset,
            bit,
        )
        self.count = register_count(type_, count)
        self._linear = not (scale == 1 and offset == 0)
        self._integral = type_ in NUMERIC and not type_.startswith("float")
        self._struct: struct.Struct | None = None
        self._le = False
        if type_ in NUMERIC:
            width, code = NUMERIC[type_]
            self._le, prefix = (_PLAN16 if width == 1 else _PLAN)[byte_order]
            self._struct = struct.Struct(prefix + code)
        elif type_ == "string":
            self._le = byte_order in ("BADC", "DCBA")
        # Pick the specialised decoder once, so the hot loop does no type dispatch.
        self.decode_at = self._pick_decoder()

    # -- decoding -------------------------------------------------------------------------
    def _pick_decoder(self):
        if self._struct is not None:
            unpack_from = self._struct.unpack_from
            le = self._le
            if not self._linear:
                if le:
                    return lambda be_buf, le_buf, index: unpack_from(le_buf, index * 2)[0]
                return lambda be_buf, le_buf, index: unpack_from(be_buf, index * 2)[0]
            scale, offset = self.scale, self.offset
            if le:
                return lambda be_buf, le_buf, index: (
                    unpack_from(le_buf, index * 2)[0] * scale + offset
                )
            return lambda be_buf, le_buf, index: unpack_from(be_buf, index * 2)[0] * scale + offset
        if self.type == "string":
            n = self.count * 2
            le = self._le

            def _string(be_buf: bytes, le_buf: bytes, index: int) -> str:
                raw = (le_buf if le else be_buf)[index * 2 : index * 2 + n]
                return raw.split(b"\x00", 1)[0].decode("latin-1").strip()

            return _string
        if self.type == "bit":
            bit = self.bit
            return lambda be_buf, le_buf, index: bool(
                (be_buf[index * 2] << 8 | be_buf[index * 2 + 1]) >> bit & 1
            )
        # bool in a register: any non-zero value is true
        return lambda be_buf, le_buf, index: (be_buf[index * 2] | be_buf[index * 2 + 1]) != 0

    def decode(self, registers: Sequence[int]) -> Any:
        """Decode this point from its own registers (``len == count``)."""
        if len(registers) < self.count:
            raise CodecError(f"{self.type} needs {self.count} register(s), got {len(registers)}")
        be_buf, le_buf = buffers(registers[: self.count])
        return self.decode_at(be_buf, le_buf, 0)

    # -- encoding -------------------------------------------------------------------------
    def raw(self, value: Any) -> Any:
        """Engineering value → raw value (inverse of scale/offset), range-checked."""
        if self.type in ("bool", "bit"):
            if not isinstance(value, (bool, int)) or isinstance(value, int) and value not in (0, 1):
                raise CodecError(f"{self.type} value must be true/false or 0/1, got {value!r}")
            return bool(value)
        if self.type == "string":
            if not isinstance(value, str):
                raise CodecError(f"string value expected, got {value!r}")
            return value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CodecError(f"{self.type} value must be a number, got {value!r}")
        raw = (value - self.offset) / self.scale if self._linear else value
        if self._integral:
            if isinstance(raw, float):
                if not math.isfinite(raw):
                    raise CodecError(f"{value!r} is not a finite number")
                raw = round(raw)
            bits = NUMERIC[self.type][0] * 16
            lo, hi = (
                (0, (1 << bits) - 1)
                if self.type.startswith("u")
                else (-(1 << bits - 1), (1 << bits - 1) - 1)
            )
            if not lo <= raw <= hi:
                raise CodecError(
                    f"{value!r} is out of range for {self.type} ({lo}..{hi} raw"
                    f"{'' if not self._linear else f', scale {self.scale}, offset {self.offset}'})"
                )
        elif self.type == "float32" and math.isfinite(raw) and abs(raw) > 3.4028234663852886e38:
            raise CodecError(f"{value!r} is out of range for float32")
        return raw

    def encode(self, value: Any, current: int = 0) -> list[int]:
        """Engineering value → registers to write (FC6/FC16), the exact inverse of decode.

        Args:
            value: the value to write.
            current: for ``bit`` points, the register's present value (read-modify-write).
        """
        raw = self.raw(value)
        if self.type == "bit":
            mask = 1 << self.bit  # type: ignore[operator]
            return [(current | mask) if raw else (current & ~mask & 0xFFFF)]
        if self.type == "bool":
            return [1 if raw else 0]
        if self.type == "string":
            data = raw.encode("latin-1", errors="replace")
            if len(data) > self.count * 2:
                raise CodecError(f"string of {len(data)} bytes does not fit {self.count} registers")
            data = data.ljust(self.count * 2, b"\x00")
            return list(struct.unpack(f"{'<' if self._le else '>'}{self.count}H", data))
        assert self._struct is not None
        data = self._struct.pack(raw)
        return list(struct.unpack(f"{'<' if self._le else '>'}{self.count}H", data))


def decode(
    registers: Sequence[int],
    type_: str,
    byte_order: str = "ABCD",
    *,
    scale: float = 1.0,
    offset: float = 0.0,
    bit: int | None = None,
) -> Any:
    """Decode one value from its registers (convenience wrapper of :class:`PointCodec`)."""
    count = len(registers) if type_ == "string" else None
    return PointCodec(type_, byte_order, scale=scale, offset=offset, bit=bit, count=count).decode(
        registers
    )


def encode(
    value: Any,
    type_: str,
    byte_order: str = "ABCD",
    *,
    scale: float = 1.0,
    offset: float = 0.0,
    bit: int | None = None,
    count: int | None = None,
    current: int = 0,
) -> list[int]:
    """Encode one value to registers (convenience wrapper of :class:`PointCodec`)."""
    return PointCodec(type_, byte_order, scale=scale, offset=offset, bit=bit, count=count).encode(
        value, current
    )


def all_orders(
    registers: Sequence[int], type_: str, *, scale: float = 1.0, offset: float = 0.0
) -> dict[str, Any]:
    """The value decoded in each of the four orders (``kit probe``: which one is plausible?)."""
    return {o: decode(registers, type_, o, scale=scale, offset=offset) for o in BYTE_ORDERS}


class BlockDecoder:
    """Decodes all points of one read with ONE ``struct.unpack_from`` (the hot path).

    Built with :meth:`build` for reads whose points are numeric, do not overlap and share a
    buffer and prefix (the usual case: one device, one byte order); ``build`` returns None
    otherwise and the caller decodes point by point.
    """

    __slots__ = ("_struct", "_le", "_count", "_linear", "_floats")

    def __init__(
        self,
        st: struct.Struct,
        le: bool,
        count: int,
        linear: list[tuple[int, float, float]],
        floats: list[int],
    ) -> None:
        self._struct, self._le, self._count, self._linear, self._floats = (
            st,
            le,
            count,
            linear,
            floats,
        )

    @classmethod
    def build(cls, count: int, members: Sequence[tuple[int, PointCodec]]) -> BlockDecoder | None:
        """``members``: (register offset, codec) in offset order, for a read of ``count`` registers."""
        if not members:
            return None
        plans = set()
        fmt, pos = [], 0
        linear: list[tuple[int, float, float]] = []
        floats: list[int] = []
        for i, (off, pc) in enumerate(members):
            if pc._struct is None or off < pos:
                return None
            plans.add((pc._le, pc._struct.format[0]))
            if off > pos:
                fmt.append(f"{(off - pos) * 2}x")
            fmt.append(pc._struct.format[1:])
            pos = off + pc.count
            if pc._linear:
                linear.append((i, pc.scale, pc.offset))
            if pc.type.startswith("float"):
                floats.append(i)
        if len(plans) != 1 or pos > count:
            return None
        le, prefix = plans.pop()
        return cls(struct.Struct(prefix + "".join(fmt)), le, count, linear, floats)

    def decode(self, registers: Sequence[int]) -> tuple[list[Any], list[int]]:
        """(values in member order, indexes of non-finite floats — "not available")."""
        n = len(registers)
        if n < self._count:  # a short reply: unpack_from would raise struct.error
            raise CodecError(f"the read needs {self._count} register(s), got {n}")
        try:
            buf = struct.pack(f"{'<' if self._le else '>'}{n}H", *registers)
        except struct.error:
            raise CodecError(
                f"register values must be 0..65535, got {list(registers)[:8]}"
            ) from None
        values = list(self._struct.unpack_from(buf, 0))
        for i, scale, offset in self._linear:
            values[i] = values[i] * scale + offset
        bad = [i for i in self._floats if not math.isfinite(values[i])] if self._floats else []
        return values, bad
