"""The Modbus hardware-profile model: connection defaults, points, identification, simulation.

A profile is one YAML file per device model (``hardware_profiles/<vendor>-<model>.yaml``,
docs/profiles.md). Pydantic checks each field; :meth:`ModbusProfile._check` then checks what
depends on several fields — the per-type legality table, Modicon references against tables,
address ranges, overlaps, units against the vocabulary, expected ranges against what the
type can hold, and the simulation against the ranges — and reports *every* problem at its
own location, naming the point (``points[3].bit: point 'power_active_total_w': …``).

After validation each point exposes the normalised attributes the adapter uses:
``table``, ``pdu_address``, ``count``, effective ``byte_order``, ``type``, ``scale``,
``offset``, ``unit``, ``semantic``, ``range``, ``poll``, ``bit``.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from kit import vocabulary
from kit.errors import ConfigError
from kit.profiles import Profile
from kit.yamlfiles import suggest
from kit_modbus.profile_sim import Generator, _Gen, default_generator
from kit_modbus.profile_types import (
    BIT_TABLES, MAX_ADDRESS, REGISTER_TABLES, TYPES, WRITABLE_TABLES, Addressing, ByteOrder, DataType, Table,
    register_count, single_word_order, to_pdu,
)

Loc = tuple[str | int, ...]


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

    @model_validator(mode="after")
    def _slow_not_faster(self) -> "Connection":
        if self.slow_poll_interval_s < self.poll_interval_s:
            raise ValueError(f"slow_poll_interval_s ({self.slow_poll_interval_s}) is shorter than "
                             f"poll_interval_s ({self.poll_interval_s})")
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
        "vendor_name": 0, "product_code": 1, "revision": 2, "vendor_url": 3, "product_name": 4,
        "model_name": 5, "user_application_name": 6,
    }

    def expected(self) -> dict[int, str]:
        """``object id → expected text`` for the objects given."""
        return {oid: getattr(self, name) for name, oid in self.OBJECT_IDS.items() if getattr(self, name)}


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
    def _bounds(self) -> "Parameter":
        if self.min > self.max:
            raise ValueError(f"min ({self.min}) is above max ({self.max})")
        if self.default is not None and not self.min <= self.default <= self.max:
            raise ValueError(f"default {self.default} is outside {self.min}…{self.max}")
        return self


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
    address: int | str
    """Address as the source prints it, in the profile's (or the point's) convention. With
    ``relative_to``: the offset from that parameter's value."""
    addressing: Addressing | None = None
    """Override of ``connection.addressing`` for this point."""
    relative_to: str | None = None
    """Name of an int parameter; the address is ``parameter value + address``."""
    type: DataType | None = None
    """bool (coil/discrete, the default there), bit, int16, uint16, int32, uint32, int64,
    uint64, float32, float64, string. Required for registers."""
    bit: int | None = Field(None, ge=0, le=15)
    """Bit inside the register (0 = least significant); only with type ``bit``."""
    length: int | None = Field(None, ge=1, le=250)
    """Characters of a ``string`` (two per register); only with type ``string``."""
    byte_order: ByteOrder | None = None
    """Override of ``connection.byte_order``; after validation, the effective order."""
    scale: float = 1.0
    """engineering value = raw × scale + offset."""
    offset: float = 0.0
    unit: str | None = None
    """Unit of the engineering value; defaults to the vocabulary's unit and must match it."""
    access: Literal["r", "rw"] = "r"
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

    @field_validator("range")
    @classmethod
    def _ordered_range(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and value[0] > value[1]:
            raise ValueError(f"range min {value[0]} is above max {value[1]}")
        return value

    def normalised(self) -> dict[str, Any]:
        """The attributes the adapter uses, as a plain dict (``kit profile show --json``)."""
        return {"semantic": self.semantic, "table": self.table, "pdu_address": self.pdu_address,
                "count": self.count, "type": self.type, "bit": self.bit, "byte_order": self.byte_order,
                "scale": self.scale, "offset": self.offset, "unit": self.unit, "range": self.range,
                "poll": self.poll, "access": self.access, "unverified": self.unverified}


class Simulation(BaseModel):
    """Values ``kit sim`` serves: a generator per semantic name; other points get a default."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    seed: int = 1
    points: dict[str, Generator] = Field(default_factory=dict)


class ModbusProfile(Profile):
    """A Modbus device model: connection defaults, identification, points, simulation."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    protocol: Literal["modbus"] = "modbus"
    connection: Connection
    identification: Identification | None = None
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    """Values the technician supplies (parameterised PLC templates); see :meth:`resolve`."""
    points: list[ModbusPoint] = Field(min_length=1)
    simulation: Simulation = Field(default_factory=Simulation)

    _params: dict[str, int] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> "ModbusProfile":
        errors = self._normalise(self._defaults())
        errors += self._check_simulation()
        if errors:
            # In file order: problems of points[2] before those of points[5], the rest after.
            errors.sort(key=lambda e: (e[0][1] if len(e[0]) > 1 and isinstance(e[0][1], int) else 1 << 30))
            raise ValidationError.from_exception_data(type(self).__name__, [
                InitErrorDetails(type=PydanticCustomError("modbus_profile", "{msg}", {"msg": m}), loc=loc,
                                 input=None) for loc, m in errors])
        return self

    # -- parameters ---------------------------------------------------------------------

    @property
    def is_parameterised(self) -> bool:
        """True for templates whose addresses depend on technician-supplied parameters."""
        return bool(self.parameters)

    @property
    def resolved_params(self) -> dict[str, int]:
        """Parameter values the addresses were computed with (defaults until :meth:`resolve`)."""
        return dict(self._params)

    def _defaults(self) -> dict[str, int]:
        return {k: (p.default if p.default is not None else p.min) for k, p in self.parameters.items()}

    def resolve(self, params: dict[str, Any] | None = None) -> "ModbusProfile":
        """Materialise a parameterised profile with the technician's values.

        Args:
            params: ``{parameter name: value}``; missing ones take their default.

        Returns:
            A copy whose points carry the final addresses.

        Raises:
            ConfigError: each problem as ``profile_params.<name>: message`` (unknown name with a
                suggestion, wrong type, out of bounds, no default, or points pushed outside the
                address space).
        """
        params = dict(params or {})
        problems: list[str] = []
        values: dict[str, int] = {}
        for key in params:
            if key not in self.parameters:
                known = ", ".join(sorted(self.parameters)) or "none"
                problems.append(f"profile_params.{key}: unknown parameter of profile {self.id!r}"
                                f"{suggest(key, self.parameters)} (parameters: {known})")
        for key, spec in self.parameters.items():
            raw = params.get(key, spec.default)
            if raw is None:
                problems.append(f"profile_params.{key}: required — {spec.prompt} ({spec.min}…{spec.max})")
                continue
            try:
                value = int(raw) if not isinstance(raw, bool) and float(raw) == int(float(raw)) else None
            except (TypeError, ValueError):
                value = None
            if value is None:
                problems.append(f"profile_params.{key}: {raw!r} is not a whole number")
            elif not spec.min <= value <= spec.max:
                problems.append(f"profile_params.{key}: {value} is outside {spec.min}…{spec.max}")
            else:
                values[key] = value
        if problems:
            raise ConfigError(f"profile {self.id}: {len(problems)} problem(s) in profile_params", problems)
        out = self.model_copy(deep=True)
        errors = out._normalise(values)
        if errors:
            raise ConfigError(f"profile {self.id}: the parameters put points out of place", [
                f"profile_params.{self._param_of(loc)}: {m}" for loc, m in errors])
        return out

    def _param_of(self, loc: Loc) -> str:
        if len(loc) >= 2 and loc[0] == "points" and isinstance(loc[1], int):
            return self.points[loc[1]].relative_to or "?"
        return "?"

    # -- cross-field checks -------------------------------------------------------------

    def _normalise(self, params: dict[str, int]) -> list[tuple[Loc, str]]:
        """Compute every point's table/pdu/count/byte order; return ``(loc, message)`` problems."""
        self._params = dict(params)
        conn = self.connection
        errors: list[tuple[Loc, str]] = []
        seen: dict[str, int] = {}
        for i, p in enumerate(self.points):
            label = f"point {p.semantic!r}: "
            at = ("points", i)

            def err(field: str | None, msg: str, at: Loc = at, label: str = label) -> None:
                errors.append(((*at, field) if field else at, label + msg))

            # The vocabulary is checked here, not in a field validator, so an unknown name is
            # reported together with every other cross-field problem of the file.
            name_msg = vocabulary.check_name(p.semantic)
            if name_msg:
                err("semantic", name_msg)
            if p.semantic in seen:
                err("semantic", f"duplicate of points[{seen[p.semantic]}]; each semantic name appears once "
                    "(use an x_ name for a second reading of the same quantity)")
            seen.setdefault(p.semantic, i)
            address = p.address
            if p.relative_to is not None:
                if p.relative_to not in self.parameters:
                    err("relative_to", f"unknown parameter {p.relative_to!r}{suggest(p.relative_to, self.parameters)}")
                    continue
                if not isinstance(address, int) or address < 0:
                    err("address", "with relative_to, address is a non-negative offset from the parameter")
                    continue
                address = params[p.relative_to] + address
            try:
                table, pdu = to_pdu(address, p.addressing or conn.addressing, p.table)
            except ValueError as exc:
                err("address" if p.table is not None or "table" not in str(exc) else "table", str(exc))
                continue
            p.table = table  # type: ignore[assignment]
            if p.type is None:
                if table in BIT_TABLES:
                    p.type = "bool"
                else:
                    err("type", f"type is required for a {table} register (e.g. uint16, int32, float32)")
                    continue
            spec = TYPES[p.type]
            if table not in spec.tables:
                if p.type == "bool":
                    hint = "; for a bit of a register use type bit with bit: N"
                else:
                    hint = "; coils and discrete inputs hold single bits (type bool)"
                err("type", f"type {p.type} cannot live in the {table} table{hint}")
                continue
            for field, allowed in (("bit", p.type == "bit"), ("length", p.type == "string")):
                if getattr(p, field) is not None and not allowed:
                    err(field, f"{field} is only allowed with type {'bit' if field == 'bit' else 'string'}, "
                        f"not {p.type}")
            if p.type == "bit" and p.bit is None:
                err("bit", "type bit needs bit: 0…15 (0 = least significant)")
            if p.type == "string" and p.length is None:
                err("length", "type string needs length (characters, two per register)")
            if not spec.numeric and (p.scale != 1.0 or p.offset != 0.0):
                err("scale" if p.scale != 1.0 else "offset", f"scale/offset are not allowed with type {p.type}")
            if p.scale == 0:
                err("scale", "scale must not be 0")
            if table in BIT_TABLES or p.type == "bit":
                if p.byte_order is not None:
                    err("byte_order", f"byte_order has no meaning for type {p.type}")
                p.byte_order = None
            elif spec.registers == 1 or p.type == "string":
                if p.byte_order in ("CDAB", "DCBA") and p.type != "string":
                    err("byte_order", f"{p.byte_order} swaps words, but {p.type} is one register; use ABCD or "
                        "BADC (byte swap)")
                p.byte_order = p.byte_order or single_word_order(conn.byte_order)  # type: ignore[assignment]
            else:
                p.byte_order = p.byte_order or conn.byte_order  # type: ignore[assignment]
            if p.access == "rw" and table not in WRITABLE_TABLES:
                err("access", f"the {table} table is read-only; rw needs coil or holding")
            if p.type == "string" and p.range is not None:
                err("range", "a string has no numeric range")
            count = register_count(p.type, p.length)
            if pdu + count - 1 > MAX_ADDRESS:
                err("address", f"PDU {pdu} + {count} {'bit' if table in BIT_TABLES else 'register'}(s) runs "
                    f"past 65535")
            limit = conn.max_bits_per_read if table in BIT_TABLES else conn.max_registers_per_read
            if count > limit:
                err("length" if p.type == "string" else "type",
                    f"needs {count} registers in one read, above max_registers_per_read {limit}")
            p._pdu, p._count = pdu, count
            unit_msg = vocabulary.check_unit(p.semantic, p.unit)
            if unit_msg:
                err("unit", unit_msg)
            elif p.unit is None:
                meaning = vocabulary.lookup(p.semantic)
                p.unit = meaning.unit if meaning else None
            if p.range is not None and spec.raw_min is not None and spec.numeric:
                err_msg = _raw_fit(p.range, p.scale, p.offset, spec.raw_min, spec.raw_max, p.type)
                if err_msg:
                    err("range", err_msg)
        errors += self._overlaps()
        return errors

    def _overlaps(self) -> list[tuple[Loc, str]]:
        """Points of one table whose registers/bits intersect (two bits of one register are fine)."""
        errors: list[tuple[Loc, str]] = []
        by_table: dict[str, list[tuple[int, int, int]]] = {}
        for i, p in enumerate(self.points):
            if p.count > 0:
                by_table.setdefault(p.table or "", []).append((p.pdu_address, p.pdu_address + p.count, i))
        for items in by_table.values():
            items.sort()
            for j, (start, end, i) in enumerate(items):
                for start2, _end2, k in items[j + 1:]:
                    if start2 >= end:
                        break
                    a, b = self.points[i], self.points[k]
                    if a.overlap or b.overlap:
                        continue
                    if a.type == "bit" and b.type == "bit" and a.bit != b.bit:
                        continue
                    first, second = sorted((i, k))
                    errors.append((("points", second, "address"),
                                   f"point {self.points[second].semantic!r}: overlaps points[{first}] "
                                   f"({self.points[first].semantic}) at {a.table} PDU {max(start, start2)}; "
                                   "fix the address, or set overlap: true if both really read it"))
        return errors

    def _check_simulation(self) -> list[tuple[Loc, str]]:
        errors: list[tuple[Loc, str]] = []
        by_name = {p.semantic: p for p in self.points}
        for name, gen in self.simulation.points.items():
            at: Loc = ("simulation", "points", name)
            point = by_name.get(name)
            if point is None:
                errors.append((at, f"no point named {name!r} in this profile{suggest(name, by_name)}"))
                continue
            lo, hi = gen.bounds()
            rng = point.range or (None, None)
            if point.range is None:
                continue
            if getattr(gen, "generator", "") == "counter" and hi == math.inf:
                secs = gen.seconds_to(rng[1])  # type: ignore[attr-defined]
                if lo < rng[0] or secs < 7 * 86400:
                    errors.append((at, f"counter leaves the expected range {list(point.range)} after "
                                   f"{secs / 3600:.1f} h; lower rate_per_s, set wrap, or widen the range"))
            elif lo < rng[0] or hi > rng[1]:
                errors.append((at, f"produces {lo:g}…{hi:g}, outside the expected range "
                               f"{rng[0]:g}…{rng[1]:g} of point {name!r}"))
        return errors

    # -- helpers for the adapter and the simulator ------------------------------------------

    def point(self, semantic: str) -> ModbusPoint:
        """The point named ``semantic``.

        Raises:
            KeyError: with the closest name.
        """
        for p in self.points:
            if p.semantic == semantic:
                return p
        raise KeyError(f"profile {self.id!r} has no point {semantic!r}{suggest(semantic, self.semantic_points())}")

    def generator(self, point: ModbusPoint) -> _Gen:
        """The simulation generator of ``point`` (its own, or the default for its semantic)."""
        gen = self.simulation.points.get(point.semantic)
        if gen is not None:
            return gen
        return default_generator(point.semantic, point.type or "uint16", point.range, point.offset)


def _raw_fit(value_range: tuple[float, float], scale: float, offset: float, raw_min: float | None,
             raw_max: float | None, data_type: str | None) -> str | None:
    """Message when the expected range needs raw values the type cannot hold (wrong scale?)."""
    raws = sorted(((value_range[0] - offset) / scale, (value_range[1] - offset) / scale))
    if raw_min is None or raw_max is None:
        return None
    # Allow half a count of rounding at either end.
    if raws[0] < raw_min - 0.5 or raws[1] > raw_max + 0.5:
        return (f"range {list(value_range)} needs raw values {raws[0]:g}…{raws[1]:g} but {data_type} holds "
                f"{raw_min:g}…{raw_max:g}; check scale ({scale:g}) and offset ({offset:g})")
    return None
