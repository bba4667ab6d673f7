"""Export to CSV/xlsx (local time, units in headers, resolution) and the typed query request."""

from __future__ import annotations

import csv
import zipfile
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from kit_historian.api import parse_request
from kit_historian.storage import RowBuffer, Store

from kit.errors import KitError
from kit.payloads import Point, SampleBatch

ASSET = "s/hall/l1/m1"
T0 = datetime(2026, 11, 23, 6, 0, tzinfo=UTC)


def _fill(root, n=30):
    store, buf = Store(root, "data"), RowBuffer()
    for k in range(n):
        pts = [
            Point(name="voltage", value=230.0 + k / 10, unit="V"),
            Point(name="power", value=1000 + k, unit="W"),
        ]
        buf.add_batch(
            SampleBatch(asset=ASSET, ts=T0 + timedelta(seconds=k), seq=k, source="p", points=pts),
            k + 1,
        )
    store.write(buf.frame(), 1, n)


def _kit(args):
    from kit.cli import cli

    return CliRunner().invoke(cli, args)


def test_csv_export_local_time_units_and_resolution(tmp_path):
    _fill(tmp_path / "h")
    out = tmp_path / "x.csv"
    r = _kit(
        [
            "history",
            "export",
            "--asset",
            ASSET,
            "--points",
            "voltage,power",
            "--from",
            T0.isoformat(),
            "--to",
            (T0 + timedelta(minutes=1)).isoformat(),
            "--tz",
            "Europe/Berlin",
            "--dir",
            str(tmp_path / "h"),
            "-o",
            str(out),
        ]
    )
    assert r.exit_code == 0, r.output
    rows = list(csv.reader(out.open()))
    assert rows[0] == ["time (Europe/Berlin)", "voltage [V]", "power [W]"] or rows[0] == [
        "time (Europe/Berlin)",
        "power [W]",
        "voltage [V]",
    ]
    head = dict(zip(rows[0], rows[4], strict=True))
    local = (T0 + timedelta(seconds=3)).astimezone(ZoneInfo("Europe/Berlin"))
    assert head["time (Europe/Berlin)"] == local.isoformat()  # 07:00:03+01:00
    assert head["voltage [V]"] == "230.3" and float(head["power [W]"]) == 1003
    assert len(rows) == 31


def test_aggregated_export_rounds_computed_means_and_xlsx_has_headers(tmp_path):
    _fill(tmp_path / "h")
    out = tmp_path / "x.xlsx"
    r = _kit(
        [
            "history",
            "export",
            "--asset",
            ASSET,
            "--points",
            "voltage",
            "--from",
            T0.isoformat(),
            "--to",
            (T0 + timedelta(minutes=1)).isoformat(),
            "--every",
            "1m",
            "--tz",
            "UTC",
            "--dir",
            str(tmp_path / "h"),
            "-o",
            str(out),
        ]
    )
    assert r.exit_code == 0, r.output
    z = zipfile.ZipFile(out)
    strings = z.read("xl/sharedStrings.xml").decode()
    assert "time (UTC)" in strings and "voltage [V]" in strings
    sheet = z.read("xl/worksheets/sheet1.xml").decode()
    mean = round(sum(230.0 + k / 10 for k in range(30)) / 30, 3)  # computed: 3 decimals
    assert f"<v>{mean:g}</v>" in sheet


def test_bad_tz_and_format_are_clear(tmp_path):
    _fill(tmp_path / "h")
    base = [
        "history",
        "export",
        "--asset",
        ASSET,
        "--points",
        "voltage",
        "--from",
        "-1d",
        "--dir",
        str(tmp_path / "h"),
    ]
    r = CliRunner().invoke(
        __import__("kit.cli", fromlist=["cli"]).cli,
        [*base, "--tz", "Mars/Base", "-o", str(tmp_path / "a.csv")],
    )
    assert r.exit_code != 0 and "Mars/Base" in r.output and "Europe/London" in r.output
    r = CliRunner().invoke(
        __import__("kit.cli", fromlist=["cli"]).cli, [*base, "-o", str(tmp_path / "a.txt")]
    )
    assert r.exit_code != 0 and "csv or xlsx" in r.output


def test_query_request_is_typed_with_clear_errors():
    req = parse_request({"asset": ASSET, "points": "a, b", "from": "-1h", "to": "now"})
    assert req.points == ["a", "b"] and req.from_ == "-1h" and req.limit == 100_000
    with pytest.raises(KitError) as err:
        parse_request({"asset": ASSET, "points": [], "to": "now", "agg": "median"})
    msg = str(err.value)
    assert msg.startswith("history.query: ") and "from" in msg and "points" in msg
    assert "agg" in msg
