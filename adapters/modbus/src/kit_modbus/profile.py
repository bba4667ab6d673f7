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
import re
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from ruamel.yaml.scalarint import BinaryInt, HexCapsInt, HexInt, OctalInt, ScalarInt

from kit import vocabulary
from kit.errors import ConfigError
from kit.profiles import Profile
from kit.yamlfiles import suggest
from kit_modbus.identity import Identity
from kit_modbus.profile_extras import (
    Repeat,
    Variant,
    apply_variant,
    check_reason,
    normalise_invalid,
)
from kit_modbus.profile_sections import Connection, Identification, Parameter, SerialSettings
from kit_modbus.profile_sim import Counter, Generator, _Gen, default_generator
from kit_modbus.profile_types import (
    BIT_TABLES,
    BYTE_TYPES,
    MAX_ADDRESS,
    TYPES,
    WRITABLE_TABLES,
    Addressing,
    ByteOrder,
    DataType,
    Table,
    register_count,
    single_word_order,
    to_pdu,
)
from kit_modbus.sim_models import ElectricalModel, MachineModel, Sampler, model_samplers

Loc = tuple[str | int, ...]

__all__ = [
    "Connection",
    "Identification",
    "ModbusPoint",
    "ModbusProfile",
    "Parameter",
    "SerialSettings",
    "Simulation",
]


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


class ModbusProfile(Profile):
    """A Modbus device model: connection defaults, identification, points, simulation."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    protocol: Literal["modbus"] = "modbus"
    connection: Connection
    identification: Identification | None = None
    identity: Identity | None = None
    """Identity registers (model code, firmware) and the values the model shows; see
    :mod:`kit_modbus.identity`."""
    parameters: dict[str, Parameter] = Field(default_factory=dict)
    """Values the technician supplies (parameterised PLC templates); see :meth:`resolve`."""
    points: list[ModbusPoint] = Field(min_length=1)
    variants: dict[str, Variant] = Field(default_factory=dict)
    """Models or firmware ranges whose register map differs (overrides, additions, removals);
    see :meth:`with_variant` / :meth:`variant_for`."""
    simulation: Simulation = Field(default_factory=Simulation)

    _params: dict[str, int] = PrivateAttr(default_factory=dict)
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _every_problem(cls, data: Any, handler: Any) -> ModbusProfile:
        """Report shape errors *and* the cross-field problems of the points that are fine.

        Pydantic stops before the cross-field checks when any field is wrong; a technician
        would then fix one typo only to meet the next batch. So the well-formed points are
        checked again on their own and their problems added (indices mapped back).
        """
        try:
            model: ModbusProfile = handler(data)
        except ValidationError as exc:
            extra = _cross_problems_of_valid_points(data, exc, handler)
            if not extra:
                raise
            details = [_detail(e) for e in exc.errors()] + extra
            raise ValidationError.from_exception_data(cls.__name__, details) from None
        if isinstance(data, dict):
            model._raw = data
            problems = model._check_variants(data)
            if problems:
                raise ValidationError.from_exception_data(cls.__name__, problems)
        return model

    # -- variants -----------------------------------------------------------------------

    def _check_variants(self, data: dict[str, Any]) -> list[InitErrorDetails]:
        """Each variant, applied, is a valid profile (problems at ``variants.<name>``)."""
        out: list[InitErrorDetails] = []
        for name, variant in self.variants.items():
            try:
                type(self).model_validate(apply_variant(data, name, variant))
            except ValueError as exc:
                if isinstance(exc, ValidationError):
                    msgs = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
                else:
                    msgs = [str(exc)]
                for m in msgs:
                    out.append(
                        InitErrorDetails(
                            type=PydanticCustomError(
                                "modbus_profile", "{msg}", {"msg": f"with this variant: {m}"}
                            ),
                            loc=("variants", name),
                            input=None,
                        )
                    )
        return out

    def with_variant(self, name: str | None) -> ModbusProfile:
        """This profile with variant ``name`` applied (itself for None).

        Raises:
            ConfigError: unknown variant (with the known ones).
        """
        if name is None:
            return self
        if name not in self.variants:
            known = ", ".join(sorted(self.variants)) or "none"
            raise ConfigError(
                f"profile {self.id!r} has no variant {name!r}{suggest(name, self.variants)}"
                f" (variants: {known})"
            )
        return type(self).model_validate(apply_variant(self._raw, name, self.variants[name]))

    def variant_for(self, model: str | None = None, firmware: str | None = None) -> str | None:
        """The variant matching what the device reports (model text, firmware version)."""
        for name, v in self.variants.items():
            if v.matches(model, firmware):
                return name
        return None

    @model_validator(mode="after")
    def _check(self) -> ModbusProfile:
        errors = self._expand()
        errors += self._normalise(self._defaults())
        errors += self._check_simulation()
        if errors:
            # In file order: problems of points[2] before those of points[5], the rest after.
            errors.sort(
                key=lambda e: e[0][1] if len(e[0]) > 1 and isinstance(e[0][1], int) else 1 << 30
            )
            raise ValidationError.from_exception_data(
                type(self).__name__,
                [
                    InitErrorDetails(
                        type=PydanticCustomError("modbus_profile", "{msg}", {"msg": m}),
                        loc=loc,
                        input=None,
                    )
                    for loc, m in errors
                ],
            )
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
        return {
            k: (p.default if p.default is not None else p.min) for k, p in self.parameters.items()
        }

    def resolve(self, params: dict[str, Any] | None = None) -> ModbusProfile:
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
                problems.append(
                    f"profile_params.{key}: unknown parameter of profile {self.id!r}"
                    f"{suggest(key, self.parameters)} (parameters: {known})"
                )
        for key, spec in self.parameters.items():
            raw = params.get(key, spec.default)
            if raw is None:
                problems.append(
                    f"profile_params.{key}: required — {spec.prompt} ({spec.min}…{spec.max})"
                )
                continue
            try:
                # Values arrive as text from the CLI and from recipe parameters ("40011").
                number = float(raw)
                value = int(number) if not isinstance(raw, bool) and number.is_integer() else None
            except (TypeError, ValueError, OverflowError):
                value = None
            if value is None:
                problems.append(f"profile_params.{key}: {raw!r} is not a whole number")
            elif not spec.min <= value <= spec.max:
                problems.append(f"profile_params.{key}: {value} is outside {spec.min}…{spec.max}")
            else:
                values[key] = value
        if problems:
            raise ConfigError(
                f"profile {self.id}: {len(problems)} problem(s) in profile_params", problems
            )
        out = self.model_copy(deep=True)
        errors = out._normalise(values)
        if errors:
            raise ConfigError(
                f"profile {self.id}: the parameters put points out of place",
                [f"profile_params.{self._param_of(loc)}: {m}" for loc, m in errors],
            )
        return out

    def _param_of(self, loc: Loc) -> str:
        if len(loc) >= 2 and loc[0] == "points" and isinstance(loc[1], int):
            for p in self.points:
                if p._origin == loc[1]:
                    return p.relative_to or "?"
        return "?"

    # -- cross-field checks -------------------------------------------------------------

    def _expand(self) -> list[tuple[Loc, str]]:
        """Replace each ``repeat`` declaration by its copies (names from ``{n}``/``{address}``).

        Each point remembers its declared index (``_origin``), so problems are reported at the
        declaration's line.
        """
        errors: list[tuple[Loc, str]] = []
        out: list[ModbusPoint] = []
        for i, p in enumerate(self.points):
            if p._origin >= 0:  # already expanded (resolve() of a copy)
                out.append(p)
                continue
            p._origin = i
            rep = p.repeat
            if rep is None:
                out.append(p)
                continue
            if "{n}" not in p.semantic and "{address}" not in p.semantic:
                errors.append(
                    (
                        ("points", i, "semantic"),
                        f"point {p.semantic!r}: with repeat the name needs {{n}} (the channel "
                        "number) or {address}, e.g. x_temperature_ch{n}",
                    )
                )
                continue
            size = register_count(p.type or "uint16", p.length) if p.type else 1
            stride = rep.stride or size
            for k in range(rep.count):
                q = p.model_copy(deep=True)
                q._origin, q._rep_offset, q.repeat = i, k * stride, None
                n = rep.first + k
                q.semantic = p.semantic.replace("{n}", str(n))
                q.description = p.description.replace("{n}", str(n))
                if "{address}" in q.semantic:
                    q._pattern = q.semantic
                out.append(q)
        self.points = out
        return errors

    def _normalise(self, params: dict[str, int]) -> list[tuple[Loc, str]]:
        """Compute every point's table/pdu/count/byte order; return ``(loc, message)`` problems."""
        self._params = dict(params)
        conn = self.connection
        errors: list[tuple[Loc, str]] = []
        seen: dict[str, int] = {}
        for i, p in enumerate(self.points):
            origin = p._origin if p._origin >= 0 else i
            label = f"point {p.semantic!r}: "
            at = ("points", origin)

            def err(field: str | None, msg: str, at: Loc = at, label: str = label) -> None:
                errors.append(((*at, field) if field else at, label + msg))

            def check_name(
                p: ModbusPoint = p, origin: int = origin, err: Callable[..., None] = err
            ) -> None:
                # The vocabulary is checked here, not in a field validator, so an unknown name
                # is reported together with every other cross-field problem of the file.
                name_msg = vocabulary.check_name(p.semantic)
                if name_msg:
                    err("semantic", name_msg)
                if p.semantic in seen:
                    err(
                        "semantic",
                        f"duplicate of points[{seen[p.semantic]}]; each semantic name appears "
                        "once (use an x_ name for a second reading of the same quantity)",
                    )
                seen.setdefault(p.semantic, origin)

            if not p._pattern:
                check_name()
            self._check_extras(p, err)
            address = p.address
            if p.parameter is not None:
                numbering = conn.parameter_numbering
                if address is not None:
                    err("parameter", "give address or parameter, not both")
                    continue
                if numbering is None:
                    err(
                        "parameter",
                        "parameter needs connection.parameter_numbering (the manual's formula, "
                        "e.g. {index_factor: 10, offset: -1} for register = parameter × 10 − 1)",
                    )
                    continue
                try:
                    table, pdu = p.table or numbering.table, numbering.pdu(p.parameter)
                except ValueError as exc:
                    err("parameter", str(exc))
                    continue
                address = None
            elif address is None:
                err(
                    "address",
                    "address is required (or parameter, with connection.parameter_numbering)",
                )
                continue
            if p.relative_to is not None and address is not None:
                if p.relative_to not in self.parameters:
                    err(
                        "relative_to",
                        f"unknown parameter {p.relative_to!r}{suggest(p.relative_to, self.parameters)}",
                    )
                    continue
                if not isinstance(address, int) or address < 0:
                    err(
                        "address",
                        "with relative_to, address is a non-negative offset from the parameter",
                    )
                    continue
                address = params[p.relative_to] + address
            if address is not None:
                try:
                    table, pdu = to_pdu(address, p.addressing or conn.addressing, p.table)
                except ValueError as exc:
                    err(
                        "address" if p.table is not None or "table" not in str(exc) else "table",
                        str(exc),
                    )
                    continue
            pdu += p._rep_offset
            if p._pattern:
                p.semantic = p._pattern.replace("{address}", str(pdu))
                check_name()
            p.table = table  # type: ignore[assignment]
            if p.type is None:
                if table in BIT_TABLES:
                    p.type = "bool"
                else:
                    err(
                        "type",
                        f"type is required for a {table} register (e.g. uint16, int32, float32)",
                    )
                    continue
            spec = TYPES[p.type]
            if table not in spec.tables:
                if p.type == "bool":
                    hint = "; for a bit of a register use type bit with bit: N"
                else:
                    hint = "; coils and discrete inputs hold single bits (type bool)"
                err("type", f"type {p.type} cannot live in the {table} table{hint}")
                continue
            for field, allowed, types in (
                ("bit", p.type == "bit", "bit"),
                ("length", p.type in ("string", "version"), "string or version"),
                ("byte", p.type in BYTE_TYPES, "uint8 or int8"),
            ):
                if getattr(p, field) is not None and not allowed:
                    err(field, f"{field} is only allowed with type {types}, not {p.type}")
            if p.type == "bit" and p.bit is None:
                err("bit", "type bit needs bit: 0…15 (0 = least significant)")
            if p.type in BYTE_TYPES and p.byte is None:
                err("byte", f"type {p.type} needs byte: high (bits 15…8) or low (bits 7…0)")
            if p.type == "string" and p.length is None:
                err("length", "type string needs length (characters, two per register)")
            if p.type == "version" and not 2 <= (p.length or 0) <= 8:
                err("length", "type version needs length: 2…8 (parts, one byte each: 1.2.3 is 3)")
            if p._invalid and not spec.numeric:
                err("invalid", f"sentinel values need a numeric type, not {p.type}")
            elif p._invalid and spec.raw_min is not None:
                outside = [v for v in p._invalid if not spec.raw_min <= v <= spec.raw_max]  # type: ignore[operator]
                if outside:
                    err(
                        "invalid",
                        f"sentinel {outside[0]:g} (0x{int(outside[0]) & 0xFFFFFFFFFFFFFFFF:X}) is "
                        f"outside what {p.type} holds ({spec.raw_min:g}…{spec.raw_max:g}); "
                        "sentinels are raw register values, before scale",
                    )
            if not spec.numeric and (p.scale != 1.0 or p.offset != 0.0):
                err(
                    "scale" if p.scale != 1.0 else "offset",
                    f"scale/offset are not allowed with type {p.type}",
                )
            if p.scale == 0:
                err("scale", "scale must not be 0")
            if table in BIT_TABLES or p.type in ("bit", "version") or p.type in BYTE_TYPES:
                if p.byte_order is not None:
                    err("byte_order", f"byte_order has no meaning for type {p.type}")
                p.byte_order = None
            elif spec.registers == 1 or p.type == "string":
                if p.byte_order in ("CDAB", "DCBA") and p.type != "string":
                    err(
                        "byte_order",
                        f"{p.byte_order} swaps words, but {p.type} is one register; use ABCD or "
                        "BADC (byte swap)",
                    )
                p.byte_order = p.byte_order or single_word_order(conn.byte_order)
            else:
                p.byte_order = p.byte_order or conn.byte_order
            if p.access in ("rw", "w") and table not in WRITABLE_TABLES:
                err(
                    "access",
                    f"the {table} table is read-only; {p.access} needs coil or holding",
                )
            if p.type in ("string", "version") and p.range is not None:
                err("range", f"a {p.type} has no numeric range")
            count = register_count(p.type, p.length)
            if pdu + count - 1 > MAX_ADDRESS:
                err(
                    "address",
                    f"PDU {pdu} + {count} {'bit' if table in BIT_TABLES else 'register'}(s) runs "
                    f"past 65535",
                )
            limit = conn.max_bits_per_read if table in BIT_TABLES else conn.max_registers_per_read
            if count > limit:
                err(
                    "length" if p.type == "string" else "type",
                    f"needs {count} registers in one read, above max_registers_per_read {limit}",
                )
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

    def _declared_index(self, i: int) -> int:
        """Index of the declaration point ``i`` came from (``repeat`` copies share one)."""
        origin = self.points[i]._origin
        return origin if origin >= 0 else i

    @staticmethod
    def _check_extras(p: ModbusPoint, err: Any) -> None:
        """Sentinel declarations: numbers and bus-safe reasons (stored in ``_invalid``)."""
        try:
            p._invalid = normalise_invalid(p.invalid)
        except (TypeError, ValueError) as exc:
            p._invalid = {}
            err(
                "invalid",
                f"{exc}; write raw register values, e.g. [0xFFFF] or {{0x7FFFFFFF: overrange}}",
            )
            return
        for reason in p._invalid.values():
            msg = check_reason(reason)
            if msg:
                err("invalid", msg)

    def _overlaps(self) -> list[tuple[Loc, str]]:
        """Points of one table whose registers/bits intersect (two bits of one register are fine)."""
        errors: list[tuple[Loc, str]] = []
        by_table: dict[str, list[tuple[int, int, int]]] = {}
        for i, p in enumerate(self.points):
            if p.count > 0:
                by_table.setdefault(p.table or "", []).append(
                    (p.pdu_address, p.pdu_address + p.count, i)
                )
        for items in by_table.values():
            items.sort()
            for j, (start, end, i) in enumerate(items):
                for start2, _end2, k in items[j + 1 :]:
                    if start2 >= end:
                        break
                    a, b = self.points[i], self.points[k]
                    if a.overlap or b.overlap:
                        continue
                    if a.type == "bit" and b.type == "bit" and a.bit != b.bit:
                        continue
                    if a.type in BYTE_TYPES and b.type in BYTE_TYPES and a.byte != b.byte:
                        continue
                    first, second = sorted((i, k))
                    errors.append(
                        (
                            ("points", self._declared_index(second), "address"),
                            f"point {self.points[second].semantic!r}: overlaps "
                            f"points[{self._declared_index(first)}] "
                            f"({self.points[first].semantic}) at {a.table} PDU {max(start, start2)}; "
                            "fix the address, or set overlap: true if both really read it",
                        )
                    )
        return errors

    def _check_simulation(self) -> list[tuple[Loc, str]]:
        """Generators name existing points and produce values their points can carry."""
        errors: list[tuple[Loc, str]] = []
        by_name = {p.semantic: p for p in self.points}
        for name, gen in self.simulation.points.items():
            at: Loc = ("simulation", "points", name)
            point = by_name.get(name)
            if point is None:
                errors.append(
                    (at, f"no point named {name!r} in this profile{suggest(name, by_name)}")
                )
                continue
            is_text = isinstance(getattr(gen, "value", None), str)
            if (point.type in ("string", "version")) != is_text and getattr(
                gen, "generator", ""
            ) == "constant":
                errors.append(
                    (
                        at,
                        f"point {name!r} is {point.type}: give a {'text' if point.type == 'string' else 'number'}"
                        " value",
                    )
                )
                continue
            if point.type in ("string", "version") or point.type is None:
                continue
            lo, hi = gen.bounds()
            if point.type in ("bool", "bit"):
                rng: tuple[float, float] | None = (0.0, 1.0)
            else:
                rng = point.range
            if rng is None:
                # No expected range: the values must at least fit the type at its scale.
                spec = TYPES[point.type]
                fit = (
                    None
                    if math.isinf(hi)
                    else _raw_fit(
                        (lo, hi), point.scale, point.offset, spec.raw_min, spec.raw_max, point.type
                    )
                )
                if fit:
                    errors.append(
                        (at, f"point {name!r}: generator {fit.replace('range', 'output', 1)}")
                    )
                continue
            if isinstance(gen, Counter) and hi == math.inf:
                secs = gen.seconds_to(rng[1])
                if lo < rng[0] or secs < 7 * 86400:
                    errors.append(
                        (
                            at,
                            f"counter leaves the expected range {list(rng)} after "
                            f"{secs / 3600:.1f} h; lower rate_per_s, set wrap, or widen the range",
                        )
                    )
            elif lo < rng[0] or hi > rng[1]:
                errors.append(
                    (
                        at,
                        f"produces {lo:g}…{hi:g}, outside the expected range "
                        f"{rng[0]:g}…{rng[1]:g} of point {name!r}",
                    )
                )
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
        raise KeyError(
            f"profile {self.id!r} has no point {semantic!r}{suggest(semantic, self.semantic_points())}"
        )

    def samplers(self) -> list[Sampler]:
        """One ``t → value`` function per point, in point order (what ``kit sim`` serves).

        Modelled points share their model's state, so related values agree at every instant.
        """
        sim = self.simulation
        models = model_samplers(
            sim.electrical, sim.machine, {p.semantic: p.range for p in self.points}
        )
        out: list[Sampler] = []
        for i, p in enumerate(self.points):
            if p.semantic not in sim.points and p.semantic in models:
                out.append(models[p.semantic])
            else:
                out.append(self.generator(p).sampler(sim.seed + i))  # type: ignore[arg-type]
        return out

    def generator(self, point: ModbusPoint) -> _Gen:
        """The simulation generator of ``point`` (its own, or the default for its semantic)."""
        gen = self.simulation.points.get(point.semantic)
        if gen is not None:
            return gen
        return default_generator(point.semantic, point.type or "uint16", point.range, point.offset)


def _raw_fit(
    value_range: tuple[float, float],
    scale: float,
    offset: float,
    raw_min: float | None,
    raw_max: float | None,
    data_type: str | None,
) -> str | None:
    """Message when the expected range needs raw values the type cannot hold (wrong scale?)."""
    raws = sorted(((value_range[0] - offset) / scale, (value_range[1] - offset) / scale))
    if raw_min is None or raw_max is None:
        return None
    # Allow half a count of rounding at either end.
    if raws[0] < raw_min - 0.5 or raws[1] > raw_max + 0.5:
        return (
            f"range [{value_range[0]:g}, {value_range[1]:g}] needs raw values {raws[0]:g}…{raws[1]:g} but {data_type} holds "
            f"{raw_min:g}…{raw_max:g}; check scale ({scale:g}) and offset ({offset:g})"
        )
    return None


def _with_ctx(details: InitErrorDetails, ctx: Any) -> InitErrorDetails:
    """``details`` with the error's context, when it has one."""
    if ctx:
        details["ctx"] = ctx
    return details


def _detail(err: Any) -> InitErrorDetails:
    """A pydantic error dict back as InitErrorDetails (keeping its type, e.g. extra_forbidden)."""
    ctx = err.get("ctx")
    try:
        # Probe that pydantic-core knows the type with this context.
        ValidationError.from_exception_data(
            "probe", [_with_ctx(InitErrorDetails(type=err["type"], loc=(), input=None), ctx)]
        )
        return _with_ctx(
            InitErrorDetails(type=err["type"], loc=err["loc"], input=err.get("input")), ctx
        )
    except (KeyError, TypeError, ValueError):
        return InitErrorDetails(
            type=PydanticCustomError(str(err["type"]), "{msg}", {"msg": err["msg"]}),
            loc=err["loc"],
            input=err.get("input"),
        )


def _cross_problems_of_valid_points(
    data: Any, exc: ValidationError, handler: Any
) -> list[InitErrorDetails]:
    """Cross-field problems among the points that passed field validation (see ``_every_problem``)."""
    if not isinstance(data, dict) or not isinstance(data.get("points"), list):
        return []
    bad: set[int] = set()
    for err in exc.errors():
        loc = list(err["loc"])
        if loc and loc[0] == "points" and len(loc) > 1 and isinstance(loc[1], int):
            bad.add(loc[1])
        elif loc and loc[0] not in ("simulation",):
            return []  # connection or envelope broken: cross checks would only mislead
    kept = [i for i in range(len(data["points"])) if i not in bad]
    if not kept:
        return []
    dropped = {
        str(p.get("semantic"))
        for i, p in enumerate(data["points"])
        if i in bad and isinstance(p, dict)
    }
    reduced = {k: v for k, v in data.items() if k != "points"}
    reduced["points"] = [data["points"][i] for i in kept]
    if any(err["loc"][:1] == ("simulation",) for err in exc.errors()):
        reduced.pop("simulation", None)
    try:
        # Depending on how pydantic nests the validators, the handler may or may not run the
        # after-validator; run the cross checks explicitly when it returns a model.
        model = handler(reduced)
    except ValidationError as again:
        errors: Sequence[Any] = again.errors()
    else:
        errors = [
            {"type": "modbus_profile", "loc": loc, "msg": msg}
            for loc, msg in model._expand()
            + model._normalise(model._defaults())
            + model._check_simulation()
        ]
    out = []
    if errors:
        for err in errors:
            loc = list(err["loc"])
            if err["type"] != "modbus_profile":
                continue
            if loc[:2] and loc[0] == "simulation" and len(loc) > 2 and loc[2] in dropped:
                continue  # names a point that has its own (shape) error
            if loc[0] == "points" and len(loc) > 1 and isinstance(loc[1], int):
                loc[1] = kept[loc[1]]
            msg = re.sub(
                r"points\[(\d+)\]", lambda m: f"points[{kept[int(m.group(1))]}]", err["msg"]
            )
            out.append(
                InitErrorDetails(
                    type=PydanticCustomError("modbus_profile", "{msg}", {"msg": msg}),
                    loc=tuple(loc),
                    input=None,
                )
            )
    return out
