"""Parquet storage of the historian: rows, day/asset partitions, crash-safe commits.

Layout (one tree per stream kind, ``data`` or ``kpi``)::

    <root>/<kind>/date=2026-11-23/asset=site.area.line.press1/part-<first>-<last>.parquet
    <root>/<kind>/_hwm.json        highest stream sequence written ("high-water mark")
    <root>/<kind>/_journal.json    present only while a commit is in progress

A flush is a *commit*: every partition file is first written under a temporary name, then
a journal lists the renames (and, for compaction, the files to delete) and the new
high-water mark, then the renames happen, the mark is written and the journal removed.
After a crash at any point, :meth:`Store.recover` either rolls the commit forward (journal
present) or discards temporary files (no journal: nothing was committed, and the messages
were not acknowledged, so JetStream delivers them again). Messages at or below the mark
are skipped on redelivery, so nothing is written twice.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kit.codec import MalformedMessage
from kit.payloads import Event, KpiValue, SampleBatch
from kit_historian.parquet import Kind, write_parquet

if TYPE_CHECKING:  # polars (~35 MiB resident) only for queries, exports and compaction
    import polars as pl

#: Column order and kinds of every Parquet file (data and KPI share one schema); written by
#: :mod:`kit_historian.parquet`, read by polars as Datetime(us, UTC), String, Float64, Int64.
COLUMNS: dict[str, Kind] = {
    "ts": "timestamp_us",
    "asset": "string",
    "point": "string",
    "value": "float64",
    "text": "string",
    "unit": "string",
    "quality": "string",
    "window": "string",
    "source": "string",
    "stream_seq": "int64",
}


def polars_schema() -> dict[str, Any]:
    """:data:`COLUMNS` as polars dtypes (imports polars)."""
    import polars as pl

    kinds = {
        "timestamp_us": pl.Datetime("us", "UTC"),
        "string": pl.String,
        "float64": pl.Float64,
        "int64": pl.Int64,
    }
    return {k: kinds[v] for k, v in COLUMNS.items()}


def __getattr__(name: str) -> Any:
    # ``SCHEMA`` (polars dtypes) was a module constant; it is built on use now, so importing
    # the storage module does not import polars (the writer path runs without it).
    if name == "SCHEMA":
        return polars_schema()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


KINDS = ("data", "kpi", "events")


_QUALITIES = frozenset(("good", "uncertain", "bad"))


def _us(dt: datetime) -> int:
    return (dt - _EPOCH) // timedelta(microseconds=1)


def _parse_us(text: str) -> int:
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no time zone")
    # Integer arithmetic: float timestamps lose microseconds far from 1970.
    return (dt - _EPOCH) // timedelta(microseconds=1)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class RowBuffer:
    """Column lists of rows not yet written; appending is a few list appends per point."""

    cols: dict[str, list[Any]] = field(default_factory=lambda: {k: [] for k in COLUMNS})
    first_seq: int | None = None
    last_seq: int | None = None

    def __len__(self) -> int:
        return len(self.cols["ts"])

    def _seq(self, stream_seq: int) -> None:
        if self.first_seq is None:
            self.first_seq = stream_seq
        self.last_seq = stream_seq

    def add_batch(self, batch: SampleBatch, stream_seq: int) -> int:
        """Append every point of a sample batch; returns the number of rows added."""
        c = self.cols
        asset = batch.asset.replace("/", ".")
        bts = _us(batch.ts)
        for p in batch.points:
            v = p.value
            c["ts"].append(_us(p.ts) if p.ts is not None else bts)
            c["asset"].append(asset)
            c["point"].append(p.name)
            if isinstance(v, (int, float)):  # bool is an int: stored as 1.0 / 0.0
                c["value"].append(float(v))
                c["text"].append(None)
            else:
                c["value"].append(None)
                c["text"].append(v)
            c["unit"].append(p.unit)
            c["quality"].append(p.quality.value)
            c["window"].append(None)
            c["source"].append(batch.source)
            c["stream_seq"].append(stream_seq)
        self._seq(stream_seq)
        return len(batch.points)

    def add_raw(self, obj: Any, stream_seq: int) -> int:
        """Append a sample batch given as parsed JSON (the fast path of the sink).

        Checks what storage relies on — the same rules as :class:`SampleBatch` for the fields
        kept — at a fraction of the cost of building pydantic models for 1,000-point batches.

        Raises:
            MalformedMessage: not a sample batch; nothing is appended.
        """
        try:
            if obj.get("schema", "kit.samples/1") != "kit.samples/1":
                raise ValueError(f"schema {obj.get('schema')!r}")
            asset, source, pts = obj["asset"], obj["source"], obj["points"]
            if not (isinstance(asset, str) and isinstance(source, str) and isinstance(pts, list)):
                raise ValueError("asset, source and points must be text, text and a list")
            bts = _parse_us(obj["ts"])
            rows = []
            for p in pts:
                name, v, q = p["name"], p.get("value"), p.get("quality", "good")
                if not isinstance(name, str) or not name or q not in _QUALITIES:
                    raise ValueError(f"point {name!r}: bad name or quality {q!r}")
                if q == "bad":
                    v = None  # a bad value is never stored as if usable
                if isinstance(v, bool) or isinstance(v, (int, float)):
                    num, text = float(v), None
                elif v is None or isinstance(v, str):
                    num, text = None, v
                else:
                    raise ValueError(f"point {name!r}: value must be a number, bool, text or null")
                pts_ts = p.get("ts")
                rows.append(
                    (_parse_us(pts_ts) if pts_ts else bts, name, num, text, p.get("unit"), q)
                )
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise MalformedMessage(f"SampleBatch: {exc}") from None
        c = self.cols
        asset = asset.replace("/", ".")
        for ts, name, num, text, unit, q in rows:
            c["ts"].append(ts)
            c["asset"].append(asset)
            c["point"].append(name)
            c["value"].append(num)
            c["text"].append(text)
            c["unit"].append(unit)
            c["quality"].append(q)
            c["window"].append(None)
            c["source"].append(source)
            c["stream_seq"].append(stream_seq)
        self._seq(stream_seq)
        return len(rows)

    def add_kpi(self, k: KpiValue, stream_seq: int) -> int:
        """Append one KPI value as a row (``point`` = KPI name, ``window`` kept)."""
        c = self.cols
        c["ts"].append(_us(k.ts))
        c["asset"].append(k.asset.replace("/", "."))
        c["point"].append(k.kpi)
        c["value"].append(None if k.value is None else float(k.value))
        c["text"].append(None)
        c["unit"].append(k.unit)
        c["quality"].append(k.quality.value)
        c["window"].append(k.window)
        c["source"].append(k.source)
        c["stream_seq"].append(stream_seq)
        self._seq(stream_seq)
        return 1

    def add_event(self, e: Event, stream_seq: int) -> int:
        """Append one event as a row: ``point`` = event type, ``window`` = event kind,
        ``text`` = message, ``unit`` = severity (events have no unit; the column is reused
        so one schema serves every kind)."""
        c = self.cols
        c["ts"].append(_us(e.ts))
        c["asset"].append(e.asset.replace("/", "."))
        c["point"].append(e.type)
        c["value"].append(None)
        c["text"].append(e.message)
        c["unit"].append(e.severity)
        c["quality"].append("good")
        c["window"].append(e.kind)
        c["source"].append(e.source)
        c["stream_seq"].append(stream_seq)
        self._seq(stream_seq)
        return 1

    def frame(self) -> pl.DataFrame:
        """The buffered rows as a polars DataFrame of :data:`COLUMNS` (imports polars)."""
        import polars as pl

        schema = polars_schema()
        c = dict(self.cols)
        ts = (
            pl.Series("ts", c.pop("ts"), dtype=pl.Int64)
            .cast(pl.Datetime("us"))
            .dt.replace_time_zone("UTC")
        )
        df = pl.DataFrame({k: pl.Series(k, v, dtype=schema[k]) for k, v in c.items()})
        return df.insert_column(0, ts)


_US_PER_DAY = 86_400_000_000


def _frame_columns(df: pl.DataFrame) -> dict[str, list[Any]]:
    """A polars frame of :data:`COLUMNS` as column lists (``ts`` in microseconds)."""
    import polars as pl

    df = df.with_columns(pl.col("ts").dt.cast_time_unit("us").dt.epoch("us"))
    return {k: df[k].to_list() for k in COLUMNS}


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


class Store:
    """One kind's partition tree (see module docstring)."""

    def __init__(self, root: Path, kind: str) -> None:
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        self.root = Path(root)
        self.kind = kind
        self.dir = self.root / kind
        self.dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.hwm = 0
        self.files_written = 0
        self.rows_written = 0

    @property
    def _journal(self) -> Path:
        return self.dir / "_journal.json"

    @property
    def _hwm_file(self) -> Path:
        return self.dir / "_hwm.json"

    def recover(self) -> None:
        """Finish or discard an interrupted commit and load the high-water mark."""
        if self._journal.exists():
            j = json.loads(self._journal.read_text())
            self._apply(j)
        for tmp in self.dir.glob("date=*/asset=*/.tmp-*"):
            tmp.unlink()  # written before a journal existed: never committed
        self.hwm = json.loads(self._hwm_file.read_text())["hwm"] if self._hwm_file.exists() else 0

    def _apply(self, j: dict[str, Any]) -> None:
        for tmp, final in j["renames"]:
            if (self.dir / tmp).exists():
                os.replace(self.dir / tmp, self.dir / final)
        for gone in j.get("deletes", []):
            (self.dir / gone).unlink(missing_ok=True)
        if j.get("hwm") is not None:
            _write_json(self._hwm_file, {"hwm": j["hwm"]})
            self.hwm = j["hwm"]
        self._journal.unlink(missing_ok=True)

    def write(self, rows: RowBuffer | pl.DataFrame, first: int, last: int) -> list[Path]:
        """Commit rows with stream sequences ``first..last`` into their day/asset partitions.

        ``rows``: a :class:`RowBuffer` (the running historian: no polars needed) or a polars
        DataFrame of the same columns."""
        cols = rows.cols if isinstance(rows, RowBuffer) else _frame_columns(rows)
        n = len(cols["ts"])
        if not n:
            self._apply({"renames": [], "hwm": last})
            return []
        # Group rows by (UTC day, asset) in order of first appearance, each sorted by point
        # and time: sorted partitions give long runs, so the file's dictionary-encoded text
        # columns are small and each point's rows are together for the query's filter.
        groups: dict[tuple[int, str], list[int]] = {}
        ts_col, asset_col, point_col = cols["ts"], cols["asset"], cols["point"]
        for i in range(n):
            groups.setdefault((ts_col[i] // _US_PER_DAY, asset_col[i]), []).append(i)
        renames = []
        for (day_no, asset), idx in groups.items():
            idx.sort(key=lambda i: (point_col[i], ts_col[i]))
            day = date(1970, 1, 1) + timedelta(days=day_no)
            rel = Path(f"date={day.isoformat()}") / f"asset={asset}"
            (self.dir / rel).mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp = rel / f".tmp-{first}-{last}.parquet"
            write_parquet(
                self.dir / tmp,
                [(k, kind, [cols[k][i] for i in idx]) for k, kind in COLUMNS.items()],
            )
            os.chmod(self.dir / tmp, 0o600)  # production data: owner only, whatever the umask
            renames.append((str(tmp), str(rel / f"part-{first:012d}-{last:012d}.parquet")))
            self.rows_written += len(idx)
        _write_json(self._journal, {"renames": renames, "hwm": last})
        self._apply({"renames": renames, "hwm": last})
        self.files_written += len(renames)
        return [self.dir / f for _, f in renames]

    def needs_compaction(self, day: date) -> bool:
        """True if some asset of ``day`` has more than one part file (no polars needed)."""
        return any(
            len(list(adir.glob("part-*.parquet"))) > 1
            for adir in (self.dir / f"date={day.isoformat()}").glob("asset=*")
        )

    def compact(self, day: date) -> int:
        """Merge each asset's part files of ``day`` into one file; returns files removed.

        Uses polars: the running historian calls it in a child process
        (:func:`kit_historian.compact.compact_in_child`) so its own memory stays small."""
        removed = 0
        for adir in sorted((self.dir / f"date={day.isoformat()}").glob("asset=*")):
            parts = sorted(adir.glob("part-*.parquet"))
            if len(parts) < 2:
                continue
            seqs = [tuple(int(x) for x in p.stem.split("-")[1:3]) for p in parts]
            lo, hi = min(s[0] for s in seqs), max(s[1] for s in seqs)
            rel = adir.relative_to(self.dir)
            tmp = rel / f".tmp-{lo}-{hi}.parquet"
            import polars as pl

            # Streamed, not loaded: a day of 1 Hz × 1,000 points is ~86 M rows, more than a
            # small gateway's memory. Each part is sorted by point and time already, so row
            # groups keep tight point ranges for query pruning without a global sort.
            pl.scan_parquet(parts).sink_parquet(self.dir / tmp, compression="zstd", statistics=True)
            final = rel / f"part-{lo:012d}-{hi:012d}.parquet"
            deletes = [
                str(p.relative_to(self.dir)) for p in parts if p.relative_to(self.dir) != final
            ]
            j = {"renames": [(str(tmp), str(final))], "deletes": deletes, "hwm": None}
            _write_json(self._journal, j)
            self._apply(j)
            removed += len(deletes)
        return removed

    def days(self) -> list[date]:
        """Days that have a partition, oldest first."""
        out = []
        for d in self.dir.glob("date=*"):
            try:
                out.append(date.fromisoformat(d.name[5:]))
            except ValueError:
                continue
        return sorted(out)

    def apply_retention(self, today: date, keep_days: int) -> list[date]:
        """Delete day partitions older than ``keep_days`` before ``today``; returns the days removed."""
        cutoff = today - timedelta(days=keep_days)
        gone = [d for d in self.days() if d < cutoff]
        for d in gone:
            shutil.rmtree(self.dir / f"date={d.isoformat()}", ignore_errors=True)
        return gone


def tree_bytes(path: Path) -> int:
    """Bytes of every file under ``path`` (0 when it does not exist)."""
    return sum(f.stat().st_size for f in Path(path).rglob("*") if f.is_file())


@dataclass
class RetentionReport:
    """What one retention pass removed (reported in the historian's metrics)."""

    days_removed: list[tuple[str, date]] = field(default_factory=list)
    """``(kind, day)`` partitions deleted, oldest first."""
    bytes_removed: int = 0
    bytes_after: int = 0
    """Size of the whole tree after the pass."""


def enforce_retention(
    stores: list[Store], today: date, keep_days: int, max_bytes: int | None
) -> RetentionReport:
    """Apply age, then size limits over all ``stores`` (kinds) of one tree.

    Age: day partitions older than ``keep_days`` go. Size: while the tree is larger than
    ``max_bytes``, the oldest raw-data day goes; KPI and event days go (oldest first) only
    when no finished raw-data day is left, because they are small and are the evidence a
    pilot is judged on. Today's
    partition is never removed (it is being written), so the tree can exceed ``max_bytes``
    by at most one day of data; the report says by how much.
    """
    rep = RetentionReport()
    for st in stores:
        for d in st.days():
            if d < today - timedelta(days=keep_days):
                rep.bytes_removed += _remove_day(st, d)
                rep.days_removed.append((st.kind, d))
    if max_bytes is not None:
        sizes = {
            (st.kind, d): tree_bytes(st.dir / f"date={d.isoformat()}")
            for st in stores
            for d in st.days()
        }
        total = sum(sizes.values())
        order = sorted((k for k in sizes if k[1] < today), key=lambda k: (k[0] != "data", k[1]))
        by_kind = {st.kind: st for st in stores}
        for kind, d in order:
            if total <= max_bytes:
                break
            freed = _remove_day(by_kind[kind], d)
            total -= sizes[(kind, d)]
            rep.bytes_removed += freed
            rep.days_removed.append((kind, d))
    rep.bytes_after = sum(tree_bytes(st.dir) for st in stores)
    return rep


def _remove_day(store: Store, d: date) -> int:
    path = store.dir / f"date={d.isoformat()}"
    size = tree_bytes(path)
    shutil.rmtree(path, ignore_errors=True)
    return size


def utc_today(now: datetime) -> date:
    """The UTC date of ``now`` (partitions are UTC days)."""
    return now.astimezone(UTC).date()
