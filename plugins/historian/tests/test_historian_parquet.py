"""The historian's stdlib Parquet writer: polars reads its files exactly, the old polars-written
files and the new ones query together, compaction runs in a child process, and the running
write path never imports polars (issue 20: ~35 MiB of the runtime's memory)."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import polars as pl
from kit_historian.compact import compact_in_child
from kit_historian.parquet import write_parquet
from kit_historian.query import query
from kit_historian.storage import COLUMNS, RowBuffer, Store, polars_schema

from kit.payloads import KpiValue, Point, SampleBatch

ASSET = "s/hall/l1/m1"
T0 = datetime(2026, 11, 23, 23, 59, 55, tzinfo=UTC)  # crosses midnight: two day partitions


def _buffer(n: int, seed: int = 7) -> RowBuffer:
    rnd = random.Random(seed)
    buf = RowBuffer()
    for k in range(n):
        pts = [
            Point(name="power_w", value=rnd.uniform(-5e4, 5e4), unit="W"),
            Point(name="count", value=rnd.randrange(2**40)),
            Point(name="running", value=k % 3 == 0),
            Point(name="mode", value=rnd.choice(["auto", "hand", "ü€ 𝄞"])),
            Point(name="temp", quality="bad", reason="timeout"),
        ]
        b = SampleBatch(
            asset=ASSET if k % 4 else "s/hall/l1/m2",
            ts=T0 + timedelta(seconds=k),
            seq=k,
            source="plc",
            points=pts,
        )
        buf.add_batch(b, k + 1)
    k = KpiValue(asset=ASSET, kpi="oee", value=0.5, unit="%", ts=T0, source="o", window="shift")
    buf.add_kpi(k, n + 1)
    return buf


def test_polars_reads_every_column_of_the_stdlib_writer_exactly(tmp_path):
    buf = _buffer(40)
    path = tmp_path / "x.parquet"
    write_parquet(path, [(k, kind, buf.cols[k]) for k, kind in COLUMNS.items()])
    got = pl.read_parquet(path)
    assert got.schema == pl.Schema(polars_schema())
    # The reference: the same rows built by polars itself from the buffer.
    assert got.equals(buf.frame())
    # Statistics are right: a filter polars may prune row groups with finds every row.
    for point in ("power_w", "mode", "oee", "nope"):
        want = sum(1 for p in buf.cols["point"] if p == point)
        assert pl.scan_parquet(path).filter(pl.col("point") == point).collect().height == want


def test_store_writes_what_polars_wrote_before_and_both_query_together(tmp_path):
    buf = _buffer(30)
    new = Store(tmp_path / "new", "data")
    new.write(buf, 1, 31)
    files = sorted((tmp_path / "new" / "data").rglob("*.parquet"))
    assert {f.parent.parent.name for f in files} == {"date=2026-11-23", "date=2026-11-24"}
    # The polars writer of the previous release, same partitioning, same sort.
    old = buf.frame().with_columns(pl.col("ts").dt.date().alias("_date"))
    for f in files:
        day = f.parent.parent.name[5:]
        asset = f.parent.name[6:]
        want = (
            old.filter((pl.col("_date").cast(pl.String) == day) & (pl.col("asset") == asset))
            .drop("_date")
            .sort("point", "ts")
        )
        assert pl.read_parquet(f).equals(want)
    # An old polars-written part next to a new one: one query reads both.
    f = next(f for f in files if f.parent.name == "asset=s.hall.l1.m1")
    old_rows = pl.read_parquet(f).with_columns(pl.col("stream_seq") + 1000)
    old_rows.write_parquet(
        f.parent / "part-000000001001-000000001031.parquet", compression="zstd", statistics=True
    )
    rows = query(tmp_path / "new", ASSET, ["power_w"], T0, T0 + timedelta(days=1))
    want = (
        sum(
            1
            for a, p in zip(buf.cols["asset"], buf.cols["point"], strict=True)
            if a == "s.hall.l1.m1" and p == "power_w"
        )
        + old_rows.filter(pl.col("point") == "power_w").height
    )
    assert rows.height == want > 0


def test_compaction_in_a_child_process_keeps_every_row(tmp_path):
    store = Store(tmp_path, "data")
    bufs = [_buffer(6, seed=s) for s in range(3)]
    for i, b in enumerate(bufs):
        store.write(b, 100 * i + 1, 100 * i + 7)
    day = T0.date()
    assert store.needs_compaction(day)
    before = pl.read_parquet(tmp_path / "data" / f"date={day}" / "**" / "*.parquet")
    removed = asyncio.run(compact_in_child(tmp_path, "data", day))
    # every part file is replaced by one merged file per asset (three writes, two assets)
    assert removed == 3 * len(list((tmp_path / "data" / f"date={day}").glob("asset=*"))) == 6
    assert not store.needs_compaction(day)
    after = pl.read_parquet(tmp_path / "data" / f"date={day}" / "**" / "*.parquet")
    key = ["stream_seq", "point", "asset"]
    assert after.sort(key).equals(before.sort(key))


def test_the_write_path_does_not_import_polars(tmp_path):
    code = f"""
import json, sys
from kit_historian import plugin
from kit_historian.storage import RowBuffer, Store
batch = {{"schema": "kit.samples/1", "asset": "s/a/l/m", "ts": "2026-11-23T00:00:00Z",
         "seq": 0, "source": "plc", "points": [{{"name": "x", "value": 1.5}}]}}
buf = RowBuffer()
buf.add_raw(batch, 1)
st = Store({str(tmp_path)!r}, "data")
st.recover()
class Api:  # the control API's registry: the endpoints are registered, polars not loaded
    names = []
    def add(self, endpoint, handler):
        self.names.append(endpoint.name)
api = Api()
plugin.register_endpoints(api=api, runtime=None)
print(json.dumps([len(st.write(buf, 1, 1)), api.names, "polars" in sys.modules]))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == [1, ["history.query", "history.export"], False]
    assert pl.read_parquet(next(tmp_path.rglob("*.parquet")))["value"].to_list() == [1.5]
