"""Sections of a Modbus profile besides the points: connection, identification, parameters.

Split from :mod:`kit_modbus.profile` (which re-exports them) to keep modules small.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kit_modbus.profile_extras import ParameterNumbering
from kit_modbus.profile_types import Addressing, ByteOrder


class SerialSettings(BaseModel):
    """RS-485 line settings of the device's factory default (Modbus RTU)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    baudrate: int = Field(9600, ge=300, le=921600)
    bytesize: Literal[7, 8] = 8
    parity: Literal["N", "E", "O"] = "N"
    """N none, E even, O odd."""
    stopbits: Literal[1, 2] = 1
    unverified: bool = False
    """True when the sources disagree on or do not state these defaults."""
    note: str = ""


class Connection(BaseModel):
    """How to talk to the device, and its limits. All are defaults a site config may override."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    transport: Literal["tcp", "rtu", "rtu_over_tcp"] = "tcp"
    """What the device speaks natively: Modbus TCP, or RTU on RS-485 (reached through a serial
    port, or a gateway: ``rtu_over_tcp`` for a transparent one, ``tcp`` for a Modbus TCP↔RTU
    gateway such as Moxa MGate)."""
    port: int = Field(502, ge=1, le=65535)
    """TCP port (also the gateway's port for serial devices)."""
    unit_id: int = Field(1, ge=0, le=255)
    """Unit identifier / slave address (1…247 on a serial line; 0 or 255 for some TCP devices)."""
    serial: SerialSettings | None = None
    byte_order: ByteOrder = "ABCD"
    """Order of the bytes of a 32/64-bit value on the wire (ABCD = Modbus big-endian; CDAB =
    low word first). 16-bit values only use the byte order inside the word."""
    addressing: Addressing
    """Convention of the addresses in ``points`` — required, never guessed: ``pdu`` (0-based
    wire address), ``modicon`` (30001/40001, 5 or 6 digits) or ``one_based`` (register numbers
    starting at 1, e.g. Schneider)."""
    max_registers_per_read: int = Field(125, ge=1, le=125)
    """Largest FC03/FC04 read the device accepts (spec limit 125)."""
    max_bits_per_read: int = Field(2000, ge=1, le=2000)
    """Largest FC01/FC02 read the device accepts (spec limit 2000)."""
    max_gap: int = Field(8, ge=0, le=124)
    """Unused registers (or bits) a coalesced read may span between two points."""
    timeout_s: float = Field(1.0, gt=0, le=60)
    poll_interval_s: float = Field(1.0, gt=0, le=86400)
    """Interval of ``poll: fast`` points."""
    slow_poll_interval_s: float = Field(10.0, gt=0, le=86400)
    """Interval of ``poll: slow`` points (energy counters, configuration, identification)."""
    write_single_register: bool = True
    """False when the device lacks FC06 (Yaskawa V1000): writes then use FC16."""
    parameter_numbering: ParameterNumbering | None = None
    """The manual's formula from parameter numbers to registers (drives), for points that give
    ``parameter`` instead of ``address``."""

    @model_validator(mode="after")
    def _slow_not_faster(self) -> Connection:
        if self.slow_poll_interval_s < self.poll_interval_s:
            raise ValueError(
                f"slow_poll_interval_s ({self.slow_poll_interval_s}) is shorter than "
                f"poll_interval_s ({self.poll_interval_s})"
            )
        return self


class Identification(BaseModel):
    """Expected FC43/14 (Read Device Identification) objects; a device matches when each given
    object contains the expected text (case-insensitive)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    supported: bool = True
    """False when the device does not implement FC43/14 (most meters and drives on RTU)."""
    vendor_name: str | None = None
    """Object 0x00 (basic)."""
    product_code: str | None = None
    """Object 0x01 (basic)."""
    revision: str | None = None
    """Object 0x02 MajorMinorRevision (basic)."""
    vendor_url: str | None = None
    """Object 0x03 (regular)."""
    product_name: str | None = None
    """Object 0x04 (regular)."""
    model_name: str | None = None
    """Object 0x05 (regular)."""
    user_application_name: str | None = None
    """Object 0x06 (regular)."""
    unverified: bool = False
    """True when the expected texts come from documentation, not from a real device's answer."""

    #: Object id of each field (Modbus Application Protocol V1.1b3, 6.21).
    OBJECT_IDS: ClassVar[dict[str, int]] = {
        "vendor_name": 0,
        "product_code": 1,
        "revision": 2,
        "vendor_url": 3,
        "product_name": 4,
        "model_name": 5,
        "user_application_name": 6,
    }

    def expected(self) -> dict[int, str]:
        """``object id → expected text`` for the objects given."""
        return {
            oid: getattr(self, name) for name, oid in self.OBJECT_IDS.items() if getattr(self, name)
        }


class Parameter(BaseModel):
    """A value the technician supplies when using a parameterised profile (a PLC template)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    type: Literal["int"] = "int"
    prompt: str
    """Question shown to the technician, e.g. "First holding register of the machine block"."""
    default: int | None = None
    min: int = 0
    max: int = 465536
    help: str = ""

    @model_validator(mode="after")
    def _bounds(self) -> Parameter:
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        if self.default is not None and not self.min <= self.default <= self.max:
            raise ValueError(f"default {self.default} is outside {self.min}…{self.max}")
        return self
