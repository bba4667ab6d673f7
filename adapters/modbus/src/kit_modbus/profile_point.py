"""The point and simulation sections of a Modbus hardware profile (docs/profiles.md).

:class:`ModbusPoint` is one value of the device as the profile declares it; after the profile
is validated (:mod:`kit_modbus.profile_checks`) it also carries the normalised attributes the
adapter uses (``pdu_address``, ``count``, effective ``byte_order``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
)
from ruamel.yaml.scalarint import BinaryInt, HexCapsInt, HexInt, OctalInt, ScalarInt

from kit_modbus.profile_extras import Repeat
from kit_modbus.profile_sim import Generator
from kit_modbus.profile_types import Addressing, ByteOrder, DataType, Table
from kit_modbus.sim_models import ElectricalModel, MachineModel

Loc = tuple[str | int, ...]
"""Where a problem is: pydantic-style location (``("points", 3, "bit")``)."""

__all__ = ["Loc", "ModbusPoint", "Simulation"]


class ModbusPoint(BaseModel):
    """One value of the device. See docs/profiles.md for every field."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    semantic: str
    """Standard name from docs/vocabulary.md (or ``x_…`` for vendor extras); the point's name."""
    description: str = ""
    """What the manual calls it (e.g. "Phase 1 line to neutral volts")."""
    table: Table | None = None
    """coil (FC01), discrete (FC02), input (FC04) or holding (FC03). Implied by a Modicon
    reference (and must agree with it when both are given)."""
    address: int | str | None = None
    """Address as the source prints it, in the profile's (or the point's) convention. With
    ``relative_to``: the offset from that parameter's value. Required unless ``parameter``."""
    parameter: int | str | None = None
    """Drive parameter number (``102``, ``"03.18"``) instead of an address; the register
    follows from ``connection.parameter_numbering`` (the manual's formula)."""
    repeat: Repeat | None = None
    """One declaration → ``count`` points: channels (``semantic: x_temp_ch{n}``) or a register
    block (``count: 1000``); see docs/profiles.md."""
    addressing: Addressing | None = None
    """Override of ``connection.addressing`` for this point."""
    relative_to: str | None = None
    """Name of an int parameter; the address is ``parameter value + address``."""
    type: DataType | None = None
    """bool (coil/discrete, the default there), bit, int16, uint16, int32, uint32, int64,
    uint64, float32, float64, string. Required for registers."""
    bit: int | None = Field(None, ge=0, le=15)
    """Bit inside the register (0 = least significant); only with type ``bit``."""
    byte: Literal["high", "low"] | None = None
    """Byte of the register (high = bits 15…8); only with types ``uint8``/``int8``."""
    length: int | None = Field(None, ge=1, le=250)
    """Characters of a ``string`` (two per register), or parts of a ``version`` (one byte
    each: 0x0102 with length 2 → "1.2")."""
    byte_order: ByteOrder | None = None
    """Override of ``connection.byte_order``; after validation, the effective order."""
    scale: float = 1.0
    """engineering value = raw × scale + offset."""
    offset: float = 0.0
    resolution: float | None = Field(None, gt=0)
    """Smallest step the device reports (from the manual, e.g. 0.01). Decoded values are rounded
    to its decimals; without it integers keep the decimals of ``scale``/``offset`` and floats
    their significant digits (float32: 7) — docs/bus.md, "Values and precision"."""
    unit: str | None = None
    """Unit of the engineering value; defaults to the vocabulary's unit and must match it."""
    access: Literal["r", "rw", "w"] = "r"
    """``r`` read (polled), ``rw`` read and write, ``w`` write-only command (never polled:
    reset counters, start/stop words)."""
    invalid: list[int | float | str] | dict[int | float | str, str] | None = None
    """Raw values that mean "no valid value" (``[0xFFFF]``, or ``{0x7FFFFFFF: overrange}`` to
    name the reason): the point is published bad with that reason, never as a number."""
    range: tuple[float, float] | None = None
    """Expected ``[min, max]`` of the engineering value (``kit probe`` checks it; ``kit sim``
    stays inside it)."""
    poll: Literal["fast", "slow"] = "fast"
    unverified: bool = False
    """True when the source marks the value UNVERIFIED/CONFLICT or the scale is uncertain."""
    overlap: bool = False
    """Set when this point deliberately reads registers another point reads too."""
    note: str = ""

    _pdu: int = PrivateAttr(-1)
    _count: int = PrivateAttr(0)
    _rep_offset: int = PrivateAttr(0)
    _origin: int = PrivateAttr(-1)
    _pattern: str = PrivateAttr("")
    """Name pattern with ``{address}`` (a block copy), named again whenever addresses move."""
    _invalid: dict[float, str] = PrivateAttr(default_factory=dict)

    @property
    def invalid_raw(self) -> dict[float, str]:
        """Sentinel raw value → reason (after validation)."""
        return dict(self._invalid)

    @property
    def polled(self) -> bool:
        """False for write-only command points."""
        return self.access != "w"

    @property
    def name(self) -> str:
        """The published point name (= ``semantic``)."""
        return self.semantic

    @property
    def pdu_address(self) -> int:
        """0-based wire address of the first register or bit."""
        return self._pdu

    @property
    def count(self) -> int:
        """Registers (register tables) or bits (coil/discrete) the point occupies."""
        return self._count

    @property
    def function_code(self) -> int:
        """Read function code of the point's table."""
        return {"coil": 1, "discrete": 2, "holding": 3, "input": 4}[self.table or "holding"]

    @field_validator("address", mode="before")
    @classmethod
    def _keep_leading_zeros(cls, value: Any) -> Any:
        # YAML turns ``address: 010001`` into the int 10001, which as a Modicon reference is a
        # *discrete input*; the digits as written (a 6-digit coil reference) are kept instead.
        if isinstance(value, ScalarInt) and not isinstance(
            value, (HexInt, HexCapsInt, OctalInt, BinaryInt)
        ):
            width = getattr(value, "_width", None) or 0
            if width > len(str(int(value))) and int(value) >= 0:
                return f"{int(value):0{width}d}"
        return value

    @field_validator("range")
    @classmethod
    def _ordered_range(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and value[0] > value[1]:
            raise ValueError(f"range min {value[0]} is above max {value[1]}")
        return value

    def normalised(self) -> dict[str, Any]:
        """The attributes the adapter uses, as a plain dict (``kit profile show --json``)."""
        return {
            "semantic": self.semantic,
            "table": self.table,
            "pdu_address": self.pdu_address,
            "count": self.count,
            "type": self.type,
            "bit": self.bit,
            "byte": self.byte,
            "byte_order": self.byte_order,
            "scale": self.scale,
            "offset": self.offset,
            "resolution": self.resolution,
            "unit": self.unit,
            "range": self.range,
            "poll": self.poll,
            "access": self.access,
            "invalid": {str(k): v for k, v in self._invalid.items()} or None,
            "unverified": self.unverified,
        }


class Simulation(BaseModel):
    """Values ``kit sim`` serves: physical models, a generator per semantic name, defaults.

    Precedence per point: its generator in ``points``, else a model's value (``electrical``
    applies to electrical names even when not declared; ``machine`` when declared), else a
    default for its semantic name (:mod:`kit_modbus.sim_models`).
    """

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    seed: int = 1
    electrical: ElectricalModel | None = None
    """Meter physics from per-phase drivers: phases sum to totals, S² = P² + Q²,
    V_LL = √3·V_LN, counters integrate power."""
    machine: MachineModel | None = None
    """Running pattern, cycle time ≥ ideal, part counters that follow the cycle time."""
    points: dict[str, Generator] = Field(default_factory=dict)
