"""kit pilot start/status on synthetic history written through the historian's storage API
(a fake clock: --now), goal and baseline parsing errors, imported baselines."""

from __future__ import annotations

import json
import random
import statistics
from datetime import UTC, datetime, timedelta

import pytest
from click.testing import CliRunner
from kit_historian.storage import RowBuffer, Store
from kit_pilot.goal import parse_baseline, parse_goal

from kit.cli import cli
from kit.errors import KitError
from kit.payloads import KpiValue

ASSET = "s/hall/l1/m1"
START = datetime(2026, 11, 15, 6, 0, tzinfo=UTC)  # pilot start = a shift start
SHIFT = timedelta(hours=8)


def write_kpi(root, kpi, first, shifts, level, *, drop=0.0, seed=1, unit=None):
    """One value per minute; each shift has its own level (level(i) + noise). Returns the
    per-shift means of the values actually written (the independent reference)."""
    rnd = random.Random(seed)
    store, buf, means = Store(root, "kpi"), RowBuffer(), []
    seq = store.hwm
    for i in range(shifts):
        lv, vals = level(i, rnd), []
        for m in range(480):
            if rnd.random() < drop:
                continue
            v = lv + rnd.gauss(0, 0.01)
            vals.append(v)
            seq += 1
            ts = first + i * SHIFT + timedelta(minutes=m)
            buf.add_kpi(
                KpiValue(
                    kpi=kpi, asset=ASSET, value=v, unit=unit, window="shift", ts=ts, source="oee"
                ),
                seq,
            )
        means.append(statistics.fmean(vals))
    store.write(buf.frame(), store.hwm + 1, seq)
    store.hwm = seq
    return means


def kit(data, *args):
    return CliRunner().invoke(cli, list(args), env={"KIT_DATA_DIR": str(data)})


@pytest.fixture
def site(tmp_path):
    data = tmp_path / "data"
    hist = data / "history"
    # 14 days of baseline at OEE ≈ 0.60, 10 days of pilot at ≈ 0.67 (+7 pp).
    base = write_kpi(
        hist, "oee", START - timedelta(days=14), 42, lambda i, r: 0.60 + r.gauss(0, 0.03), seed=1
    )
    pil = write_kpi(hist, "oee", START, 30, lambda i, r: 0.67 + r.gauss(0, 0.03), seed=2)
    return data, base, pil


def test_status_finds_the_known_change_within_its_interval(site):
    data, base, pil = site
    r = kit(
        data,
        "pilot",
        "start",
        "press-oee",
        "--asset",
        ASSET,
        "--kpi",
        "oee:+5pp",
        "--baseline",
        "14d",
        "--tz",
        "UTC",
        "--owner",
        "maria",
        "--product-mix",
        "A-200 only",
        "--now",
        START.isoformat(),
    )
    assert r.exit_code == 0, r.output
    now = START + timedelta(days=10)
    r = kit(data, "pilot", "status", "press-oee", "--json", "--now", now.isoformat())
    assert r.exit_code == 0, r.output
    g = json.loads(r.output)["goals"][0]
    c = g["comparison"]
    assert c["n_baseline"] == 42 and c["n_pilot"] == 30
    assert abs(c["baseline_mean"] - statistics.fmean(base)) < 1e-9
    assert abs(c["pilot_mean"] - statistics.fmean(pil)) < 1e-9
    # The interval holds the difference of the independently computed shift means (the true
    # +7 pp lies within chance of it; interval coverage is tested in test_pilot_stats).
    ref = statistics.fmean(pil) - statistics.fmean(base)
    assert c["verdict"] == "increase" and c["ci_low"] < ref < c["ci_high"] and c["ci_low"] > 0
    assert abs(g["target"] - (statistics.fmean(base) + 0.05)) < 1e-9
    assert g["status"] == "target reached" and c["warnings"] == []
    human = kit(data, "pilot", "status", "press-oee", "--now", now.isoformat()).output
    assert "oee:+5pp" in human and "increase" in human and "target reached" in human
    assert "A-200 only" in human


def test_no_change_and_missing_data_are_reported(tmp_path):
    data = tmp_path / "data"
    hist = data / "history"
    write_kpi(hist, "oee", START - timedelta(days=14), 42, lambda i, r: 0.6 + r.gauss(0, 0.03))
    write_kpi(hist, "oee", START, 30, lambda i, r: 0.6 + r.gauss(0, 0.03), drop=0.4, seed=9)
    assert (
        kit(
            data,
            "pilot",
            "start",
            "p",
            "--asset",
            ASSET,
            "--kpi",
            "oee:+5pp",
            "--baseline",
            "14d",
            "--tz",
            "UTC",
            "--now",
            START.isoformat(),
        ).exit_code
        == 0
    )
    r = kit(
        data, "pilot", "status", "p", "--json", "--now", (START + timedelta(days=10)).isoformat()
    )
    g = json.loads(r.output)["goals"][0]
    assert g["comparison"]["verdict"] == "no significant change"
    assert g["status"] != "target reached"
    assert 0.55 < g["completeness"][1] < 0.65 and g["completeness"][0] > 0.99
    assert any("pilot: data 6" in w and "missing" in w for w in g["comparison"]["warnings"])


def test_imported_baseline_and_relative_goal(tmp_path):
    data = tmp_path / "data"
    write_kpi(
        data / "history",
        "kwh_per_part",
        START,
        30,
        lambda i, r: 1.80 + r.gauss(0, 0.02),
        unit="kWh",
    )
    csv_file = tmp_path / "before.csv"
    rnd = random.Random(4)
    rows = [(START - timedelta(days=30) + i * SHIFT, 2.0 + rnd.gauss(0, 0.02)) for i in range(40)]
    csv_file.write_text(
        "shift_start,kpi,value\n" + "".join(f"{t.isoformat()},kwh_per_part,{v}\n" for t, v in rows)
    )
    r = kit(
        data,
        "pilot",
        "start",
        "energy",
        "--asset",
        ASSET,
        "--kpi",
        "kwh_per_part:-8%",
        "--baseline",
        f"import:{csv_file}",
        "--tz",
        "UTC",
        "--now",
        START.isoformat(),
    )
    assert r.exit_code == 0, r.output
    g = json.loads(
        kit(
            data,
            "pilot",
            "status",
            "energy",
            "--json",
            "--now",
            (START + timedelta(days=10)).isoformat(),
        ).output
    )["goals"][0]
    ref = statistics.fmean(v for _, v in rows)
    assert abs(g["comparison"]["baseline_mean"] - ref) < 1e-9
    assert abs(g["target"] - ref * 0.92) < 1e-9
    assert g["comparison"]["verdict"] == "decrease" and g["status"] == "target reached"
    assert g["unit"] == "kWh"
    bad = tmp_path / "bad.csv"
    bad.write_text("shift_start,kpi,value\n2026-11-01T06:00,kwh_per_part,abc\n")
    r = kit(
        data,
        "pilot",
        "start",
        "e2",
        "--asset",
        ASSET,
        "--kpi",
        "kwh_per_part:-8%",
        "--baseline",
        f"import:{bad}",
    )
    assert r.exit_code != 0 and f"{bad}:2: value: 'abc' is not a number" in r.output


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("oee", "write KPI:CHANGE"),
        ("OEE!:+5pp", "KPI name 'OEE!'"),
        ("oee:5pp", "needs a sign"),
        ("oee:+5", "needs a unit: pp"),
        ("oee:+5.x%", "number is not readable"),
        ("oee:+0pp", "is zero"),
        ("kwh_per_part:-100%", "100 %"),
    ],
)
def test_goal_errors_name_the_wrong_part(text, says):
    with pytest.raises(KitError) as err:
        parse_goal(text)
    assert f"--kpi {text!r}" in str(err.value) and says in str(err.value)


def test_goal_and_baseline_forms():
    g = parse_goal("oee:+5pp")
    assert (g.kpi, g.change, g.unit) == ("oee", 5.0, "pp") and g.target(0.6) == pytest.approx(0.65)
    assert parse_goal("kwh_per_part:-8%").target(2.0) == pytest.approx(1.84)
    assert parse_goal("availability:+5pp").target(60.0, "%") == pytest.approx(65.0)
    b = parse_baseline("14d", START)
    assert (b.start, b.end) == (START - timedelta(days=14), START)
    b = parse_baseline("2026-11-01..2026-11-15T06:00", START)
    assert b.start == datetime(2026, 11, 1, tzinfo=UTC) and b.end == START
    for bad in ("14x", "2026-11-15..2026-11-01", "0d", "2026-13-01..2026-11-01"):
        with pytest.raises(KitError, match="--baseline"):
            parse_baseline(bad, START)
    with pytest.raises(KitError, match="no pilot 'nope'"):
        from kit_pilot.store import PilotStore

        PilotStore(__import__("pathlib").Path("/nonexistent")).load("nope")


def test_status_reads_the_configured_historian_directory(tmp_path):
    from kit_pilot.cli import site_history_dir

    from kit.settings import ComponentSpec, Settings

    s = Settings(data_dir=tmp_path / "d")
    assert site_history_dir(s) == tmp_path / "d" / "history"
    s = Settings(
        data_dir=tmp_path / "d",
        components=[
            ComponentSpec(
                name="rec", type="historian", config={"own_asset_only": True, "directory": "/x"}
            ),
            ComponentSpec(name="h", type="historian", config={"directory": str(tmp_path / "h")}),
        ],
    )
    assert site_history_dir(s) == tmp_path / "h"


def test_status_uses_each_shift_windows_final_figure(tmp_path):
    """KPIs published per shift window (running figures, the final one stamped at the shift's
    end, as the OEE plugin does) count by their final figure; the rolling window beside them
    is not mixed in; the shift spanning the baseline's end is counted once, in the baseline."""
    data = tmp_path / "data"
    store, buf = Store(data / "history", "kpi"), RowBuffer()
    rnd = random.Random(5)
    finals: dict[str, list[float]] = {"base": [], "pilot": []}
    seq = 0
    for i in range(-12, 12):
        t0 = START + i * SHIFT
        final = (0.60 if i < 0 else 0.70) + rnd.gauss(0, 0.02)
        finals["base" if i < 0 else "pilot"].append(final)
        for k in range(1, 9):  # hourly; the running figure climbs to the final one
            seq += 1
            buf.add_kpi(
                KpiValue(
                    kpi="oee",
                    asset=ASSET,
                    value=final * k / 8,
                    window=f"shift:{t0:%Y%m%d%H}",
                    ts=t0 + timedelta(hours=k),
                    source="oee",
                ),
                seq,
            )
            seq += 1
            buf.add_kpi(
                KpiValue(
                    kpi="oee",
                    asset=ASSET,
                    value=0.1,
                    window="rolling",
                    ts=t0 + timedelta(hours=k),
                    source="oee",
                ),
                seq,
            )
    store.write(buf.frame(), 1, seq)
    r = kit(
        data,
        "pilot",
        "start",
        "p",
        "--asset",
        ASSET,
        "--kpi",
        "oee:+5pp",
        "--baseline",
        "4d",
        "--tz",
        "UTC",
        "--now",
        START.isoformat(),
    )
    assert r.exit_code == 0, r.output
    r = kit(
        data,
        "pilot",
        "status",
        "p",
        "--json",
        "--now",
        (START + timedelta(days=4, hours=1)).isoformat(),
    )
    g = json.loads(r.output)["goals"][0]
    c = g["comparison"]
    assert (c["n_baseline"], c["n_pilot"]) == (12, 12)
    assert c["baseline_mean"] == pytest.approx(statistics.fmean(finals["base"]), rel=1e-12)
    assert c["pilot_mean"] == pytest.approx(statistics.fmean(finals["pilot"]), rel=1e-12)
    assert not any("several windows" in w for w in c["warnings"])
