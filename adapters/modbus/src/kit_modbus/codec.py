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
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from kit.display import FLOAT32_DIGITS, FLOAT64_DIGITS, decimals_for, decimals_of, round_sig

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
#: One byte of a register: (bits, signed).
BYTE_TYPES: dict[str, bool] = {"uint8": False, "int8": True}
TYPES = (*NUMERIC, *BYTE_TYPES, "bool", "bit", "string", "version")

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


class Invalid:
    """What :meth:`PointCodec.decode_at` returns for a sentinel raw value (``0x7FFFFFFF`` =
    overrange): not a value, a reason the point is bad. The poller publishes ``quality: bad``
    with :attr:`reason` and no value."""

    __slots__ = ("reason",)

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def __repr__(self) -> str:
        return f"Invalid({self.reason!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Invalid) and other.reason == self.reason

    def __hash__(self) -> int:
        return hash(self.reason)


def register_count(type_: str, count: int | None = None) -> int:
    """Registers (or bits) a value of ``type_`` occupies; strings and versions take ``count``."""
    if type_ in NUMERIC:
        return NUMERIC[type_][0]
    if type_ in ("string", "version"):
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
        count: registers of a ``string`` or ``version`` point.
        byte: ``high`` or ``low`` — the byte of the register a ``uint8``/``int8`` point is.
        parts: numbers of a ``version`` (packed bytes, one per part, the last ``parts`` bytes
            of its registers: 0x0102 → ``1.2``; 0x0001, 0x0203 with 3 parts → ``1.2.3``).
        resolution: smallest step the device reports (from the manual); decoded values are
            rounded to its decimals. Without it, integers scaled by ``scale``/``offset`` are
            rounded to the decimals of those (raw × 0.1 → 1 decimal) and floats to their
            significant digits (float32: 7, float64: 15) — the value on the bus carries no
            binary artefacts (``230.1``, not ``230.10000000000002``; docs/bus.md).
        rounding: False keeps the exact binary value (raw-register tests, probe's raw view).
        invalid: raw values that mean "no valid value" (``{0x7FFFFFFF: "overrange"}``);
            :meth:`decode_at` returns :class:`Invalid` for them instead of a number.
    """

    __slots__ = (
        "type",
        "byte_order",
        "scale",
        "offset",
        "bit",
        "count",
        "decimals",
        "digits",
        "invalid",
        "byte",
        "parts",
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
        resolution: float | None = None,
        rounding: bool = True,
        invalid: Mapping[float, str] | None = None,
        byte: str | None = None,
        parts: int | None = None,
    ) -> None:
        if type_ not in TYPES:
            raise CodecError(f"unknown data type {type_!r}; use one of {', '.join(TYPES)}")
        _check_order(byte_order)
        if type_ == "bit" and (bit is None or not 0 <= bit <= 15):
            raise CodecError("a bit point needs bit 0..15")
        if scale == 0:
            raise CodecError("scale must not be 0 (encode would divide by it)")
        if type_ in BYTE_TYPES and byte not in ("high", "low"):
            raise CodecError(f"a {type_} point needs byte: high or low")
        self.byte = byte
        self.parts = parts or (count or 1) * 2
        self.type, self.byte_order, self.scale, self.offset, self.bit = (
            type_,
            byte_order,
            scale,
            offset,
            bit,
        )
        self.count = register_count(type_, count)
        self._linear = not (scale == 1 and offset == 0)
        self._integral = (type_ in NUMERIC and not type_.startswith("float")) or (
            type_ in BYTE_TYPES
        )
        self.invalid: dict[float, str] = dict(invalid or {})
        # Rounding at decode: decimals for scaled integers and declared resolutions,
        # significant digits for floats (see the class docstring).
        self.decimals: int | None = None
        self.digits: int | None = None
        if rounding and (type_ in NUMERIC or type_ in BYTE_TYPES):
            if resolution is not None:
                self.decimals = decimals_of(resolution)
            elif self._integral:
                self.decimals = decimals_for(scale, offset) if self._linear else None
            else:
                self.digits = FLOAT32_DIGITS if type_ == "float32" else FLOAT64_DIGITS
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

    def post(self, raw: Any) -> Any:
        """Raw number → engineering value: sentinel check, scale/offset, rounding."""
        if self.invalid and raw in self.invalid:
            return Invalid(self.invalid[raw])
        v = raw * self.scale + self.offset if self._linear else raw
        if self.decimals is not None:
            return round(v, self.decimals)
        if self.digits is not None:
            return round_sig(v, self.digits)
        return v

    # -- decoding -------------------------------------------------------------------------
    def _pick_decoder(self) -> Callable[[bytes, bytes, int], Any]:
        if self._struct is not None:
            unpack_from = self._struct.unpack_from
            le = self._le
            if self.invalid or self.decimals is not None or self.digits is not None:
                post = self.post
                if le:
                    return lambda be_buf, le_buf, index: post(unpack_from(le_buf, index * 2)[0])
                return lambda be_buf, le_buf, index: post(unpack_from(be_buf, index * 2)[0])
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
        if self.type in BYTE_TYPES:
            at = 0 if self.byte == "high" else 1
            signed = BYTE_TYPES[self.type]
            post = self.post

            def _byte(be_buf: bytes, le_buf: bytes, index: int) -> Any:
                b = be_buf[index * 2 + at]
                return post(b - 256 if signed and b > 127 else b)

            return _byte
        if self.type == "version":
            n, parts = self.count * 2, self.parts

            def _version(be_buf: bytes, le_buf: bytes, index: int) -> str:
                raw = be_buf[index * 2 : index * 2 + n]
                return ".".join(str(b) for b in raw[n - parts :])

            return _version
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
                # A bit point always has its bit (profile validation), like encode()'s mask.
                (be_buf[index * 2] << 8 | be_buf[index * 2 + 1]) >> bit & 1  # type: ignore[operator]
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
        if self.type in ("string", "version"):
            if not isinstance(value, str):
                raise CodecError(f"{self.type} value must be text, got {value!r}")
            return value
        if isinstance(value, Invalid):
            raw_of = {r: k for k, r in self.invalid.items()}
            if value.reason not in raw_of:
                raise CodecError(f"no sentinel with reason {value.reason!r} for this point")
            return raw_of[value.reason]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CodecError(f"{self.type} value must be a number, got {value!r}")
        raw = (value - self.offset) / self.scale if self._linear else value
        if self._integral:
            if isinstance(raw, float):
                if not math.isfinite(raw):
                    raise CodecError(f"{value!r} is not a finite number")
                raw = round(raw)
            bits = 8 if self.type in BYTE_TYPES else NUMERIC[self.type][0] * 16
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
        if self.type in BYTE_TYPES:
            b = int(raw) & 0xFF
            if self.byte == "high":
                return [(current & 0x00FF) | b << 8]
            return [(current & 0xFF00) | b]
        if self.type == "version":
            try:
                nums = [int(x) for x in raw.split(".")]
            except ValueError:
                raise CodecError(f"version {raw!r} is not dotted numbers (1.2.3)") from None
            if len(nums) != self.parts or any(not 0 <= x <= 255 for x in nums):
                raise CodecError(f"version {raw!r} needs {self.parts} parts of 0…255")
            data = bytes(nums).rjust(self.count * 2, b"\x00")
            return list(struct.unpack(f">{self.count}H", data))
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
    otherwise and the caller decodes point by point. After the unpack, in this order: sentinel
    raw values are taken out (bad, with their reason), scale/offset applied, values rounded
    (see :class:`PointCodec`), non-finite floats taken out ("not_a_number").
    """

    __slots__ = ("_struct", "_le", "_count", "_linear", "_floats", "_invalid", "_dec", "_sig")

    def __init__(
        self,
        st: struct.Struct,
        le: bool,
        count: int,
        linear: list[tuple[int, float, float]],
        floats: list[int],
        invalid: list[tuple[int, dict[float, str]]] | None = None,
        dec: list[tuple[int, int]] | None = None,
        sig: list[tuple[int, int]] | None = None,
    ) -> None:
        self._struct, self._le, self._count, self._linear, self._floats = (
            st,
            le,
            count,
            linear,
            floats,
        )
        self._invalid = invalid or []
        self._dec = dec or []
        self._sig = sig or []

    @classmethod
    def build(cls, count: int, members: Sequence[tuple[int, PointCodec]]) -> BlockDecoder | None:
        """``members``: (register offset, codec) in offset order, for a read of ``count`` registers."""
        if not members:
            return None
        plans = set()
        fmt, pos = [], 0
        linear: list[tuple[int, float, float]] = []
        floats: list[int] = []
        invalid: list[tuple[int, dict[float, str]]] = []
        dec: list[tuple[int, int]] = []
        sig: list[tuple[int, int]] = []
        for i, (off, pc) in enumerate(members):
            if pc._struct is None or off < pos:
                return None
            plans.add((pc._le, pc._struct.format[0]))
            if off > pos:
                fmt.append(f"{(off - pos) * 2}x")
            fmt.append(pc._struct.format[1:])
            pos = off + pc.count
            if pc.invalid:
                invalid.append((i, pc.invalid))
            if pc._linear:
                linear.append((i, pc.scale, pc.offset))
            if pc.decimals is not None:
                dec.append((i, pc.decimals))
            elif pc.digits is not None:
                sig.append((i, pc.digits))
            if pc.type.startswith("float"):
                floats.append(i)
        if len(plans) != 1 or pos > count:
            return None
        le, prefix = plans.pop()
        return cls(
            struct.Struct(prefix + "".join(fmt)), le, count, linear, floats, invalid, dec, sig
        )

    def decode(self, registers: Sequence[int]) -> tuple[list[Any], list[tuple[int, str]]]:
        """(values in member order, ``(index, reason)`` of the bad ones).

        Bad values are sentinels (their declared reason) and non-finite floats
        (``not_a_number`` — "not available" on most meters); their slot in ``values`` is None.
        """
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
        bad: list[tuple[int, str]] = []
        for i, table in self._invalid:
            if values[i] in table:
                bad.append((i, table[values[i]]))
                values[i] = 0  # scaled and rounded harmlessly below, then replaced by None
        for i, scale, offset in self._linear:
            values[i] = values[i] * scale + offset
        for i, d in self._dec:
            values[i] = round(values[i], d)
        if self._floats:
            isfinite = math.isfinite
            for i in self._floats:
                if not isfinite(values[i]):
                    bad.append((i, "not_a_number"))
                    values[i] = 0.0
        for i, d in self._sig:
            v = values[i]
            if v:
                values[i] = round(v, d - 1 - math.floor(math.log10(abs(v))))
        for i, _ in bad:
            values[i] = None
        return values, bad
