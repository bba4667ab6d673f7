"""Payload models of the bus contract, version 1 (documented in docs/bus.md).

These are public API: any NATS or MQTT client reads them as plain JSON. Field names are
spelled out (no one-letter keys) so a technician reading ``kit bus tail`` understands them.
Change only by adding optional fields; a breaking change bumps ``schema``.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

#: Integers are those of the devices' registers: int64 to uint64. A larger one cannot be a
#: reading, is not a float for analytics, and no JSON codec of the kit round-trips it.
Value = float | Annotated[int, Field(ge=-(2**63), lt=2**64)] | bool | str | None


def _timestamp_text(v: Any) -> Any:
    # JSON numbers would be read as seconds since 1970: the wire format is ISO 8601 text, and
    # a producer sending a number is broken (docs/bus.md; tests/fuzz/test_payload_fuzz.py).
    if isinstance(v, str | datetime):
        return v
    raise ValueError("timestamp must be ISO 8601 text")


#: A payload timestamp: ISO 8601 text with a UTC offset on the wire (or a datetime in Python).
Timestamp = Annotated[AwareDatetime, BeforeValidator(_timestamp_text)]


def utcnow() -> datetime:
    """The current time as an aware UTC datetime (what every payload timestamp uses)."""
    return datetime.now(UTC)


_epoch_lock = threading.Lock()
_last_epoch = 0

#: Reason of a point whose value was NaN or ±Infinity (never a usable value).
NON_FINITE = "non_finite"


def new_epoch() -> int:
    """A fresh producer epoch: milliseconds since 1970, strictly increasing in this process.

    Every component instance (each start, supervisor restart or ``components.restart``)
    numbers its batches from 0 again; the epoch tells its runs apart, so ``Nats-Msg-Id``
    (``<source>:<asset>:<epoch>:<seq>``) of a new run never collides with the old run's ids
    inside the stream's duplicate window, and consumers see a restart instead of a gap.
    """
    global _last_epoch
    with _epoch_lock:
        _last_epoch = max(time.time_ns() // 1_000_000, _last_epoch + 1)
        return _last_epoch


class Quality(StrEnum):
    """OPC-UA-style three-level quality of a value."""

    good = "good"
    uncertain = "uncertain"
    bad = "bad"


class _Model(BaseModel):
    # extra="ignore" on the wire: a newer producer may add optional fields and older
    # consumers must keep working (forward compatibility of the public contract).
    model_config = ConfigDict(extra="ignore", frozen=False)


class Point(_Model):
    """One value of one semantic point inside a sample batch."""

    name: str = Field(min_length=1)
    """Semantic name from docs/vocabulary.md, e.g. ``power_active_total_w``."""
    value: Value = None
    """The decoded, scaled value. Always ``null`` when quality is ``bad``."""
    unit: str | None = None
    """Unit symbol, e.g. ``W``, ``kWh``, ``mm/s``; ``null`` for dimensionless values."""
    quality: Quality = Quality.good
    reason: str | None = None
    """Why quality is not good: ``timeout``, ``modbus_exception_2``, ``BadNodeIdUnknown``, ``comm_lost`` …"""
    ts: Timestamp | None = None
    """The device's own timestamp (OPC UA SourceTimestamp), when it has one."""

    @model_validator(mode="after")
    def _quality_rules(self) -> Point:
        # NaN/±Infinity are no measurement (a meter's "not available", a forged message):
        # bad with a reason, on the producer and on every decode, never fed to analytics.
        v = self.value
        if v.__class__ is float and not math.isfinite(v):
            self.quality, self.value = Quality.bad, None
            self.reason = self.reason or NON_FINITE
        # A bad value is never published as if it were usable: strip it at the source.
        if self.quality is Quality.bad and self.value is not None:
            self.value = None
        if self.quality is not Quality.good and not self.reason:
            raise ValueError(f"point {self.name!r}: quality {self.quality.value} needs a reason")
        return self


class SampleBatch(_Model):
    """A batch of points read from one asset at one moment (subject ``kit.data.…``)."""

    schema_: Literal["kit.samples/1"] = Field("kit.samples/1", alias="schema")
    asset: str
    """Asset path ``site/area/line/asset`` (sanitised tokens)."""
    ts: Timestamp
    """Gateway timestamp (UTC) when the batch was read."""
    seq: int = Field(ge=0, lt=2**63)
    """Per-source sequence number, +1 per batch, so consumers detect gaps and duplicates.
    Below 2**63 so it survives every JSON codec the kit uses (orjson stops at 64 bits)."""
    epoch: int | None = Field(None, ge=0)
    """Run of the producing instance (see :func:`new_epoch`); ``seq`` restarts at 0 with each
    new epoch. Absent from producers older than this field (then a restart is recognised by a
    lower ``seq`` with a newer ``ts``)."""
    source: str
    """Id of the component instance that produced the batch."""
    points: list[Point]

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class KpiValue(_Model):
    """One analytics output (subject ``kit.kpi.<asset path>.<kpi>``)."""

    schema_: Literal["kit.kpi/1"] = Field("kit.kpi/1", alias="schema")
    asset: str
    kpi: str
    """KPI name, e.g. ``oee``, ``availability``, ``energy_per_part_kwh``."""
    value: float | int | None = None
    """``null`` (absent on the wire) when the KPI cannot be computed yet."""
    unit: str | None = None
    ts: Timestamp
    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None
    window: str | None = None
    """Window label: ``rolling``, ``shift:2026-11-22/early``, ``hour``, ``day`` …"""
    quality: Quality = Quality.good
    source: str
    attrs: dict[str, Any] = Field(default_factory=dict)
    """Extra figures (counts, flags such as ``effectiveness_over_100``)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Event(_Model):
    """Alarm, state change or audit record (subject ``kit.event.<kind>.<asset path>``).

    The fields ``ts``, ``source``, ``category``, ``type``, ``id`` and ``result`` are the
    IEC 62443-4-2 CR 2.8 audit record fields.
    """

    schema_: Literal["kit.event/1"] = Field("kit.event/1", alias="schema")
    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    kind: str
    """Subject token: ``alarm``, ``state``, ``audit``, ``spc``, ``downtime`` …"""
    asset: str
    ts: Timestamp
    source: str
    category: str = "control_system"
    type: str
    """What happened, e.g. ``alarm_raised``, ``write_refused``, ``component_failed``."""
    result: str = "ok"
    severity: Literal["info", "low", "medium", "high", "critical"] = "info"
    message: str = ""
    data: dict[str, Any] = Field(default_factory=dict)

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class HealthStatus(StrEnum):
    """Life-cycle state of a component or device, as shown by ``kit status``."""

    starting = "starting"
    running = "running"
    degraded = "degraded"
    backoff = "backoff"
    failed = "failed"
    stopped = "stopped"


class Health(_Model):
    """Health and heartbeat of a component or device (subject ``kit.health.<component>``)."""

    schema_: Literal["kit.health/1"] = Field("kit.health/1", alias="schema")
    component: str
    kind: Literal["runtime", "component", "device"] = "component"
    status: HealthStatus
    ts: Timestamp
    detail: str = ""
    restarts: int = 0
    last_error: str | None = None
    metrics: dict[str, Any] = Field(default_factory=dict)

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    @field_validator("component")
    @classmethod
    def _not_empty(cls, v: str) -> str:
        if not v:
            raise ValueError("component must not be empty")
        return v
