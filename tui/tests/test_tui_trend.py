"""The trend screen over a fake-clocked week of history (issue 17 item 2, "Done when").

A week of synthetic history is written with the historian's own storage code before a real
runtime starts (a real historian serves ``history.query`` from it, a real alarms component
has a ``hi`` rule on the point); the screen's clock is fixed at the end of that week, so
no test waits for time to pass. Checked: the 7-day view aggregates per hour with the right
means, zooming in to one day and moving earlier pick the right intervals, a second series
(a KPI in another unit) goes on the right axis, and the alarm limit and the SPC limits in
force are drawn and named.
"""

from __future__ import annotations

import csv
import io
import os
import zipfile
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import polars as pl
from kit_historian.storage import SCHEMA, Store
from kit_tui.app import KitApp
from kit_tui.data.link import RuntimeLink
from kit_tui.messages import OpenAsset
from kit_tui.screens.asset import AssetScreen
from kit_tui.screens.dialogs import PromptDialog
from kit_tui.screens.trend import Series, TrendScreen, bucket_for, parse_range
from textual.command import CommandList, CommandPalette
from textual.widgets import Input
from textual_plotext import PlotextPlot
from tui_helpers import replace_text, text

from kit.payloads import Point, SampleBatch, utcnow
from kit.settings import ComponentSpec
from kit.testing import wait_for

ASSET = "test/area/line/press"
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
WEEK0 = T0 - timedelta(days=7)
STEP = timedelta(minutes=10)


def temperature(ts: datetime) -> float:
    """Synthetic reference: 60 °C on the first day of the week, one more each day."""
    return 60.0 + (ts - WEEK0) // timedelta(days=1)


def _frame(rows: list[tuple[datetime, str, float, str | None, str | None]]) -> pl.DataFrame:
    n = len(rows)
    return pl.DataFrame(
        {
            "ts": [r[0] for r in rows],
            "asset": [ASSET.replace("/", ".")] * n,
            "point": [r[1] for r in rows],
            "value": [r[2] for r in rows],
            "text": [None] * n,
            "unit": [r[3] for r in rows],
            "quality": ["good"] * n,
            "window": [r[4] for r in rows],
            "source": ["synthetic"] * n,
            "stream_seq": [0] * n,
        },
        schema=SCHEMA,
    )


def write_week(root) -> None:
    """Samples every 10 min, hourly OEE, and SPC limits set twice (the later ones in force)."""
    samples = [
        (WEEK0 + i * STEP, "temperature_c", temperature(WEEK0 + i * STEP), "°C", None)
        for i in range(7 * 144)
    ]
    Store(root, "data").write(_frame(samples), 0, 0)
    kpis = [
        (WEEK0 + timedelta(hours=h), "oee", 0.5 + (h % 24) / 100, "%", "rolling")
        for h in range(7 * 24)
    ]
    for when, (ucl, cl, lcl) in (
        (WEEK0 + timedelta(hours=1), (70, 63, 56)),
        (T0 - timedelta(days=1), (71, 64, 57)),
    ):
        kpis += [
            (when, f"temperature_c_x_{n}", v, "°C", "limits")
            for n, v in (("ucl", ucl), ("cl", cl), ("lcl", lcl))
        ]
    Store(root, "kpi").write(_frame(kpis), 0, 0)


async def test_trend_over_a_fake_clocked_week(kit_settings, make_runtime, tmp_path, monkeypatch):
    write_week(kit_settings.data_dir / "history")
    kit_settings.components = [
        ComponentSpec(
            name="history",
            type="historian",
            config={"streams": ["data", "kpi", "events"], "fetch_pause_s": 0.05},
        ),
        ComponentSpec(
            name="press-alarms",
            type="alarms",
            asset=ASSET,
            config={"rules": [{"type": "hi", "input": "temperature_c", "limit": 80}]},
        ),
    ]
    rt = await make_runtime(kit_settings)
    temp, oee = Series(ASSET, "temperature_c"), Series(ASSET, "oee", "rolling")
    app = KitApp(RuntimeLink(rt.url), refresh_s=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = TrendScreen([temp, oee], span_index=3, now=lambda: T0)  # 7 days
        await app.push_screen(screen)
        await wait_for(lambda: screen.fetches >= 1, timeout=20, message="first fetch")

        # 7 days → hourly means: 168 intervals, each the mean of six samples of one day.
        assert screen.bucket == (3600, "1h")
        week = screen.shown[temp]
        assert len(week) == 168
        for ts, v in week:
            assert v == temperature(datetime.fromtimestamp(ts, UTC))
        assert (
            week[0][0] == WEEK0.timestamp() and week[-1][0] == (T0 - timedelta(hours=1)).timestamp()
        )
        # A second series in another unit: the right-hand axis.
        assert len(screen.shown[oee]) == 168 and screen.units[oee] == "%"
        legend = text(screen.query_one("#trend-legend"))
        assert "press oee (rolling) %" in legend and "right axis" in legend
        # The alarm limit of the point and the SPC limits in force at the end (set a day ago,
        # not the first ones of the week).
        limits = {(lim.kind, lim.name, lim.value) for lim in screen.limits}
        assert limits == {
            ("alarm", "hi", 80.0),
            ("spc", "UCL", 71.0),
            ("spc", "CL", 64.0),
            ("spc", "LCL", 57.0),
        }
        assert "alarm limit hi 80 of line/press temperature_c" in legend
        assert "SPC limit UCL 71" in legend
        plot = screen.query_one(PlotextPlot)
        assert plot.size.width > 80  # the chart uses the screen

        # Zoom in: the last day, every 10 min (one sample each).
        await pilot.press("plus")
        await wait_for(lambda: screen.fetches >= 2, timeout=20, message="zoomed fetch")
        assert screen.bucket == (600, "10m")
        day = screen.shown[temp]
        assert len(day) == 144 and {v for _, v in day} == {66.0}
        assert day[0][0] == (T0 - timedelta(days=1)).timestamp()

        # Half a range earlier: the last 12 h of day 6 and the first 12 h of day 7.
        await pilot.press("left")
        await wait_for(lambda: screen.fetches >= 3, timeout=20, message="panned fetch")
        assert screen.range == (T0 - timedelta(hours=36), T0 - timedelta(hours=12))
        earlier = screen.shown[temp]
        assert len(earlier) == 144
        assert [v for _, v in earlier] == [
            temperature(datetime.fromtimestamp(ts, UTC)) for ts, _ in earlier
        ]
        assert {v for _, v in earlier} == {65.0, 66.0}
        # Back to now.
        await pilot.press("end")
        await wait_for(lambda: screen.fetches >= 4, timeout=20, message="follow fetch")
        assert screen.range == (T0 - timedelta(days=1), T0)
        await _shot(app, "tui-trend-day.svg")

        # Export what is shown, saved where the TUI runs, in this machine's time zone.
        monkeypatch.setenv("TZ", "Europe/Berlin")
        for name in ("day.csv", "day.xlsx"):
            out = tmp_path / name
            await pilot.press("e")
            await wait_for(lambda: isinstance(app.screen, PromptDialog), message="save as")
            await replace_text(pilot, app.screen.query_one(Input), str(out))
            await pilot.press("enter")
            await wait_for(lambda out=out: out.exists(), timeout=30, message=f"{name} saved")
        rows = list(csv.reader(io.StringIO((tmp_path / "day.csv").read_text(encoding="utf-8"))))
        head, body = rows[0], rows[1:]
        assert head[0] == "time (Europe/Berlin)"
        assert "temperature_c [°C]" in head and "oee [%]" in head
        assert len(body) == 144  # the day at 10-minute intervals, as drawn
        first = datetime.fromisoformat(body[0][0])
        berlin = ZoneInfo("Europe/Berlin")
        assert first == T0 - timedelta(days=1) and first.utcoffset() == timedelta(hours=1)
        assert first.utcoffset() == (T0 - timedelta(days=1)).astimezone(berlin).utcoffset()
        t_col = head.index("temperature_c [°C]")
        assert {float(r[t_col]) for r in body} == {66.0}
        with zipfile.ZipFile(tmp_path / "day.xlsx") as z:
            assert "xl/worksheets/sheet1.xml" in z.namelist()
        assert "day.xlsx" in screen.exported[-1] and "144 rows" in screen.exported[-1]
        await pilot.press("escape")

        # Reachable from an asset's points (the highlighted one) …
        batch = SampleBatch(
            asset=ASSET,
            ts=utcnow(),
            seq=1,
            source="probe",
            points=[Point(name="temperature_c", value=61.5, unit="°C")],
        )
        await rt.bus.nc.publish(
            f"kit.data.{ASSET.replace('/', '.')}", batch.model_dump_json(by_alias=True).encode()
        )
        await wait_for(lambda: ASSET in app.source.store.assets, timeout=30, message="live sample")
        app.post_message(OpenAsset(ASSET))
        await wait_for(
            lambda: isinstance(app.screen, AssetScreen), timeout=30, message="asset screen"
        )
        await wait_for(
            lambda: app.screen.query_one("#points").row_count == 1, timeout=30, message="point row"
        )
        await pilot.press("t")
        await wait_for(
            lambda: isinstance(app.screen, TrendScreen), timeout=30, message="trend from asset"
        )
        assert app.screen.series == [temp]
        await pilot.press("escape", "escape")

        # … and from the command palette.
        await wait_for(
            lambda: not isinstance(app.screen, (TrendScreen, AssetScreen)), message="back"
        )
        await pilot.press("ctrl+p")
        await wait_for(
            lambda: isinstance(app.screen, CommandPalette), timeout=30, message="palette"
        )
        await pilot.press(*"trend")
        await wait_for(
            lambda: "Trend" in str(app.screen.query_one(CommandList).get_option_at_index(0).prompt),
            message="Trend offered",
        )
        await pilot.press("enter")
        await wait_for(
            lambda: isinstance(app.screen, TrendScreen), timeout=30, message="trend from palette"
        )
        assert app.screen.series == []  # nothing pointed at on the overview: add with a
        assert "press a to add one" in text(app.screen.query_one("#trend-legend"))


async def _shot(app: KitApp, name: str) -> None:
    out = os.environ.get("KIT_WEB_SCREENSHOTS")
    if out:
        app.save_screenshot(name, out)


def test_buckets_and_ranges():
    assert bucket_for(3600) == (15, "15s")
    assert bucket_for(7 * 86400) == (3600, "1h")
    assert bucket_for(365 * 86400) == (86400, "1d")
    now = T0
    assert parse_range("-3d -1d", now) == (T0 - timedelta(days=3), T0 - timedelta(days=1))
    assert parse_range("2026-11-19T06:00Z", now) == (datetime(2026, 11, 19, 6, tzinfo=UTC), T0)
    for bad in ("-1d -3d", "yesterday", "a b c"):
        try:
            parse_range(bad, now)
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} accepted")
