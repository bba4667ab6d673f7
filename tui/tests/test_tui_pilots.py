"""The overview shows each pilot's progress against its goal (``pilots.progress`` served by
the pilot plugin in a real runtime; history written straight into the historian's store)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from kit_historian.storage import RowBuffer, Store
from kit_tui.app import KitApp
from kit_tui.data.link import RuntimeLink
from kit_tui.widgets.pilots import PilotPanel, bar, pilot_lines

from kit.cli import cli
from kit.payloads import KpiValue
from kit.testing import wait_for

ASSET = "test/assembly/line1/press1"


def test_lines_say_status_in_words_with_a_bar():
    lines = pilot_lines(
        [
            {
                "name": "p",
                "owner": "maria",
                "start": "2026-11-01T06:00",
                "end": "2026-11-29",
                "ended": False,
                "error": None,
                "goals": [
                    {
                        "goal": "oee:+5pp",
                        "status": "moving toward target",
                        "verdict": "increase",
                        "progress": 0.5,
                        "baseline": "60.0 %",
                        "pilot": "62.5 %",
                        "change": "+2.5 pp",
                        "interval": "+1.0 pp … +4.0 pp",
                        "warnings": 1,
                    },
                ],
            }
        ]
    )
    assert lines[0] == "Pilot p (maria, until 2026-11-29)"
    assert "█████░░░░░   50 %" in lines[1] and "↗ moving toward target" in lines[1]
    assert "(+2.5 pp [+1.0 pp … +4.0 pp], increase)" in lines[1] and "⚠ 1" in lines[1]
    assert bar(None).startswith("░" * 10) and bar(3.0).startswith("█" * 10)


async def test_overview_shows_pilot_progress(kit_settings, make_runtime):
    data = kit_settings.data_dir
    # Pilot period over before the real "now": the endpoint evaluates at the current time.
    start = datetime.now(UTC).replace(hour=6, minute=0, second=0, microsecond=0) - timedelta(
        days=20
    )
    rnd = random.Random(7)
    store, buf = Store(data / "history", "kpi"), RowBuffer()
    store.recover()
    seq = store.hwm
    for i in range(-42, 42):  # 14 days of baseline (OEE ≈ 60 %) and 14 of pilot (≈ 70 %)
        t0 = start + i * timedelta(hours=8)
        level = (0.60 if i < 0 else 0.70) + rnd.gauss(0, 0.02)
        for k in (1, 2):
            seq += 1
            buf.add_kpi(
                KpiValue(
                    kpi="oee",
                    asset=ASSET,
                    value=level,
                    window=f"shift:{t0:%Y%m%d%H}",
                    ts=t0 + k * timedelta(hours=4),
                    source="oee",
                ),
                seq,
            )
    store.write(buf.frame(), store.hwm + 1, seq)
    r = CliRunner().invoke(
        cli,
        [
            "pilot",
            "start",
            "press",
            "--asset",
            ASSET,
            "--kpi",
            "oee:+5pp",
            "--baseline",
            "14d",
            "--period",
            "14d",
            "--tz",
            "UTC",
            "--owner",
            "maria",
            "--now",
            start.isoformat(),
        ],
        env={"KIT_DATA_DIR": str(data)},
    )
    assert r.exit_code == 0, r.output
    rt = await make_runtime(kit_settings)
    app = KitApp(RuntimeLink(rt.url), refresh_s=0.05)
    async with app.run_test(size=(140, 40)):
        await wait_for(lambda: app.screen.query("#pilots"), message="overview mounted")
        panel = app.screen.query_one("#pilots", PilotPanel)
        await wait_for(lambda: "target reached" in str(panel.render()), message="pilot shown")
        text = str(panel.render())
        assert "Pilot press (maria" in text and "oee:+5pp" in text and "increase" in text
        assert panel.has_class("-shown")
