"""A small Parquet writer in the standard library: the historian's always-running write path.

Why not polars here: importing polars and running its writer costs the runtime ~35 MiB of
resident memory for as long as it runs (its native library, thread pool and allocator),
more than the rest of a 1,000-point site together (issue 20, docs/sizing.md). The historian
writes small, flat files every few seconds, which needs little of Parquet: one row group,
one page per column, nullable columns of four kinds, dictionary encoding for text (asset,
point, unit, quality and source repeat on every row) and GZIP compression (``zlib``).
Queries, exports and the daily compaction still use polars, which reads these files like
its own (a test compares both, file for file).

Format references: apache/parquet-format ``parquet.thrift`` and ``Encodings.md``; metadata
is Thrift's compact protocol.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

Kind = Literal["timestamp_us", "string", "float64", "int64"]

# parquet.thrift enums
_INT64, _DOUBLE, _BYTE_ARRAY = 2, 5, 6
_OPTIONAL = 1
_UTF8, _TIMESTAMP_MICROS = 0, 10
_PLAIN, _RLE, _RLE_DICTIONARY = 0, 3, 8
_GZIP = 2
_DATA_PAGE, _DICTIONARY_PAGE = 0, 2
# Thrift compact protocol field types
_T_TRUE, _T_FALSE, _T_I32, _T_I64, _T_BINARY, _T_LIST, _T_STRUCT = 1, 2, 5, 6, 8, 9, 12


def _varint(n: int, out: bytearray) -> None:
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _zigzag(n: int) -> int:
    return (n << 1) ^ (n >> 63)


class _Thrift:
    """Writes one Thrift struct in the compact protocol (only what Parquet metadata needs)."""

    def __init__(self) -> None:
        self.out = bytearray()
        self._last = [0]

    def _field(self, fid: int, ftype: int) -> None:
        delta = fid - self._last[-1]
        if 0 < delta <= 15:
            self.out.append((delta << 4) | ftype)
        else:
            self.out.append(ftype)
            _varint(_zigzag(fid), self.out)
        self._last[-1] = fid

    def i32(self, fid: int, v: int) -> None:
        self._field(fid, _T_I32)
        _varint(_zigzag(v), self.out)

    def i64(self, fid: int, v: int) -> None:
        self._field(fid, _T_I64)
        _varint(_zigzag(v), self.out)

    def binary(self, fid: int, v: bytes) -> None:
        self._field(fid, _T_BINARY)
        _varint(len(v), self.out)
        self.out += v

    def boolean(self, fid: int, v: bool) -> None:
        self._field(fid, _T_TRUE if v else _T_FALSE)

    def begin(self, fid: int) -> None:
        """Start a nested struct field."""
        self._field(fid, _T_STRUCT)
        self._last.append(0)

    def end(self) -> None:
        """End the innermost struct (also the message itself)."""
        self.out.append(0)
        self._last.pop()

    def list_header(self, fid: int, etype: int, n: int) -> None:
        self._field(fid, _T_LIST)
        if n < 15:
            self.out.append((n << 4) | etype)
        else:
            self.out.append(0xF0 | etype)
            _varint(n, self.out)

    def list_i32(self, fid: int, items: Sequence[int]) -> None:
        self.list_header(fid, _T_I32, len(items))
        for v in items:
            _varint(_zigzag(v), self.out)

    def list_binary(self, fid: int, items: Sequence[bytes]) -> None:
        self.list_header(fid, _T_BINARY, len(items))
        for v in items:
            _varint(len(v), self.out)
            self.out += v

    def struct_item(self) -> None:
        """Start a struct element of a list (end it with :meth:`end`)."""
        self._last.append(0)


def _rle_runs(values: Sequence[int], width_bytes: int) -> bytes:
    """RLE/bit-packing hybrid, RLE runs only (sorted partitions make long runs)."""
    out = bytearray()
    i, n = 0, len(values)
    while i < n:
        v, j = values[i], i + 1
        while j < n and values[j] == v:
            j += 1
        _varint((j - i) << 1, out)
        out += v.to_bytes(width_bytes, "little") if width_bytes else b""
        i = j
    return bytes(out)


def _plain(kind: Kind, present: list[Any]) -> bytes:
    if kind == "float64":
        return struct.pack(f"<{len(present)}d", *present)
    if kind in ("int64", "timestamp_us"):
        return struct.pack(f"<{len(present)}q", *present)
    out = bytearray()
    for s in present:
        b = s.encode()
        out += len(b).to_bytes(4, "little")
        out += b
    return bytes(out)


def _page(kind: int, body: bytes, level: int, h: _Thrift) -> bytes:
    """Compress a page body; writes the common page header fields into ``h``."""
    comp = zlib.compressobj(level, zlib.DEFLATED, 31)  # wbits 31: a gzip member
    data = comp.compress(body) + comp.flush()
    h.i32(1, kind)
    h.i32(2, len(body))
    h.i32(3, len(data))
    return data


def _column_chunk(
    name: str, kind: Kind, values: Sequence[Any], offset: int, level: int
) -> tuple[bytes, dict[str, Any]]:
    """The pages of one column and the facts its metadata needs."""
    n = len(values)
    defs = [0 if v is None else 1 for v in values]
    present = [v for v in values if v is not None]
    levels = _rle_runs(defs, 1)
    levels = len(levels).to_bytes(4, "little") + levels
    chunk = bytearray()
    dict_offset = None
    uncompressed = 0
    if kind == "string" and present:
        ids: dict[str, int] = {}
        idx = [ids.setdefault(s, len(ids)) for s in present]
        width = max(1, (len(ids) - 1).bit_length())
        dict_body = _plain("string", list(ids))
        h = _Thrift()
        data = _page(_DICTIONARY_PAGE, dict_body, level, h)
        h.begin(7)
        h.i32(1, len(ids))
        h.i32(2, _PLAIN)
        h.end()
        h.end()
        dict_offset = offset
        chunk += h.out + data
        uncompressed += len(h.out) + len(dict_body)
        body = levels + bytes([width]) + _rle_runs(idx, (width + 7) // 8)
        encoding = _RLE_DICTIONARY
    else:
        body = levels + _plain(kind, present)
        encoding = _PLAIN
    data_offset = offset + len(chunk)
    h = _Thrift()
    data = _page(_DATA_PAGE, body, level, h)
    h.begin(5)
    h.i32(1, n)
    h.i32(2, encoding)
    h.i32(3, _RLE)
    h.i32(4, _RLE)
    h.end()
    h.end()
    chunk += h.out + data
    uncompressed += len(h.out) + len(body)
    stats: tuple[bytes, bytes] | None = None
    if present and kind != "float64":  # no float statistics: NaN has no order
        lo, hi = min(present), max(present)
        if kind == "string":
            # Parquet orders UTF-8 by unsigned bytes: compare the encoded forms.
            enc = [s.encode() for s in present]
            stats = (min(enc), max(enc))
        else:
            stats = (struct.pack("<q", lo), struct.pack("<q", hi))
    meta = {
        "name": name,
        "kind": kind,
        "encodings": [_PLAIN, _RLE, _RLE_DICTIONARY]
        if encoding == _RLE_DICTIONARY
        else [_PLAIN, _RLE],
        "num_values": n,
        "nulls": n - len(present),
        "uncompressed": uncompressed,
        "compressed": len(chunk),
        "data_offset": data_offset,
        "dict_offset": dict_offset,
        "offset": offset,
        "stats": stats,
    }
    return bytes(chunk), meta


def _physical(kind: Kind) -> int:
    return {"float64": _DOUBLE, "string": _BYTE_ARRAY}.get(kind, _INT64)


def _footer(metas: list[dict[str, Any]], num_rows: int) -> bytes:
    t = _Thrift()
    t.i32(1, 1)  # version
    t.list_header(2, _T_STRUCT, len(metas) + 1)
    t.struct_item()
    t.binary(4, b"schema")
    t.i32(5, len(metas))
    t.end()
    for m in metas:
        t.struct_item()
        t.i32(1, _physical(m["kind"]))
        t.i32(3, _OPTIONAL)
        t.binary(4, m["name"].encode())
        if m["kind"] == "string":
            t.i32(6, _UTF8)
            t.begin(10)  # LogicalType union: STRING
            t.begin(1)
            t.end()
            t.end()
        elif m["kind"] == "timestamp_us":
            t.i32(6, _TIMESTAMP_MICROS)
            t.begin(10)  # LogicalType union: TIMESTAMP(isAdjustedToUTC, MICROS)
            t.begin(8)
            t.boolean(1, True)
            t.begin(2)
            t.begin(2)
            t.end()
            t.end()
            t.end()
            t.end()
        t.end()
    t.i64(3, num_rows)
    t.list_header(4, _T_STRUCT, 1)
    t.struct_item()
    t.list_header(1, _T_STRUCT, len(metas))
    for m in metas:
        t.struct_item()
        t.i64(2, m["offset"])
        t.begin(3)
        t.i32(1, _physical(m["kind"]))
        t.list_i32(2, m["encodings"])
        t.list_binary(3, [m["name"].encode()])
        t.i32(4, _GZIP)
        t.i64(5, m["num_values"])
        t.i64(6, m["uncompressed"])
        t.i64(7, m["compressed"])
        t.i64(9, m["data_offset"])
        if m["dict_offset"] is not None:
            t.i64(11, m["dict_offset"])
        t.begin(12)
        t.i64(3, m["nulls"])
        if m["stats"] is not None:
            t.binary(5, m["stats"][1])
            t.binary(6, m["stats"][0])
        t.end()
        t.end()
        t.end()
    t.i64(2, sum(m["uncompressed"] for m in metas))
    t.i64(3, num_rows)
    t.end()
    t.binary(6, b"kit-historian parquet writer")
    t.end()
    return bytes(t.out)


def write_parquet(
    path: Path, columns: Sequence[tuple[str, Kind, Sequence[Any]]], level: int = 6
) -> int:
    """Write ``columns`` (name, kind, values with ``None`` for null) as one Parquet file.

    Every column is nullable; ``timestamp_us`` holds microseconds since 1970 (UTC).

    Returns:
        The number of bytes written.

    Raises:
        ValueError: columns of different lengths.
    """
    lengths = {len(v) for _, _, v in columns}
    if len(lengths) > 1:
        raise ValueError(f"columns of different lengths: {sorted(lengths)}")
    num_rows = lengths.pop() if lengths else 0
    out = bytearray(b"PAR1")
    metas = []
    for name, kind, values in columns:
        chunk, meta = _column_chunk(name, kind, values, len(out), level)
        out += chunk
        metas.append(meta)
    footer = _footer(metas, num_rows)
    out += footer + len(footer).to_bytes(4, "little") + b"PAR1"
    Path(path).write_bytes(out)
    return len(out)
