"""Profile expressiveness found missing on real manuals (issue 12): repeated channels and
register blocks, parameter-number addressing, model/firmware variants, sentinel values.

Split from :mod:`kit_modbus.profile` to keep modules small; the models here are fields of
:class:`~kit_modbus.profile.ModbusPoint`, :class:`~kit_modbus.profile_sections.Connection`
and :class:`~kit_modbus.profile.ModbusProfile` (docs/profiles.md, "Channels, blocks and
variants").
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

_REASON = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
_PARAM = re.compile(r"^\s*(\d{1,5})(?:\.(\d{1,5}))?\s*$")
#: Reason of a sentinel declared in list form (``invalid: [0xFFFF]``).
DEFAULT_INVALID_REASON = "invalid_value"


class Repeat(BaseModel):
    """One declaration → ``count`` points (channels of an I/O module, a block of registers).

    The point's ``semantic`` (and ``description``) contain ``{n}`` — the channel number,
    ``first`` … ``first + count − 1`` — and may contain ``{address}``, the PDU address of the
    copy. Copy *k* sits ``k × stride`` registers (bits, in coil/discrete tables) after the
    declared address.
    """

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    count: int = Field(ge=1, le=10000)
    """How many points."""
    stride: int | None = Field(None, ge=1, le=65535)
    """Registers (or bits) from one copy to the next; default: the point's own size (a
    contiguous block)."""
    first: int = Field(1, ge=0, le=65535)
    """``{n}`` of the first copy (channels are usually numbered from 1; use 0 for 0-based)."""


class ParameterNumbering(BaseModel):
    """How a drive's parameter numbers map to registers — the manual's formula, never guessed.

    PDU address = group × ``group_factor`` + index × ``index_factor`` + ``offset``, where a
    point's ``parameter`` is ``"G.I"`` (group.index, e.g. ABB ``"03.18"``) or a plain number
    (index only). Examples: "register = parameter × 10 − 1" is ``{index_factor: 10, offset:
    -1}``; ABB ACS580 "400000 + 100 × group + index" (Modicon, so PDU = … − 1) is
    ``{group_factor: 100, index_factor: 1, offset: -1}``.
    """

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    group_factor: int = Field(0, ge=0, le=65535)
    index_factor: int = Field(1, ge=1, le=65535)
    offset: int = Field(0, ge=-65535, le=65535)
    table: str = "holding"
    """Table the parameters live in (drives: holding registers)."""

    def pdu(self, parameter: int | str) -> int:
        """The PDU address of ``parameter``.

        Raises:
            ValueError: the parameter is not ``G.I`` or a number, or lands outside 0…65535.
        """
        m = _PARAM.match(str(parameter))
        if m is None:
            raise ValueError(
                f"parameter {parameter!r} is not a parameter number (write 102 or '03.18')"
            )
        if m.group(2) is not None:
            group, index = int(m.group(1)), int(m.group(2))
            if self.group_factor == 0:
                raise ValueError(
                    f"parameter {parameter!r} has a group, but connection.parameter_numbering "
                    "has no group_factor"
                )
        else:
            group, index = 0, int(m.group(1))
        pdu = group * self.group_factor + index * self.index_factor + self.offset
        if not 0 <= pdu <= 65535:
            raise ValueError(f"parameter {parameter} maps to PDU {pdu}, outside 0…65535")
        return pdu


class Variant(BaseModel):
    """A model or firmware range whose register map differs from the profile's.

    Selected explicitly (``variant:`` in the device config, ``--variant``) or by what the
    device reports (:meth:`ModbusProfile.variant_for`). ``points`` override fields of the
    profile's points by ``semantic`` (e.g. another address); ``add`` brings new points;
    ``remove`` drops points the variant lacks.
    """

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    description: str = ""
    models: list[str] = Field(default_factory=list)
    """Model names/codes this variant is for (case-insensitive substring of what is read)."""
    firmware_min: str | None = None
    """Lowest firmware version (inclusive, dotted: ``2.0``)."""
    firmware_max: str | None = None
    """Highest firmware version (inclusive)."""
    points: list[dict[str, Any]] = Field(default_factory=list)
    """Overrides: ``{semantic: NAME, field: value, …}`` per changed point."""
    add: list[dict[str, Any]] = Field(default_factory=list)
    remove: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _overrides_name_points(self) -> Variant:
        for i, o in enumerate(self.points):
            if not isinstance(o.get("semantic"), str):
                raise ValueError(f"points[{i}]: an override names its point with semantic")
        return self

    def matches(self, model: str | None, firmware: str | None) -> bool:
        """True when ``model``/``firmware`` (as read from the device) fall in this variant."""
        if self.models:
            if model is None or not any(m.lower() in model.lower() for m in self.models):
                return False
        if self.firmware_min is not None or self.firmware_max is not None:
            if firmware is None:
                return False
            fw = version_tuple(firmware)
            if self.firmware_min is not None and fw < version_tuple(self.firmware_min):
                return False
            if self.firmware_max is not None and fw > version_tuple(self.firmware_max):
                return False
        return bool(self.models or self.firmware_min or self.firmware_max)


def version_tuple(text: str) -> tuple[int, ...]:
    """``"V2.10.3"`` → ``(2, 10, 3)`` (non-digits separate parts; comparisons per part)."""
    return tuple(int(x) for x in re.findall(r"\d+", str(text))) or (0,)


def check_reason(reason: str) -> str | None:
    """Message when a sentinel reason is not a bus-safe word."""
    if not _REASON.match(reason):
        return f"reason {reason!r} must be a lower-case word (letters, digits, _), e.g. overrange"
    return None


def normalise_invalid(value: Any) -> dict[float, str]:
    """``[raw, …]`` or ``{raw: reason}`` → ``{raw: reason}`` (list entries: invalid_value)."""
    if value is None:
        return {}
    if isinstance(value, dict):
        return {_number(k): str(v) for k, v in value.items()}
    return {_number(v): DEFAULT_INVALID_REASON for v in value}


def _number(v: Any) -> float:
    if isinstance(v, bool):
        raise ValueError(f"sentinel {v!r} is not a number")
    if isinstance(v, str):
        text = v.strip()
        base = 16 if text.lower().startswith("0x") else 10
        try:
            return int(text, base)
        except ValueError:
            return float(text)
    number: float = v
    return number


def apply_variant(data: dict[str, Any], name: str, variant: Variant) -> dict[str, Any]:
    """The profile's raw data with ``variant`` applied (overrides, additions, removals).

    Raises:
            ValueError: an override or removal names a point the profile does not have.
    """
    out = {k: v for k, v in data.items() if k != "variants"}
    points = [dict(p) for p in data.get("points", []) if isinstance(p, dict)]
    by_name = {p.get("semantic"): i for i, p in enumerate(points)}
    for i, o in enumerate(variant.points):
        k = by_name.get(o["semantic"])
        if k is None:
            raise ValueError(f"variants.{name}.points[{i}]: no point {o['semantic']!r} to override")
        merged = {**points[k], **o}
        # A new address replaces the old way of addressing (parameter ⇄ address).
        if "address" in o:
            merged.pop("parameter", None)
        if "parameter" in o:
            merged.pop("address", None)
        points[k] = merged
    gone = set(variant.remove)
    unknown = gone - set(by_name)
    if unknown:
        raise ValueError(
            f"variants.{name}.remove: no point(s) {', '.join(sorted(map(str, unknown)))}"
        )
    points = [p for p in points if p.get("semantic") not in gone] + [dict(a) for a in variant.add]
    out["points"] = points
    sim = data.get("simulation")
    if isinstance(sim, dict) and isinstance(sim.get("points"), dict) and gone:
        out["simulation"] = {
            **sim,
            "points": {k: v for k, v in sim["points"].items() if k not in gone},
        }
    return out
