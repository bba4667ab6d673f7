"""Device identity registers: is the device on the wire the model the profile describes?

Many meters do not answer FC43/14 (Read Device Identification) but document an ID-code
register (Carlo Gavazzi "identification code", Eastron "meter type", firmware words). A
profile declares them in an ``identity`` section, with the values or patterns the model
must show::

    identity:
      registers:
        - {name: model_code, table: input, address: 0x0300, type: uint16, expected: [340, 341]}
        - {name: firmware, table: input, address: 0x0302, type: uint16, pattern: "^(258|259)$"}

``kit probe``, the connection test of ``kit install`` and therefore commissioning read them.
A wrong model is a failed check naming expected and read values; what the reports show is
what was *read* from the device, never the profile's own text.

Addresses follow the profile's ``connection.addressing`` like the points.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kit.errors import AdapterError, DeviceRejected, DeviceTimeout
from kit_modbus import codec
from kit_modbus.line import Line, MalformedReply
from kit_modbus.profile_types import ByteOrder, to_pdu

IdentityType = Literal["uint16", "int16", "uint32", "int32", "string"]


class IdentityRegister(BaseModel):
    """One identity value: where it is, how to decode it, and what the model must show."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    """What it is: ``model_code``, ``firmware``, ``serial_number`` …"""
    description: str = ""
    table: Literal["holding", "input"] | None = None
    """Register table (required unless the address is a Modicon reference)."""
    address: int | str
    """Address in the profile's ``connection.addressing`` convention."""
    type: IdentityType = "uint16"
    length: int | None = Field(None, ge=1, le=64)
    """Registers of a ``string`` (2 characters each)."""
    byte_order: ByteOrder | None = None
    """Word order of a 32-bit value (default: the profile's)."""
    expected: list[int | str] | None = None
    """Values the model shows (any of them); a single value may be written without a list."""
    pattern: str | None = Field(None, max_length=200)
    """Regular expression the value (as text) must match, e.g. a firmware family ``^1\\.``."""

    @field_validator("expected", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return v if v is None or isinstance(v, list) else [v]

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return v

    @model_validator(mode="after")
    def _string_length(self) -> IdentityRegister:
        if self.type == "string" and self.length is None:
            raise ValueError("a string identity value needs length (registers)")
        return self


class Identity(BaseModel):
    """The profile's ``identity`` section: registers that tell the model (and firmware)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    registers: list[IdentityRegister] = Field(min_length=1, max_length=16)


@dataclass
class IdentityResult:
    """What one identity register read, compared with the profile."""

    name: str
    status: Literal["ok", "mismatch", "unreadable", "read"]
    """ok (matches), mismatch, unreadable (with ``reason``), read (nothing expected)."""
    read: Any = None
    expected: str | None = None
    reason: str | None = None

    def text(self) -> str:
        """``model_code = 341`` / ``model_code = 340 (profile expects 341)``."""
        if self.status == "unreadable":
            return f"{self.name}: not readable ({self.reason})"
        base = f"{self.name} = {self.read}"
        return base + (f" (profile expects {self.expected})" if self.status == "mismatch" else "")


def _expected_text(reg: IdentityRegister) -> str | None:
    parts = []
    if reg.expected:
        parts.append(" or ".join(str(e) for e in reg.expected))
    if reg.pattern:
        parts.append(f"matching /{reg.pattern}/")
    return ", ".join(parts) or None


def judge(reg: IdentityRegister, value: Any) -> IdentityResult:
    """Compare a decoded value with what the register declares (pure)."""
    exp = _expected_text(reg)
    if exp is None:
        return IdentityResult(reg.name, "read", value)
    ok = True
    if reg.expected:
        if isinstance(value, str):
            norm = value.strip().strip("\x00").lower()
            ok = any(str(e).strip().lower() == norm for e in reg.expected)
        else:
            ok = any(not isinstance(e, str) and e == value for e in reg.expected)
    if ok and reg.pattern:
        ok = re.search(reg.pattern, str(value).strip().strip("\x00")) is not None
    return IdentityResult(reg.name, "ok" if ok else "mismatch", value, exp)


async def read_identity(
    line: Line, unit: int, identity: Identity, addressing: str, byte_order: str, timeout: float
) -> list[IdentityResult]:
    """Read and judge every identity register (one request each; failures are results).

    Raises:
        CommLost: the device cannot be reached at all (the caller reports it).
    """
    out: list[IdentityResult] = []
    for reg in identity.registers:
        try:
            table, pdu = to_pdu(reg.address, addressing, reg.table)
        except ValueError as exc:
            out.append(IdentityResult(reg.name, "unreadable", reason=f"address: {exc}"))
            continue
        pc = codec.PointCodec(reg.type, reg.byte_order or byte_order, count=reg.length)
        fc = 3 if table == "holding" else 4
        try:
            regs = await line.request(unit, fc, pdu, pc.count, timeout=timeout)
        except DeviceRejected as exc:
            out.append(
                IdentityResult(reg.name, "unreadable", reason=f"modbus_exception_{exc.code}")
            )
            continue
        except DeviceTimeout:
            out.append(IdentityResult(reg.name, "unreadable", reason="timeout"))
            continue
        except MalformedReply:
            out.append(IdentityResult(reg.name, "unreadable", reason="malformed_reply"))
            continue
        value = pc.decode(list(regs))
        if isinstance(value, str):
            value = value.strip().strip("\x00")
        out.append(judge(reg, value))
    return out


def summary(results: list[IdentityResult]) -> str:
    """What was read, e.g. ``model_code = 341, firmware = 259``."""
    return ", ".join(r.text() for r in results)


def raise_on_mismatch(results: list[IdentityResult], where: str, model: str) -> None:
    """Raise :class:`AdapterError` naming expected vs read when the device is another model.

    An unreadable identity register also fails: a device that does not have the register
    the model documents is not that model (or not reachable at that unit id)."""
    bad = [r for r in results if r.status in ("mismatch", "unreadable")]
    if bad:
        raise AdapterError(
            f"{where} is not the device the profile describes ({model}): "
            + "; ".join(r.text() for r in bad)
            + ". Check the unit id (another device on the same gateway?) and pick the profile "
            "of the model that is installed (`kit probe` shows what it reads)."
        )
