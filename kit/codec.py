"""Pure encode/decode of bus payloads (no I/O), so they are tested without sockets.

``decode_*`` raise :class:`MalformedMessage` for anything that is not a valid payload;
consumers count and skip those (see :class:`kit.bus.MalformedCounter`) instead of dying.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from kit.payloads import Event, Health, KpiValue, SampleBatch

M = TypeVar("M", bound=BaseModel)


class MalformedMessage(ValueError):
    """The bytes are not a valid payload of the expected kind."""


def encode(model: BaseModel) -> bytes:
    """Serialise a payload model to its JSON wire form (aliases such as ``schema`` applied)."""
    return model.model_dump_json(by_alias=True, exclude_none=True).encode()


def _decode(kind: type[M], data: bytes) -> M:
    try:
        return kind.model_validate_json(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(message)"
        raise MalformedMessage(
            f"{kind.__name__}: {where}: {first['msg']} ({exc.error_count()} problem(s))"
        ) from None


def decode_batch(data: bytes, schemas: Any = None) -> SampleBatch:
    """Decode a sample batch: the JSON of the bus, or the compact stored form of
    :mod:`kit.compact` (read from KIT_DATA) given the reader's ``schemas``
    (:class:`kit.compact.SchemaCache`). Raises MalformedMessage."""
    if data[:1] == b"\x00":
        from kit import compact

        try:
            obj = compact.decode(data, schemas if schemas is not None else compact.SchemaCache())
        except compact.CompactError as exc:
            raise MalformedMessage(f"SampleBatch: {exc}") from None
        return SampleBatch.model_validate(obj)
    return _decode(SampleBatch, data)


def decode_kpi(data: bytes) -> KpiValue:
    """Decode a KPI value. Raises MalformedMessage."""
    return _decode(KpiValue, data)


def decode_event(data: bytes) -> Event:
    """Decode an event. Raises MalformedMessage."""
    return _decode(Event, data)


def decode_health(data: bytes) -> Health:
    """Decode a health message. Raises MalformedMessage."""
    return _decode(Health, data)
