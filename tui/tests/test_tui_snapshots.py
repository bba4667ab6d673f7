"""Snapshot tests of the main screens at 80×24 and 120×40 with deterministic data.

The data come from ``sample-configs/site.json`` through :class:`FixedSource` (frozen
clock, canned control API replies), so the pictures only change when the UI does. Look
at the SVG diff report before running ``pytest --snapshot-update``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kit_tui.app import KitApp
from kit_tui.data.fixed import FixedSource
from textual.widgets import DataTable, Input

from kit.testing import wait_for

SAMPLE = Path(__file__).parent / "sample-configs" / "site.json"
SIZES = [(80, 24), (120, 40)]


@pytest.fixture(autouse=True)
def fixed_theme(monkeypatch):
    """The theme would follow $TERM's colour depth; pin it so pictures do not depend on the shell."""
    monkeypatch.setenv("KIT_TUI_THEME", "textual-dark")


def rows(app, selector: str) -> int:
    """Row count of a table on the current screen (0 while it is not there yet)."""
    found = app.screen.query(selector)
    return found.first(DataTable).row_count if found else 0


#: screen name → (keys to press, condition that says the screen is fully loaded)
SCREENS = {
    "overview": (
        (),
        lambda app: (
            rows(app, "#assets") == 6
            and "running"
            in str(
                app.screen.query_one("#assets", DataTable).get_cell(
                    "acme/assembly/line1/press1", "health"
                )
            )
        ),
    ),
    "asset": (
        ("down", "enter", "down", "down", "down"),
        lambda app: (
            rows(app, "#points") == 6 and "30053" in str(app.screen.query_one("#explain").render())
        ),
    ),
    "catalog": (
        ("2",),
        lambda app: (
            rows(app, "#recipes") == 3
            and "Devices present" in str(app.screen.query_one("#recipe-detail").render())
            and "…"
            not in "".join(
                str(c) for c in app.screen.query_one("#recipes", DataTable).get_column("fits")
            )
        ),
    ),
    "wizard": (("2", "enter"), lambda app: bool(app.screen.query("#param-ideal_cycle_s"))),
    "deployments": (("3",), lambda app: rows(app, "#deployments") == 2),
    "kpis_oee": (("4",), lambda app: rows(app, "#downtimes") == 3 and rows(app, "#oee-table") == 2),
    "kpis_energy": (("4", "right"), lambda app: rows(app, "#energy-table") == 5),
    "kpis_condition": (("4", "right", "right"), lambda app: rows(app, "#condition-table") == 2),
    "kpis_spc": (
        ("4", "right", "right", "right"),
        lambda app: app.screen.query_one("#kpi-tabs").active == "tab-spc",
    ),
    "alarms": (("5",), lambda app: rows(app, "#alarms") == 4),
    "plugins": (("6",), lambda app: rows(app, "#plugins-table") == 6 and rows(app, "#certs") == 2),
    "help": (("question_mark",), lambda app: app.screen.__class__.__name__ == "HelpScreen"),
    "scan": (
        ("7",),
        lambda app: (
            rows(app, "#scan-devices") == 5
            and "scan finished" in str(app.screen.query_one("#scan-summary").render())
        ),
    ),
}


def prepare(keys, ready):
    """A ``run_before`` that presses ``keys``, waits for ``ready`` and stops cursor blink."""

    async def run_before(pilot) -> None:
        app = pilot.app
        await wait_for(
            lambda: rows(app, "#assets") > 0 or app.current_mode != "overview", message="first data"
        )
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        await wait_for(lambda: ready(app), message="screen loaded")
        for field in app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", list(SCREENS))
def test_screen_snapshot(snap_compare, screen, size):
    keys, ready = SCREENS[screen]
    app = KitApp(FixedSource.from_file(SAMPLE))
    assert snap_compare(app, terminal_size=size, run_before=prepare(keys, ready))


def test_overview_snapshot_in_16_colours(snap_compare, monkeypatch):
    """The ANSI theme a 16-colour terminal gets: states stay readable by symbol and word."""
    monkeypatch.setenv("KIT_TUI_THEME", "ansi-dark")
    keys, ready = SCREENS["overview"]
    assert snap_compare(
        KitApp(FixedSource.from_file(SAMPLE)),
        terminal_size=(80, 24),
        run_before=prepare(keys, ready),
    )


DOC_IMAGES = Path(__file__).parents[2] / "docs" / "img" / "tui"
SNAPSHOTS = Path(__file__).parent / "__snapshots__" / "test_tui_snapshots"


def test_doc_screenshots_are_the_current_snapshots():
    """docs/tui.md shows copies of the snapshot SVGs; they must not drift from the real UI."""
    shots = sorted(DOC_IMAGES.glob("*.svg"))
    assert len(shots) >= 8
    stale = [
        p.name
        for p in shots
        if p.read_bytes() != (SNAPSHOTS / f"test_screen_snapshot[{p.stem}].svg").read_bytes()
    ]
    assert not stale, (
        f"stale screenshots in docs/img/tui: {stale}; copy them again from {SNAPSHOTS} "
        "after checking the snapshot diff"
    )


async def test_flood_banner_when_the_runtime_reports_a_flood():
    src = FixedSource.from_file(SAMPLE)

    def flood_event(kind: str) -> dict:
        # As the alarms plugin publishes it on kit.event.alarm.<asset>.
        return {"kind": "alarm", "type": kind, "asset": "acme/a/l/m", "ts": "2026-11-22T09:59:00Z"}

    src.store.apply_event(flood_event("flood_started"))
    app = KitApp(src)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("5")
        await wait_for(
            lambda: app.current_mode == "alarms" and rows(app, "#alarms") == 4, message="alarms"
        )
        banner = app.screen.query_one("#flood-banner")
        assert banner.has_class("-flood") and "ALARM FLOOD" in str(banner.render())
        src.store.apply_event(flood_event("flood_ended"))
        await pilot.press("r")
        await wait_for(lambda: not banner.has_class("-flood"), message="flood over")
