"""Cross-field checks of a Modbus profile, run after pydantic has checked each field.

:func:`normalise` computes every point's table, PDU address, register count and effective byte
order and collects *every* problem as ``(location, message)``; :func:`overlaps` and
:func:`check_simulation` add register overlaps and generators that cannot fit their points.
:class:`~kit_modbus.profile.ModbusProfile` calls them from its validator and from
:meth:`~kit_modbus.profile.ModbusProfile.resolve`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from kit import vocabulary
from kit.yamlfiles import suggest
from kit_modbus.profile_extras import check_reason, normalise_invalid
from kit_modbus.profile_point import Loc, ModbusPoint
from kit_modbus.profile_sim import Counter
from kit_modbus.profile_types import (
    BIT_TABLES,
    BYTE_TYPES,
    MAX_ADDRESS,
    TYPES,
    WRITABLE_TABLES,
    register_count,
    single_word_order,
    to_pdu,
)

if TYPE_CHECKING:
    from kit_modbus.profile import ModbusProfile

__all__ = ["check_simulation", "declared_index", "normalise", "overlaps", "raw_fit"]


def normalise(prof: ModbusProfile, params: dict[str, int]) -> list[tuple[Loc, str]]:
    """Compute every point's table/pdu/count/byte order; return ``(loc, message)`` problems."""
    prof._params = dict(params)
    conn = prof.connection
    errors: list[tuple[Loc, str]] = []
    seen: dict[str, int] = {}
    for i, p in enumerate(prof.points):
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
        check_extras(p, err)
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
            if p.relative_to not in prof.parameters:
                err(
                    "relative_to",
                    f"unknown parameter {p.relative_to!r}{suggest(p.relative_to, prof.parameters)}",
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
            err_msg = raw_fit(p.range, p.scale, p.offset, spec.raw_min, spec.raw_max, p.type)
            if err_msg:
                err("range", err_msg)
    errors += overlaps(prof)
    return errors


def declared_index(prof: ModbusProfile, i: int) -> int:
    """Index of the declaration point ``i`` came from (``repeat`` copies share one)."""
    origin = prof.points[i]._origin
    return origin if origin >= 0 else i


def check_extras(p: ModbusPoint, err: Any) -> None:
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


def overlaps(prof: ModbusProfile) -> list[tuple[Loc, str]]:
    """Points of one table whose registers/bits intersect (two bits of one register are fine)."""
    errors: list[tuple[Loc, str]] = []
    by_table: dict[str, list[tuple[int, int, int]]] = {}
    for i, p in enumerate(prof.points):
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
                a, b = prof.points[i], prof.points[k]
                if a.overlap or b.overlap:
                    continue
                if a.type == "bit" and b.type == "bit" and a.bit != b.bit:
                    continue
                if a.type in BYTE_TYPES and b.type in BYTE_TYPES and a.byte != b.byte:
                    continue
                first, second = sorted((i, k))
                errors.append(
                    (
                        ("points", declared_index(prof, second), "address"),
                        f"point {prof.points[second].semantic!r}: overlaps "
                        f"points[{declared_index(prof, first)}] "
                        f"({prof.points[first].semantic}) at {a.table} PDU {max(start, start2)}; "
                        "fix the address, or set overlap: true if both really read it",
                    )
                )
    return errors


def check_simulation(prof: ModbusProfile) -> list[tuple[Loc, str]]:
    """Generators name existing points and produce values their points can carry."""
    errors: list[tuple[Loc, str]] = []
    by_name = {p.semantic: p for p in prof.points}
    for name, gen in prof.simulation.points.items():
        at: Loc = ("simulation", "points", name)
        point = by_name.get(name)
        if point is None:
            errors.append((at, f"no point named {name!r} in this profile{suggest(name, by_name)}"))
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
                else raw_fit(
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


def raw_fit(
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
