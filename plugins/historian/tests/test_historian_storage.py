"""Storage and query of the historian without a bus: commits, crash recovery, compaction, retention, queries."""

from __future__ import annotations

import json
import statistics
from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
from kit_historian.query import parse_time, query
from kit_historian.storage import RowBuffer, Store

from kit.errors import KitError
from kit.payloads import KpiValue, Point, SampleBatch

ASSET = "s/hall/l1/m1"
T0 = datetime(2026, 11, 23, 23, 58, tzinfo=UTC)


def batch(i: int, t: datetime, quality: str = "good") -> SampleBatch:
    pts = [
        Point(name="temp", value=20.0 + i, unit="°C"),
        Point(name="running", value=i % 2 == 0),
        Point(name="mode", value="auto"),
    ]
    if quality != "good":
        pts[0] = Point(name="temp", value=None, quality=quality, reason="timeout")
    return SampleBatch(asset=ASSET, ts=t, seq=i, source="plc", points=pts)


def fill(store: Store, n: int, start_seq: int = 1, step_s: float = 10.0) -> RowBuffer:
    buf = RowBuffer()
    for k in range(n):
        buf.add_batch(batch(k, T0 + timedelta(seconds=step_s * k)), start_seq + k)
    store.write(buf.frame(), start_seq, start_seq + n - 1)
    return buf


def test_fast_json_path_equals_model_path_and_rejects_malformed():
    from kit import codec
    from kit.codec import MalformedMessage

    b = batch(3, T0)
    b.points.append(Point(name="late", value=1, ts=T0 - timedelta(seconds=5)))
    b.points.append(Point(name="lost", quality="bad", reason="timeout"))
    via_model, via_json = RowBuffer(), RowBuffer()
    via_model.add_batch(b, 7)
    via_json.add_raw(json.loads(codec.encode(b)), 7)
    assert via_json.frame().equals(via_model.frame())
    for broken in (
        {"asset": "a"},
        {**json.loads(codec.encode(b)), "points": [{"name": "x", "quality": "maybe"}]},
        {**json.loads(codec.encode(b)), "ts": "2026-11-23T00:00:00"},
        [1, 2],
    ):
        with pytest.raises(MalformedMessage):
            via_json.add_raw(broken, 8)
    assert len(via_json) == len(via_model)  # nothing half-appended


def test_write_partitions_by_day_and_asset(tmp_path):
    store = Store(tmp_path, "data")
    fill(store, 30)  # 23:58 + 300 s crosses midnight
    files = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("part-*.parquet"))
    assert files == [
        "data/date=2026-11-23/asset=s.hall.l1.m1/part-000000000001-000000000030.parquet",
        "data/date=2026-11-24/asset=s.hall.l1.m1/part-000000000001-000000000030.parquet",
    ]
    df = pl.read_parquet(tmp_path / "data" / "**" / "*.parquet")
    assert df.height == 90 and df["stream_seq"].n_unique() == 30
    assert json.loads((tmp_path / "data" / "_hwm.json").read_text()) == {"hwm": 30}


def test_interrupted_commit_is_rolled_forward_and_uncommitted_discarded(tmp_path):
    store = Store(tmp_path, "data")
    fill(store, 3)
    # Simulate a crash after the journal was written but before the renames.
    buf = RowBuffer()
    buf.add_batch(batch(9, T0), 4)
    part = tmp_path / "data/date=2026-11-23/asset=s.hall.l1.m1"
    buf.frame().write_parquet(part / ".tmp-4-4.parquet")
    rel = "date=2026-11-23/asset=s.hall.l1.m1"
    (tmp_path / "data/_journal.json").write_text(
        json.dumps(
            {
                "renames": [
                    [f"{rel}/.tmp-4-4.parquet", f"{rel}/part-000000000004-000000000004.parquet"]
                ],
                "hwm": 4,
            }
        )
    )
    # …and a temp file from a commit that never got its journal.
    buf.frame().write_parquet(part / ".tmp-5-5.parquet")
    again = Store(tmp_path, "data")
    again.recover()
    assert again.hwm == 4
    assert not list(tmp_path.rglob(".tmp-*")) and not (tmp_path / "data/_journal.json").exists()
    assert (
        pl.read_parquet(tmp_path / "data" / "**" / "*.parquet")["stream_seq"].to_list().count(4)
        == 3
    )


def test_compaction_keeps_every_row_once(tmp_path):
    store = Store(tmp_path, "data")
    for k in range(5):
        fill(store, 4, start_seq=1 + 4 * k, step_s=1)
    day = T0.date()
    before = pl.read_parquet(tmp_path / "data" / f"date={day}" / "**" / "*.parquet").sort(
        "stream_seq", "point"
    )
    assert store.compact(day) == 5  # five part files replaced by one
    files = list((tmp_path / "data" / f"date={day}").rglob("*.parquet"))
    assert [f.name for f in files] == ["part-000000000001-000000000020.parquet"]
    after = pl.read_parquet(files[0]).sort("stream_seq", "point")
    assert after.equals(before)
    assert query(tmp_path, ASSET, ["temp"], T0, T0 + timedelta(minutes=1)).height == 20


def test_retention_drops_old_days(tmp_path):
    store = Store(tmp_path, "data")
    fill(store, 30)
    assert store.apply_retention(date(2026, 11, 25), keep_days=1) == [date(2026, 11, 23)]
    assert store.days() == [date(2026, 11, 24)]


def test_query_raw_and_aggregated_match_independent_computation(tmp_path):
    store = Store(tmp_path, "data")
    buf = RowBuffer()
    t0 = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)
    for k in range(180):  # 30 minutes at 10 s, one bad temp every 7th
        buf.add_batch(
            batch(k, t0 + timedelta(seconds=10 * k), "bad" if k % 7 == 3 else "good"), k + 1
        )
    store.write(buf.frame(), 1, 180)
    kpis = Store(tmp_path, "kpi")
    kb = RowBuffer()
    kb.add_kpi(
        KpiValue(asset=ASSET, kpi="oee", value=0.8, ts=t0, source="oee1", window="rolling"), 1
    )
    kpis.write(kb.frame(), 1, 1)

    raw = query(tmp_path, ASSET, ["temp", "oee"], t0, t0 + timedelta(minutes=5))
    assert raw.filter(pl.col("point") == "temp").height == 30
    assert raw.filter(pl.col("point") == "oee")["value"].to_list() == [0.8]
    assert raw.filter(pl.col("point") == "oee")["window"].to_list() == ["rolling"]

    for agg, fn in (
        ("mean", statistics.fmean),
        ("min", min),
        ("max", max),
        ("last", lambda v: v[-1]),
    ):
        res = query(tmp_path, ASSET, ["temp"], t0, t0 + timedelta(minutes=30), every="5m", agg=agg)
        assert res.height == 6
        for j, row in enumerate(res.iter_rows(named=True)):
            ks = [k for k in range(30 * j, 30 * j + 30) if k % 7 != 3]
            assert row["value"] == pytest.approx(fn([20.0 + k for k in ks])), (agg, j)
            assert row["samples"] == len(ks) and row["excluded"] == 30 - len(ks)


def test_query_errors_are_clear(tmp_path):
    t = datetime(2026, 11, 23, tzinfo=UTC)
    with pytest.raises(KitError, match="--every"):
        query(tmp_path, ASSET, ["x"], t, t + timedelta(hours=1), every="5 minutes")
    with pytest.raises(KitError, match="--agg"):
        query(tmp_path, ASSET, ["x"], t, t + timedelta(hours=1), every="1m", agg="median")
    with pytest.raises(KitError, match="after"):
        query(tmp_path, ASSET, ["x"], t, t)
    assert query(tmp_path, ASSET, ["x"], t, t + timedelta(hours=1)).height == 0
    assert parse_time("-2h", now=t) == t - timedelta(hours=2)
    assert parse_time("2026-11-23T06:00") == t.replace(hour=6)


def _days_of_rows(store: Store, first_day: date, days: int, rows_per_day: int) -> None:
    """Write ``days`` day partitions of incompressible-enough rows (one commit per day)."""
    import random

    rnd = random.Random(7)
    seq = 1
    for d in range(days):
        buf = RowBuffer()
        t0 = datetime.combine(first_day + timedelta(days=d), datetime.min.time(), tzinfo=UTC)
        for k in range(rows_per_day):
            pts = [Point(name="temp", value=rnd.random(), unit="°C")]
            buf.add_batch(
                SampleBatch(
                    asset=ASSET, ts=t0 + timedelta(seconds=k), seq=seq, source="p", points=pts
                ),
                seq,
            )
            seq += 1
        store.write(buf.frame(), seq - rows_per_day, seq - 1)


def test_size_retention_removes_oldest_raw_days_first_and_reports_bytes(tmp_path):
    from kit_historian.storage import enforce_retention, tree_bytes

    data, kpi = Store(tmp_path, "data"), Store(tmp_path, "kpi")
    first = date(2026, 11, 1)
    _days_of_rows(data, first, 5, 2000)
    kbuf = RowBuffer()
    for d in range(5):
        k = KpiValue(
            kpi="oee",
            asset=ASSET,
            value=0.5,
            window="shift",
            ts=datetime.combine(first + timedelta(days=d), datetime.min.time(), tzinfo=UTC),
            source="oee",
        )
        kbuf.add_kpi(k, d + 1)
    kpi.write(kbuf.frame(), 1, 5)
    per_day = {d: tree_bytes(data.dir / f"date={d.isoformat()}") for d in data.days()}
    total = tree_bytes(data.dir) + tree_bytes(kpi.dir)
    # Limit: everything minus a bit more than two raw days → the two oldest raw days go.
    days = sorted(per_day)
    limit = total - per_day[days[0]] - per_day[days[1]] // 2
    rep = enforce_retention([data, kpi], first + timedelta(days=5), 365, limit)
    assert rep.days_removed == [("data", days[0]), ("data", days[1])]
    assert rep.bytes_removed == per_day[days[0]] + per_day[days[1]]
    assert rep.bytes_after == tree_bytes(data.dir) + tree_bytes(kpi.dir) <= limit
    assert kpi.days() == [first + timedelta(days=d) for d in range(5)]  # KPIs all kept


def test_size_retention_never_removes_today_and_age_limit_applies_to_every_kind(tmp_path):
    from kit_historian.storage import enforce_retention

    data = Store(tmp_path, "data")
    today = date(2026, 11, 10)
    _days_of_rows(data, today - timedelta(days=2), 3, 500)
    rep = enforce_retention([data], today, 365, 1)  # 1 byte: all but today must go
    assert data.days() == [today]
    assert [d for _, d in rep.days_removed] == [
        today - timedelta(days=2),
        today - timedelta(days=1),
    ]
    assert rep.bytes_after > 1  # over the limit by today's partition, and reported
    rep = enforce_retention([data], today + timedelta(days=3), 2, None)
    assert rep.days_removed == [("data", today)] and data.days() == []


def test_events_are_stored_as_rows(tmp_path):
    from kit.payloads import Event

    store = Store(tmp_path, "events")
    buf = RowBuffer()
    buf.add_event(
        Event(
            kind="alarm",
            asset=ASSET,
            ts=T0,
            source="alarms",
            type="alarm_raised",
            severity="high",
            message="temp high",
        ),
        1,
    )
    store.write(buf.frame(), 1, 1)
    df = query(tmp_path, ASSET, ["alarm_raised"], T0, T0 + timedelta(seconds=1), kinds=("events",))
    assert df.select("text", "unit", "window").row(0) == ("temp high", "high", "alarm")


def test_query_by_kpi_window(tmp_path):
    store, buf = Store(tmp_path, "kpi"), RowBuffer()
    for i, w in enumerate(["shift", "rolling", "shift", "rolling"]):
        buf.add_kpi(
            KpiValue(
                kpi="oee",
                asset=ASSET,
                value=0.5 + i / 10,
                window=w,
                ts=T0 + timedelta(seconds=i),
                source="oee",
            ),
            i + 1,
        )
    store.write(buf.frame(), 1, 4)
    end = T0 + timedelta(minutes=1)
    shift = query(tmp_path, ASSET, ["oee"], T0, end, window="shift")
    assert shift["value"].to_list() == [0.5, 0.7]
    assert query(tmp_path, ASSET, ["oee"], T0, end).height == 4


def test_query_by_window_class_of_real_labels(tmp_path):
    # The energy and OEE plugins label windows "<class>:<id>"; --window shift means every shift.
    store, buf = Store(tmp_path, "kpi"), RowBuffer()
    labels = [
        "shift:2026-12-06/early",
        "hour:2026-12-06T05",
        "shift:2026-12-06/late",
        "day:2026-12-06",
    ]
    for i, w in enumerate(labels):
        buf.add_kpi(
            KpiValue(
                kpi="energy_kwh",
                asset=ASSET,
                value=float(i),
                window=w,
                ts=T0 + timedelta(seconds=i),
                source="energy",
            ),
            i + 1,
        )
    store.write(buf.frame(), 1, 4)
    end = T0 + timedelta(minutes=1)
    assert query(tmp_path, ASSET, ["energy_kwh"], T0, end, window="shift")["value"].to_list() == [
        0.0,
        2.0,
    ]
    one = query(tmp_path, ASSET, ["energy_kwh"], T0, end, window="hour:2026-12-06T05")
    assert one["value"].to_list() == [1.0]
    assert query(tmp_path, ASSET, ["energy_kwh"], T0, end, window="shif").height == 0
