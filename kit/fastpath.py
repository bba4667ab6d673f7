"""The one sample-batch encoder: every producer's batches are written here, without pydantic.

An adapter polls the same points every cycle; only values (and sometimes quality) change.
:class:`BatchEncoder` compiles the JSON of a batch once into a ``%``-format template, so
encoding an all-good numeric cycle is one ``orjson.dumps`` of the values and one C-level
string format. Batches with bad/uncertain points, text values, non-finite floats or device
timestamps are rendered point by point from pre-rendered fragments — still no per-point
objects. :meth:`BatchEncoder.batch` builds the same batch as the pydantic model of
:mod:`kit.payloads`; a hypothesis test holds both to the same decoded result for every
type/quality case, so the contract's quality rules (a bad point carries no value, a non-good
one a reason, NaN/±Infinity is ``bad`` with reason ``non_finite``) hold on every path.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from kit.payloads import NON_FINITE, Point, Quality, SampleBatch

QualitySpec = tuple[Quality, str | None] | str | None
"""Per point: ``None`` (good), a reason string (bad with that reason) or ``(quality, reason)``."""

_GOOD, _BAD = Quality.good, Quality.bad


@functools.lru_cache(maxsize=4096)
def _json_str(s: str) -> str:
    # Cached: asset paths, source names and reasons repeat every cycle.
    return json.dumps(s, ensure_ascii=False)


def _in_contract(v: Any) -> Any:
    """An int outside −2⁶³ … 2⁶⁴−1 as the float the contract makes of it; anything else as is."""
    if v.__class__ is int and not -(2**63) <= v < 2**64:
        return float(v)
    return v


def _value_json(v: Any) -> str | None:
    """JSON of one value, or None when it is no usable value (NaN/±Infinity)."""
    if v.__class__ is float and not math.isfinite(v):
        return None
    try:
        return orjson.dumps(v).decode()
    except TypeError:
        # An int beyond 64 bits (−2⁶³ … 2⁶⁴−1 is the contract's integer range): written as
        # the float every validated path makes of it (docs/bus.md, "Values and precision"),
        # so the fast and the validated encodings of one batch agree.
        if isinstance(v, int):
            return orjson.dumps(float(v)).decode()
        raise


class BatchEncoder:
    """Encodes batches of the points ``[(name, unit), …]`` in that order."""

    def __init__(self, points: Sequence[tuple[str, str | None]]) -> None:
        self.points = [(n, u) for n, u in points]
        self.names = [n for n, _ in points]
        self.units = [u for _, u in points]
        parts = []
        self._heads: list[str] = []
        self._units: list[str] = []
        for name, unit in points:
            unit_part = f',"unit":{_json_str(unit)}' if unit is not None else ""
            head = '{"name":' + _json_str(name)
            self._heads.append(head)
            self._units.append(unit_part)
            # '%' in names/units is escaped; '%s' is the value slot.
            parts.append(
                (head + ',"value":').replace("%", "%%")
                + "%s"
                + (unit_part + ',"quality":"good"}').replace("%", "%%")
            )
        self._template = ",".join(parts).encode()

    @staticmethod
    def head(asset: str, ts: datetime, seq: int, source: str, epoch: int | None) -> str:
        """The batch's fields before ``points`` (same order and text as the pydantic model)."""
        ep = f',"epoch":{int(epoch)}' if epoch is not None else ""
        return (
            f'{{"schema":"kit.samples/1","asset":{_json_str(asset)},"ts":"{_iso(ts)}",'
            f'"seq":{int(seq)}{ep},"source":{_json_str(source)},"points":['
        )

    def encode(
        self,
        asset: str,
        ts: datetime,
        seq: int,
        source: str,
        values: Sequence[object],
        qualities: Sequence[QualitySpec] | None = None,
        *,
        epoch: int | None = None,
        point_ts: Sequence[datetime | None] | None = None,
    ) -> bytes:
        """Encode one batch.

        Args:
            values: one value per point (a bad point's value is dropped).
            qualities: one :data:`QualitySpec` per point; ``None`` means all good.
            epoch: the producer's run (:func:`kit.payloads.new_epoch`).
            point_ts: the device's own timestamp per point (``None`` where it has none).

        Raises:
            ValueError: wrong number of values, or a non-good point without a reason.
        """
        if len(values) != len(self.names):
            raise ValueError(f"expected {len(self.names)} values, got {len(values)}")
        head = self.head(asset, ts, seq, source, epoch)
        if qualities is None and point_ts is None:
            try:
                # orjson prints each number exactly (shortest round-trip form) about six times
                # faster than repr(). Text values (may hold ',') and None/NaN/inf (all become
                # null) are not for the template.
                dumped = orjson.dumps(values)
            except (orjson.JSONEncodeError, TypeError):  # e.g. an int beyond 64 bits
                dumped = b'"'
            if b'"' not in dumped and b"null" not in dumped:
                numbers = dumped[1:-1].split(b",")
                return head.encode() + self._template % tuple(numbers) + b"]}"
        return (head + ",".join(self._points(values, qualities, point_ts)) + "]}").encode()

    def _points(
        self,
        values: Sequence[object],
        qualities: Sequence[QualitySpec] | None,
        point_ts: Sequence[datetime | None] | None,
    ) -> list[str]:
        out = []
        heads, units = self._heads, self._units
        for i, v in enumerate(values):
            q, reason = _quality(qualities[i] if qualities is not None else None, self.names[i])
            text = None
            if q is not _BAD:
                text = _value_json(v)
                if text is None:
                    q, reason = _BAD, reason or NON_FINITE
            tail = units[i]
            if q is not _GOOD:
                tail += f',"quality":"{q.value}","reason":{_json_str(reason)}'
            else:
                tail += ',"quality":"good"'
                if reason:
                    tail += f',"reason":{_json_str(reason)}'
            if point_ts is not None and point_ts[i] is not None:
                tail += f',"ts":"{_iso(point_ts[i])}"'  # type: ignore[arg-type]
            value = f',"value":{text}' if text is not None and text != "null" else ""
            out.append(heads[i] + value + tail + "}")
        return out

    def last_values(
        self,
        values: Sequence[object],
        qualities: Sequence[QualitySpec] | None,
        gw_ts: str,
        point_ts: Sequence[datetime | None] | None = None,
    ) -> dict[str, dict[str, Any]]:
        """The ``KIT_LAST`` entries of one batch (same rules as :meth:`encode`, no JSON round trip)."""
        out: dict[str, dict[str, Any]] = {}
        for i, (name, unit) in enumerate(self.points):
            q, reason = _quality(qualities[i] if qualities is not None else None, name)
            v = values[i]
            if q is not _BAD and v.__class__ is float and not math.isfinite(v):
                q, reason = _BAD, reason or NON_FINITE
            if q is _BAD:
                v = None
            entry: dict[str, Any] = {"name": name, "quality": q.value, "gw_ts": gw_ts}
            if v is not None:
                entry["value"] = _in_contract(v)
            if unit is not None:
                entry["unit"] = unit
            if reason:
                entry["reason"] = reason
            if point_ts is not None and point_ts[i] is not None:
                entry["ts"] = _iso(point_ts[i])  # type: ignore[arg-type]
            out[name] = entry
        return out

    def batch(
        self,
        asset: str,
        ts: datetime,
        seq: int,
        source: str,
        values: Sequence[object],
        qualities: Sequence[QualitySpec] | None = None,
        **fields: Any,
    ) -> SampleBatch:
        """The same batch as a validated pydantic model (the reference the tests compare with).

        ``fields``: ``epoch`` and ``point_ts`` as for :meth:`encode`.
        """
        point_ts = fields.get("point_ts")
        pts = []
        for i, (name, unit, value) in enumerate(zip(self.names, self.units, values)):
            q, reason = _quality(qualities[i] if qualities is not None else None, name)
            pts.append(
                Point(
                    name=name,
                    value=value,
                    unit=unit,
                    quality=q,
                    reason=reason,
                    ts=point_ts[i] if point_ts is not None else None,
                )
            )
        return SampleBatch(
            asset=asset, ts=ts, seq=seq, epoch=fields.get("epoch"), source=source, points=pts
        )


def _quality(spec: QualitySpec, name: str) -> tuple[Quality, str | None]:
    if spec is None:
        return _GOOD, None
    if isinstance(spec, str):
        return _BAD, spec
    q, reason = spec
    q = Quality(q)
    if q is not _GOOD and not reason:
        raise ValueError(f"point {name!r}: quality {q.value} needs a reason")
    return q, reason


def _iso(ts: datetime) -> str:
    # Same text pydantic writes for an aware UTC datetime (…Z), so both paths match.
    text = ts.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
