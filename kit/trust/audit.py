"""Audit records (IEC 62443-4-2 CR 2.8) on ``KIT_EVENTS`` (``kit.event.audit.<asset>``).

Every record carries the CR 2.8 fields: **timestamp** (``ts``, UTC, CR 2.11), **source**
(who and through which interface), **category** (access_control, request_error,
control_system, config_change, audit_log), **type**, **event id** (``id``) and **result**.
Records are published with a *synchronous* JetStream ack: if the audit trail cannot store
the record, the caller learns it and refuses the audited action (CR 2.10, audit failure).
"""

from __future__ import annotations

import builtins
from typing import Any, Literal

from kit import codec, subjects
from kit.bus import Bus
from kit.errors import BusError
from kit.payloads import Event, utcnow

Category = Literal[
    "access_control", "request_error", "control_system", "config_change", "audit_log"
]


def audit_path(asset: str | None, site: str) -> subjects.AssetPath:
    """The asset an audit record is filed under (the kit's own pseudo-asset if none/invalid)."""
    if asset:
        try:
            return subjects.AssetPath.parse(asset)
        except ValueError:
            pass
    return subjects.AssetPath.of(site, "kit", "security", "audit")


async def audit(
    bus: Bus,
    *,
    site: str,
    asset: str | None,
    source: str,
    category: Category,
    type: str,
    result: str,
    message: str = "",
    severity: str = "info",
    data: dict[str, Any] | None = None,
) -> Event:
    """Publish one audit record and wait for the stream to store it.

    Raises:
        BusError: the record was not stored (the caller must not carry out the action).
    """
    path = audit_path(asset, site)
    ev = Event(
        kind="audit",
        asset=str(path),
        ts=utcnow(),
        source=source,
        category=category,
        type=type,
        result=result,
        severity=severity,
        message=message,
        data=data or {},
    )
    try:
        await bus.js.publish(subjects.event_subject("audit", path), codec.encode(ev), timeout=5)
    except Exception as exc:
        raise BusError(
            f"audit record could not be stored ({exc or builtins.type(exc).__name__}); action refused"
        ) from None
    return ev
