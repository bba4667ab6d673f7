"""Compact storage encoding of sample batches (``retention.data_encoding: compact``).

The public contract on ``kit.data.<asset>`` stays the readable JSON of docs/bus.md. What the
``KIT_DATA`` stream *stores* (subjects ``kit.store.data.<asset>``) can instead be this
binary form, about 4 bytes per point instead of ~54 (issue 20, docs/sizing.md):

* the point names, units, value types, source, asset and epoch form a **schema**, named by
  the first 8 bytes of its SHA-256 (``schema id``); a batch carries only the id, its time,
  its sequence number and the values packed by type: float32 when the value is a float32,
  or a float32 rounded to 7 significant digits as the Modbus adapter shows them; float64;
  uint16, int32, int64; bool. A value its point's type cannot hold exactly widens the type
  (a new schema), so decoding always gives back the published value;
* the schema itself travels inside the first stored batch of each writer run and again every
  ``SCHEMA_EVERY`` batches, so a reader that starts in the middle of the stream learns it
  within minutes; :class:`SchemaCache` keeps what a reader has seen (the historian saves it);
* report by exception: a batch of a subset of the points carries a bitmap of which;
* anything else — bad or uncertain points, text values, device timestamps — is stored as the
  ordinary JSON batch. Readers tell the two apart by the first byte (``{`` or ``\\x00``).

Sans-I/O: pure functions and small classes, tested without sockets.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

MAGIC = b"\x00KB1"
"""First bytes of a compact batch (JSON never starts with a NUL byte)."""
SCHEMA_EVERY = 600
"""A writer repeats its schema in every this many stored batches (10 min at 1 s polls)."""
_F_SCHEMA, _F_SUBSET = 1, 2
_CODES = {"f": "f", "g": "f", "d": "d", "i": "i", "q": "q", "H": "H", "b": "?"}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class CompactError(ValueError):
    """Not a decodable compact batch (truncated, unknown schema, bad schema)."""


def _f32(v: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", v))[0])


def _sig7(x: float) -> float:
    """``x`` rounded to 7 significant digits: how the Modbus adapter shows a float32."""
    if x == 0 or not math.isfinite(x):
        return x
    return round(x, 6 - math.floor(math.log10(abs(x))))


def _fits(v: Any, t: str) -> bool:
    """Whether type ``t`` stores ``v`` so that decoding gives back exactly ``v``."""
    c = v.__class__
    if t == "b":
        return c is bool
    if c is int:
        if t == "H":
            return bool(0 <= v < 65536)
        if t == "i":
            return bool(-(2**31) <= v < 2**31)
        return bool(t == "q" and -(2**63) <= v < 2**63)
    if c is not float or t not in ("f", "g", "d") or not math.isfinite(v):
        return False
    if t == "d":
        return True
    try:
        f = _f32(v)
    except OverflowError:
        return False
    # "g": a float32 shown with 7 significant digits (the Modbus adapter's rounding), so
    # 229.8765 is stored in 4 bytes although it is no float32 itself.
    return bool(f == v if t == "f" else _sig7(f) == v)


_ORDER = ("b", "H", "i", "q", "f", "g", "d")
_WIDER = {"H": ("i", "q"), "i": ("q",), "f": ("g", "d"), "g": ("d",)}


def _type_of(v: Any) -> str | None:
    """The narrowest type code that holds ``v`` exactly; None: not storable compactly."""
    return next((t for t in _ORDER if _fits(v, t)), None)


def _schema_id(doc: bytes) -> bytes:
    return hashlib.sha256(doc).digest()[:8]


def _uvarint(n: int, out: bytearray) -> None:
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _read_uvarint(data: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        if pos >= len(data):
            raise CompactError("truncated varint")
        b = data[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        if b < 0x80:
            return n, pos
        shift += 7


class CompactEncoder:
    """Encodes the stored form of one writer's batches (fixed point list, one asset/source)."""

    def __init__(
        self,
        asset: str,
        source: str,
        epoch: int | None,
        points: Sequence[tuple[str, str | None]],
    ) -> None:
        self.asset, self.source, self.epoch = asset, source, epoch
        self.names = [n for n, _ in points]
        self.units = [u for _, u in points]
        self.types: list[str | None] = [None] * len(points)
        self._schema: tuple[bytes, bytes, struct.Struct] | None = None
        self._since_schema = 0

    def _set_schema(self) -> None:
        types = [t or "d" for t in self.types]
        doc = orjson.dumps(
            {
                "asset": self.asset,
                "source": self.source,
                "epoch": self.epoch,
                "names": self.names,
                "units": self.units,
                "types": types,
            }
        )
        self._schema = (
            _schema_id(doc),
            doc,
            struct.Struct("<" + "".join(_CODES[t] for t in types)),
        )
        self._since_schema = 0  # a new schema goes out with the next batch

    def encode(
        self, ts: datetime, seq: int, values: Sequence[Any], subset: Sequence[int] | None = None
    ) -> bytes | None:
        """The compact form of one all-good batch, or None when it needs the JSON form.

        Args:
            values: the values of the points published (all of them, or those of ``subset``).
            subset: indices into the point list of the values given (report by exception).
        """
        idx = range(len(self.names)) if subset is None else subset
        changed = False
        types = self.types
        for i, v in zip(idx, values, strict=True):
            have = types[i]
            if have is not None and _fits(v, have):
                continue
            # A first value, or one the point's type cannot hold: a wider type (a new
            # schema, sent along) or, if none holds it, the JSON form for this batch.
            w = (
                _type_of(v)
                if have is None
                else next((t for t in _WIDER.get(have, ()) if _fits(v, t)), None)
            )
            if w is None:
                return None
            types[i] = w
            changed = True
        if changed or self._schema is None:
            self._set_schema()
        assert self._schema is not None
        sid, doc, full = self._schema
        out = bytearray(MAGIC)
        flags = 0
        embed = self._since_schema % SCHEMA_EVERY == 0
        self._since_schema += 1
        if embed:
            flags |= _F_SCHEMA
        if subset is not None:
            flags |= _F_SUBSET
        out.append(flags)
        out += sid
        if embed:
            _uvarint(len(doc), out)
            out += doc
        out += struct.pack("<q", (ts - _EPOCH) // timedelta(microseconds=1))
        _uvarint(seq, out)
        if subset is None:
            out += full.pack(*values)
        else:
            bitmap = bytearray((len(self.names) + 7) // 8)
            for i in subset:
                bitmap[i >> 3] |= 1 << (i & 7)
            out += bitmap
            codes = "".join(_CODES[self.types[i] or "d"] for i in subset)
            out += struct.pack("<" + codes, *values)
        return bytes(out)


class SchemaCache:
    """Schemas a reader has seen, by id (bounded; the oldest unused go first)."""

    def __init__(self, max_entries: int = 4096) -> None:
        self.max_entries = max_entries
        self._docs: OrderedDict[bytes, dict[str, Any]] = OrderedDict()

    def add(self, sid: bytes, doc: bytes) -> dict[str, Any]:
        """Remember the schema ``doc`` under ``sid``; checks that the id is its hash.

        Raises:
            CompactError: the id does not match the document, or the document is not a schema.
        """
        if _schema_id(doc) != sid:
            raise CompactError("schema id does not match its document")
        try:
            s: dict[str, Any] = orjson.loads(doc)
            types = s["types"]
            s["_struct"] = {t: struct.Struct("<" + _CODES[t]) for t in set(types)}
            s["_full"] = struct.Struct("<" + "".join(_CODES[t] for t in types))
            if not (len(s["names"]) == len(s["units"]) == len(types)):
                raise ValueError("names, units and types differ in length")
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise CompactError(f"bad schema: {exc}") from None
        self._docs[sid] = s
        self._docs.move_to_end(sid)
        while len(self._docs) > self.max_entries:
            self._docs.popitem(last=False)
        return s

    def __len__(self) -> int:
        return len(self._docs)

    def get(self, sid: bytes) -> dict[str, Any] | None:
        """The schema ``sid`` or None."""
        s = self._docs.get(sid)
        if s is not None:
            self._docs.move_to_end(sid)
        return s

    def export(self) -> dict[str, str]:
        """Id (hex) → schema document, for a reader to save and :meth:`load` after a restart."""
        return {
            sid.hex(): orjson.dumps({k: v for k, v in s.items() if not k.startswith("_")}).decode()
            for sid, s in self._docs.items()
        }

    def load(self, saved: dict[str, str]) -> None:
        """Add what :meth:`export` returned (entries that do not check out are skipped)."""
        for hexid, doc in saved.items():
            try:
                self.add(bytes.fromhex(hexid), doc.encode())
            except (CompactError, ValueError):
                continue


def is_compact(data: bytes) -> bool:
    """True if ``data`` is a compact batch (else it should be JSON)."""
    return data[:4] == MAGIC


def decode(data: bytes, cache: SchemaCache) -> dict[str, Any]:
    """A compact batch as the JSON object of docs/bus.md (``points`` with name/value/unit).

    Raises:
        CompactError: not a compact batch, truncated, or its schema is unknown to ``cache``.
    """
    if not is_compact(data) or len(data) < 13:
        raise CompactError("not a compact batch")
    flags = data[4]
    sid = bytes(data[5:13])
    pos = 13
    try:
        if flags & _F_SCHEMA:
            n, pos = _read_uvarint(data, pos)
            s = cache.add(sid, bytes(data[pos : pos + n]))
            pos += n
        else:
            got = cache.get(sid)
            if got is None:
                raise CompactError(
                    f"schema {sid.hex()} not seen yet (it is repeated every {SCHEMA_EVERY} batches)"
                )
            s = got
        (us,) = struct.unpack_from("<q", data, pos)
        pos += 8
        seq, pos = _read_uvarint(data, pos)
        names, units, types = s["names"], s["units"], s["types"]
        if flags & _F_SUBSET:
            nb = (len(names) + 7) // 8
            bitmap = data[pos : pos + nb]
            pos += nb
            idx = [i for i in range(len(names)) if bitmap[i >> 3] >> (i & 7) & 1]
            fmt = struct.Struct("<" + "".join(_CODES[types[i]] for i in idx))
        else:
            idx = list(range(len(names)))
            fmt = s["_full"]
        values = list(fmt.unpack_from(data, pos))
        if pos + fmt.size != len(data):
            raise CompactError("length does not match the schema")
        for k, i in enumerate(idx):
            if types[i] == "g":
                values[k] = _sig7(values[k])
    except (struct.error, IndexError) as exc:
        raise CompactError(f"truncated compact batch: {exc}") from None
    ts = _EPOCH + timedelta(microseconds=us)
    pts = []
    for i, v in zip(idx, values, strict=True):
        p: dict[str, Any] = {"name": names[i], "value": v, "quality": "good"}
        if units[i] is not None:
            p["unit"] = units[i]
        pts.append(p)
    out: dict[str, Any] = {
        "schema": "kit.samples/1",
        "asset": s["asset"],
        "ts": ts.isoformat().replace("+00:00", "Z"),
        "seq": seq,
        "source": s["source"],
        "points": pts,
    }
    if s.get("epoch") is not None:
        out["epoch"] = s["epoch"]
    return out
