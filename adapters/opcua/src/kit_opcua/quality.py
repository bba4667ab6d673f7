"""Pure mapping of OPC UA DataValues to kit points (no I/O).

OPC 10000-4 §7.34: bits 31–30 of a StatusCode are the severity (00 Good, 01 Uncertain,
10 Bad, 11 reserved → treated as Bad). Bad values "shall never be used", so a bad point
carries no value, only the status name as its reason (``BadNodeIdUnknown``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, overload

from asyncua import ua

from kit.payloads import Point, Quality


def status_name(code: int) -> str:
    """Symbolic name of a StatusCode value (``BadNodeIdUnknown``), or its hex form."""
    try:
        return ua.StatusCode(code).name  # type: ignore[arg-type]  # asyncua annotates its int subclass; any int works
    except Exception:  # asyncua raises on codes it does not know
        return f"0x{code:08X}"


def severity(code: int) -> Quality:
    """Good / uncertain / bad from the two severity bits (reserved 11 counts as bad)."""
    top = (code >> 30) & 0b11
    return Quality.good if top == 0 else Quality.uncertain if top == 1 else Quality.bad


@overload
def _aware(ts: datetime) -> datetime: ...
@overload
def _aware(ts: None) -> None: ...
def _aware(ts: datetime | None) -> datetime | None:
    if ts is None:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def plain(value: Any) -> Any:
    """A JSON-friendly scalar from an OPC UA value (LocalizedText, NodeId, datetime …)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, ua.LocalizedText):
        return value.Text
    if isinstance(value, datetime):
        return _aware(value).isoformat()
    if isinstance(value, (bytes, bytearray)):
        return value.hex()
    if isinstance(value, (list, tuple)):
        return str([plain(v) for v in value])
    return str(value)


def to_point(name: str, dv: ua.DataValue | None, unit: str | None) -> Point:
    """Map one DataValue to a Point: value, quality, reason and the source timestamp."""
    if dv is None:
        return Point(name=name, quality=Quality.bad, reason="no_value", unit=unit)
    code = dv.StatusCode.value if dv.StatusCode is not None else 0
    q = severity(code)
    value = plain(dv.Value.Value) if dv.Value is not None else None
    ts = _aware(dv.SourceTimestamp) or _aware(dv.ServerTimestamp)
    if q is Quality.good:
        if value is None:  # a Good status with an empty Variant is not a usable value
            return Point(name=name, quality=Quality.bad, reason="empty_value", unit=unit, ts=ts)
        return Point(name=name, value=value, unit=unit, ts=ts)
    return Point(
        name=name,
        value=value if q is Quality.uncertain else None,
        unit=unit,
        quality=q,
        reason=status_name(code),
        ts=ts,
    )
