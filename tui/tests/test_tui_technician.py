"""The TUI as a technician's tool at 80×24 (issue 17, item 3), against a real runtime.

* the install wizard completed by keyboard only at 80×24: every field comes into view when
  it gets focus, a letter typed into a number field stays visible and the field says what is
  wrong, the hardware profile is a pick list chosen by typing, the plan reads as sentences
  with the details one key away;
* a deployment's values changed from the TUI (the command palette's "Change deployment
  values" action → the wizard pre-filled with the installed values → upgrade), checked
  against the runtime's record;
* at 80×24 the overview's columns all fit (long line names are cropped, the Alarms column
  stays on screen); at 120×40 the "Today" panel with the active alarms is beside the table.
"""

from __future__ import annotations

import pytest
from kit_tui.app import KitApp
from kit_tui.data.format import sparkline
from kit_tui.data.link import RuntimeLink
from kit_tui.data.store import LiveStore
from kit_tui.screens.overview import OverviewScreen
from kit_tui.screens.overview_side import TodayPanel, alarm_lines
from kit_tui.screens.wizard import WizardScreen
from kit_tui.screens.wizard_text import plan_summary
from kit_tui.widgets.fields import field_lines
from kit_tui.widgets.paramform import ParamForm
from textual.widgets import DataTable, Input, Label, Select
from tui_helpers import PROFILE, text

from kit.api import recipes as rec_api
from kit.control import ControlClient
from kit.settings import ComponentSpec
from kit.testing import wait_for


async def clear_and_type(pilot, value: str) -> None:
    """Empty the focused input and type ``value``, keys only."""
    field = pilot.app.focused
    await pilot.press("end", *["backspace"] * len(field.value), *list(value))


def in_view(app: KitApp, widget) -> bool:
    """The widget is drawn inside the form's visible area (not scrolled away, not covered)."""
    form = app.screen.query_one(ParamForm)
    r = widget.region
    return r.height >= 1 and form.region.contains_region(r)


async def tab_to(pilot, wiz: WizardScreen, name: str) -> None:
    """Press Tab until field ``name`` has the focus (as a technician does)."""
    target = wiz.query_one(f"#param-{name}")
    for _ in range(40):
        if pilot.app.focused is target:
            break
        await pilot.press("tab")
    assert pilot.app.focused is target, f"Tab never reached {name}"
    await pilot.pause()
    assert in_view(pilot.app, target), f"{name} is focused but not visible at 80×24"


async def test_wizard_at_80x24_by_keyboard_then_values_changed_from_the_palette(
    kit_settings, make_runtime, modbus_sim
):
    rt = await make_runtime(kit_settings)
    client = ControlClient(rt.bus)
    app = KitApp(RuntimeLink(rt.url), refresh_s=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        # The palette finds the action, not only the screen.
        await pilot.press("ctrl+p", *list("install a recipe"), "enter")
        await wait_for(
            lambda: (
                app.current_mode == "catalog"
                and getattr(app.focused, "id", None) == "catalog-search"
            ),
            message="palette: search field of the catalog focused",
        )
        recipes = app.screen.query_one("#recipes", DataTable)
        await wait_for(lambda: "oee-machine" in recipes.rows, timeout=15, message="recipes listed")
        await pilot.press(*list("oee-machine"), "enter")
        await wait_for(lambda: list(recipes.rows) == ["oee-machine"], message="filtered")
        await pilot.press("enter")
        await wait_for(
            lambda: isinstance(app.screen, WizardScreen) and app.screen.query(ParamForm),
            message="wizard form",
        )
        wiz = app.screen
        await tab_to(pilot, wiz, "machine")
        await pilot.press(*list("press7"))

        # The profile is a pick list: opened, narrowed by typing, chosen with Enter.
        await tab_to(pilot, wiz, "machine_profile")
        profile = wiz.query_one("#param-machine_profile", Select)
        await pilot.press("enter", *list(PROFILE), "enter")
        await wait_for(lambda: profile.value == PROFILE, message="profile picked by keys")

        await tab_to(pilot, wiz, "machine_host")
        await pilot.press(*list("127.0.0.1"))
        await tab_to(pilot, wiz, "machine_port")
        await clear_and_type(pilot, str(modbus_sim.port))

        # A letter in a number field is not swallowed: it shows, and the field says why.
        await tab_to(pilot, wiz, "ideal_cycle_s")
        cycle = wiz.query_one("#param-ideal_cycle_s", Input)
        await pilot.press("2", "x")
        err = wiz.query_one("#error-ideal_cycle_s", Label)
        await wait_for(lambda: "must be a number" in text(err), message="says what is wrong")
        assert cycle.value == "2x"
        await pilot.press("backspace", ".", "5")
        await wait_for(lambda: text(err) == "", message="error cleared")

        await tab_to(pilot, wiz, "update_every_s")
        await clear_and_type(pilot, "2")
        await tab_to(pilot, wiz, "_commissioning_s")
        await clear_and_type(pilot, "4")

        # The plan reads as sentences; the details are one key away.
        await pilot.press("ctrl+n")
        await wait_for(lambda: wiz.step == 1, timeout=20, message="plan step")
        view = wiz.query_one("#wizard-view")
        plan = text(view)
        assert "It reads 1 device" in plan
        assert f"127.0.0.1:{modbus_sim.port} unit 1" in plan
        assert "Subjects" not in plan
        await pilot.press("ctrl+d")
        await wait_for(lambda: "Subjects" in text(view), message="details shown")
        await pilot.press("ctrl+n")
        await wait_for(lambda: wiz.step == 3, timeout=60, message="installed and commissioned")
        name = wiz.deployment
        await pilot.press("ctrl+n")
        await wait_for(lambda: not isinstance(app.screen, WizardScreen), message="wizard closed")

        installed = await client.call("deployments.show", {"deployment": name})
        assert installed["params"]["ideal_cycle_s"] == 2.5
        assert installed["params"]["machine_port"] == modbus_sim.port

        # Change one value from the palette: the wizard starts from the installed values.
        await pilot.press("3")
        await wait_for(lambda: app.current_mode == "deployments", message="deployments")
        table = app.screen.query_one("#deployments", DataTable)
        await wait_for(lambda: name in table.rows, message="deployment listed")
        await pilot.press("ctrl+p", *list("change deployment values"), "enter")
        await wait_for(
            lambda: (
                isinstance(app.screen, WizardScreen)
                and app.screen.upgrade_of == name
                and app.screen.query(ParamForm)
            ),
            message="wizard in change mode",
        )
        wiz = app.screen
        assert wiz.query_one("#param-machine", Input).value == "press7"
        assert wiz.query_one("#param-machine_port", Input).value == str(modbus_sim.port)
        await tab_to(pilot, wiz, "ideal_cycle_s")
        await clear_and_type(pilot, "3")
        await tab_to(pilot, wiz, "_commissioning_s")
        await clear_and_type(pilot, "4")
        await pilot.press("ctrl+n")
        await wait_for(lambda: wiz.step == 1, timeout=20, message="plan of the change")
        assert "Changes deployment" in text(wiz.query_one("#wizard-view"))
        await pilot.press("ctrl+n")
        view = wiz.query_one("#wizard-view")
        await wait_for(
            lambda: wiz.step == 3 or "✗" in text(view) or "not changed" in text(view),
            timeout=60,
            message="upgrade finished",
        )
        assert wiz.step == 3, text(view)

    changed = await client.call("deployments.show", {"deployment": name})
    assert changed["params"]["ideal_cycle_s"] == 3.0
    assert {k: v for k, v in changed["params"].items() if k != "ideal_cycle_s"} == {
        k: v for k, v in installed["params"].items() if k != "ideal_cycle_s"
    }


LONG = "test/very_long_area_name_of_the_plant/line_with_a_long_name_too"


@pytest.fixture
def long_names(kit_settings):
    comps = [
        ComponentSpec(
            name=f"m{i}",
            type="synthetic",
            asset=f"{LONG}/press_with_a_long_name_{i}",
            config={"interval_s": 0.2, "seed": i + 1},
        )
        for i in range(2)
    ]
    return kit_settings.model_copy(update={"components": comps})


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_overview_columns_fit_and_today_panel_when_wide(long_names, make_runtime, size):
    rt = await make_runtime(long_names)
    app = KitApp(RuntimeLink(rt.url), refresh_s=0.05)
    async with app.run_test(size=size) as pilot:
        assert isinstance(app.screen, OverviewScreen)
        table = app.screen.query_one("#assets", DataTable)
        first = f"{LONG}/press_with_a_long_name_0"
        await wait_for(lambda: first in table.rows, timeout=15, message="assets listed")
        await wait_for(
            lambda: "running" in str(table.get_cell(first, "health")), message="health shown"
        )
        await pilot.pause()
        used = sum(col.get_render_width(table) for col in table.ordered_columns)
        assert used <= table.size.width, "a column runs off the table (Alarms pushed off)"
        assert table.ordered_columns[-1].label.plain == "Alarms"
        header = str(table.get_cell(f"hdr:{LONG}", "asset"))
        assert header.endswith("…") and len(header) < len(LONG)
        panel = app.screen.query_one("#today", TodayPanel)
        if size[0] >= 110:
            assert panel.display
            await wait_for(lambda: "Active alarms" in text(panel), message="today panel drawn")
            assert panel.region.x >= table.region.right, "the panel is beside the table"
        else:
            assert not panel.display


# -- pure parts ------------------------------------------------------------------------------


def test_sparkline_scales_marks_gaps_and_keeps_the_last_values():
    bars = "▁▂▃▄▅▆▇█"
    assert sparkline([0, 50, 100], 10, 0, 100) == bars[0] + bars[3] + bars[-1]
    assert sparkline([1, None, 3], 10) == bars[0] + " " + bars[-1]
    assert sparkline([150, -5], 10, 0, 100) == bars[-1] + bars[0]  # clipped to the scale
    assert sparkline(list(range(20)), 5) == sparkline(list(range(15, 20)), 5)
    assert sparkline([], 5) == "" and sparkline([None], 5) == ""


def test_detail_fields_are_indented_lines_not_dicts():
    lines = field_lines(
        {"host": "10.0.0.5", "port": 502, "ok": True, "tags": ["a", "b"], "conn": {"unit": 1}},
        markup=False,
    )
    assert lines == [
        "host: 10.0.0.5",
        "port: 502",
        "ok: yes",
        "tags: a, b",
        "conn:",
        "  unit: 1",
    ]
    assert not any("{" in line for line in lines)


def test_plan_reads_as_sentences():
    plan = rec_api.PlanReply(
        recipe="oee-machine",
        version="1.0.0",
        deployment="oee-machine-press7",
        params={"machine": "press7", "ideal_cycle_s": 2.5},
        components=[
            {"name": "a", "type": "modbus", "asset": "x"},
            {"name": "b", "type": "oee", "asset": "x"},
            {"name": "c", "type": "oee", "asset": "x"},
        ],
        connections=[
            rec_api.Connection(
                asset="machine",
                path="plant/production/line1/press7",
                adapter="modbus",
                profile="siemens-s7-mb-server",
                settings={"host": "10.0.0.5", "port": 502, "unit_id": 3},
            )
        ],
        subjects={"kpi": ["kit.kpi.plant.production.line1.press7.oee"]},
        checks=[{"title": "data arrives"}],
    )
    lines = [text_of(line) for line in plan_summary(plan)]
    assert lines[0] == "Installs deployment oee-machine-press7 — recipe oee-machine 1.0.0."
    assert "10.0.0.5:502 unit 3" in lines[2] and "siemens-s7-mb-server" in lines[2]
    assert lines[3] == "It runs 3 components: modbus, 2 × oee."
    assert "1 acceptance check watch live data: data arrives." in lines[5]


def text_of(markup: str) -> str:
    from rich.text import Text

    return Text.from_markup(markup).plain


class _Alarm:
    def __init__(self, asset: str, alarm: str, priority: str, state: str) -> None:
        self.asset, self.alarm, self.priority, self.state = asset, alarm, priority, state


def test_today_panel_lists_urgent_alarms_first_and_ignores_cleared_ones():
    alarms = [
        _Alarm("s/a/l/pump2", "temp_high", "medium", "active_unack"),
        _Alarm("s/a/l/press1", "comm_lost", "high", "active_unack"),
        _Alarm("s/a/l/press1", "old", "high", "normal"),
    ]
    lines = [text_of(line) for line in alarm_lines(alarms)]
    assert len(lines) == 2
    assert "press1" in lines[0] and "comm_lost" in lines[0]
    assert "pump2" in lines[1]
    assert "no active alarms" in text_of(alarm_lines([])[0])
    assert "not available" in text_of(alarm_lines(None)[0])
    store = LiveStore()
    assert store.kpi("s/a/l/press1", "oee", windows=("shift",)) is None


def test_a_doubtful_kpi_reads_as_doubtful_on_the_overview():
    """The OEE plugin publishes a window above 100 % as ``uncertain`` (never as plain good);
    the overview marks it instead of showing it like any other figure."""
    from kit_tui.screens.overview import doubtful

    shown = doubtful({"kpi": "oee", "value": 1.02, "quality": "uncertain"}, "102.0 %")
    assert text_of(str(shown)) == "102.0 % ?" and getattr(shown, "style", "") == "yellow"
    assert doubtful({"kpi": "oee", "value": 0.8, "quality": "good"}, "80.0 %") == "80.0 %"
    assert doubtful({"kpi": "oee", "value": 0.8}, "80.0 %") == "80.0 %"


async def test_the_wizard_fills_a_device_from_the_last_scan(kit_settings, make_runtime, modbus_sim):
    """Install from the catalog (not the scan screen): the devices the last scan found are a
    pick list above the form; choosing one fills host, port, unit id and profile."""
    from kit.scan.inventory import (
        Device,
        Endpoint,
        Inventory,
        inventory_path,
        save_inventory,
    )

    found = Endpoint(
        host="127.0.0.1",
        port=modbus_sim.port,
        protocol="modbus",
        status="scanned",
        devices=[Device(unit_id=1, status="identified", profile=PROFILE, confidence=0.93)],
    )
    other = Endpoint(host="127.0.0.9", port=502, protocol="modbus", status="no_answer")
    save_inventory(
        Inventory(complete=True, endpoints=[other, found]), inventory_path(kit_settings.data_dir)
    )
    rt = await make_runtime(kit_settings)
    app = KitApp(RuntimeLink(rt.url), refresh_s=0.05)
    async with app.run_test(size=(100, 36)) as pilot:
        await pilot.press("2")
        await wait_for(lambda: app.current_mode == "catalog", message="catalog")
        recipes = app.screen.query_one("#recipes", DataTable)
        await wait_for(lambda: "oee-machine" in recipes.rows, timeout=15, message="listed")
        recipes.focus()
        recipes.move_cursor(row=recipes.get_row_index("oee-machine"))
        await pilot.press("enter")
        await wait_for(
            lambda: isinstance(app.screen, WizardScreen) and app.screen.query("#scan-device"),
            timeout=15,
            message="scanned devices offered",
        )
        wiz = app.screen
        pick = wiz.query_one("#scan-device", Select)
        pick.focus()
        await pilot.press("enter", "down", "enter")  # open, first device, choose
        await wait_for(
            lambda: wiz.query_one("#param-machine_host", Input).value == "127.0.0.1",
            timeout=15,
            message="host filled from the scan",
        )
        assert wiz.query_one("#param-machine_port", Input).value == str(modbus_sim.port)
        assert wiz.query_one("#param-unit_id", Input).value == "1"
        assert wiz.query_one("#param-machine_profile", Select).value == PROFILE
        assert "filled from device #1" in text(wiz.query_one("#wizard-status"))
