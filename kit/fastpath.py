"""The hot path for adapters: encode sample batches of a fixed point set without per-point objects.

An adapter polls the same points every cycle; only values (and sometimes quality) change.
:class:`BatchEncoder` compiles the JSON of a batch once into a ``%``-format template, so
encoding a cycle is one C-level string format instead of building 125 pydantic objects.
The output decodes to exactly the batch :func:`kit.codec.encode` would produce (a test holds
it to that), and any case the template cannot express exactly — a non-finite
float, a bool or text value, a point that is not ``good`` — falls back to the pydantic path,
so the quality rules of the contract are never bypassed.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Sequence
from datetime import datetime

import orjson

from kit import codec
from kit.payloads import Point, Quality, SampleBatch


@functools.lru_cache(maxsize=4096)
def _json_str(s: str) -> str:
    # Cached: asset paths and source names repeat every cycle.
    return json.dumps(s, ensure_ascii=False)


class BatchEncoder:
    """Encodes batches of the points ``[(name, unit), …]`` in that order."""

    def __init__(self, points: Sequence[tuple[str, str | None]]) -> None:
        self.names = [n for n, _ in points]
        self.units = [u for _, u in points]
        parts = []
        for name, unit in points:
            unit_part = f',"unit":{_json_str(unit)}' if unit is not None else ""
            head = '{"name":' + _json_str(name) + ',"value":'
            # '%' in names/units is escaped; '%s' is the value slot.
            parts.append(
                head.replace("%", "%%")
                + "%s"
                + (unit_part + ',"quality":"good"}').replace("%", "%%")
            )
        self._template = ",".join(parts).encode()

    def encode(
        self,
        asset: str,
        ts: datetime,
        seq: int,
        source: str,
        values: Sequence[object],
        qualities: Sequence[tuple[Quality, str | None]] | None = None,
    ) -> bytes:
        """Encode one batch. ``qualities`` (one ``(quality, reason)`` per point) only when
        some point is not good; ``None`` means all good."""
        if len(values) != len(self.names):
            raise ValueError(f"expected {len(self.names)} values, got {len(values)}")
        if qualities is None:
            try:
                # orjson prints each number exactly (shortest round-trip form) about six times
                # faster than repr(). Text values (may hold ',') and None/NaN/inf (all become
                # null) are not for the template: the pydantic path marks non-finite values bad.
                dumped = orjson.dumps(values)
            except (orjson.JSONEncodeError, TypeError):  # e.g. an int beyond 64 bits
                dumped = b'"'
            if b'"' not in dumped and b"null" not in dumped:
                numbers = dumped[1:-1].split(b",")
                head = (
                    f'{{"schema":"kit.samples/1","asset":{_json_str(asset)},"ts":"{_iso(ts)}",'
                    f'"seq":{int(seq)},"source":{_json_str(source)},"points":['
                ).encode()
                return head + self._template % tuple(numbers) + b"]}"
        return codec.encode(self.batch(asset, ts, seq, source, values, qualities))

    def batch(
        self,
        asset: str,
        ts: datetime,
        seq: int,
        source: str,
        values: Sequence[object],
        qualities: Sequence[tuple[Quality, str | None]] | None = None,
    ) -> SampleBatch:
        """The same batch as a validated pydantic model (slow path, exact contract rules)."""
        pts = []
        for i, (name, unit, value) in enumerate(zip(self.names, self.units, values)):
            q, reason = qualities[i] if qualities is not None else (Quality.good, None)
            if isinstance(value, float) and not math.isfinite(value):
                q, reason, value = Quality.bad, reason or "not_a_number", None
            pts.append(Point(name=name, value=value, unit=unit, quality=q, reason=reason))
        return SampleBatch(asset=asset, ts=ts, seq=seq, source=source, points=pts)


def _iso(ts: datetime) -> str:
    # Same text pydantic writes for an aware UTC datetime (…Z), so both paths match.
    text = ts.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
