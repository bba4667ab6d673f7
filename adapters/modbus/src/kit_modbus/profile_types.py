"""Modbus data types, register tables and address conventions (pure tables and functions).

The per-type table drives profile validation (which fields a point of a given type may or
must have, in the style of Home Assistant's ``modbus/validators.py``) and tells the codec and
the request planner how many registers or bits a point occupies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Table = Literal["coil", "discrete", "input", "holding"]
DataType = Literal[
    "bool",
    "bit",
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "float32",
    "float64",
    "string",
    "uint8",
    "int8",
    "version",
]
ByteOrder = Literal["ABCD", "CDAB", "BADC", "DCBA"]
Addressing = Literal["pdu", "modicon", "one_based"]

#: Tables holding single bits (FC01/FC02) and 16-bit registers (FC04/FC03).
BIT_TABLES: frozenset[str] = frozenset({"coil", "discrete"})
REGISTER_TABLES: frozenset[str] = frozenset({"input", "holding"})
#: Tables a client may write (FC05/FC15 coils, FC06/FC16 holding registers).
WRITABLE_TABLES: frozenset[str] = frozenset({"coil", "holding"})
#: Read function code per table.
READ_FUNCTION: dict[str, int] = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}

MAX_ADDRESS = 65535


@dataclass(frozen=True)
class TypeSpec:
    """What a data type needs: its size and the fields that are legal with it."""

    registers: int | None
    """Registers per value (None: bit-table type, or ``string`` whose size comes from ``length``)."""
    tables: frozenset[str]
    """Tables a point of this type may live in."""
    raw_min: float | None = None
    raw_max: float | None = None
    """Range of the raw integer (None for floats, strings and bits)."""
    numeric: bool = True
    """Has scale/offset/range."""


def _int(bits: int, signed: bool) -> tuple[int, int]:
    return (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)


TYPES: dict[str, TypeSpec] = {
    "bool": TypeSpec(None, BIT_TABLES, 0, 1, numeric=False),
    "bit": TypeSpec(1, REGISTER_TABLES, 0, 1, numeric=False),
    "int16": TypeSpec(1, REGISTER_TABLES, *_int(16, True)),
    "uint16": TypeSpec(1, REGISTER_TABLES, *_int(16, False)),
    "int32": TypeSpec(2, REGISTER_TABLES, *_int(32, True)),
    "uint32": TypeSpec(2, REGISTER_TABLES, *_int(32, False)),
    "int64": TypeSpec(4, REGISTER_TABLES, *_int(64, True)),
    "uint64": TypeSpec(4, REGISTER_TABLES, *_int(64, False)),
    "float32": TypeSpec(2, REGISTER_TABLES),
    "float64": TypeSpec(4, REGISTER_TABLES),
    "string": TypeSpec(None, REGISTER_TABLES, numeric=False),
    # One byte of a register (``byte: high|low``): two values packed in one word.
    "uint8": TypeSpec(1, REGISTER_TABLES, *_int(8, False)),
    "int8": TypeSpec(1, REGISTER_TABLES, *_int(8, True)),
    # A version packed one number per byte (0x0102 → "1.2"); ``length`` = number of parts.
    "version": TypeSpec(None, REGISTER_TABLES, numeric=False),
}

#: Types that are one byte of a register (need ``byte``).
BYTE_TYPES: frozenset[str] = frozenset({"uint8", "int8"})


def register_count(data_type: str, length: int | None) -> int:
    """Registers (or bits, for ``bool``) one value of ``data_type`` occupies.

    ``length`` is the number of characters of a ``string`` (two per register), or the number
    of parts of a ``version`` (one byte each).
    """
    if data_type == "bool":
        return 1
    if data_type in ("string", "version"):
        return ((length or 0) + 1) // 2
    regs = TYPES[data_type].registers
    assert regs is not None
    return regs


def single_word_order(order: str) -> ByteOrder:
    """Effective order of a 16-bit value under a device-wide ``order``.

    Word order means nothing for one register; only the byte swap inside the word is kept
    (``CDAB`` → ``ABCD``, ``DCBA`` → ``BADC``).
    """
    return "ABCD" if order in ("ABCD", "CDAB") else "BADC"


_MODICON_TABLE = {0: "coil", 1: "discrete", 3: "input", 4: "holding"}
MODICON_PREFIX = {v: k for k, v in _MODICON_TABLE.items()}
_HEX = re.compile(r"^0[xX][0-9a-fA-F]{1,4}$")


def to_pdu(address: int | str, convention: str, table: str | None) -> tuple[str, int]:
    """Convert an address as a manual prints it to ``(table, pdu_address)``.

    Conventions:
        ``pdu``: the 0-based wire address (also what Siemens PAC "offsets", Janitza and
        Yaskawa hex addresses are); an int or a ``0x…`` string. ``table`` is required.
        ``one_based``: a 1-based register number (Schneider iEM); PDU = number − 1.
        ``modicon``: a 5-digit (``40001``) or 6-digit (``400001``) reference; the first digit
        names the table (0 coil, 1 discrete input, 3 input register, 4 holding register) and
        PDU = reference − (table base + 1). A string keeps its digits (``"010001"`` is a 6-digit
        coil reference); an int below 100000 is read as 5 digits. (Profile loading turns YAML
        ints written with leading zeros back into strings, see ``ModbusPoint``.)

    Raises:
        ValueError: with a message saying what is wrong and how to write it.
    """
    if convention == "modicon":
        return _modicon(address, table)
    if isinstance(address, str):
        text = address.strip()
        if _HEX.match(text):
            number = int(text, 16)
        elif text.isdigit():
            number = int(text)
        else:
            raise ValueError(f"address {address!r} is not a number (write 3059 or '0x0BF3')")
    else:
        number = address
    if table is None:
        raise ValueError(
            f"table is required with {convention} addressing "
            "(coil, discrete, input or holding — from the function code in the manual)"
        )
    if convention == "one_based":
        if number < 1:
            raise ValueError(f"1-based register number {number} must be at least 1")
        number -= 1
    if not 0 <= number <= MAX_ADDRESS:
        raise ValueError(f"address {address} is outside the Modbus range 0…65535")
    return table, number


def _modicon(address: int | str, table: str | None) -> tuple[str, int]:
    if isinstance(address, str):
        text = address.strip()
        if not text.isdigit() or len(text) not in (5, 6):
            raise ValueError(
                f"Modicon reference {address!r} must have 5 or 6 digits (40001, 400001)"
            )
        prefix, number = int(text[0]), int(text[1:])
        digits = len(text)
    elif address >= 100000:
        prefix, number, digits = address // 100000, address % 100000, 6
    else:
        prefix, number, digits = address // 10000, address % 10000, 5
    implied = _MODICON_TABLE.get(prefix)
    if implied is None:
        raise ValueError(
            f"Modicon reference {address} starts with {prefix}: only 0xxxx coils, 1xxxx "
            "discrete inputs, 3xxxx input registers and 4xxxx holding registers exist"
        )
    top = 9999 if digits == 5 else 65536
    if not 1 <= number <= top:
        raise ValueError(
            f"Modicon reference {address} is outside {prefix}{'0' * (digits - 2)}1…"
            f"{prefix}{top:0{digits - 1}d}"
        )
    if table is not None and table != implied:
        raise ValueError(
            f"Modicon reference {address} is {'an' if implied == 'input' else 'a'} {implied} address ({prefix}xxxx) but table is "
            f"{table!r}; fix the table or the reference"
        )
    return implied, number - 1
